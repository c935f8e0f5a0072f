"""Inference: open a run, load a checkpoint, and the one serving model (raw inputs in, one named output
out) that `predict`, `evaluate`, every export and the server use."""
