"""Shared helpers: run the real CLI in-process (fast) or as a subprocess (signals, isolation)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke"


def cli(*args: str):
    """Invoke `mlcli ARGS` in this process; returns Click's Result (exit_code, output)."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def cli_subprocess(*args: str, timeout: float = 300, env: dict | None = None, **kwargs):
    """Run `python -m mlcli ARGS` in a fresh interpreter, as a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=kwargs.pop("cwd", ROOT),
        **kwargs,
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
