"""The data-source registry: each source module registers its loader on its `data.source` tag."""

from mlcli.registry import Registry

SOURCES = Registry("data source")
