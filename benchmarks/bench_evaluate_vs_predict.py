"""`mlcli evaluate` against `mlcli predict` on the same 1,000 texts with a bidirectional LSTM: scoring
must cost about what predicting does (target: within 1.2×), not a batch-by-batch eager loop.

Real multilingual text: pyjokes' jokes in six languages, the language as the label; the test file holds
1,000 rows (jokes repeated), both commands read it whole. Whole commands, start-up included.

python benchmarks/bench_evaluate_vs_predict.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, record, spread

MLCLI = str(Path(sys.executable).parent / "mlcli")
LANGUAGES = ("en", "de", "it", "pl", "es", "ru")


def write_texts(path: Path, rows: int, offset: int) -> None:
    import pyjokes

    jokes = [(j, lang) for lang in LANGUAGES for j in pyjokes.get_jokes(language=lang, category="all")]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "language"])
        for i in range(rows):
            writer.writerow(jokes[(7 * i + offset) % len(jokes)])


def timed(*args) -> float:
    began = time.perf_counter()
    done = subprocess.run([MLCLI, *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"mlcli {args[0]}: {done.stderr[-2000:]}")
    return time.perf_counter() - began


def measure(rounds: int, samples: int = 1000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_texts(folder / "train.csv", 1000, 0)
        write_texts(folder / "test.csv", samples, 3)
        config = folder / "jokes.yaml"
        config.write_text(
            f"name: jokes\nseed: 0\ndata: {{source: csv, path: '{folder / 'train.csv'}', test_path: "
            f"'{folder / 'test.csv'}', label: language, batch_size: 32,\n"
            "  preprocessing: {text: {sequence_length: 64}}}\n"
            "model: {type: rnn, cell: lstm, units: [32], bidirectional: true, embedding_dim: 32}\n"
            "training: {epochs: 1, tensorboard: false, plots: false}\n"
        )  # fmt: skip
        run = folder / "run"
        subprocess.run([MLCLI, "train", config, "--run-dir", run, "--quiet"], cwd=ROOT, check=True)
        evaluate, predict = [], []
        for r in range(rounds):
            evaluate.append(timed("evaluate", run, "--json"))
            predict.append(timed("predict", run, folder / "test.csv", "--out", folder / f"p{r}.json"))
    ratios = [e / p for e, p in zip(evaluate, predict, strict=True)]
    result = {"samples": samples, "evaluate": spread(evaluate), "predict": spread(predict), "ratio": spread(ratios)}
    print(f"evaluate {result['evaluate']['median']:.1f} s, predict {result['predict']['median']:.1f} s, "
          f"ratio {result['ratio']['median']:.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    record("evaluate_vs_predict", measure(args.rounds), rounds=args.rounds)
