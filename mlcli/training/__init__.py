"""The training room: `run.start_run` claims a run directory (no TensorFlow), `entry.train_and_evaluate`
trains into it with the `fit` driver or the multi-worker loop; both build the same components and
write the same summary."""
