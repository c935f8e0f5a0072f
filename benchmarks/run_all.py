"""`make bench`: every CPU benchmark in turn (each writes its own section of results.json), then
RESULTS.md and the generated blocks of README.md. Nothing else should run meanwhile.

python benchmarks/run_all.py [SECTION ...]
(sections: startup vs_keras epoch_writes autos time_to_accuracy pipeline presets hostile_configs
 deterministic real_data evaluate_vs_predict serve)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "startup": "bench_startup.py",
    "vs_keras": "bench_vs_keras.py",
    "epoch_writes": "bench_epoch_writes.py",
    "autos": "bench_autos.py",
    "time_to_accuracy": "bench_time_to_accuracy.py",
    "pipeline": "bench_pipeline.py",
    "presets": "bench_presets.py",
    "hostile_configs": "bench_hostile_configs.py",
    "deterministic": "bench_deterministic.py",
    "real_data": "bench_real_data.py",
    "evaluate_vs_predict": "bench_evaluate_vs_predict.py",
    "serve": "bench_serve.py",
}


def main(sections: list[str]) -> None:
    unknown = [s for s in sections if s not in SCRIPTS]
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    failed = []
    for section in sections or SCRIPTS:
        print(f"== {section}: {SCRIPTS[section]}", flush=True)
        if subprocess.run([sys.executable, str(HERE / SCRIPTS[section])], cwd=HERE.parent).returncode:
            failed.append(section)  # the other sections still run; this one keeps its previous numbers
    subprocess.run([sys.executable, str(HERE / "render.py")], cwd=HERE.parent, check=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
