"""`mlcli train`: resolve the config and the run directory (new or resumed) before TensorFlow loads.

Every check that can refuse (a bad config, a taken run directory, changed frozen fields, a finished
run) runs here, before anything in the run directory is written, so a refused command leaves it byte
for byte as it was and answers in a fraction of a second. `mlcli.cli` then imports TensorFlow and
calls `mlcli.training.entry.train_and_evaluate`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcli import rundir
from mlcli.commands.checked import load_checked
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
    created: bool = False  # this command made the run directory (so it may remove it again)
    already_done: bool = False  # a finished run whose record was left `running` by a kill: now completed


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
            raise rundir.not_a_run_dir(target, "to resume")
        saved = (target / rundir.CONFIG_FILE).read_text(encoding="utf-8")
        cfg = load_config(target / rundir.CONFIG_FILE, overrides)
        frozen = [f for f in changed_fields(saved, to_yaml(cfg)) if f.split(".")[0] in FROZEN_ON_RESUME]
        if frozen:
            raise UserError(
                f"cannot resume {target} with changed {', '.join(frozen)}; only training.* and "
                "distribute.* may change (start a new run instead)"
            )
        if _finish_record_only(target, cfg):
            return TrainPlan(cfg, target, True, already_done=True)
        _refuse_finished(target, cfg)
        return TrainPlan(cfg, start_run(cfg, target, resume=True), True)
    if config is None:
        raise UserError("missing CONFIG: mlcli train CONFIG [--set key=value]")
    if Path(config).is_dir() and (Path(config) / rundir.CONFIG_FILE).is_file():
        raise UserError(f"{config}: is a run directory; to continue it use --resume {config}")
    cfg = load_checked(config, overrides)  # a missing folder or label column is exit 2 before anything is written
    target = _worker_dir(cfg, Path(run_dir) if run_dir else rundir.new_run_dir(cfg.name))
    multi = cfg.distribute.strategy == "multi_worker"
    created = not target.exists()
    return TrainPlan(cfg, start_run(cfg, target, shared_with_workers=multi), False, created)


def _new_and_empty(plan: TrainPlan) -> bool:
    return not plan.resume and not rundir.epochs_saved(plan.run_dir)


def nothing_trained(plan: TrainPlan) -> bool:
    """A new single-process run with no committed epoch: there is nothing in it to keep."""
    return plan.cfg.distribute.strategy != "multi_worker" and _new_and_empty(plan)


def peers_never_joined(plan: TrainPlan) -> bool:
    """A new multi-worker run that failed before its first epoch (a peer that never started): its
    directory holds only this worker's start-up files, which would make the same command exit 2."""
    return plan.cfg.distribute.strategy == "multi_worker" and _new_and_empty(plan)


def abandon(plan: TrainPlan) -> None:
    """Remove a new run that stopped before its first epoch (Ctrl-C at start-up, a data error), so
    neither a stray `config.yaml` nor a `failed` directory is left, and the same --run-dir works again."""
    rundir.release_run_dir(plan.run_dir)
    if plan.cfg.distribute.strategy == "multi_worker":  # a shared folder: the other workers' files stay
        for child in plan.run_dir.iterdir():
            if child.name != rundir.WORKERS_DIR:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if plan.created and not any(plan.run_dir.iterdir()):
            plan.run_dir.rmdir()
        return
    if plan.created:
        shutil.rmtree(plan.run_dir, ignore_errors=True)
        parent = plan.run_dir.parent  # runs/<name>/ when this run was its first
        if parent.name == plan.cfg.name and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    else:  # an empty --run-dir the user made: empty again
        for child in plan.run_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _refuse_finished(target: Path, cfg) -> None:
    """A completed run resumed without a larger epoch budget is exit 2, with nothing written. A run whose
    last epoch is committed but that was killed before its summary is resumed: it is finished, not retrained."""
    state = rundir.read_state(target) or {}
    done = int(state.get("epoch", 0))
    if done > cfg.training.epochs:
        raise UserError(f"{target}: already has {done} epochs; training.epochs={cfg.training.epochs} would "
                        f"shorten it (resume with --set training.epochs={done + 10} to train longer)")  # fmt: skip
    summarised = _summary_epoch(target) >= done  # a summary of an earlier, shorter attempt does not count
    if (done >= cfg.training.epochs or state.get("stopped")) and summarised:
        how = "stopped early" if state.get("stopped") else f"{done} of {cfg.training.epochs} epochs"
        raise UserError(
            f"{target}: already finished ({how}); nothing to resume. To train longer: "
            f"mlcli train --resume {target} --set training.epochs={done + 10}"
        )


def _finish_record_only(target: Path, cfg) -> bool:
    """Killed after summary.json but before run.json said completed: only the record is left to write."""
    state = rundir.read_state(target) or {}
    record = rundir.read_record(target)
    done = int(state.get("epoch", 0))
    finished = done >= cfg.training.epochs or bool(state.get("stopped"))
    if not state or not finished or record.get("status") == "completed" or _summary_epoch(target) < done:
        return False
    rundir.lock_run_dir(target)
    rundir.finish_record(target, record, "completed", note="completed by --resume after an interruption")
    rundir.release_run_dir(target)
    return True


def _summary_epoch(target: Path) -> int:
    try:
        return int(json.loads((target / rundir.SUMMARY_FILE).read_text(encoding="utf-8")).get("final_epoch", -1))
    except (OSError, ValueError, AttributeError, TypeError):
        return -1


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
    stopped = summary.get("stopped") or {}
    best = summary.get("best") or {}
    kept = f"; best.keras is epoch {best['epoch']}" if best.get("epoch") else ""
    if stopped.get("reason") in ("early_stopping", "pruned"):
        print(f"stopped early at epoch {stopped['epoch']}: {stopped['message']}{kept}", flush=True)
    elif stopped.get("reason") == "completed":
        print(f"finished all {summary['final_epoch']} epochs{kept}", flush=True)
    test = summary.get("test") or {}
    parts = [f"{k} {v:.4g}" for k, v in test.items() if isinstance(v, float) and k != "loss"][:4]
    rate = summary.get("samples_per_sec")
    first, final = summary.get("initial_epoch", 0) + 1, summary["final_epoch"]
    epochs = (f"epochs {first}-{final} of {final} (resumed)" if first > 1 and final >= first
              else f"{final} epoch{'s' if final != 1 else ''}")  # the time is this process's: say which epochs
    print(
        f"done: {epochs} in {summary['train_time_s']:.1f}s"
        + (f" ({rate:,.0f} samples/s)" if rate else "")
        + (f"; test {', '.join(parts)}" if parts else "")
        + f"; run directory {run_dir}",
        flush=True,
    )
