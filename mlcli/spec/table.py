"""A table's raw columns in, one feature vector out: Keras' own preprocessing layers, inside the model.

Each column's state is fitted on the training split (means, vocabularies) and rebuilt here as Keras
layers (Normalization, StringLookup, an Embedding above `ONE_HOT_LIMIT` categories, a multi-hot
TextVectorization), so the checkpoint and every export take raw rows by column name — floats with
NaN for missing, strings as they are — and reload in plain Keras. Embeddings live in the model, so
they are trained with it.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from mlcli.spec.base import InputState, State
from mlcli.spec.text import TextSettings

# How a missing cell is spelled in a CSV; a categorical column reads every spelling as the empty string,
# its one "missing" category, inside the model, so clients of an export may send any of them.
MISSING_MARKERS = ("", "na", "n/a", "nan", "null", "none", "?")
MISSING_SPELLINGS = sorted({form for m in MISSING_MARKERS for form in (m, m.upper(), m.title())})


class NumericColumn(State):
    type: Literal["numeric"] = "numeric"
    name: str
    key: str  # the model input's name (a plain identifier)
    impute: float  # the training mean, for missing cells
    mean: float
    variance: float
    missing_indicator: bool  # a 0/1 feature saying the cell was missing (when train had any)

    def encode(self, x) -> list:
        import keras

        missing = keras.ops.isnan(x)
        filled = keras.ops.expand_dims(keras.ops.where(missing, keras.ops.full_like(x, self.impute), x), -1)
        norm = keras.layers.Normalization(mean=[self.mean], variance=[self.variance], name=f"{self.key}_normalized")
        parts = [norm(filled)]
        if self.missing_indicator:
            parts.append(keras.ops.expand_dims(keras.ops.cast(missing, "float32"), -1))
        return parts


class CategoricalColumn(State):
    type: Literal["categorical"] = "categorical"
    name: str
    key: str
    vocabulary: list[str]
    encoding: Literal["one_hot", "embedding"]
    embedding_dim: int | None = None

    def encode(self, x) -> list:
        import keras

        missing = keras.layers.StringLookup(vocabulary=MISSING_SPELLINGS, name=f"{self.key}_missing")(x)
        missing = keras.ops.cast(keras.ops.greater(missing, 0), "int64")
        ids = keras.layers.StringLookup(vocabulary=self.vocabulary, name=f"{self.key}_lookup")(x)
        empty = self.vocabulary.index("") + 1 if "" in self.vocabulary else 0
        ids = ids + missing * (empty - ids)  # every spelling of missing: one category (no string ops but the lookups)
        if self.encoding == "one_hot":  # unknown values share one out-of-vocabulary slot
            return [keras.ops.one_hot(ids, len(self.vocabulary) + 1)]
        return [keras.layers.Embedding(len(self.vocabulary) + 1, self.embedding_dim, name=f"{self.key}_embedding")(ids)]


class TextColumn(State):
    type: Literal["text"] = "text"
    name: str
    key: str
    settings: TextSettings
    vocabulary: list[str]

    def encode(self, x) -> list:
        vocabulary = [t for t in self.vocabulary if t != ""]  # multi-hot has no padding token
        return [self.settings.layer(vocabulary, name=f"{self.key}_words", output_mode="multi_hot")(x)]


Column = Annotated[Union[NumericColumn, CategoricalColumn, TextColumn], Field(discriminator="type")]


class TableInput(InputState):
    kind: Literal["table"] = "table"
    columns: list[Column]
    other_columns: list[str] = Field(default_factory=list)  # in the file, not read (ids, ignored)

    @property
    def shape(self) -> list[int]:
        return [len(self.columns)]

    @property
    def reads(self) -> str:
        return "table"

    @property
    def takes_columns(self) -> bool:
        return True

    def tflite_problem(self) -> str | None:
        strings = [c.key for c in self.columns if c.type != "numeric"]
        if strings:
            onnx = "" if any(c.type == "text" for c in self.columns) else ", onnx"  # free text: no ONNX converter
            return (f"TFLite has no string lookups without Flex ops, and this model reads the string column(s) "
                    f"{', '.join(strings)}; export keras, saved_model{onnx} instead")  # fmt: skip
        return None

    def _inputs(self) -> dict:
        import keras

        return {
            c.key: keras.Input((), dtype="float32" if c.type == "numeric" else "string", name=c.key)
            for c in self.columns
        }

    def model_inputs(self):
        import keras

        inputs = self._inputs()
        parts = [part for c in self.columns for part in c.encode(inputs[c.key])]
        encoded = keras.layers.Concatenate(name="encoded_columns")(parts) if len(parts) > 1 else parts[0]
        return inputs, encoded

    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict:
        return self._inputs()

    def canonical(self, raw: dict, strings: bool = True, any_size: bool = True):
        return dict(raw)

    def column_names(self) -> dict[str, str]:
        """Model input name → the CSV column it reads."""
        return {c.key: c.name for c in self.columns}
