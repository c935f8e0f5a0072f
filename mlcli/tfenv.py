"""The CLI boundary's TensorFlow import: quiet (oneDNN, CUDA, absl, deprecations) unless --verbose.

`mlcli.cli` calls `import_tensorflow` once before a command that trains or loads a model; the
log level is set through the environment, and the absl lines TensorFlow prints before reading
it go to /dev/null. Every module below may then simply `import keras` at the top.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys
import warnings
from collections.abc import Iterator


def silence_tensorflow(verbose: bool = False) -> None:
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    warnings.filterwarnings("ignore", message=".*tf.data.*")
    for name in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null: TensorFlow's C++ start-up logs ignore TF_CPP_MIN_LOG_LEVEL."""

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def speed_environment(deterministic: bool = False) -> None:
    """oneDNN on for speed, off for `training.deterministic`, unless the environment already says.

    TensorFlow's own default depends on the CPU; on this project's AMD EPYC machines (AVX2, no AVX-512)
    forcing it on is what README's *Where each auto comes from* measures (benchmarks/bench_autos.py).
    Its kernels make a resumed run differ from an uninterrupted one in the 7th digit, so a deterministic
    run turns it off: resumes are then byte-identical (benchmarks/bench_deterministic.py measures the
    cost). TF_ENABLE_ONEDNN_OPTS in the environment always wins, and run.json records what was used."""
    os.environ.setdefault(ONEDNN, "0" if deterministic else "1")


def onednn() -> str | None:
    """What this process runs with (recorded in run.json)."""
    return os.environ.get(ONEDNN)


# Keras imports these at start-up when they are installed, for its scikit-learn wrappers, DataFrame
# inputs and image-gallery plots, none of which mlcli calls (python -X importtime shows their cost).
# Hidden only while Keras starts; mlcli's own plots import matplotlib afterwards as usual.
NOT_FOR_KERAS_START = ("sklearn", "pandas", "matplotlib")


class _Hidden(importlib.abc.MetaPathFinder):
    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"{name} is hidden while Keras starts", name=name)
        return None


@contextlib.contextmanager
def hidden(names: tuple[str, ...]) -> Iterator[None]:
    """`import NAME` fails for `names` (not yet imported) inside the block, as if not installed."""
    finder = _Hidden(tuple(n for n in names if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_tensorflow(verbose: bool = False, deterministic: bool = False):
    """Import TensorFlow (and Keras) quietly unless `verbose`; returns the tf module."""
    speed_environment(deterministic)  # before the import: TensorFlow reads it once
    silence_tensorflow(verbose)
    with hidden(NOT_FOR_KERAS_START):
        if verbose:
            import tensorflow as tf
        else:
            with stderr_silenced():
                import keras  # noqa: F401
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")  # CUDA probing logs happen here
    after_import(verbose)
    return tf


def after_import(verbose: bool = False) -> None:
    """Quiet the Python-side loggers that only exist once TensorFlow is imported."""
    if verbose:
        return
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
