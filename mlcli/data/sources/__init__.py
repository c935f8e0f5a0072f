"""Data sources, one module each, registered on their `data.source` tag (`mlcli.config.data` has their
config classes). A loader takes its config and the seed and returns `RawData`: splits as the user
stored them, the missing ones carved from train by seed.
"""

from mlcli.data.sources import builtin, folders, synthetic, tables, tfds  # noqa: F401  (each registers itself)
from mlcli.data.sources.registry import SOURCES

__all__ = ["SOURCES"]
