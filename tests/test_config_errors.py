"""Every malformed config in tests/data/bad_configs exits 2 with file:line:col, the field, no traceback.

Each file states what it expects in its first lines: `# expect: LINE:COL FIELD TEXT`
(`<yaml>` for syntax errors that have no field). Empty files expect `1:1` and "empty".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

BAD = sorted((ROOT / "tests" / "data" / "bad_configs").glob("*.yaml"))


def expectations(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            loc, field, text = line[len("# expect: ") :].split(" ", 2)
            out.append((loc, field, text))
    return out or [("1:1", "<yaml>", "empty")]


def test_corpus_is_large_enough():
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_reported_with_location(path: Path):
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    for loc, field, text in expectations(path):
        prefix = f"{path}:{loc}: " + ("" if field == "<yaml>" else f"{field}: ")
        assert any(line.startswith(prefix) and text in line for line in lines), (prefix, text, lines)


def test_all_errors_reported_at_once():
    result = cli("validate", ROOT / "tests/data/bad_configs/multiple_errors.yaml")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 2


def test_missing_file_is_a_user_error(tmp_path: Path):
    result = cli("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "no such config file" in result.output


def test_python_tag_is_never_executed(tmp_path: Path):
    marker = tmp_path / "pwned"
    config = tmp_path / "evil.yaml"
    config.write_text(
        f'name: !!python/object/apply:os.system ["touch {marker}"]\n'
        "data: {source: builtin, name: digits}\nmodel: {type: mlp}\n"
    )
    result = cli("validate", config)
    assert result.exit_code == 2
    assert not marker.exists()


@pytest.mark.parametrize(
    "override, expected",
    [
        ("training.epochs=0", "--set training.epochs=0: training.epochs: Input should be greater than 0"),
        ("training.epoch=3", "--set training.epoch=3: training.epoch: unknown key 'epoch'; did you mean `epochs`?"),
        ("model.type=cnnn", "--set model.type=cnnn: model.type: unknown type 'cnnn'; did you mean `cnn`?"),
        ("data.batch_size.x=1", "--set data.batch_size.x=1: data.batch_size is a value, not a section"),
        ("model.blocks.7.filters=3", "--set model.blocks.7.filters=3: model.blocks: index '7' is out of range"),
        ("noequals", "--set noequals: expected KEY.PATH=VALUE"),
        (
            "optimizer.learning_rate=fast",
            "--set optimizer.learning_rate=fast: optimizer.learning_rate: Input should be",
        ),
    ],
)
def test_bad_override_names_the_override(override: str, expected: str):
    result = cli("validate", ROOT / "configs/cnn_digits.yaml", "--set", override)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert "Traceback" not in result.output


def test_top_level_x_keys_hold_shared_anchors(tmp_path: Path):
    cfg = tmp_path / "anchors.yaml"
    cfg.write_text(
        "x-optimizer: &opt {name: sgd, learning_rate: 0.05, momentum: 0.9}\n"
        "name: anchors\ndata: {source: builtin, name: digits}\nmodel: {type: mlp}\noptimizer: *opt\n"
    )
    shown = cli("config", "show", cfg)
    assert shown.exit_code == 0, shown.output
    assert "x-optimizer" not in shown.output and "name: sgd" in shown.output and "momentum: 0.9" in shown.output


def test_alias_bomb_is_rejected_quickly():
    import time

    began = time.perf_counter()
    result = cli("validate", ROOT / "tests" / "data" / "bad_configs" / "alias_bomb.yaml")
    assert result.exit_code == 2 and "anchor &e" in result.output
    assert time.perf_counter() - began < 5  # it took 34 s of CPU before the bound (generous for shared CI)
