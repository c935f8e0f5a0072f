"""Peak memory of `mlcli train` on image folders of 3,000 and 12,000 224x224 JPEGs (issue 12).

Usage: python benchmarks/bench_folder_memory.py [--rounds 2] [--sizes 3000 12000]
Writes the images once into a temporary folder (the smaller set hard-links a stratified subset),
trains one epoch of a small CNN through the real CLI under `/usr/bin/time -v`, and prints each
run's maximum resident set size, the medians, and the ratio between the sizes. Files stream from
disk (`cache: auto` stays off above 256 MiB of decoded images), so the ratio should stay near 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """name: folder_memory
seed: 1
data: {source: image_folder, path: PATH, image_size: [224, 224], batch_size: 32, test_fraction: 0.1}
model: {type: cnn, blocks: [{filters: 8, pooling: max}, {filters: 8, pooling: max}], dense: []}
training: {epochs: 1, tensorboard: false, plots: false}
"""


def write_images(root: Path, count: int, classes: int = 4) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (classes, 8, 8, 3)).astype(np.float32)
    for i in range(count):
        label = i % classes
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        small = np.clip(base[label] + rng.normal(0, 40, (8, 8, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(small).resize((224, 224), Image.BILINEAR).save(folder / f"{i:06d}.jpg", quality=90)


def subset(source: Path, target: Path, count: int) -> None:
    files = sorted(source.rglob("*.jpg"), key=lambda f: f.name)[:count]  # names interleave the classes
    for f in files:
        (target / f.parent.name).mkdir(parents=True, exist_ok=True)
        os.link(f, target / f.parent.name / f.name)


def peak_rss_mb(folder: Path, work: Path) -> tuple[float, float, dict]:
    config = work / "config.yaml"
    config.write_text(CONFIG.replace("PATH", str(folder)))
    run = work / f"run-{time.time_ns()}"
    began = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "mlcli", "train", str(config), "--run-dir", str(run), "--quiet"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    summary = json.loads((run / "summary.json").read_text())
    return kb / 1024, wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 12000])
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    peaks: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_images(tmp / str(sizes[-1]), sizes[-1])
        for n in sizes[:-1]:
            subset(tmp / str(sizes[-1]), tmp / str(n), n)
        for r in range(args.rounds):
            for n in sizes if r % 2 == 0 else sizes[::-1]:  # A B, then B A
                mb, wall, summary = peak_rss_mb(tmp / str(n), tmp)
                peaks[n].append(mb)
                print(f"round {r + 1}: {n} images: peak RSS {mb:.0f} MB, wall {wall:.0f} s, "
                      f"{summary['samples_per_sec']:.0f} samples/s")  # fmt: skip
    for n in sizes:
        v = peaks[n]
        print(f"{n} images: median peak RSS {statistics.median(v):.0f} MB (min {min(v):.0f}, max {max(v):.0f}; "
              f"{len(v)} rounds)")  # fmt: skip
    ratios = [b / a for a, b in zip(peaks[sizes[0]], peaks[sizes[-1]])]
    print(f"ratio {sizes[-1]} / {sizes[0]}: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
