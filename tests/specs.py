"""DataSpecs written by hand for model tests (what the data room would fit)."""

from __future__ import annotations

from mlcli.spec import DataSpec, TargetScaling


def image_spec(shape, classes=10, task="classification") -> DataSpec:
    names = [str(i) for i in range(classes)] if classes else None
    inp = {"kind": "image", "size": list(shape[:2]), "channels": shape[2]}
    return DataSpec(task=task, input=inp, class_names=names)


def features_spec(width: int, classes: list[str] | None = None) -> DataSpec:
    inp = {"kind": "features", "mean": [0.0] * width, "std": [1.0] * width}
    return DataSpec(task="classification" if classes else "regression", input=inp, class_names=classes)


def tokens_spec(length: int, classes: list[str], vocab: int) -> DataSpec:
    return DataSpec(task="classification", input={"kind": "tokens", "length": length, "vocab_size": vocab},
                    class_names=classes)  # fmt: skip


def series_spec(window: int, horizon: int = 1, step_std: float = 1.0) -> DataSpec:
    inp = {"kind": "series", "mean": 0.0, "std": 1.0, "step_std": step_std, "window": window, "horizon": horizon}
    return DataSpec(task="forecast", input=inp, output_dim=horizon, target=TargetScaling(mean=0.0, std=1.0))
