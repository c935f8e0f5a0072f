"""`mlcli train`: resolve the config and the run directory (new or resumed), then train.

Every check that can refuse (changed frozen fields, a finished run) runs before anything in the
run directory is written, so a refused resume leaves it byte for byte as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlcli import runs
from mlcli.config import load_config
from mlcli.config.render import to_yaml
from mlcli.errors import UserError
from mlcli.fileio import atomic_write_text

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
    argv: list[str],
    verbose: bool = False,
) -> dict:
    if resume:
        target = run_dir or config
        if target is None:
            raise UserError("--resume needs a run directory: mlcli train --resume RUN_DIR")
        target = runs.claim_run_dir(_resumable_dir(Path(target)), resume=True)
        saved = (target / runs.CONFIG_FILE).read_text(encoding="utf-8")
        cfg = load_config(target / runs.CONFIG_FILE, overrides)
        frozen = [f for f in changed_fields(saved, to_yaml(cfg)) if f.split(".")[0] in FROZEN_ON_RESUME]
        if frozen:
            raise UserError(
                f"cannot resume {target} with changed {', '.join(frozen)}; only training.* and "
                "distribute.* may change (start a new run instead)"
            )
        _refuse_finished(target, cfg)
    else:
        if config is None:
            raise UserError("missing CONFIG: mlcli train CONFIG [--set key=value]")
        if Path(config).is_dir():
            raise UserError(f"{config}: is a run directory; to continue it use --resume {config}")
        cfg = load_config(config, overrides)
        target = Path(run_dir) if run_dir else runs.new_run_dir(cfg.name)
        multi = cfg.distribute.strategy == "multi_worker"
        target = runs.claim_run_dir(_worker_dir(cfg, target), resume=False, shared_with_workers=multi)
    atomic_write_text(target / runs.CONFIG_FILE, to_yaml(cfg))
    print(f"run directory: {target}", flush=True)
    from mlcli.tfenv import import_tensorflow

    import_tensorflow(verbose)
    if cfg.distribute.strategy == "multi_worker":
        from mlcli.training.signals import exit_cleanly_on_signals

        exit_cleanly_on_signals(target)  # a worker may block in a collective for a long time
    from mlcli.training.entry import train_and_evaluate

    summary = train_and_evaluate(cfg, target, resume=resume, quiet=quiet, argv=argv)
    _report(summary, target)
    return summary


def _refuse_finished(target: Path, cfg) -> None:
    """A completed run resumed without a larger epoch budget is exit 2, with nothing written."""
    from mlcli.training.checkpoint import read_state

    state = read_state(target) or {}
    done = int(state.get("epoch", 0))
    if done >= cfg.training.epochs or state.get("stopped"):
        how = "stopped early" if state.get("stopped") else f"{done} of {cfg.training.epochs} epochs"
        raise UserError(
            f"{target}: already finished ({how}); nothing to resume. To train longer: "
            f"mlcli train --resume {target} --set training.epochs={done + 10}"
        )


def _resumable_dir(target: Path) -> Path:
    """The directory this process resumes: for a multi-worker worker i, its `workers/worker-i`."""
    if (target / runs.CONFIG_FILE).is_file():
        return _worker_dir(load_config(target / runs.CONFIG_FILE), target)
    if os.environ.get("TF_CONFIG") or "SLURM_PROCID" in os.environ:
        from mlcli.training.distribute import task_role

        candidate = target / runs.WORKERS_DIR / f"worker-{task_role()[1]}"
        if (candidate / runs.CONFIG_FILE).is_file():
            return candidate
    return target


def _worker_dir(cfg, run_dir: Path) -> Path:
    """Multi-worker runs: the chief owns RUN_DIR, worker i writes RUN_DIR/workers/worker-i."""
    if cfg.distribute.strategy != "multi_worker":
        return run_dir
    from mlcli.training.distribute import task_role

    is_chief, index = task_role()
    return run_dir if is_chief else run_dir / runs.WORKERS_DIR / f"worker-{index}"


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
