"""One fresh process's start-up, phase by phase, for `mlcli train CONFIG`: prints one JSON line.

Run by bench_startup.py; each phase is what `mlcli train` does before its first step finishes.
"""

from __future__ import annotations

import json
import sys
import time

start = time.perf_counter()
marks = {}

from mlcli.tfenv import import_tensorflow  # noqa: E402

import_tensorflow()
marks["import tensorflow"] = time.perf_counter()
from mlcli.config import load_config  # noqa: E402
from mlcli.data import load_dataset  # noqa: E402
from mlcli.models import build_model  # noqa: E402
from mlcli.training.components import compile_model  # noqa: E402
from mlcli.training.device import resolve  # noqa: E402

marks["import mlcli"] = time.perf_counter()
cfg = load_config(sys.argv[1])
bundle = load_dataset(cfg)
marks["data"] = time.perf_counter()
device = resolve(cfg.training)
model = build_model(cfg, bundle.spec)
compile_model(model, cfg, bundle.spec, int(bundle.train.cardinality()), device)
marks["build and compile"] = time.perf_counter()
model.fit(bundle.train.take(device.steps_per_execution), epochs=1, verbose=0)
marks["first steps (tracing)"] = time.perf_counter()
previous, phases = start, {}
for name, at in marks.items():
    phases[name] = at - previous
    previous = at
print(json.dumps(phases))
