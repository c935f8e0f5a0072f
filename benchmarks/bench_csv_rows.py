"""CSV loading speed on a generated 1,000,000-row table with numeric, categorical and text columns.

Usage: python benchmarks/bench_csv_rows.py [--rows 1000000] [--rounds 3]
Times mlcli's table reader (read, infer column types, parse, split, fit the column state): the
work `mlcli train` does before the first batch. Prints rows/s per round, the median and min-max.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_table(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    cities = np.array(["Zürich", "東京", "São Paulo", "Kraków", "Lagos", "Lima"])
    notes = np.array(["paid late twice", "toujours à l'heure", "nouveau client", "pays on time"])
    age = np.round(rng.normal(40, 10, rows), 1).astype(str)
    age[rng.random(rows) < 0.05] = ""
    columns = {
        "age": age,
        "income": np.round(rng.normal(50, 12, rows), 2).astype(str),
        "city": cities[rng.integers(0, len(cities), rows)],
        "grade": rng.integers(1, 5, rows).astype(str),
        "note": notes[rng.integers(0, len(notes), rows)],
        "label": np.where(rng.random(rows) < 0.5, "stays", "leaves"),
    }
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values()))


def load_once(path: Path) -> float:
    from mlcli.config.loader import load_config_text
    from mlcli.data import load_dataset

    cfg = load_config_text(
        f"name: b\ndata: {{source: csv, path: {path}, label: label, test_fraction: 0.1}}\nmodel: {{type: mlp}}\n"
    )
    began = time.perf_counter()
    bundle = load_dataset(cfg)
    took = time.perf_counter() - began
    assert bundle.spec.num_train + bundle.spec.num_val + bundle.spec.num_test > 0
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        write_table(path, args.rows)
        print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
        rates = []
        for r in range(args.rounds):
            took = load_once(path)
            rates.append(args.rows / took)
            print(f"round {r + 1}: {took:.2f} s, {rates[-1]:,.0f} rows/s")
    print(f"median {statistics.median(rates):,.0f} rows/s (min {min(rates):,.0f}, max {max(rates):,.0f}; "
          f"{args.rounds} rounds)")  # fmt: skip


if __name__ == "__main__":
    main()
