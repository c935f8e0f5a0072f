"""The data room: builtin files, every source, preprocessing fitted on train only, bad input."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from mlcli.config import load_config_text
from mlcli.data import load_dataset
from mlcli.data.sources import builtin
from mlcli.data.sources import tfds as tfds_source
from mlcli.errors import UserError
from tests.conftest import ROOT, cli

# sha256 of the shipped digits arrays (x_train, y_train, x_test, y_test bytes, in that order)
DIGITS_SHA256 = "0c699ee1b3bc1bc500b40944070efde66a8c5e6e73662466fad20af5d1e65d7e"


def config(data: str, model: str = "{type: mlp}", extra: str = ""):
    return load_config_text(f"name: t\nseed: 3\ndata: {data}\nmodel: {model}\n{extra}")


def digits_checksum(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def test_builtin_digits_shapes_classes_and_checksum():
    a = builtin.load_digits_arrays()
    assert a["x_train"].shape == (1437, 8, 8, 1) and a["x_test"].shape == (360, 8, 8, 1)
    assert a["x_train"].dtype == np.uint8 and a["x_train"].max() == 255 and a["x_train"].min() == 0
    assert sorted(np.unique(a["y_test"])) == list(range(10))
    counts = np.bincount(a["y_test"])
    assert counts.min() >= 35 and counts.max() <= 37  # stratified
    assert digits_checksum(a) == DIGITS_SHA256


def test_builtin_co2_series():
    dates, values = builtin.load_co2_series()
    assert len(values) == 2284 and dates[0] == "1958-03-29"
    assert np.isfinite(values).all() and 310 < values.min() < values.max() < 380


def test_regenerate_script_matches_shipped_files(tmp_path: Path):
    pytest.importorskip("sklearn")
    pytest.importorskip("statsmodels")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_builtin", ROOT / "scripts/make_builtin_datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    with np.load(tmp_path / "digits.npz") as fresh:
        assert digits_checksum(dict(fresh)) == DIGITS_SHA256
    assert (tmp_path / "co2.csv").read_text() == (ROOT / "mlcli/data/shipped/co2.csv").read_text()


def test_shipped_files_are_small():
    for f in (ROOT / "mlcli/data/shipped").iterdir():
        assert f.stat().st_size < 1_000_000


def test_digits_pipeline_normalised_and_split():
    b = load_dataset(config("{source: builtin, name: digits, batch_size: 50, val_fraction: 0.2}"))
    x, y = next(iter(b.train))
    assert x.shape == (50, 8, 8, 1) and float(x.numpy().max()) <= 1.0 and float(x.numpy().min()) >= 0.0
    assert b.spec.num_train + b.spec.num_val == 1437 and b.spec.num_test == 360
    assert abs(b.spec.num_val - 287) <= 5
    assert b.spec.class_names == [str(i) for i in range(10)]


def test_gan_gets_symmetric_range():
    b = load_dataset(config("{source: builtin, name: digits}", "{type: gan}"))
    x, _ = next(iter(b.train))
    assert float(x.numpy().min()) == -1.0 and b.spec.task == "generation"


def test_series_standardised_with_train_statistics_only():
    b = load_dataset(config("{source: builtin, name: co2, window: 10, horizon: 3}", "{type: rnn}"))
    _, values = builtin.load_co2_series()
    n_train = b.raw.series[0].shape[0]
    assert b.spec.input.mean == pytest.approx(values[:n_train].mean(), rel=1e-5)
    assert b.spec.target.mean == b.spec.input.mean and b.spec.target.std == b.spec.input.std
    x, y = next(iter(b.train))
    assert x.shape[1:] == (10, 1) and y.shape[1:] == (3,)
    assert b.spec.num_test == len(b.raw.series[2]) - 3 + 1  # every test value is a target once


def test_synthetic_is_deterministic_by_seed():
    a = load_dataset(config("{source: synthetic, kind: images, shape: [8, 8, 3]}"))
    b = load_dataset(config("{source: synthetic, kind: images, shape: [8, 8, 3]}"))
    np.testing.assert_array_equal(a.raw.train[0], b.raw.train[0])
    assert a.raw.train[0].shape[1:] == (8, 8, 3)


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_csv_classification_and_regression(tmp_path: Path):
    rng = np.random.default_rng(0)
    rows = ["a,b,label,target"] + [
        f"{x:.3f},{y:.3f},{'yes' if x > y else 'no'},{x + y:.3f}" for x, y in rng.normal(size=(100, 2))
    ]
    path = _csv(tmp_path / "t.csv", rows)
    b = load_dataset(config(f"{{source: csv, path: {path}, label: label, features: [a, b]}}"))
    assert b.spec.class_names == ["no", "yes"] and b.spec.input_shape == [2]
    assert b.spec.num_train + b.spec.num_val + b.spec.num_test == 100
    r = load_dataset(config(f"{{source: csv, path: {path}, task: regression, label: target, features: [a, b]}}"))
    a = {c.name: c for c in r.spec.input.columns}["a"]
    train_a = r.raw.train[0].columns["a"]  # standardised with the training split's statistics only
    assert r.spec.task == "regression" and a.type == "numeric" and len(train_a) < 100
    assert np.isclose(a.mean, train_a.mean()) and np.isclose(a.variance, train_a.var())


def test_csv_timeseries(tmp_path: Path):
    path = _csv(tmp_path / "s.csv", ["t,value"] + [f"{i},{np.sin(i / 5):.4f}" for i in range(200)])
    b = load_dataset(
        config(f"{{source: csv, path: {path}, task: timeseries, value_column: value, window: 12}}", "{type: rnn}")
    )
    assert b.spec.kind == "series" and b.spec.input_shape == [12, 1]


@pytest.mark.parametrize(
    "rows, data, message",
    [
        (["a,label", "1,x", "2,y"], "label: nope", "no column named 'nope'"),
        (["a,label", "1,x", "2,x", "3,x"], "label: label", "single class"),
        (["t,value", "1,1", "2,2", "3,3"], "task: timeseries, window: 50", "longer than"),
        (["a,label", "1,x", "oops,y"], "label: label, columns: {a: numeric}", "is numeric but has the value 'oops'"),
    ],
)
def test_csv_bad_input_exits_2(tmp_path: Path, rows, data, message):
    path = _csv(tmp_path / "bad.csv", rows)
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"name: t\ndata: {{source: csv, path: {path}, {data}}}\nmodel: {{type: mlp}}\n")
    with pytest.raises(UserError, match=message):
        load_dataset(load_config_text(config_file.read_text()))


def test_npz_classification_and_generation(tmp_path: Path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "c.npz", x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=rng.integers(0, 3, 60))
    b = load_dataset(config(f"{{source: npz, path: {tmp_path / 'c.npz'}}}", "{type: cnn, blocks: [{filters: 4}]}"))
    assert b.spec.input_shape == [8, 8, 1] and b.spec.num_classes == 3
    np.savez(tmp_path / "g.npz", x=rng.integers(0, 255, (40, 8, 8, 1), dtype=np.uint8))
    g = load_dataset(config(f"{{source: npz, path: {tmp_path / 'g.npz'}}}", "{type: gan}"))
    assert g.spec.task == "generation"
    np.savez(tmp_path / "w.npz", images=np.zeros((3, 2)))
    with pytest.raises(UserError, match="named 'x'"):
        load_dataset(config(f"{{source: npz, path: {tmp_path / 'w.npz'}}}"))


def _image_folder(root: Path, classes=("cat", "dog"), per_class=6) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            pixels = np.full((10, 12, 3), 40 + 150 * i, np.uint8) + rng.integers(0, 20, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{j}.png")
    return root


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_image_folder_loads_and_writes_nothing(tmp_path: Path):
    root = _image_folder(tmp_path / "imgs")
    before = _listing(root)
    b = load_dataset(
        config(
            f"{{source: image_folder, path: {root}, image_size: [16, 16], test_fraction: 0.25}}",
            "{type: cnn, blocks: [{filters: 4}]}",
        )
    )
    assert b.spec.class_names == ["cat", "dog"] and b.spec.input_shape == [16, 16, 3]
    assert b.spec.num_train + b.spec.num_val + b.spec.num_test == 12
    assert _listing(root) == before


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing", "no such folder"),
        ("empty", "no class folders"),
        ("empty_class", "class folder has no"),
        ("corrupt", "unreadable image"),
        ("one_class", "only one class folder"),
    ],
)
def test_image_folder_bad_input(tmp_path: Path, breakage: str, message: str):
    root = tmp_path / "imgs"
    if breakage == "empty":
        root.mkdir()
    elif breakage == "empty_class":
        _image_folder(root)
        (root / "bird").mkdir()
    elif breakage == "corrupt":
        _image_folder(root)
        (root / "cat" / "broken.png").write_bytes(b"not a png")
    elif breakage == "one_class":
        _image_folder(root, classes=("cat",))
    with pytest.raises(UserError, match=message):
        load_dataset(config(f"{{source: image_folder, path: {root}}}", "{type: cnn, blocks: [{filters: 4}]}"))


def test_text_folder_vocabulary_fitted_on_train(tmp_path: Path):
    root = tmp_path / "texts"
    for label, words in (("neg", "awful terrible bad"), ("pos", "great lovely good")):
        (root / label).mkdir(parents=True)
        for i in range(10):
            (root / label / f"{i}.txt").write_text(f"{words} movie number{i}")
    b = load_dataset(
        config(f"{{source: text_folder, path: {root}, preprocessing: {{text: {{sequence_length: 6}}}}}}", "{type: rnn}")
    )
    assert b.spec.kind == "text" and b.spec.input_shape == [6]
    vocab = b.spec.input.vocabulary
    assert "movie" in vocab and vocab[:2] == ["", "[UNK]"]


def test_cli_reports_data_errors_with_exit_2(tmp_path: Path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        f"name: t\ndata: {{source: image_folder, path: {tmp_path / 'nope'}}}\n"
        "model: {type: cnn, blocks: [{filters: 4}]}\n"
    )
    result = cli("train", config_file, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2
    assert "no such folder" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "name, kind, model",
    [
        ("mnist", "image", "{type: cnn, blocks: [{filters: 4}]}"),
        ("imdb_reviews", "text", "{type: rnn, units: [4]}"),
    ],
)
def test_tfds_under_mock_data(name: str, kind: str, model: str):
    import tensorflow_datasets as tfds

    cfg = config(
        f"{{source: tfds, name: {name}, batch_size: 8, "
        "preprocessing: {text: {max_tokens: 50, sequence_length: 12}}}",
        model,
    )
    with (
        tfds.testing.mock_data(num_examples=24),
        mock.patch.object(tfds_source, "network_available", return_value=True),
    ):
        b = load_dataset(cfg)
        x, y = next(iter(b.train))
    assert b.spec.kind == kind and len(x) == 8
    if kind == "image":
        assert b.spec.input_shape == [28, 28, 1] and b.spec.class_names[:2] == ["0", "1"]
    else:
        assert b.spec.input_shape == [12] and b.spec.class_names == ["neg", "pos"]


def test_tfds_unknown_name_suggests():
    with pytest.raises(UserError, match="did you mean mnist"):
        load_dataset(config("{source: tfds, name: mnistt}"))


def test_tfds_offline_download_fails_fast(tmp_path: Path, monkeypatch):
    # a closed loopback port stands in for "no network": the probe must give up at once
    monkeypatch.setattr(tfds_source, "PROBE_HOST", "127.0.0.1")
    monkeypatch.setattr(tfds_source, "PROBE_PORT", 9)
    start = time.perf_counter()
    with pytest.raises(UserError, match="no network to download it.*data_dir"):
        load_dataset(config(f"{{source: tfds, name: mnist, data_dir: {tmp_path}}}"))
    assert time.perf_counter() - start < 30
    # nothing was downloaded: no file anywhere below data_dir (TFDS may create empty folders)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_tfds_download_false_is_refused(tmp_path: Path):
    with pytest.raises(UserError, match="data.download is false"):
        load_dataset(config(f"{{source: tfds, name: mnist, data_dir: {tmp_path}, download: false}}"))
