"""Datasets shipped inside the package, so the main job trains offline."""

from __future__ import annotations

from importlib import resources

import numpy as np

from mlcli.config.data import BuiltinData
from mlcli.data.raw import RawData, split_fraction
from mlcli.data.sources.registry import SOURCES

DIGITS_CLASSES = [str(i) for i in range(10)]
CO2_TEST_FRACTION = 0.2


def _file(name: str):
    return resources.files("mlcli.data") / "shipped" / name


def load_digits_arrays() -> dict[str, np.ndarray]:
    """The shipped digits: uint8 8x8x1 images, fixed stratified 1,437/360 train/test split."""
    with _file("digits.npz").open("rb") as fh, np.load(fh) as npz:
        return {k: npz[k] for k in npz.files}


def load_co2_series() -> tuple[list[str], np.ndarray]:
    lines = _file("co2.csv").read_text().strip().splitlines()[1:]
    dates = [line.split(",")[0] for line in lines]
    values = np.array([float(line.split(",")[1]) for line in lines], np.float32)
    return dates, values


@SOURCES.register("builtin")
def load(cfg: BuiltinData, seed: int) -> RawData:
    if cfg.name == "digits":
        arrays = load_digits_arrays()
        train, val = split_fraction(arrays["x_train"], arrays["y_train"].astype(np.int32), cfg.val_fraction, seed)
        test = (arrays["x_test"], arrays["y_test"].astype(np.int32))
        return RawData("image", "classification", train, val, test, class_names=DIGITS_CLASSES)
    _, values = load_co2_series()
    n = len(values)
    n_test = int(n * CO2_TEST_FRACTION)
    n_val = int(n * cfg.val_fraction)
    n_train = n - n_test - n_val
    return RawData(
        "series",
        "forecast",
        values[:n_train],
        values[n_train : n_train + n_val],
        values[n_train + n_val :],
    )
