"""`mlcli runs`: every run directory below a folder as one table row, and `runs compare`.

Reads only the files a run writes (run.json, summary.json, metrics.csv, config.yaml); never imports
TensorFlow. A run whose record says `running` but whose lock nobody holds was killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlcli import rundir as runs
from mlcli.config.yaml_positions import load_file
from mlcli.errors import ConfigError, UserError
from mlcli.evaluation.plots import overlay
from mlcli.metrics import higher_is_better


def _read_json(path: Path) -> dict:
    """A run's JSON file, or {} when it is missing, unreadable or not an object (a listing never aborts)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _config_data(run_dir: Path) -> dict:
    """A run's config.yaml, read with mlcli's bounded loader (an alias bomb is exit 2, not a hang)."""
    try:
        return load_file(run_dir / runs.CONFIG_FILE).data
    except ConfigError as exc:
        raise UserError(exc.problems[0]) from None


def run_row(run_dir: Path) -> dict[str, Any]:
    record = _read_json(run_dir / runs.RUN_FILE)
    summary = _read_json(run_dir / runs.SUMMARY_FILE)
    status = record.get("status", "unknown")
    if status == "running" and not runs.held_by_a_process(run_dir):
        status = "killed"
    name = summary.get("name")
    if name is None and (run_dir / runs.CONFIG_FILE).is_file():
        try:
            name = _config_data(run_dir).get("name")
        except UserError:
            name = None
    epochs = summary.get("final_epoch")
    if epochs is None:
        epochs = len(runs.read_metrics(run_dir))
    attempts = [a for a in record.get("attempts", []) if isinstance(a, dict)]
    wall = summary.get("wall_time_s", record.get("wall_time_s"))
    earlier = [a.get("wall_time_s") for a in attempts if isinstance(a.get("wall_time_s"), (int, float))]
    test = summary.get("test") if isinstance(summary.get("test"), dict) else {}
    best = summary.get("best") if isinstance(summary.get("best"), dict) else None
    if best is None:  # interrupted or killed: the last committed epoch knows its best so far
        state = runs.read_state(run_dir) or {}
        if state.get("best_epoch"):
            best = {"monitor": state.get("monitor"), "mode": state.get("mode"), "value": state.get("best"),
                    "epoch": state.get("best_epoch")}  # fmt: skip
    return {
        "path": str(run_dir),
        "name": name,
        "started": (attempts[0].get("started") if attempts else None) or record.get("started"),  # the first attempt
        "status": status,
        "epochs": epochs,
        "attempts": len(attempts) + 1 if record else 0,
        "best": best,
        "test": {k: v for k, v in test.items() if k != "samples" and isinstance(v, (int, float))},
        "wall_time_s": round(sum(earlier) + wall, 3) if isinstance(wall, (int, float)) else None,  # every attempt
    }


def find_runs(root: Path | None) -> list[Path]:
    """Run directories below `root` (a worker's own directory inside a run is not another run); without
    a root, below runs/ and sweeps/ (where `train` and `sweep` write)."""
    if root is None:
        return [d for folder in DEFAULT_ROOTS if folder.is_dir() for d in find_runs(folder)]
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    found = []
    for record in sorted(root.rglob(runs.RUN_FILE)):
        inside = record.relative_to(root).parts[:-1]
        # a worker's own copy, or an MLflow store's artifact copy of a run's files, is not another run
        if runs.WORKERS_DIR not in inside and not MLFLOW_STORES & set(inside):
            found.append(record.parent)
    return found


MLFLOW_STORES = {"mlruns", "mlartifacts", "mlflow-artifacts"}  # MLflow's default folders, and tracking.py's


def _sort_key(metric: str):
    """Best first (each run's own monitor direction for `best`); runs without the value last."""

    def key(row: dict) -> tuple:
        if metric == "best":
            best = row["best"] or {}
            if best.get("value") is None:
                return (1, 0.0)
            value = best["value"]
            up = best["mode"] == "max" if best.get("mode") else higher_is_better(best.get("monitor") or "")
        else:
            value, up = row["test"].get(metric), higher_is_better(metric)
        if value is None:
            return (1, 0.0)
        return (0, -value if up else value)

    return key


DEFAULT_ROOTS = (Path("runs"), Path("sweeps"))


