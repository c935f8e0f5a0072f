"""What a sweep leaves behind: `sweep.json` (every trial and the best), `sweep.png`, a live table."""

from __future__ import annotations

import json
import sys
from typing import Any

from mlcli.fileio import atomic_write, atomic_write_text


def trial_rows(study, plan) -> list[dict[str, Any]]:
    """Every trial, with parameter values as the config takes them (choices decoded from JSON)."""
    choices = {d.path for d in plan.dimensions if d.kind == "choice"}
    rows = []
    for t in study.get_trials(deepcopy=False):
        params = {k: json.loads(v) if k in choices else v for k, v in t.params.items()}
        state = "not needed" if t.user_attrs.get("not_needed") else t.state.name.lower()
        rows.append({
            "number": t.number, "state": state, "value": t.value, "params": params,
            "path": t.user_attrs.get("path"), "epochs": len(t.intermediate_values) or None,
        })  # fmt: skip
    return rows


def write_reports(study, plan, plot: bool = True) -> dict:
    rows = trial_rows(study, plan)
    complete = [r for r in rows if r["state"] == "complete"]
    best = None
    if complete:
        pick = max if plan.direction == "maximize" else min
        best = pick(complete, key=lambda r: r["value"])
    report = {
        "study": plan.name, "storage": plan.storage, "metric": plan.metric, "direction": plan.direction,
        "trials": rows, "best": best,
    }  # fmt: skip
    atomic_write_text(plan.sweep_dir / "sweep.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    if plot:
        _plot(study, rows, plan)
    return report


def _plot(study, rows: list[dict], plan) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    importances: dict[str, float] = {}
    if sum(r["state"] == "complete" for r in rows) >= 2 and len(plan.dimensions) > 0:
        try:
            import optuna

            importances = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError):  # e.g. every complete trial had the same parameters
            importances = {}
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(10, 3.8))
    for state, marker in (("complete", "o"), ("pruned", "x")):
        points = [(r["number"], r["value"] if r["value"] is not None else _last(study, r["number"]))
                  for r in rows if r["state"] == state]  # fmt: skip
        points = [(n, v) for n, v in points if v is not None]
        if points:
            ax.scatter(*zip(*points), marker=marker, label=state)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
    ax.set_xlabel("trial")
    ax.set_ylabel(plan.metric)
    ax.set_title(f"{plan.metric} per trial ({plan.direction})")
    ax.grid(alpha=0.3)
    ax.legend()
    if importances:
        names = list(importances)
        bars.barh(names, [importances[n] for n in names])
        bars.set_title("parameter importance (fANOVA)")
    else:
        bars.text(0.5, 0.5, "importance needs two complete trials", ha="center", va="center")
        bars.set_axis_off()
    fig.tight_layout()
    atomic_write(plan.sweep_dir / "sweep.png", lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


def _last(study, number: int) -> float | None:
    values = study.trials[number].intermediate_values
    return values[max(values)] if values else None


def short(value: Any) -> str:
    """A parameter value to read at a glance: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


class LiveTable:
    """Rich's live table of trials on a terminal; one line per finished trial otherwise."""

    def __init__(self, plan, quiet: bool):
        self.plan, self.quiet, self.live, self.printed = plan, quiet, None, set()

    def __enter__(self):
        if not self.quiet and sys.stdout.isatty():
            from rich.live import Live

            self.live = Live(self._table([]), refresh_per_second=2)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def _table(self, rows: list[dict]):
        from rich.table import Table

        table = Table(title=f"sweep {self.plan.name}: {self.plan.metric} ({self.plan.direction})", title_justify="left")
        for col in ("trial", "state", self.plan.metric, *[d.path for d in self.plan.dimensions], "path"):
            table.add_column(col)
        for r in rows:
            value = "-" if r["value"] is None else f"{r['value']:.4g}"
            params = [short(r["params"].get(d.path, "-")) for d in self.plan.dimensions]
            table.add_row(str(r["number"]), r["state"], value, *params, r["path"] or "-")
        return table

    def update(self, study) -> None:
        rows = trial_rows(study, self.plan)
        if self.live is not None:
            self.live.update(self._table(rows))
            return
        if self.quiet:
            return
        for r in rows:
            if r["state"] != "running" and r["number"] not in self.printed:
                self.printed.add(r["number"])
                value = "-" if r["value"] is None else f"{r['value']:.4g}"
                params = ", ".join(f"{k}={short(v)}" for k, v in r["params"].items())
                print(f"trial {r['number']}: {r['state']} {self.plan.metric} {value} {params}", flush=True)
