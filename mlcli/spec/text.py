"""Raw text in, token ids out: Keras' TextVectorization with the vocabulary adapted on the training split.

The same layer (settings plus vocabulary) runs in the training pipeline and inside the serving model,
so a document gives the same ids wherever it is read. Without string ops (TFLite) the serving input is
the ids themselves, and the side file says how to make them.
"""

from __future__ import annotations

from typing import Literal

from mlcli.spec.base import InputState, State


class TextSettings(State):
    max_tokens: int
    sequence_length: int
    split: Literal["whitespace", "character"] = "whitespace"
    lowercase: bool = True

    @property
    def standardize(self) -> str:
        return "lower_and_strip_punctuation" if self.lowercase else "strip_punctuation"

    def layer(self, vocabulary: list[str] | None = None, name: str | None = None, output_mode: str = "int"):
        import keras

        return keras.layers.TextVectorization(
            max_tokens=self.max_tokens,
            output_mode=output_mode,
            output_sequence_length=self.sequence_length if output_mode == "int" else None,
            split=self.split,
            standardize=self.standardize,
            vocabulary=vocabulary,
            name=name,
        )


class TextInput(InputState):
    kind: Literal["text"] = "text"
    input_name: str = "text"
    settings: TextSettings
    vocabulary: list[str]
    column: str | None = None  # read from this CSV column (a text,label table), else from files

    @property
    def shape(self) -> list[int]:
        return [self.settings.sequence_length]

    @property
    def dtype(self) -> str:
        return "int64"

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    @property
    def reads(self) -> str:
        return "text"

    def tokenizer(self) -> dict:
        return {
            "keras_layer": "TextVectorization",
            "output_sequence_length": self.settings.sequence_length,
            "split": self.settings.split,
            "standardize": self.settings.standardize,
        }

    def preprocess_layer(self):
        return self.settings.layer(self.vocabulary, name="vectorize")

    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict:
        import keras

        if not strings:
            return {"tokens": keras.Input(shape=tuple(self.shape), dtype="int64", name="tokens")}
        return {self.input_name: keras.Input(shape=(), dtype="string", name=self.input_name)}

    def canonical(self, raw: dict, strings: bool = True, any_size: bool = True):
        return raw[self.input_name] if strings else raw["tokens"]

    def serving_preprocess(self, raw: dict, strings: bool = True, any_size: bool = True):
        return self.preprocess(raw[self.input_name]) if strings else raw["tokens"]
