"""Fine-tuning speed and peak memory of `model.type: pretrained` on a tiny KerasHub BERT (issue 13).

Usage: python benchmarks/bench_pretrained.py [--rounds 3] [--docs 400]
No weights can be downloaded here, so the preset is a randomly initialised 2-layer BertBackbone
(hidden 64) with a small WordPiece vocabulary, saved with `save_to_preset` as a user's download is.
Each round runs `mlcli train` (freeze_epochs 1 of 4) under `/usr/bin/time -v`; prints samples/s of the
fine-tuning epochs (summary.json), peak RSS, and the medians with min-max.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "a the film movie was is very great lovely good fine awful boring bad dull plot actor scene".split()


def make_preset(folder: Path) -> None:
    import keras_hub

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128,
        max_sequence_length=128,
    ).save_to_preset(folder)  # fmt: skip
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=64).save_to_preset(folder)


def make_texts(folder: Path, docs: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for label, extra in (("neg", ["awful", "boring", "bad", "dull"]), ("pos", ["great", "lovely", "good", "fine"])):
        (folder / label).mkdir(parents=True)
        for i in range(docs // 2):
            words = rng.choice(WORDS[:7], 20).tolist() + rng.choice(extra, 4).tolist()
            rng.shuffle(words)
            (folder / label / f"{i:05d}.txt").write_text(" ".join(words))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=400)
    args = parser.parse_args()
    rates, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_preset(tmp / "preset")
        make_texts(tmp / "texts", args.docs)
        config = tmp / "bert.yaml"
        config.write_text(
            f"name: bench_bert\nseed: 1\ndata: {{source: text_folder, path: {tmp / 'texts'}, test_fraction: 0.1, "
            f"batch_size: 32}}\nmodel: {{type: pretrained, preset: {tmp / 'preset'}, freeze_epochs: 1, "
            "fine_tune_learning_rate: 1.0e-3}\noptimizer: {learning_rate: 3.0e-3}\n"
            "training: {epochs: 4, tensorboard: false, plots: false}\n"
        )
        for r in range(args.rounds):
            run = tmp / f"run{r}"
            done = subprocess.run(
                ["/usr/bin/time", "-v", sys.executable, "-m", "mlcli", "train", str(config), "--run-dir", str(run),
                 "--quiet"], cwd=ROOT, capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            summary = json.loads((run / "summary.json").read_text())
            peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024
            rates.append(summary["samples_per_sec"])
            peaks.append(peak)
            print(f"round {r + 1}: {summary['samples_per_sec']:.0f} samples/s, peak RSS {peak:.0f} MB, "
                  f"test accuracy {summary['test']['accuracy']:.3f}")  # fmt: skip
    print(f"samples/s: median {statistics.median(rates):.0f} (min {min(rates):.0f}, max {max(rates):.0f}); "
          f"peak RSS: median {statistics.median(peaks):.0f} MB (min {min(peaks):.0f}, max {max(peaks):.0f}); "
          f"{args.rounds} rounds, {args.docs} documents")  # fmt: skip


if __name__ == "__main__":
    main()
