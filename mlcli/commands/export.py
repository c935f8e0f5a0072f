"""`mlcli export`: a model that takes raw inputs, verified by reloading it before it is kept.

The exported model wraps the checkpoint with the run's saved preprocessing (rescaling, text
vectorisation, standardisation) and a readable output (class probabilities, values in original
units, GAN images in 0-255). It is written to a temporary path, reloaded with the format's own
loader (`keras.models.load_model`, `tf.saved_model.load`, `tf.lite.Interpreter`) and compared with
the checkpoint on a batch of real inputs; only a match within 1e-4 is moved into place.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import MlcliError, UserError
from mlcli.fileio import atomic_write_text

FORMATS = {"keras": "model.keras", "saved_model": "saved_model", "tflite": "model.tflite"}
TOLERANCE = 1e-4
BATCH = 16


class ExportMismatch(MlcliError):
    """The reloaded export disagrees with the checkpoint: exit 1, nothing kept."""


@dataclass
class Serving:
    """The export model, the names of its inputs (in call order) and of its one output."""

    model: Any
    inputs: list[str]
    output: str
    takes_dict: bool = False
    hub_task: bool = False  # a KerasHub task: `predict` runs its own preprocessor on raw inputs

    def __call__(self, batch: dict):
        """Call the model with `batch` (input name -> values) in the structure it was built with."""
        if self.hub_task:
            return self.model.predict(batch[self.inputs[0]], verbose=0)
        if self.takes_dict:
            return self.model(batch, training=False)
        args = [batch[n] for n in self.inputs]
        return self.model(args if len(args) > 1 else args[0], training=False)


def serving_model(model, spec: Any, vectorize_text: bool = True, fmt: str = "saved_model") -> Serving:
    """Raw inputs in, readable outputs out: the checkpoint wrapped with its preprocessing.

    Built from Keras layers and `keras.ops` only, so each format reloads without mlcli.
    `vectorize_text=False` keeps token ids as the input (TFLite has no string ops without Flex).
    A pretrained model's `.keras` export is its KerasHub task instead (`standalone_task`).
    """
    import keras

    from mlcli.data.preprocess import preprocessor
    from mlcli.models.layers import class_probabilities

    if fmt == "keras" and "pretrained" in spec.state:
        from mlcli.models.pretrained import standalone_task

        task = standalone_task(model, preprocessor(spec.kind, spec.state))
        return Serving(task, ["text" if spec.kind == "text" else "inputs"], "probabilities", hub_task=True)
    if spec.task == "generation":
        raw = {"latent": keras.Input((model.latent_dim,), name="latent")}
        if model.num_classes:
            raw["label"] = keras.Input((), dtype="int32", name="label")
        images = model.generator(list(raw.values()) if model.num_classes else raw["latent"], training=False)
        out = keras.layers.Rescaling(127.5, 127.5, name="pixels")(images)
        return Serving(keras.Model(raw, out, name="generator_export"), list(raw), "pixels", takes_dict=True)
    if spec.kind == "table":
        raw = {c["key"]: keras.Input((), dtype="float32" if c["type"] == "numeric" else "string", name=c["key"])
               for c in spec.state["columns"]}  # fmt: skip
        out = model(raw)
    else:
        if spec.kind == "text" and vectorize_text:
            raw = keras.Input((), dtype="string", name="text")
        elif spec.kind in ("text", "tokens"):
            raw = keras.Input(tuple(spec.input_shape), dtype="int64" if spec.kind == "text" else "int32", name="tokens")
        else:
            raw = keras.Input(tuple(spec.input_shape), dtype="float32", name="inputs")
        pre = preprocessor(spec.kind, spec.state) if vectorize_text or spec.kind != "text" else None
        out = model(pre(raw) if pre is not None else raw)
    if spec.task == "classification":
        out = class_probabilities(out)
    elif spec.kind == "series":
        out = keras.layers.Rescaling(spec.state["std"][0], spec.state["mean"][0], name="forecast")(out)
    else:
        out = keras.layers.Identity(name="values")(out)
    names = list(raw) if isinstance(raw, dict) else [raw.name]
    return Serving(keras.Model(raw, out, name="export"), names, _output_name(spec), takes_dict=isinstance(raw, dict))


def _output_name(spec: Any) -> str:
    if spec.task == "classification":
        return "probabilities"
    return "forecast" if spec.kind == "series" else "values"


def sample_batch(run: Any, model) -> dict[str, np.ndarray]:
    """Real raw inputs, by input name: the first examples of the test (else val, train) split."""
    if run.spec.task == "generation":
        z = np.random.default_rng(0).normal(size=(BATCH, model.latent_dim)).astype("float32")
        if model.num_classes:
            return {"latent": z, "label": (np.arange(BATCH) % model.num_classes).astype("int32")}
        return {"latent": z}
    from mlcli.data import load_dataset
    from mlcli.data.raw import split_arrays
    from mlcli.data.table import Table, model_batch

    raw = load_dataset(run.cfg, run.spec).raw
    for split in (raw.test, raw.val, raw.train):
        x, _ = split_arrays(split, BATCH)
        if len(x):
            if isinstance(x, Table):
                return model_batch(x)
            if x.dtype == object or x.dtype.kind in "SU":
                return {"text": np.array([v.decode() if isinstance(v, bytes) else str(v) for v in x], dtype=str)}
            return {
                "tokens" if run.spec.kind == "tokens" else "inputs": x.astype(
                    "int32" if run.spec.kind == "tokens" else "float32"
                )
            }
    raise UserError(f"{run.path}: no data to verify the export on")


def _tensors(batch: dict[str, np.ndarray]) -> dict:
    import tensorflow as tf

    return {k: tf.constant(v) for k, v in batch.items()}


def _reload_outputs(fmt: str, path: Path, serving: Serving, batch: dict[str, np.ndarray]) -> np.ndarray:
    """The reloaded file's outputs, read by output name through each format's own loader."""
    import keras
    import tensorflow as tf

    if fmt == "keras":
        loaded = Serving(
            keras.models.load_model(path), serving.inputs, serving.output, serving.takes_dict, serving.hub_task
        )
        return np.asarray(loaded(_tensors(batch)))
    if fmt == "saved_model":
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        return np.asarray(signature(**_tensors(batch))[serving.output])
    import warnings

    from mlcli.tfenv import stderr_silenced

    with warnings.catch_warnings(), stderr_silenced():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner("serve")
    n = len(next(iter(batch.values())))
    with stderr_silenced():  # the TFLite graph has a fixed batch of 1, as deployed
        rows = [runner(**{k: v[i : i + 1] for k, v in batch.items()})[serving.output] for i in range(n)]
    return np.concatenate(rows)


def _archive(serving: Serving, batch_size: int | None):
    """A SavedModel archive whose `serve` signature takes named inputs and names its output."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(serving.model)
    by_name = {t.name: t for t in serving.model.inputs}
    specs = [tf.TensorSpec((batch_size, *by_name[n].shape[1:]), by_name[n].dtype, name=n) for n in serving.inputs]

    def serve(*args):
        return {serving.output: serving(dict(zip(serving.inputs, args)))}

    archive.add_endpoint("serve", serve, input_signature=specs)
    return archive


