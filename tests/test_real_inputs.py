"""Real user inputs: multilingual UTF-8 text through train, evaluate and predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

POSITIVE = [
    "Das Essen war großartig, wirklich schön 😊",
    "C'était délicieux, très réussi — merci !",
    "とても美味しかったです、最高",
    "האוכל היה מצוין, תודה רבה",
    "الطعام كان رائعا جدا شكرا",
    "Отличный ужин, всё понравилось 👍",
]
NEGATIVE = [
    "Das Essen war kalt und fad, schlecht 😞",
    "C'était raté, froid et trop salé…",
    "まずかったです、最悪",
    "האוכל היה קר ורע",
    "الطعام كان سيئا وباردا",
    "Ужасный ужин, всё холодное 👎",
]


def multilingual_folder(root: Path, copies: int = 6) -> Path:
    for label, texts in (("neg", NEGATIVE), ("pos", POSITIVE)):
        folder = root / label
        folder.mkdir(parents=True)
        for i in range(copies):
            for j, text in enumerate(texts):
                (folder / f"{i}_{j}.txt").write_text(f"“{text}” ({i})", encoding="utf-8")
    return root


def text_config(tmp_path: Path, data: str) -> Path:
    path = tmp_path / "text.yaml"
    path.write_text(
        f"name: multilingual\nseed: 1\ndata: {data}\n"
        "model: {type: rnn, units: [8], embedding_dim: 8}\n"
        "optimizer: {learning_rate: 0.01}\ntraining: {epochs: 2, tensorboard: false, plots: false}\n",
        encoding="utf-8",
    )
    return path


def test_multilingual_text_folder_trains_evaluates_and_predicts(tmp_path: Path):
    root = multilingual_folder(tmp_path / "texts")
    cfg = text_config(tmp_path, f"{{source: text_folder, path: '{root}', test_fraction: 0.2, batch_size: 8}}")
    run = tmp_path / "run"
    result = cli("train", cfg, "--run-dir", run, "--quiet")
    assert result.exit_code == 0, result.output
    vocabulary = json.loads((run / "data_spec.json").read_text(encoding="utf-8"))["input"]["vocabulary"]
    for token in ("großartig", "最高", "האוכל", "الطعام", "😊"):
        assert any(token.lower() in v for v in vocabulary), token
    evaluated = cli("evaluate", run, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["samples"] == 14  # 20 % of 72, stratified
    out = tmp_path / "pred.json"
    predicted = cli("predict", run, "--text", POSITIVE[0], "--text", NEGATIVE[2], "--out", out)
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["input"] for r in rows] == [POSITIVE[0], NEGATIVE[2]]


def test_a_file_that_is_not_utf8_is_exit_2_naming_it(tmp_path: Path):
    root = multilingual_folder(tmp_path / "texts", copies=1)
    bad = root / "pos" / "latin1.txt"
    bad.write_bytes("très bon".encode("latin-1"))
    cfg = text_config(tmp_path, f"{{source: text_folder, path: '{root}', batch_size: 8}}")
    result = cli("train", cfg, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2
    assert f"{bad}: not UTF-8" in result.output


def mixed_image_folder(root: Path) -> list[Path]:
    """Two classes of images in four formats and sizes, none of them the training size."""
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for label, base in (("dark", 40), ("light", 200)):
        (root / label).mkdir(parents=True)
        for i, (size, fmt, mode) in enumerate(
            [((23, 17), "PNG", "RGB"), ((64, 48), "JPEG", "RGB"), ((9, 30), "PNG", "RGBA"), ((31, 31), "GIF", "L")] * 3
        ):
            pixels = np.clip(base + rng.normal(0, 30, (size[1], size[0], 4)), 0, 255).astype(np.uint8)
            img = Image.fromarray(pixels, "RGBA").convert(mode)
            path = root / label / f"{i}.{fmt.lower().replace('jpeg', 'jpg')}"
            img.save(path, fmt)
            files.append(path)
    return files


def reference_pixels(path: Path, size: tuple[int, int], channels: int, antialias: bool = True) -> np.ndarray:
    """The documented recipe written out independently of mlcli: decode, bilinear resize with
    antialiasing, round to whole pixel values."""
    import tensorflow as tf

    img = tf.io.decode_image(Path(path).read_bytes(), channels=channels, expand_animations=False)
    resized = tf.image.resize(tf.cast(img, tf.float32), size, method="bilinear", antialias=antialias)
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def test_predict_reads_images_exactly_as_training_did(tmp_path: Path):
    """Training streams files through the same decode as `predict`; both equal the documented recipe
    (decode, antialiased bilinear resize, rounded), computed here without mlcli."""
    from mlcli.data import load_dataset, pipeline
    from mlcli.inference import readers
    from mlcli.inference.run import open_run

    files = mixed_image_folder(tmp_path / "images")
    cfg = tmp_path / "img.yaml"
    cfg.write_text(
        f"name: images\ndata: {{source: image_folder, path: '{tmp_path / 'images'}', image_size: [12, 16],"
        " batch_size: 8, val_fraction: 0.0}\nmodel: {type: cnn, blocks: [{filters: 4}], head: global_avg}\n"
        "training: {epochs: 1, tensorboard: false, plots: false}\n"
    )
    run = tmp_path / "run"
    assert cli("train", cfg, "--run-dir", run, "--quiet").exit_code == 0
    opened = open_run(run)
    expected = {str(f): reference_pixels(f, (12, 16), 3) for f in files}
    aliased = {str(f): reference_pixels(f, (12, 16), 3, antialias=False) for f in files}
    assert any(not np.array_equal(expected[k], aliased[k]) for k in expected)  # the antialiasing is real
    train = load_dataset(opened.cfg, opened.spec).raw.train
    streamed = [x.numpy() for x, _ in pipeline.canonical(train, opened.spec)]
    for path, pixels in zip(train[0].paths, streamed, strict=True):
        np.testing.assert_array_equal(pixels, expected[path], err_msg=path)
    examples = readers.read([str(tmp_path / "images")], opened.spec)
    predicted = np.concatenate([b["image"] for b in examples.batches])
    assert sorted(examples.names) == sorted(expected)
    for name, pixels in zip(examples.names, predicted, strict=True):
        np.testing.assert_array_equal(pixels, expected[name], err_msg=name)
    result = cli("predict", run, *map(str, files[:3]))
    assert result.exit_code == 0, result.output


def test_image_folder_trains_identically_from_memory_disk_or_no_cache(tmp_path: Path):
    """Files stream from disk; caching decoded images changes nothing about the batches (same
    metrics, byte for byte). A corrupt file is exit 2 naming it, or skipped with `skip_corrupt`."""
    mixed_image_folder(tmp_path / "images")
    (tmp_path / "images" / "dark" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    data = f"source: image_folder, path: '{tmp_path / 'images'}', image_size: [12, 16], batch_size: 4"
    model = "model: {type: cnn, blocks: [{filters: 4}], head: global_avg}\n"
    train = "training: {epochs: 2, tensorboard: false, plots: false}\n"
    cfg = tmp_path / "img.yaml"
    cfg.write_text(f"name: images\ndata: {{{data}, preprocessing: {{augment: [random_flip]}}}}\n{model}{train}")
    refused = cli("train", cfg, "--run-dir", tmp_path / "refused", "--quiet")
    assert refused.exit_code == 2 and "images/dark/broken.jpg: unreadable image" in refused.output
    metrics = {}
    for cache in ("none", "memory", "disk"):
        result = cli("train", cfg, "--run-dir", tmp_path / cache, "--quiet",
                     "--set", f"data.cache={cache}", "--set", "data.skip_corrupt=true")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "skipping" in result.output and "broken.jpg" in result.output
        rows = (tmp_path / cache / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        keep = [i for i, h in enumerate(header) if "loss" in h or "accuracy" in h]
        metrics[cache] = [[row.split(",")[i] for i in keep] for row in rows]
        spec = json.loads((tmp_path / cache / "data_spec.json").read_text())
        assert spec["num_train"] + spec["num_val"] + spec["num_test"] == 24  # the broken file is not counted
    assert metrics["none"] == metrics["memory"] == metrics["disk"] and len(metrics["none"]) == 3


def test_csv_with_separate_val_and_test_files_in_another_column_order(tmp_path: Path):
    rng = np.random.default_rng(3)

    def table(path: Path, n: int, columns: list[str]) -> None:
        a, b = rng.normal(size=n), rng.normal(size=n)
        rows = {"a": a, "b": b, "label": np.where(a + b > 0, "yes", "no")}
        lines = [",".join(columns)] + [",".join(str(rows[c][i]) for c in columns) for i in range(n)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    table(tmp_path / "train.csv", 120, ["a", "b", "label"])
    table(tmp_path / "val.csv", 30, ["label", "b", "a"])
    table(tmp_path / "test.csv", 40, ["b", "label", "a"])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"name: kaggle\ndata: {{source: csv, path: '{tmp_path / 'train.csv'}', val_path: '{tmp_path / 'val.csv'}',"
        f" test_path: '{tmp_path / 'test.csv'}', label: label, batch_size: 16}}\n"
        "model: {type: mlp, layers: [8]}\noptimizer: {learning_rate: 0.05}\n"
        "training: {epochs: 8, tensorboard: false, plots: false}\n"
    )
    run = tmp_path / "run"
    assert cli("train", cfg, "--run-dir", run, "--quiet").exit_code == 0
    spec = json.loads((run / "data_spec.json").read_text())
    assert (spec["num_train"], spec["num_val"], spec["num_test"]) == (120, 30, 40)  # nothing carved
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["samples"] == 40 and summary["test"]["accuracy"] > 0.8  # a linear rule, learnt


def test_folder_with_train_val_test_subfolders_and_unseen_classes(tmp_path: Path):
    root = tmp_path / "data"
    for split, copies in (("train", 4), ("validation", 1), ("test", 2)):
        multilingual_folder(root / split, copies=copies)
    (root / "test" / "pos" / "only_here.txt").write_text("Zwölftonmusik großartig", encoding="utf-8")
    cfg = text_config(tmp_path, f"{{source: text_folder, path: '{root}', batch_size: 8}}")
    run = tmp_path / "run"
    assert cli("train", cfg, "--run-dir", run, "--quiet").exit_code == 0
    spec = json.loads((run / "data_spec.json").read_text())
    assert (spec["num_train"], spec["num_val"], spec["num_test"]) == (48, 12, 25)
    vocabulary = spec["input"]["vocabulary"]  # adapted on train only: a test-only word is out of vocabulary
    assert "großartig" in vocabulary and vocabulary[1] == "[UNK]"
    assert not any(t.lower() == "zwölftonmusik" for t in vocabulary)
    (root / "test" / "meh").mkdir()
    (root / "test" / "meh" / "1.txt").write_text("so so", encoding="utf-8")
    refused = cli("train", cfg, "--run-dir", tmp_path / "run2", "--quiet")
    assert refused.exit_code == 2 and "classes the training split does not have: 'meh'" in refused.output
    (root / "empty").mkdir()
    empty = text_config(tmp_path, f"{{source: text_folder, path: '{root / 'train'}', val_path: '{root / 'empty'}'}}")
    result = cli("train", empty, "--run-dir", tmp_path / "run3", "--quiet")
    assert result.exit_code == 2 and "no class folders inside" in result.output


def test_npz_test_file_with_a_class_train_lacks_is_exit_2(tmp_path: Path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "train.npz", x=rng.normal(size=(40, 3)).astype(np.float32), y=np.arange(40) % 2)
    np.savez(tmp_path / "test.npz", x=rng.normal(size=(5, 3)).astype(np.float32), y=np.array([0, 1, 2, 0, 1]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"name: n\ndata: {{source: npz, path: '{tmp_path / 'train.npz'}', test_path: '{tmp_path / 'test.npz'}'}}\n"
        "model: {type: mlp}\ntraining: {epochs: 1}\n"
    )
    result = cli("train", cfg, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2 and "data.test_path: classes the training split does not have: '2'" in result.output


def test_a_disk_cache_left_by_kill_9_is_removed_by_the_next_training(tmp_path: Path):
    """atexit never runs under kill -9, so the next `cache: disk` training removes caches of dead processes
    (and leaves a live process's cache alone)."""
    import os
    import signal

    from tests.conftest import cli_subprocess

    mixed_image_folder(tmp_path / "images")
    cfg = tmp_path / "img.yaml"
    cfg.write_text(f"data: {{source: image_folder, path: '{tmp_path / 'images'}', image_size: [12, 16], "
                   "batch_size: 4, cache: disk}\nmodel: {type: cnn, blocks: [{filters: 4}]}\n"
                   "training: {epochs: 2, tensorboard: false, plots: false}\n")  # fmt: skip
    temp = tmp_path / "tmp"
    temp.mkdir()
    live = temp / f"mlcli-cache-{os.getpid()}-kept"  # this pytest process is alive: its cache stays
    live.mkdir()
    env = {"TMPDIR": str(temp)}
    killed = cli_subprocess("train", cfg, "--run-dir", tmp_path / "a", env={**env, "MLCLI_CRASH_AT": "after_last:1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    orphans = [p for p in temp.glob("mlcli-cache-*") if p != live]
    # the killed run's caches (one per split), all of one process, with their files
    assert len({p.name.split("-")[2] for p in orphans}) == 1 and any(f.is_file() for p in orphans for f in p.rglob("*"))
    done = cli_subprocess("train", cfg, "--run-dir", tmp_path / "b", "--quiet", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(temp.glob("mlcli-cache-*")) == [live]  # the orphans are gone, and the finished run removed its own
