"""`mlcli train`: resolve the config and the run directory (new or resumed), then train."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlcli.config import load_config
from mlcli.config.render import to_yaml
from mlcli.errors import UserError
from mlcli.train import rundir

# What may change on resume: the epoch budget and other training/distribution settings.
FROZEN_ON_RESUME = ("data", "model", "optimizer", "seed")


def _diff(old: object, new: object, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if old == new else [prefix]


def changed_fields(saved_yaml: str, new_yaml: str) -> list[str]:
    return _diff(yaml.safe_load(saved_yaml), yaml.safe_load(new_yaml))


def train_command(
    config: Path | None,
    overrides: list[str],
    run_dir: Path | None,
    resume: bool,
    *,
    quiet: bool,
    verbose: bool,
    argv: list[str],
) -> dict:
    from mlcli.train.trainer import train_and_evaluate

    if resume:
        target = run_dir or config
        if target is None:
            raise UserError("--resume needs a run directory: mlcli train --resume RUN_DIR")
        target = _resumable_dir(Path(target))
        target = rundir.claim_run_dir(target, resume=True)
        saved = (target / rundir.CONFIG_FILE).read_text()
        cfg = load_config(target / rundir.CONFIG_FILE, overrides)
        frozen = [f for f in changed_fields(saved, to_yaml(cfg)) if f.split(".")[0] in FROZEN_ON_RESUME]
        if frozen:
            raise UserError(
                f"cannot resume {target} with changed {', '.join(frozen)}; only training.* and "
                "distribute.* may change (start a new run instead)"
            )
    else:
        if config is None:
            raise UserError("missing CONFIG: mlcli train CONFIG [--set key=value]")
        if Path(config).is_dir():
            raise UserError(f"{config}: is a run directory; to continue it use --resume {config}")
        cfg = load_config(config, overrides)
        target = Path(run_dir) if run_dir else rundir.new_run_dir(cfg.name)
        target = rundir.claim_run_dir(_worker_dir(cfg, target), resume=False)
    rundir.atomic_write_text(target / rundir.CONFIG_FILE, to_yaml(cfg))
    print(f"run directory: {target}", flush=True)
    summary = train_and_evaluate(cfg, target, resume=resume, quiet=quiet, verbose=verbose, argv=argv)
    _report(summary, target)
    return summary


def _resumable_dir(target: Path) -> Path:
    """The directory this process resumes: for a multi-worker worker i, its `workers/worker-i`."""
    if (target / rundir.CONFIG_FILE).is_file():
        return _worker_dir(load_config(target / rundir.CONFIG_FILE), target)
    if os.environ.get("TF_CONFIG") or "SLURM_PROCID" in os.environ:
        from mlcli.train.distribute import task_role

        candidate = target / "workers" / f"worker-{task_role()[1]}"
        if (candidate / rundir.CONFIG_FILE).is_file():
            return candidate
    return target


def _worker_dir(cfg, run_dir: Path) -> Path:
    """Multi-worker runs: the chief owns RUN_DIR, worker i writes RUN_DIR/workers/worker-i."""
    if cfg.distribute.strategy != "multi_worker":
        return run_dir
    from mlcli.train.distribute import task_role

    is_chief, index = task_role()
    return run_dir if is_chief else run_dir / "workers" / f"worker-{index}"


def _report(summary: dict, run_dir: Path) -> None:
    test = summary.get("test") or {}
    parts = [f"{k} {v:.4f}" for k, v in test.items() if isinstance(v, float) and k != "loss"][:4]
    rate = summary.get("samples_per_sec")
    print(
        f"done: {summary['final_epoch']} epochs in {summary['train_time_s']:.1f}s"
        + (f" ({rate:,.0f} samples/s)" if rate else "")
        + (f"; test {', '.join(parts)}" if parts else "")
        + f"; run directory {run_dir}",
        flush=True,
    )
