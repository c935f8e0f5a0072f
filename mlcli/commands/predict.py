"""`mlcli predict`: raw inputs (images, text, CSV rows, .npz) through the run's preprocessing and model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from mlcli.data.files import IMAGE_SUFFIXES
from mlcli.errors import UserError
from mlcli.fileio import atomic_write_text
from mlcli.runs import load_checkpoint, open_run


def _images(paths: list[str], spec) -> np.ndarray:
    import tensorflow as tf

    from mlcli.data.folders import read_image

    h, w, c = spec.input_shape
    out = []
    for p in paths:
        try:
            out.append(read_image(p, (h, w), c))
        except (OSError, tf.errors.OpError) as exc:
            raise UserError(f"{p}: cannot read image: {str(exc).splitlines()[0]}") from None
    return np.stack(out)


def _csv_rows(path: Path, run):
    """CSV rows as the model reads them, columns found by the names stored at training."""
    from mlcli.data.table import column, predict_rows, read_csv

    cfg = run.cfg.data
    if run.spec.kind == "table":
        return predict_rows(path, run.spec.state, getattr(cfg, "label", None))
    if run.spec.kind == "text":
        name = run.spec.state.get("text_column") or "text"
        header, columns = read_csv(path)
        return np.array(column(header, columns, name, path), dtype=object)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if run.spec.kind == "series":
        column = getattr(cfg, "value_column", None) or (list(rows[0])[-1] if rows else "value")
        values = np.array([float(r[column]) for r in rows], np.float32)
        window = run.spec.input_shape[0]
        if len(values) < window:
            raise UserError(f"{path}: need at least {window} values to forecast, got {len(values)}")
        return values[-window:][None, :, None]
    features = getattr(cfg, "features", None) or [k for k in rows[0] if k != getattr(cfg, "label", None)]
    try:
        return np.array([[float(r[f]) for f in features] for r in rows], np.float32)
    except KeyError as exc:
        raise UserError(f"{path}: missing column {exc}") from None


def read_inputs(inputs: list[str], run) -> tuple[np.ndarray, list[str]]:
    """Raw model inputs and a label for each row, from whatever the user passed."""
    spec = run.spec
    paths = [Path(i) for i in inputs]
    if spec.kind == "image" and all(p.suffix.lower() in IMAGE_SUFFIXES for p in paths):
        for p in paths:
            if not p.is_file():
                raise UserError(f"{p}: no such image file")
        return _images(inputs, spec), inputs
    if len(paths) == 1 and paths[0].suffix == ".npz":
        if not paths[0].is_file():
            raise UserError(f"{paths[0]}: no such file")
        with np.load(paths[0]) as npz:
            x = npz["x"] if "x" in npz.files else npz[npz.files[0]]
        if spec.kind == "image" and x.ndim == 3:
            x = x[..., None]
        return x, [f"row {i}" for i in range(len(x))]
    if len(paths) == 1 and paths[0].suffix == ".csv":
        if not paths[0].is_file():
            raise UserError(f"{paths[0]}: no such file")
        x = _csv_rows(paths[0], run)
        return x, [f"row {i}" for i in range(len(x))]
    if spec.kind == "text":
        if len(paths) == 1 and paths[0].suffix == ".txt" and paths[0].is_file():
            lines = [ln for ln in paths[0].read_text(encoding="utf-8").splitlines() if ln.strip()]
        else:
            lines = list(inputs)
        return np.array(lines, dtype=object), list(lines)
    raise UserError(
        f"cannot read {', '.join(inputs)} as {spec.kind} inputs; pass image files, a .txt file "
        "or text lines, a .csv or a .npz"
    )


def model_batch(x, spec):
    """Raw inputs through the run's saved preprocessing: what the checkpoint takes."""
    from mlcli.data.preprocess import preprocess, preprocessor
    from mlcli.data.table import Table, model_batch

    if isinstance(x, Table):
        return model_batch(x)
    return preprocess(preprocessor(spec.kind, spec.state), spec.kind, x.astype(str) if x.dtype == object else x)


def predict_command(run_dir: Path, inputs: list[str], out: Path | None, checkpoint: str, top_k: int) -> list:
    from mlcli.evaluation.scoring import probabilities

    run = open_run(run_dir)
    if run.spec.task == "generation":
        raise UserError(f"{run_dir} is a GAN; use `mlcli sample {run_dir}` to generate images")
    model = load_checkpoint(run, checkpoint)
    x, names = read_inputs(inputs, run)
    raw = np.asarray(model(model_batch(x, run.spec), training=False), np.float32)
    results = []
    if run.spec.task == "classification":
        probs = probabilities(raw)
        for name, p in zip(names, probs):
            top = np.argsort(-p)[: min(top_k, len(p))]
            results.append(
                {
                    "input": name,
                    "predictions": [
                        {"class": run.spec.class_names[i], "probability": round(float(p[i]), 6)} for i in top
                    ],
                }
            )
            print(f"{name[:60]}: " + ", ".join(f"{run.spec.class_names[i]} {p[i]:.3f}" for i in top))
    else:
        values = raw.reshape(len(raw), -1)
        if run.spec.kind == "series":
            values = values * run.spec.state["std"][0] + run.spec.state["mean"][0]
        for name, v in zip(names, values):
            results.append({"input": name, "values": [round(float(t), 6) for t in v]})
            print(f"{name}: " + ", ".join(f"{t:.4f}" for t in v))
    if out:
        _write(out, results, run.spec.task == "classification")
    return results


def _write(out: Path, results: list[dict], classes: bool) -> None:
    if out.suffix == ".json":
        atomic_write_text(out, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["input", "rank", "class", "probability"] if classes else ["input", "step", "value"])
    for r in results:
        if classes:
            writer.writerows([r["input"], k + 1, p["class"], p["probability"]] for k, p in enumerate(r["predictions"]))
        else:
            writer.writerows([r["input"], k + 1, v] for k, v in enumerate(r["values"]))
    atomic_write_text(out, buf.getvalue())
