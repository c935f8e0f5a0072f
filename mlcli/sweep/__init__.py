"""Hyperparameter sweeps with Optuna: the space, the study that runs trials, the reports."""
