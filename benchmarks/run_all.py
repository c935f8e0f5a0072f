"""`make bench`: run every benchmark and write benchmarks/RESULTS.md (machine, medians, ratios)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_json(script: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(HERE / script), *args], cwd=HERE.parent, capture_output=True, text=True, check=True
    ).stdout


def main() -> None:
    sys.path.insert(0, str(HERE))
    import bench_startup
    import bench_throughput

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"# Benchmark results ({date.today().isoformat()})",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}. "
        "Medians over rounds; ratios are medians of per-round ratios (A/B run alternately).",
        "",
    ]
    startup = bench_startup.measure()
    lines += [
        "## Start-up (no TensorFlow import)",
        "",
        "| command | median s | min | max | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (name, r), target in zip(startup.items(), ("0.3", "0.5")):
        lines.append(f"| `{name}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | ≤ {target} |")
    throughput = bench_throughput.measure(rounds=3, epochs=4)
    lines += [
        "",
        "## Training throughput: mlcli vs hand-written Keras (samples/s, epochs 2-4)",
        "",
        "| data | mlcli | Keras defaults | Keras hand-tuned | mlcli / defaults (≥ 1.5) | "
        "mlcli / tuned (≥ 0.98) | mlcli peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in throughput.items():
        lines.append(
            f"| {name} | {r['mlcli_samples_per_sec']:,.0f} | {r['keras_defaults_samples_per_sec']:,.0f} | "
            f"{r['keras_tuned_samples_per_sec']:,.0f} | {r['ratio_vs_defaults']:.2f}x | "
            f"{r['ratio_vs_tuned']:.2f}x | {r['mlcli_peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "## Input pipeline alone vs the training step (batches/s)",
        "",
        "```",
        _run_json("bench_pipeline.py").strip(),
        "```",
        "",
        "## steps_per_execution on CPU (samples/s)",
        "",
        "```",
        _run_json("bench_steps.py").strip(),
        "```",
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
