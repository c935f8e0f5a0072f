"""`mlcli predict`: raw inputs through the run's serving model (the export's very model), one row each."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from mlcli.errors import UserError
from mlcli.fileio import atomic_write_text
from mlcli.inference import readers
from mlcli.inference.run import load_checkpoint, open_run
from mlcli.inference.serving import serving_model
from mlcli.rundir import check_output

OUT_SUFFIXES = (".csv", ".json")
SHOWN_WITH_OUT = 10  # with --out, the screen shows the first rows; the file has them all


def predict_command(
    run_dir: Path,
    inputs: list[str],
    out: Path | None,
    checkpoint: str,
    top_k: int,
    *,
    lines: bool = False,
    texts: list[str] | None = None,
    force: bool = False,
) -> list[dict]:
    if out is not None:
        check_output(out, suffixes=OUT_SUFFIXES, force=force)
    run = open_run(run_dir)
    spec = run.spec
    if spec.task == "generation":
        raise UserError(f"{run_dir} is a GAN; use `mlcli sample {run_dir}` to generate images")
    if texts and inputs:
        raise UserError("give either input files or --text strings, not both")
    if not texts and not inputs:
        raise UserError("nothing to predict on: pass files, folders or globs (or --text STRING for a text run)")
    if texts:
        if spec.input.reads != "text":
            raise UserError(f"--text: this run reads {spec.input.reads} inputs, not text")
        examples = readers.strings(texts, spec)
    else:
        examples = readers.read(inputs, spec, lines=lines, label=getattr(run.cfg.data, "label", None))
    serving = serving_model(load_checkpoint(run, checkpoint), spec)
    call = serving.fast()
    outputs = np.concatenate([call(batch) for batch in examples.batches])
    results = []
    for i, (name, row) in enumerate(zip(examples.names, outputs, strict=True)):
        extra = {k: str(v[i]) for k, v in examples.passthrough.items()}
        if spec.classes:
            top = np.argsort(-row, kind="stable")[: min(top_k, len(row))]
            predictions = [{"class": spec.class_names[j], "probability": round(float(row[j]), 6)} for j in top]
            results.append({"input": name, **extra, "predictions": predictions})
            if out is None or i < SHOWN_WITH_OUT:
                print(f"{name[:70]}: " + ", ".join(f"{p['class']} {p['probability']:.3f}" for p in predictions))
        else:
            values = [round(float(v), 6) for v in np.ravel(row)]
            results.append({"input": name, **extra, "values": values})
            if out is None or i < SHOWN_WITH_OUT:
                print(f"{name[:70]}: " + ", ".join(f"{v:.4g}" for v in values))
    if out:
        _write(out, results, list(examples.passthrough))
        more = f" ({len(results) - SHOWN_WITH_OUT} more than shown)" if len(results) > SHOWN_WITH_OUT else ""
        print(f"wrote {len(results)} predictions to {out}{more}")
    return results


def _write(out: Path, results: list[dict], extra: list[str]) -> None:
    """JSON as printed; CSV one row per input: its name, its other columns, then the top classes
    (`class_1, probability_1, ...`) or the values (`value_1, ...`)."""
    if out.suffix.lower() == ".json":
        atomic_write_text(out, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    classes = "predictions" in results[0]
    width = max(len(r["predictions"] if classes else r["values"]) for r in results)
    ranked = [f"{c}_{k}" for k in range(1, width + 1) for c in ("class", "probability")]
    writer.writerow(["input", *extra, *(ranked if classes else [f"value_{k}" for k in range(1, width + 1)])])
    for r in results:
        cells = [v for p in r["predictions"] for v in (p["class"], p["probability"])] if classes else r["values"]
        writer.writerow([r["input"], *[r[k] for k in extra], *cells])
    atomic_write_text(out, buf.getvalue())
