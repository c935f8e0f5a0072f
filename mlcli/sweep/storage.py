"""Where a sweep's Optuna study lives: checked, created once however many processes start it, reopened.

No TensorFlow here, so processes that only open the study (tests, `--jobs` start-up races) stay cheap.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import optuna

from mlcli.errors import UserError
from mlcli.sweep.plan import HELPER_ENV, SweepPlan


def _storage(url: str):
    if url.startswith("sqlite:"):  # concurrent processes wait for the file lock instead of failing
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return url


def _check_storage(url: str) -> None:
    """An SQLite file or a journal must be creatable where it is named: exit 2 at once, not after retries."""
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix):
            path = Path(url[len(prefix) :])
            folder = path.parent if not path.is_dir() else path
            if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
                raise UserError(f"--storage {url}: cannot create {path} (need a writable folder for the file)")
    if "://" not in url and not url.startswith("journal:"):
        raise UserError(f"--storage {url!r}: give a database URL (sqlite:///FILE, postgresql://...) or journal:FILE")


@contextlib.contextmanager
def _creation_lock(url: str):
    """Optuna creates a new SQLite database's tables and stamps its schema version in several steps, and
    two processes starting one study at once race between them ("table alembic_version already
    exists"): they take turns instead, holding flock on the database file (SQLite itself uses POSIX
    locks, which flock does not touch)."""
    path = url.removeprefix("sqlite:///").split("?")[0]
    if not url.startswith("sqlite:///") or path in ("", ":memory:"):
        yield
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_study(p: SweepPlan):
    from sqlalchemy.exc import IntegrityError, OperationalError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs)
        if p.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    _check_storage(p.storage)
    for attempt in range(6):
        try:
            with _creation_lock(p.storage):
                study = optuna.create_study(
                    study_name=p.name, storage=_storage(p.storage), direction=p.direction, load_if_exists=True,
                    pruner=pruner,
                )  # fmt: skip
            break
        except IntegrityError:  # two processes creating one new database: one retries
            if attempt == 5:
                raise
            time.sleep(0.5 * (attempt + 1))
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 5:
                raise UserError(f"--storage {p.storage}: {str(exc).splitlines()[0][:200]}") from None
            time.sleep(0.5 * (attempt + 1))
        except (ValueError, ImportError, ModuleNotFoundError) as exc:  # another direction, an unknown dialect
            raise UserError(f"--storage {p.storage}: {str(exc).splitlines()[0][:200]}") from None
    # seeded by the config and the trials so far, so a continued study does not replay its first
    # suggestions; helper processes (--jobs) add their pid so they do not duplicate each other
    offset = len(study.get_trials(deepcopy=False)) + (os.getpid() if os.environ.get(HELPER_ENV) else 0)
    study.sampler = optuna.samplers.TPESampler(seed=(p.seed + offset) % 2**31)
    return study
