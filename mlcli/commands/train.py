"""`mlcli train`: resolve the config and the run directory (new or resumed) before TensorFlow loads.

Every check that can refuse (a bad config, a taken run directory, changed frozen fields, a finished
run) runs here, before anything in the run directory is written, so a refused command leaves it byte
for byte as it was and answers in a fraction of a second. `mlcli.cli` then imports TensorFlow and
calls `mlcli.training.entry.train_and_evaluate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcli import rundir
from mlcli.config import load_config
from mlcli.config.render import to_yaml
from mlcli.errors import UserError
from mlcli.training.distribute import task_role
from mlcli.training.run import start_run

# What may change on resume: the epoch budget and other training/distribution settings.
FROZEN_ON_RESUME = ("data", "model", "optimizer", "seed")


@dataclass
class TrainPlan:
    cfg: Any
    run_dir: Path
    resume: bool


def _diff(old: object, new: object, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if old == new else [prefix]


def changed_fields(saved_yaml: str, new_yaml: str) -> list[str]:
    return _diff(yaml.safe_load(saved_yaml), yaml.safe_load(new_yaml))


def prepare(config: Path | None, overrides: list[str], run_dir: Path | None, resume: bool) -> TrainPlan:
    """The config and the claimed run directory (config.yaml written), or a UserError with nothing written."""
    if resume:
        target = run_dir or config
        if target is None:
            raise UserError("--resume needs a run directory: mlcli train --resume RUN_DIR")
        target = _resumable_dir(Path(target))
        if not (target / rundir.CONFIG_FILE).is_file():
            raise UserError(f"{target}: not a run directory to resume (no {rundir.CONFIG_FILE})")
        saved = (target / rundir.CONFIG_FILE).read_text(encoding="utf-8")
        cfg = load_config(target / rundir.CONFIG_FILE, overrides)
        frozen = [f for f in changed_fields(saved, to_yaml(cfg)) if f.split(".")[0] in FROZEN_ON_RESUME]
        if frozen:
            raise UserError(
                f"cannot resume {target} with changed {', '.join(frozen)}; only training.* and "
                "distribute.* may change (start a new run instead)"
            )
        _refuse_finished(target, cfg)
        return TrainPlan(cfg, start_run(cfg, target, resume=True), True)
    if config is None:
        raise UserError("missing CONFIG: mlcli train CONFIG [--set key=value]")
    if Path(config).is_dir():
        raise UserError(f"{config}: is a run directory; to continue it use --resume {config}")
    cfg = load_config(config, overrides)
    target = Path(run_dir) if run_dir else rundir.new_run_dir(cfg.name)
    multi = cfg.distribute.strategy == "multi_worker"
    return TrainPlan(cfg, start_run(cfg, _worker_dir(cfg, target), shared_with_workers=multi), False)


def _refuse_finished(target: Path, cfg) -> None:
    """A completed run resumed without a larger epoch budget is exit 2, with nothing written."""
    state = rundir.read_state(target) or {}
    done = int(state.get("epoch", 0))
    if done >= cfg.training.epochs or state.get("stopped"):
        how = "stopped early" if state.get("stopped") else f"{done} of {cfg.training.epochs} epochs"
        raise UserError(
            f"{target}: already finished ({how}); nothing to resume. To train longer: "
            f"mlcli train --resume {target} --set training.epochs={done + 10}"
        )


def _resumable_dir(target: Path) -> Path:
    """The directory this process resumes: for a multi-worker worker i, its `workers/worker-i`."""
    if (target / rundir.CONFIG_FILE).is_file():
        return _worker_dir(load_config(target / rundir.CONFIG_FILE), target)
    if os.environ.get("TF_CONFIG") or "SLURM_PROCID" in os.environ:
        candidate = target / rundir.WORKERS_DIR / f"worker-{task_role()[1]}"
        if (candidate / rundir.CONFIG_FILE).is_file():
            return candidate
    return target


def _worker_dir(cfg, run_dir: Path) -> Path:
    """Multi-worker runs: the chief owns RUN_DIR, worker i writes RUN_DIR/workers/worker-i."""
    if cfg.distribute.strategy != "multi_worker":
        return run_dir
    is_chief, index = task_role()
    return run_dir if is_chief else run_dir / rundir.WORKERS_DIR / f"worker-{index}"


def report(summary: dict, run_dir: Path) -> None:
    test = summary.get("test") or {}
    parts = [f"{k} {v:.4g}" for k, v in test.items() if isinstance(v, float) and k != "loss"][:4]
    rate = summary.get("samples_per_sec")
    print(
        f"done: {summary['final_epoch']} epochs in {summary['train_time_s']:.1f}s"
        + (f" ({rate:,.0f} samples/s)" if rate else "")
        + (f"; test {', '.join(parts)}" if parts else "")
        + f"; run directory {run_dir}",
        flush=True,
    )