def runs_table(root: Path | None, sort: str | None, as_json: bool) -> list[dict]:
    rows = [run_row(d) for d in find_runs(root)]
    if sort:
        if sort not in ("best", "started", "wall_time_s") and not any(sort in r["test"] for r in rows):
            names = sorted({k for r in rows for k in r["test"]})
            raise UserError(f"--sort {sort!r}: no run has that test metric (have: {', '.join(names) or 'none'})")
        if sort in ("started", "wall_time_s"):
            rows.sort(key=lambda r: (r[sort] is None, r[sort] or 0))
        else:
            rows.sort(key=_sort_key(sort))
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return rows
    _print_table(rows, root, sort)
    return rows


def _print_table(rows: list[dict], root: Path, sort: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    have = {k for r in rows for k in r["test"]}
    preferred = [m for m in (sort, "accuracy", "f1", "mae", "rmse", "loss") if m in have]
    metrics = list(dict.fromkeys(preferred))[:3]  # the rest are in --json
    where = root if root is not None else " and ".join(str(r) for r in DEFAULT_ROOTS)
    table = Table(title=f"{len(rows)} runs below {where}", title_justify="left")
    for col in ("name", "started", "status", "epochs", "best", *[f"test {m}" for m in metrics], "wall", "path"):
        table.add_column(col, overflow="fold")
    for r in rows:
        best = _best_cell(r["best"])
        wall = f"{r['wall_time_s']:.0f} s" if r["wall_time_s"] is not None else "-"
        tests = [f"{r['test'][m]:.4g}" if m in r["test"] else "-" for m in metrics]
        started = (r["started"] or "-").replace("T", " ")[5:16]
        table.add_row(r["name"] or "?", started, r["status"], str(r["epochs"]), best, *tests, wall, r["path"])
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _best_cell(best: dict | None) -> str:
    """`val_accuracy 0.981 (ep 7)`; a GAN's best is its last epoch (no monitor, no value)."""
    if not best or best.get("epoch") is None:
        return "-"
    if best.get("value") is None:
        return f"last epoch (ep {best['epoch']})"
    return f"{best['monitor']} {best['value']:.4g} (ep {best['epoch']})"


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths as `--set` spells them: lists of sections by index (`model.blocks.0.padding`)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = {f"{prefix}.length": len(data)}
        for i, value in enumerate(data):
            out.update(_flatten(value, f"{prefix}.{i}"))
        return out
    return {prefix: data}


def compare_runs(run_dirs: list[Path], out: Path | None, as_json: bool, force: bool = False) -> dict:
    """Config fields that differ, metrics side by side, and (with `out`) the curves overlaid."""
    if len(run_dirs) < 2:
        raise UserError("runs compare needs at least two run directories")
    if out is not None:
        runs.check_output(out, suffixes=(".png",), force=force)
    for d in run_dirs:
        if not (d / runs.CONFIG_FILE).is_file():
            raise runs.not_a_run_dir(d)
    configs = [_flatten(_config_data(d)) for d in run_dirs]
    keys = sorted(set().union(*configs))
    changed = {k: [c.get(k) for c in configs] for k in keys if len({json.dumps(c.get(k)) for c in configs}) > 1}
    rows = [run_row(d) for d in run_dirs]
    metrics = sorted({k for r in rows for k in r["test"]})
    test = {m: [r["test"].get(m) for r in rows] for m in metrics}
    result = {
        "runs": [str(d) for d in run_dirs],
        "config": changed,
        "test": {m: v for m, v in test.items() if len({json.dumps(x) for x in v}) > 1},  # what differs
        "best": [r["best"] for r in rows],
        "plot": str(out) if out else None,
    }
    if out is not None:
        _plot(run_dirs, out)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return result
    from rich.console import Console
    from rich.table import Table

    table = Table(title="differences", title_justify="left")
    table.add_column("")
    for i, _ in enumerate(run_dirs):
        table.add_column(f"run {chr(65 + i)}")
    for key, values in changed.items():
        table.add_row(key, *[json.dumps(v) for v in values])
    for m, values in result["test"].items():
        table.add_row(f"test {m}", *["-" if v is None else f"{v:.4g}" for v in values])
    console = Console()
    for i, d in enumerate(run_dirs):
        console.print(f"run {chr(65 + i)}: {d}")
    if changed or result["test"]:
        console.print(table)
    else:
        console.print("no differences: the same config and the same test metrics")
    console.print(f"curves: {out}" if out else "curves: pass --out compare.png to plot them overlaid")
    return result


def _plot(run_dirs: list[Path], out: Path) -> None:
    overlay({f"{chr(65 + i)}: {d.name}": runs.read_metrics(d) for i, d in enumerate(run_dirs)}, out)
