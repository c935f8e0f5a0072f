"""Token ids that are already integers (synthetic token data, an NPZ of ids): embedded by the model."""

from __future__ import annotations

from typing import Literal

from mlcli.spec.base import InputState


class TokensInput(InputState):
    kind: Literal["tokens"] = "tokens"
    input_name: str = "tokens"
    length: int
    vocab_size: int

    @property
    def shape(self) -> list[int]:
        return [self.length]

    @property
    def dtype(self) -> str:
        return "int32"

    @property
    def vocabulary_size(self) -> int:
        return self.vocab_size

    @property
    def cast_to(self) -> str:
        return "int32"
