"""What a run's data is, saved with every run as `data_spec.json`: the task, the classes, and a typed
state for the input kind (`mlcli.spec.image`, `.text`, `.tokens`, `.features`, `.table`, `.series`,
`.pretrained`) that owns its fitted statistics, its Keras preprocessing and its raw serving input.

Models build their inputs from it, the data room's pipelines preprocess with it, and the serving model
(`mlcli.inference.serving`) wraps a checkpoint with it, so training, `evaluate`, `predict` and every
export read a raw example the same way. Adding an input kind is one module here plus its place in
`Input`; a spec written by another version of mlcli loads (format 1 is converted) or is exit 2 saying
which version wrote it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError

from mlcli.errors import UserError
from mlcli.fileio import atomic_write_text
from mlcli.spec.base import InputState, State, TargetScaling
from mlcli.spec.features import FeaturesInput
from mlcli.spec.image import ImageInput
from mlcli.spec.pretrained import PretrainedInput
from mlcli.spec.series import SeriesInput
from mlcli.spec.table import TableInput
from mlcli.spec.text import TextInput, TextSettings
from mlcli.spec.tokens import TokensInput

FORMAT = 2
Task = Literal["classification", "regression", "forecast", "generation"]
Input = Annotated[
    Union[ImageInput, TextInput, TokensInput, FeaturesInput, TableInput, SeriesInput, PretrainedInput],
    Field(discriminator="kind"),
]
OUTPUT_NAMES = {"classification": "probabilities", "regression": "values", "forecast": "forecast",
                "generation": "pixels"}  # fmt: skip

__all__ = ["DataSpec", "InputState", "TargetScaling", "Task", "TextSettings", "OUTPUT_NAMES"]


class DataSpec(State):
    format: int = FORMAT
    task: Task
    input: Input
    class_names: list[str] | None = None
    output_dim: int = 1  # values per example (a forecast's horizon)
    target: TargetScaling | None = None  # regression and forecasts: trained standardised
    num_train: int = 0
    num_val: int = 0
    num_test: int = 0
    mlcli_version: str | None = None
    profile: dict | None = None  # what the data looked like (`mlcli inspect`): sizes, classes, column typing

    @property
    def kind(self) -> str:
        return self.input.kind

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    @property
    def input_shape(self) -> list[int]:
        return self.input.shape

    @property
    def vocab_size(self) -> int | None:
        return self.input.vocabulary_size

    @property
    def classes(self) -> bool:
        return self.task == "classification"

    @property
    def output_name(self) -> str:
        """The serving model's one output: probabilities, values, forecast (data units) or pixels."""
        return OUTPUT_NAMES[self.task]

    def output_units(self) -> int:
        """Two classes share one logit (sigmoid), as hand-written binary Keras models do."""
        if self.classes:
            return 1 if self.num_classes == 2 else self.num_classes
        return self.output_dim

    def serve_output(self, out):
        """A checkpoint's output (a Keras tensor) → what the serving model returns, named."""
        import keras

        if self.classes:
            if out.shape[-1] == 1:  # one binary logit l → softmax([0, l]) = [1 - σ(l), σ(l)]
                out = keras.layers.Concatenate()([keras.ops.zeros_like(out), out])
            return keras.layers.Softmax(name=self.output_name)(out)
        if self.target is not None:
            out = self.target.unscale(out)
        return keras.layers.Identity(name=self.output_name)(out)

    def with_counts(self, **counts: int) -> DataSpec:
        return self.model_copy(update=counts)

    # ---- files ----------------------------------------------------------------------------------
    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> DataSpec:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read the data spec: {exc}") from None
        if isinstance(data, dict) and "format" not in data and "state" in data:
            data = from_format_1(data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            wrote = data.get("mlcli_version") if isinstance(data, dict) else None
            first = exc.errors()[0]
            raise UserError(
                f"{path}: written by {'mlcli ' + wrote if wrote else 'another version of mlcli'} in format "
                f"{data.get('format', '?') if isinstance(data, dict) else '?'}, which this mlcli (format {FORMAT}) "
                f"cannot read ({'.'.join(map(str, first['loc']))}: {first['msg']}); retrain the run"
            ) from None


def from_format_1(old: dict[str, Any]) -> dict[str, Any]:
    """A spec written before typed states (one `kind`, a string-keyed `state`) in today's format.
    Images keep their unantialiased resize, so old checkpoints see the pixels they were trained on."""
    kind, state, shape = old["kind"], old.get("state") or {}, old["input_shape"]
    target = None
    if "pretrained" in state:
        p = state["pretrained"]
        modality = "text" if kind == "text" else "image"
        image = {"size": shape[:2], "channels": shape[2], "antialias": False} if modality == "image" else None
        new = {"kind": "pretrained", "input_name": modality, "preset": p["preset"], "modality": modality,
               "sequence_length": p.get("sequence_length"), "image_size": p.get("image_size"),
               "column": state.get("text_column"), "image": image}  # fmt: skip
    elif kind == "image":
        new = {"kind": "image", "size": shape[:2], "channels": shape[2], "scale": state.get("scale", 1.0),
               "offset": state.get("offset", 0.0), "antialias": False}  # fmt: skip
    elif kind == "text":
        new = {"kind": "text", "settings": state["text"], "vocabulary": state["vocabulary"],
               "column": state.get("text_column")}  # fmt: skip
    elif kind == "tokens":
        new = {"kind": "tokens", "length": shape[0], "vocab_size": old["vocab_size"]}
    elif kind == "features":
        new = {"kind": "features", "mean": state["mean"], "std": state["std"]}
    elif kind == "table":
        new = {"kind": "table", "columns": state["columns"], "other_columns": state.get("other_columns", [])}
    else:  # series
        new = {"kind": "series", "mean": state["mean"][0], "std": state["std"][0], "step_std": state["step_std"],
               "window": state["window"], "horizon": state["horizon"]}  # fmt: skip
        target = {"mean": state["mean"][0], "std": state["std"][0]}
    return {"format": FORMAT, "task": old["task"], "input": new, "class_names": old.get("class_names"),
            "output_dim": old.get("output_dim", 1), "target": target, "num_train": old.get("num_train", 0),
            "num_val": old.get("num_val", 0), "num_test": old.get("num_test", 0)}  # fmt: skip
