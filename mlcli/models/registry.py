"""The model-family registry: each family module registers its `build` on its `model.type` tag."""

from mlcli.registry import Registry

MODELS = Registry("model family")
