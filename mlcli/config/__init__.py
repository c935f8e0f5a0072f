"""Typed config: pydantic models plus a YAML loader that reports errors as file:line:col.

Imports no TensorFlow, so `validate`, `config show`, `schema`, `models`, `datasets` stay fast.
"""

from mlcli.config.loader import load_config, load_config_text
from mlcli.config.schema import Config

__all__ = ["Config", "load_config", "load_config_text"]
