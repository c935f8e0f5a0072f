"""The preset names KerasHub knows for the two tasks `pretrained` builds (for `mlcli models --presets`)."""

from __future__ import annotations

import keras_hub


def known_presets() -> dict[str, list[str]]:
    return {
        "text (TextClassifier)": sorted(keras_hub.models.TextClassifier.presets),
        "images (ImageClassifier)": sorted(keras_hub.models.ImageClassifier.presets),
    }


def print_presets() -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="KerasHub presets for model.type: pretrained (or a local preset directory)", title_justify="left"
    )
    table.add_column("data")
    table.add_column("presets")
    for task, names in known_presets().items():
        table.add_row(task, ", ".join(names))
    Console().print(table)
