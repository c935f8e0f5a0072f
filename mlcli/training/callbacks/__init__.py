"""Keras callbacks that write the run directory, guard training and show progress."""
