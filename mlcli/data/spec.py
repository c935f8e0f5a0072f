"""What a dataset is, as the model and the trainer need to know it, saved with every run.

`DataSpec` is plain JSON so evaluate/predict/export can rebuild exactly the same preprocessing
(vocabulary, normalisation statistics) without refitting anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlcli.fileio import atomic_write_text

Task = Literal["classification", "regression", "forecast", "generation"]
InputKind = Literal["image", "text", "tokens", "features", "series", "table"]


@dataclass
class DataSpec:
    task: Task
    kind: InputKind
    input_shape: list[int]
    class_names: list[str] | None = None
    output_dim: int = 1
    vocab_size: int | None = None
    num_train: int = 0
    num_val: int = 0
    num_test: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> DataSpec:
        return cls(**json.loads(text))

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> DataSpec:
        return cls.from_json(Path(path).read_text())
