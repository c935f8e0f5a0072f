"""MLflow tracking: a run directory mirrored into an MLflow run, exactly once per epoch.

Only committed epochs are logged: after each epoch end (when metrics.csv has the epoch's row, derived
from the committed backup) the rows beyond the last step MLflow holds are sent in one `log_batch`. A
run killed anywhere therefore never has an epoch in MLflow that its directory lacks, and a resume
(the MLflow run id is kept in the run directory's `mlflow.json`) sends only what is missing: no
duplicated steps. Params (the flattened resolved config) are logged when the MLflow run is created;
artifacts, test metrics and the final status when training ends. MLflow is an optional extra.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mlcli import __version__, rundir
from mlcli.errors import UserError
from mlcli.fileio import atomic_write_json

STATE_FILE = "mlflow.json"
DEFAULT_URI = "sqlite:///mlruns.db"
ARTIFACTS = ("config.yaml", "run.json", "data_spec.json", "summary.json", "metrics.csv", "eval.json")
STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def wanted(cfg: Any) -> bool:
    return cfg.tracking.mlflow is not None or bool(os.environ.get("MLFLOW_TRACKING_URI"))


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """The resolved config as MLflow params: dotted keys, values as text (MLflow keeps 6,000 characters)."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: json.dumps(value, ensure_ascii=False)[:6000] if not isinstance(value, str) else value[:6000]}


class MlflowRun:
    """One MLflow run for one run directory (created, or found again on resume)."""

    def __init__(self, cfg: Any, run_dir: Path, parent_run_id: str | None = None):
        settings = cfg.tracking.mlflow
        self.run_dir = Path(run_dir)
        self.best_effort = bool(settings and settings.best_effort)
        self.uri = absolute((settings and settings.uri) or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI)
        try:
            import mlflow  # noqa: F401
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise UserError("tracking.mlflow needs MLflow: pip install 'mlcli[mlflow]' (or mlflow-skinny)") from None
        quiet_mlflow()
        # fail within seconds, not after MLflow's minutes of retries, when a server cannot be reached
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        self.client = MlflowClient(tracking_uri=self.uri)
        saved = self.run_dir / STATE_FILE
        if saved.is_file():  # a resume: the same MLflow run continues
            self.run_id = json.loads(saved.read_text())["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        name = (settings and settings.experiment) or cfg.name
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            name, artifact_location=_artifacts_beside(self.uri))
        tags = {"mlcli.version": __version__, "mlcli.run_dir": str(self.run_dir.resolve()), "mlcli.status": "running"}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(experiment_id, run_name=(settings and settings.run_name) or self.run_dir.name,
                                     tags=tags)  # fmt: skip
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in flatten(cfg.model_dump(mode="json")).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])
        atomic_write_json(saved, {"tracking_uri": self.uri, "run_id": self.run_id, "experiment_id": experiment_id})

    def logged_epochs(self) -> int:
        rows = rundir.read_metrics(self.run_dir)
        key = next((k for k in rows[0] if k != "epoch"), None) if rows else None
        history = self.client.get_metric_history(self.run_id, key) if key else []
        return max((m.step for m in history), default=0)

    def sync_epochs(self) -> None:
        """Send every committed epoch MLflow does not have yet, one atomic batch per epoch."""
        from mlflow.entities import Metric

        done = self.logged_epochs()
        now = int(time.time() * 1000)
        for row in rundir.read_metrics(self.run_dir):
            epoch = int(row["epoch"])
            if epoch <= done:
                continue
            metrics = [Metric(k, float(v), now, epoch) for k, v in row.items() if k != "epoch" and _number(v)]
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, status: str) -> None:
        """Test metrics, artifacts and the final status; called whatever the outcome."""
        from mlflow.entities import Metric

        self.sync_epochs()
        summary_path = self.run_dir / "summary.json"
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            test, step = summary.get("test") or {}, int(summary.get("final_epoch") or 0)
            now = int(time.time() * 1000)  # at the epoch they score: a resume with more epochs adds a point
            scored = {k: v for k, v in test.items() if _number(v) and k != "samples"}
            metrics = [Metric(f"test_{k}", float(v), now, step) for k, v in scored.items()]
            if metrics:
                self.client.log_batch(self.run_id, metrics=metrics)
        for name in ARTIFACTS:
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        for folder in ("plots",):
            if (self.run_dir / folder).is_dir():
                self.client.log_artifacts(self.run_id, str(self.run_dir / folder), folder)
        best = self.run_dir / "checkpoints" / "best.keras"
        if best.is_file():
            self.client.log_artifact(self.run_id, str(best), "checkpoints")
        self.client.set_tag(self.run_id, "mlcli.status", status)
        self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))


def _number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return value not in ("", None) and not isinstance(value, bool)


def open_run(cfg: Any, run_dir: Path, parent_run_id: str | None = None) -> MlflowRun | None:
    """The MLflow run for `run_dir`, or None when tracking is off (or unreachable and best-effort)."""
    if not wanted(cfg):
        return None
    try:
        return MlflowRun(cfg, run_dir, parent_run_id)
    except UserError:
        raise
    except Exception as exc:  # an unreachable server, a bad URI, a locked database
        best_effort = bool(cfg.tracking.mlflow and cfg.tracking.mlflow.best_effort)
        message = f"MLflow tracking at {_uri(cfg)}: {_reason(exc)}"
        if not best_effort:
            raise UserError(message + " (set tracking.mlflow.best_effort: true to train without it)") from None
        print(f"warning: {message}; training without MLflow tracking", file=sys.stderr)
        return None


def _artifacts_beside(uri: str) -> str | None:
    """A SQLite store keeps its artifacts in `mlflow-artifacts/` next to the database file (MLflow's own
    default is ./mlruns in whatever folder training ran in); other stores keep their own default."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///") :]).resolve().parent / "mlflow-artifacts").as_uri()


def _reason(exc: Exception) -> str:
    """One short line: MLflow's own messages carry whole retry chains."""
    text = str(exc)
    for needle, short in (("Connection refused", "connection refused"), ("NewConnectionError", "cannot connect"),
                          ("Name or service not known", "unknown host"), ("timed out", "timed out")):  # fmt: skip
        if needle in text:
            return short
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def _uri(cfg: Any) -> str:
    return (cfg.tracking.mlflow and cfg.tracking.mlflow.uri) or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def absolute(uri: str) -> str:
    """A relative SQLite path made absolute where training starts, so `--resume` from another folder
    finds the same store (mlflow.json keeps the URI)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def quiet_mlflow() -> None:
    """MLflow's and its database layer's own log lines (table creation at INFO, each failed call's
    traceback at ERROR) would bury the training's output; mlcli says what failed in one line."""
    import logging

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


_warned: set[str] = set()


def warn_and_continue(what: str, exc: Exception) -> None:
    """Tracking never stops a training that has started: a failed log is a warning, once per kind."""
    if what in _warned:
        return
    _warned.add(what)
    reason = " ".join(str(exc).split())
    reason = reason if len(reason) <= 300 else reason[:297] + "..."
    print(f"warning: MLflow {what} failed ({type(exc).__name__}: {reason}); training goes on without it "
          "(this warning is not repeated)", file=sys.stderr)  # fmt: skip
