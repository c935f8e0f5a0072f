"""Every config tag has a builder and every builder a config tag: a family or a source added on one side
only would pass `validate` and fail at train time."""

from __future__ import annotations

from mlcli.config.data import DATA_SOURCES
from mlcli.config.models import MODEL_TYPES
from mlcli.data.sources import SOURCES
from mlcli.models.registry import MODELS
from mlcli.spec import Input


def test_model_types_and_builders_match():
    assert set(MODEL_TYPES) == set(MODELS.entries)


def test_data_sources_and_loaders_match():
    assert set(DATA_SOURCES) == set(SOURCES.entries)


def test_every_family_reads_only_known_input_kinds():
    import typing

    members = typing.get_args(typing.get_args(Input)[0])
    kinds = {typing.get_args(cls.model_fields["kind"].annotation)[0] for cls in members}
    assert kinds == {"image", "text", "tokens", "features", "table", "series", "pretrained"}
    for name, cls in MODEL_TYPES.items():
        assert set(cls.reads) <= kinds, name
