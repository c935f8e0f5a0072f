"""The declarative GAN through the real CLI: training, sample grids, `mlcli sample`, quality, resume."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from mlcli.training.callbacks.gan import CollapseWatch
from tests.conftest import SMOKE, cli, cli_subprocess
from tests.test_train_e2e import metrics_rows

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("gan") / "run"
    result = cli("train", SMOKE / "gan.yaml", "--run-dir", run, "--quiet", "--set", "model.conditional=true")
    assert result.exit_code == 0, result.output
    return run


def test_gan_run_dir_has_grids_losses_and_checkpoints(gan_run: Path):
    rows = metrics_rows(gan_run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "val_d_loss"):
        assert key in rows[0] and np.isfinite(float(rows[-1][key]))
    assert (gan_run / "plots/samples/epoch_001.png").is_file() and (gan_run / "plots/samples/epoch_002.png").is_file()
    assert (gan_run / "checkpoints/last.keras").is_file()
    summary = json.loads((gan_run / "summary.json").read_text())
    assert summary["warnings"] == [] and summary["test"] == {}


def test_the_last_sample_grid_is_the_final_generator_pixel_for_pixel(gan_run: Path, tmp_path: Path):
    """The grid PNG, cut into its cells by hand, holds what `mlcli sample` draws from the last checkpoint
    with the run's seed: 6 rows of the 10 classes, one class per column."""
    from PIL import Image

    assert cli("sample", gan_run, "--num", "60", "--seed", "7", "--out", tmp_path / "s.npz").exit_code == 0
    with np.load(tmp_path / "s.npz") as data:
        images, labels = data["images"], data["labels"]
    assert labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    sheet = np.asarray(Image.open(gan_run / "plots/samples/epoch_002.png"))
    scale, gap = 11, 2  # 8-pixel digits enlarged to 88-pixel cells, 2 white pixels between them
    assert sheet.shape == (6 * (8 * scale + gap) + gap, 10 * (8 * scale + gap) + gap)
    for i in range(60):
        top, left = gap + (i // 10) * (8 * scale + gap), gap + (i % 10) * (8 * scale + gap)
        cell = sheet[top : top + 8 * scale, left : left + 8 * scale]
        np.testing.assert_array_equal(cell[::scale, ::scale], images[i, ..., 0])
        assert (cell == np.kron(images[i, ..., 0], np.ones((scale, scale), np.uint8))).all()


def test_sample_writes_uint8_images_with_labels(gan_run: Path, tmp_path: Path):
    out, grid = tmp_path / "s.npz", tmp_path / "grid.png"
    result = cli("sample", gan_run, "--num", "12", "--out", out, "--png", grid, "--seed", "3")
    assert result.exit_code == 0, result.output
    with np.load(out) as data:
        images, labels = data["images"], data["labels"]
    assert images.shape == (12, 8, 8, 1) and images.dtype == np.uint8
    assert images.min() >= 0 and images.max() <= 255 and images.std() > 0
    assert labels.tolist() == [i % 10 for i in range(12)]
    assert grid.stat().st_size > 1000
    again = tmp_path / "again.npz"
    cli("sample", gan_run, "--num", "12", "--out", again, "--seed", "3")
    with np.load(again) as data:
        np.testing.assert_array_equal(data["images"], images)  # same seed, same images
    before = again.read_bytes()
    refused = cli("sample", gan_run, "--num", "4", "--out", again, "--label", "7")
    assert refused.exit_code == 2 and "already exists" in refused.output and again.read_bytes() == before
    forced = cli("sample", gan_run, "--num", "4", "--out", again, "--label", "7", "--force")
    assert forced.exit_code == 0 and "uint8 of class '7' (index 7) to" in forced.output, forced.output
    with np.load(again) as data:
        assert data["labels"].tolist() == [7, 7, 7, 7] and data["class_names"].tolist() == list("0123456789")


def test_sample_bad_input(gan_run: Path, tmp_path: Path):
    refused = cli("sample", gan_run, "--num", "2", "--out", tmp_path / "x.npz", "--label", "12")
    assert refused.exit_code == 2 and "not a class of this GAN; choose a name or index (0 0, 1 1," in refused.output
    assert cli("sample", gan_run, "--num", "2", "--out", tmp_path / "x.png").exit_code == 2
    assert cli("predict", gan_run, tmp_path / "x.npz").exit_code == 2


def test_quality_score_ranks_real_images_above_untrained_generator(gan_run: Path):
    result = cli("evaluate", gan_run, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads((gan_run / "eval.json").read_text())
    real, fake = report["real_test"], report["generated"]
    assert report["classifier_accuracy_on_real"] > 0.9
    assert real["frechet_distance"] * 5 < fake["frechet_distance"]
    assert real["mean_confidence"] > fake["mean_confidence"]
    assert real["class_coverage"] == 1.0 and real["samples"] == fake["samples"] == 360


def test_collapse_is_reported_as_warning():
    watch = CollapseWatch()
    for epoch in range(4):
        watch.on_epoch_end(epoch, {"d_acc_real": 1.0, "d_acc_fake": 0.995})
    assert len(watch.summary_extras()["warnings"]) == 1
    assert "pinned at 1.0" in watch.warnings[0]


def test_gan_resumes_after_sigkill(tmp_path: Path):
    """SIGKILL as epoch 1's files are done (what a mid-epoch-2 kill leaves too: epoch 1 committed, no
    more), then `--resume` in a new process trains epochs 2 and 3 of the custom loop.

    Each network's own learning rate is what the epoch lines, metrics.csv and summary.json report (the
    GAN's compiled default optimizer, 0.001, updates nothing and must not appear)."""
    run = tmp_path / "run"
    killed = cli_subprocess("train", SMOKE / "gan.yaml", "--run-dir", run, "--quiet", "--set", "training.epochs=3",
                            "--set", "optimizer.discriminator.learning_rate=5e-5",
                            env={"MLCLI_CRASH_AT": "after_metrics:1"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert [int(r["epoch"]) for r in metrics_rows(run)] == [1]
    result = cli_subprocess("train", "--resume", run)
    assert result.returncode == 0, result.stderr
    rows = metrics_rows(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert "learning_rate" not in rows[0]
    rates = [(float(r["g_learning_rate"]), float(r["d_learning_rate"])) for r in rows]
    assert rates == [pytest.approx((2e-4, 5e-5), rel=1e-6)] * 3  # float32 rates
    epoch_lines = [line for line in result.stdout.splitlines() if line.lstrip().startswith("epoch ")]
    assert len(epoch_lines) == 2 and all("g_lr 0.0002" in x and "d_lr 5e-05" in x for x in epoch_lines), result.stdout
    assert " lr 0.001" not in result.stdout and "(image, generation)" in result.stdout  # not "classification"
    assert "done: epochs 2-3 of 3 (resumed) in " in result.stdout  # this process's time, for its epochs
    train = json.loads((run / "summary.json").read_text())["train"]
    assert (train["g_learning_rate"], train["d_learning_rate"]) == pytest.approx((2e-4, 5e-5), rel=1e-6)
    assert "learning_rate" not in train
    assert json.loads((run / "summary.json").read_text())["initial_epoch"] == 1
    assert [a["status"] for a in json.loads((run / "run.json").read_text())["attempts"]] == ["killed"]


def test_a_label_is_a_class_name_or_its_index():
    from mlcli.commands.sample import class_index
    from mlcli.errors import UserError

    assert [class_index(k, ["bar", "blob"], 2) for k in ("blob", "1", "bar", "0")] == [1, 1, 0, 0]
    assert [class_index(k, ["1", "2", "3"], 3) for k in ("1", "3", "0")] == [0, 2, 0]  # a name wins over an index
    with pytest.raises(UserError, match=r"--label blub: .*\(0 bar, 1 blob\)"):
        class_index("blub", ["bar", "blob"], 2)


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_generator_reaches_exactly_the_image_shape(shape):
    from mlcli.config import load_config_text
    from mlcli.models import build_model
    from tests.specs import image_spec

    cfg = load_config_text(
        "name: g\ndata: {source: tfds, name: mnist}\nmodel: {type: gan, latent_dim: 8, conditional: true}\n"
    )
    spec = image_spec(shape, 10, task="generation")
    gan = build_model(cfg, spec)
    images = gan.generate(3, seed=0, labels=[0, 1, 2])
    assert images.shape == (3, *shape) and images.dtype == np.uint8
    logits = gan.discriminator([np.zeros((3, *shape), "float32"), np.array([0, 1, 2])])
    assert tuple(logits.shape) == (3, 1)
