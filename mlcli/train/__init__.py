"""Training, evaluation and prediction; everything a run writes goes through `rundir`."""
