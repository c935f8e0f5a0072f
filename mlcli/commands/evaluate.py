"""`mlcli evaluate`: a checkpoint's serving model on a split's raw examples, scored in the data's units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from mlcli.data import load_dataset
from mlcli.errors import UserError
from mlcli.evaluation.gan_quality import evaluate_gan
from mlcli.evaluation.plots import confusion, roc_pr_curves
from mlcli.evaluation.scoring import score
from mlcli.fileio import atomic_write_json
from mlcli.inference.run import load_checkpoint, open_run
from mlcli.inference.serving import predict_split, serving_model


def _tables(result: dict, class_names: list[str], console: Console) -> None:
    table = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="right")
    for name, row in result["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    matrix = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    matrix.add_column("")
    for name in class_names:
        matrix.add_column(name[:8], justify="right")
    for name, row in zip(class_names, result["confusion_matrix"]):
        matrix.add_row(name[:12], *[str(v) if v else "." for v in row])
    console.print(matrix)


def _gan_table(result: dict, split: str, console: Console) -> None:
    """The quality score: generated images against real held-out ones, on the same classifier."""
    table = Table(title="GAN quality (a classifier trained on the real training images)", title_justify="left")
    for col in ("images", "mean confidence", "class coverage", "Fréchet distance"):
        table.add_column(col, justify="right" if col != "images" else "left")
    for key, label in (("generated", "generated"), (f"real_{split}", f"real {split} (a perfect generator)")):
        r = result[key]
        table.add_row(f"{label} ({r['samples']})", f"{r['mean_confidence']:.3f}", f"{r['class_coverage']:.0%}",
                      f"{r['frechet_distance']:.2f}")  # fmt: skip
    console.print(table)
    console.print("Distances are to the real training images' features. A generator close to the real images "
                  f"scores like the real {split} row: similar confidence, full coverage, a distance as small.")


def evaluate_command(run_dir: Path, split: str, checkpoint: str, as_json: bool) -> dict:
    if split not in ("test", "val", "train"):
        raise UserError(f"--split {split!r}: choose test, val or train")
    run = open_run(run_dir)
    model = load_checkpoint(run, checkpoint)
    if run.spec.task == "generation":
        result = evaluate_gan(run, model, split)
    else:
        bundle = load_dataset(run.cfg, run.spec)
        batches = bundle.raw_batches(split)
        if batches is None:
            raise UserError(f"{run_dir}: this run's data has no {split} split ({_hint(run, split)})")
        predictions = predict_split(serving_model(model, run.spec), batches, run.spec)
        result = score(predictions.out, predictions.y, run.spec, run.cfg.training.top_k, predictions.last)
        if run.spec.classes:
            plots = Path(run_dir) / "plots"
            roc_pr_curves(predictions.y, predictions.out, run.spec.class_names, plots, f"{split} split")
    result = {"split": split, "checkpoint": checkpoint, **result}
    atomic_write_json(Path(run_dir) / "eval.json", result)
    if as_json:
        print(json.dumps(result, indent=2))
        return result
    console = Console()
    headline = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    console.print(
        f"[bold]{run_dir}[/] {split} ({checkpoint}): "
        + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in headline.items())
    )
    if "generated" in result:
        _gan_table(result, split, console)
    written = ["eval.json"]
    if "per_class" in result:
        _tables(result, run.spec.class_names, console)
        confusion(np.array(result["confusion_matrix"]), run.spec.class_names, Path(run_dir) / "plots" / "confusion.png")
        written += ["plots/confusion.png", "plots/roc.png", "plots/pr.png"]
    console.print(f"wrote {', '.join(written)} in {run_dir}")
    return result


def _hint(run, split: str) -> str:
    """How to get the split that is missing."""
    if split == "test":
        return "evaluate another with --split val, or give the data a test split: data.test_path or data.test_fraction"
    return "evaluate --split test, or set data.val_fraction / data.val_path"