def _write(fmt: str, serving: Serving, tmp: Path) -> Path:
    import tensorflow as tf

    if fmt == "keras":
        path = tmp / FORMATS["keras"]
        serving.model.save(path)
        return path
    if fmt == "saved_model":
        saved = tmp / FORMATS["saved_model"]
        _archive(serving, None).write_out(str(saved), verbose=False)
        return saved
    # a fixed batch of 1 gives the recurrent loops static shapes, so they lower to TFLite builtins
    source = tmp / "tflite_source"
    _archive(serving, 1).write_out(str(source), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source), signature_keys=["serve"])
    path = tmp / FORMATS["tflite"]
    path.write_bytes(converter.convert())
    return path


def _side_file(fmt: str, serving: Serving, spec: Any, columns: dict[str, str]) -> dict:
    """What a serving process needs besides the file: input names (and the columns they read),
    the output's name and the class names in output order."""
    if serving.hub_task:  # raw strings or images, which the task's own preprocessor reads in `predict`
        text = spec.kind == "text"
        inputs = [{"name": serving.inputs[0], "dtype": "string" if text else "float32",
                   "shape": [] if text else list(spec.input_shape)}]  # fmt: skip
        usage = {"load": "import keras_hub; keras.saving.load_model(path)", "call": "model.predict(raw inputs)"}
    else:
        by_name = {t.name: t for t in serving.model.inputs}
        inputs = [
            {
                "name": n,
                "dtype": str(by_name[n].dtype),
                "shape": list(by_name[n].shape[1:]),
                **({"column": columns[n]} if n in columns else {}),
            }
            for n in serving.inputs
        ]  # fmt: skip
        usage = {}
    return {
        "format": fmt,
        "inputs": inputs,
        "output": serving.output,
        "classes": spec.class_names if spec.task == "classification" else None,
        **usage,
    }


