"""What `training.deterministic: true` costs: samples/s of the seed CNNs with it off (the default: oneDNN
on) and on (TensorFlow op determinism, and oneDNN off, which is what makes a resumed run byte-identical
to an uninterrupted one). Measured as bench_autos.py measures every other setting (same processes, same
alternating order); stored as the `autos:deterministic` section, so it joins README's table of choices.

python benchmarks/bench_deterministic.py [--rounds 3] [--epochs 3]
"""

from __future__ import annotations

import argparse

from bench_autos import measure
from common import record

SETTING = {
    "deterministic": {
        "false (default: oneDNN on)": (["training.deterministic=false"], {}),
        "true (oneDNN off, op determinism)": (["training.deterministic=true"], {}),
    }
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    results = measure(["deterministic"], args.rounds, args.epochs, settings=SETTING)
    record("autos:deterministic", results, rounds=args.rounds)
