"""`make bench`: run the benchmarks, keep raw numbers in results.json, render RESULTS.md.

`python benchmarks/run_all.py [startup|throughput|pipeline|steps ...]` re-measures only the named
sections (all when none is named) and re-renders the report from every section's latest numbers.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "results.json"
SECTIONS = ("startup", "throughput", "pipeline", "steps")


def _script_output(script: str) -> str:
    return subprocess.run(
        [sys.executable, str(HERE / script)], cwd=HERE.parent, capture_output=True, text=True, check=True
    ).stdout.strip()


def measure(section: str):
    sys.path.insert(0, str(HERE))
    if section == "startup":
        import bench_startup

        return bench_startup.measure()
    if section == "throughput":
        import bench_throughput

        return bench_throughput.measure(rounds=5, epochs=4)
    return _script_output(f"bench_{section}.py")


def render(raw: dict) -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"# Benchmark results ({raw.get('date', '?')})",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}. Medians over runs; "
        "ratios are medians of per-round ratios, the sides run alternately. Regenerate: `make bench`.",
        "",
    ]
    if "startup" in raw:
        lines += [
            "## Start-up (no TensorFlow import)",
            "",
            "| command | median s | min | max | target |",
            "| --- | --- | --- | --- | --- |",
        ]
        for (name, r), target in zip(raw["startup"].items(), ("0.3", "0.5")):
            lines.append(f"| `{name}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | ≤ {target} |")
    if "throughput" in raw:
        lines += [
            "",
            "## Training throughput: mlcli vs hand-written Keras (samples/s, epochs 2-4)",
            "",
            "| data | mlcli | Keras defaults | Keras hand-tuned | mlcli / defaults (≥ 1.5) | "
            "mlcli / tuned (≥ 0.98) | mlcli peak RSS MiB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in raw["throughput"].items():
            lines.append(
                f"| {name} | {r['mlcli_samples_per_sec']:,.0f} | {r['keras_defaults_samples_per_sec']:,.0f} | "
                f"{r['keras_tuned_samples_per_sec']:,.0f} | {r['ratio_vs_defaults']:.2f}x | "
                f"{r['ratio_vs_tuned']:.2f}x | {r['mlcli_peak_rss_mib']:.0f} |"
            )
    if "pipeline" in raw:
        lines += [
            "",
            "## Input pipeline alone vs the training step (batches/s, target ratio ≥ 10)",
            "",
            "```",
            raw["pipeline"],
            "```",
        ]
    if "steps" in raw:
        lines += ["", "## steps_per_execution on CPU (samples/s)", "", "```", raw["steps"], "```"]
    return "\n".join(lines) + "\n"


def main(sections: list[str]) -> None:
    raw = json.loads(RAW.read_text()) if RAW.is_file() else {}
    for section in sections or SECTIONS:
        if section not in SECTIONS:
            raise SystemExit(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")
        raw[section] = measure(section)
        raw["date"] = date.today().isoformat()
        RAW.write_text(json.dumps(raw, indent=1) + "\n")
    (HERE / "RESULTS.md").write_text(render(raw))
    print(render(raw))


if __name__ == "__main__":
    main(sys.argv[1:])
