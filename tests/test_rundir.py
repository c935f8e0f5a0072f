"""Run directories are never overwritten, and writes are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcli import fileio
from mlcli import rundir as runs
from mlcli.errors import UserError


def test_atomic_write_replaces_whole_file(tmp_path: Path):
    target = tmp_path / "a" / "x.json"
    fileio.atomic_write_json(target, {"v": 1})
    fileio.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_atomic_write_failure_keeps_old_content_and_no_temp(tmp_path: Path):
    target = tmp_path / "x.txt"
    fileio.atomic_write_text(target, "good")

    def explode(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        fileio.atomic_write(target, explode)
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_atomic_link_shares_the_bytes_and_falls_back_to_a_copy(tmp_path: Path, monkeypatch):
    source, target = tmp_path / "epoch" / "model.keras", tmp_path / "checkpoints" / "last.keras"
    source.parent.mkdir()
    source.write_bytes(b"committed")
    target.parent.mkdir()
    target.write_bytes(b"older")
    fileio.atomic_link(source, target)
    assert target.samefile(source) and target.read_bytes() == b"committed"
    source.unlink()  # a pruned backup: the link keeps its bytes
    assert target.read_bytes() == b"committed"
    other = tmp_path / "other.keras"
    other.write_bytes(b"newer")

    def no_links(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(fileio.os, "link", no_links)
    fileio.atomic_link(other, target)
    assert target.read_bytes() == b"newer" and not target.samefile(other)
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.keras"]


def test_existing_run_dir_is_refused_without_resume(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("x")
    with pytest.raises(UserError, match="already exists"):
        runs.claim_run_dir(run, resume=False)
    assert runs.claim_run_dir(run, resume=True) == run
    assert (run / "config.yaml").read_text() == "x"


def test_a_run_dir_another_process_trains_in_is_said_to_be_in_use(tmp_path: Path):
    import fcntl
    import os

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("x")
    fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a training process holds for its lifetime
    try:
        with pytest.raises(UserError, match="another mlcli process is training in this run directory"):
            runs.claim_run_dir(run, resume=False)
    finally:
        os.close(fd)
    with pytest.raises(UserError, match="already exists and is not empty"):  # the lock gone: a finished run
        runs.claim_run_dir(run, resume=False)


def test_resume_needs_a_run_dir(tmp_path: Path):
    with pytest.raises(UserError, match="not a run directory"):
        runs.claim_run_dir(tmp_path, resume=True)


def test_new_run_dirs_are_unique(tmp_path: Path):
    first = runs.new_run_dir("exp", tmp_path)
    first.mkdir(parents=True)
    second = runs.new_run_dir("exp", tmp_path)
    assert first != second and second.parent == tmp_path / "exp"


def test_run_record_has_versions_and_status(tmp_path: Path):
    record = runs.start_record(tmp_path, 3, ["mlcli", "train"], {"device": "cpu"}, resumed=False)
    runs.finish_record(tmp_path, record, "completed")
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["status"] == "completed" and saved["seed"] == 3
    assert saved["versions"]["mlcli"] and saved["versions"]["python"]
    assert saved["command"] == ["mlcli", "train"] and saved["ended"]


def test_a_mistyped_run_dir_is_said_to_be_missing_and_an_empty_one_to_lack_its_config(tmp_path: Path):
    from tests.conftest import cli

    for command in (["evaluate"], ["train", "--resume"], ["runs", "compare", tmp_path / "typo"]):
        missing = cli(*command, tmp_path / "typo")
        assert missing.exit_code == 2 and f"{tmp_path / 'typo'}: no such directory" in missing.output, missing.output
    (tmp_path / "empty").mkdir()
    empty = cli("evaluate", tmp_path / "empty")
    assert empty.exit_code == 2 and "not a run directory (no config.yaml)" in empty.output, empty.output
