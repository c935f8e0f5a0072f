"""Starting a run, before TensorFlow is imported: the directory claimed, the resolved config written.

`mlcli train` and every sweep trial start the same way; nothing here imports Keras, so a bad
`--run-dir` or a refused resume answers in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcli import rundir
from mlcli.config.render import to_yaml
from mlcli.fileio import atomic_write_text


def start_run(cfg: Any, target: Path, *, resume: bool = False, shared_with_workers: bool = False) -> Path:
    """Lock `target` (new: it must be empty) and write the resolved config that reruns it."""
    target = rundir.claim_run_dir(Path(target), resume=resume, shared_with_workers=shared_with_workers)
    atomic_write_text(target / rundir.CONFIG_FILE, to_yaml(cfg))
    return target