def export_command(run_dir: Path, fmt: str, out: Path | None, checkpoint: str) -> dict:
    from mlcli.runs import load_checkpoint, open_run

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = open_run(run_dir)
    model = load_checkpoint(run, checkpoint)
    out = Path(out) if out else Path(run_dir) / "export" / FORMATS[fmt]
    if out.exists():
        raise UserError(f"{out} already exists; remove it or choose another --out")
    if "pretrained" in run.spec.state and run.spec.kind == "text" and fmt == "tflite":
        raise UserError(
            "--format tflite: a KerasHub tokenizer cannot travel in a .tflite; export keras or saved_model "
            "(raw strings in)"
        )
    tokens_only = fmt == "tflite" and run.spec.kind == "text"
    serving = serving_model(model, run.spec, vectorize_text=not tokens_only, fmt=fmt)
    strings = [t.name for t in serving.model.inputs if t.dtype == "string"]
    if fmt == "tflite" and strings:
        raise UserError(
            f"--format tflite: TFLite has no string lookups without Flex ops, and this model reads the string "
            f"column(s) {', '.join(strings)}; export keras or saved_model instead"
        )
    batch = sample_batch(run, model)
    if tokens_only:
        from mlcli.data.preprocess import preprocessor

        batch = {"tokens": np.asarray(preprocessor("text", run.spec.state)(batch["text"]))}
    # the checkpoint wrapped with its preprocessing; a KerasHub task export is a rebuilt model, checked against it
    reference = serving_model(model, run.spec, vectorize_text=not tokens_only) if serving.hub_task else serving
    expected = np.asarray(reference(_tensors(batch)))
    columns = {c["key"]: c["name"] for c in run.spec.state.get("columns", [])} if run.spec.kind == "table" else {}
    side = out.parent / f"{out.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        written = _write(fmt, serving, Path(tmp))
        got = _reload_outputs(fmt, written, serving, batch)
        diff = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        if got.shape != expected.shape or not diff <= TOLERANCE:
            raise ExportMismatch(
                f"{fmt} export differs from the checkpoint by {diff:.3g} (> {TOLERANCE}) "
                f"on {len(expected)} real inputs; nothing written"
            )
        info = _side_file(fmt, serving, run.spec, columns)
        if tokens_only:  # what a client needs to turn text into the token ids this file takes
            vocab = out.with_suffix(".vocab.txt")
            text = run.spec.state["text"]
            info["tokenizer"] = {
                "keras_layer": "TextVectorization",
                "vocabulary_file": vocab.name,
                "output_sequence_length": text["sequence_length"],
                "split": text["split"],
                "standardize": "lower_and_strip_punctuation" if text["lowercase"] else "strip_punctuation",
            }
        atomic_write_text(side, json.dumps(info, indent=1, ensure_ascii=False) + "\n")
        shutil.move(str(written), out)
    if tokens_only:
        atomic_write_text(vocab, "\n".join(run.spec.state["vocabulary"]) + "\n")
        print(f"TFLite has no string ops without Flex: the model takes token ids; vocabulary in {vocab}")
    print(
        f"exported {fmt} to {out} (inputs {', '.join(serving.inputs)}; output {serving.output!r}; described in "
        f"{side.name}); reloaded and matched the checkpoint on {len(expected)} real inputs (max difference {diff:.2g})"
    )
    return {"format": fmt, "path": str(out), "max_difference": diff, "inputs": len(expected)}
