"""`mlcli export`: the run's serving model in a deployable format, verified by reloading it.

The exported model is the serving model `predict` uses (`mlcli.inference.serving`): raw inputs in
(images of any size, strings, table columns by name, raw windows), the run's preprocessing inside,
one named output out. It is written to a temporary path, reloaded with the format's own loader
(`keras.models.load_model`, `tf.saved_model.load`, `tf.lite.Interpreter`, `onnxruntime`) and compared with the
checkpoint on a batch of real raw inputs; only a match within 1e-4 is moved into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from mlcli.commands import onnx_format
from mlcli.data import load_dataset
from mlcli.errors import MlcliError, UserError
from mlcli.fileio import atomic_write, atomic_write_text
from mlcli.inference.run import Run, load_checkpoint, open_run
from mlcli.inference.serving import Serving, serving_model
from mlcli.rundir import check_output
from mlcli.spec import DataSpec
from mlcli.tfenv import stderr_silenced

FORMATS = {"keras": "model.keras", "saved_model": "saved_model", "tflite": "model.tflite", "onnx": "model.onnx"}
TOKEN_FORMATS = ("tflite", "onnx")  # no string ops: text goes in as token ids
TOLERANCE = 1e-4
BATCH = 16


class ExportMismatch(MlcliError):
    """The reloaded export disagrees with the checkpoint: exit 1, nothing kept."""


def sample_batch(run: Run, model) -> dict[str, np.ndarray]:
    """Real raw inputs, by serving input name: the first examples of the test (else val, train) split."""
    if run.spec.task == "generation":
        z = np.random.default_rng(0).normal(size=(BATCH, model.latent_dim)).astype("float32")
        if model.num_classes:
            return {"latent": z, "label": (np.arange(BATCH) % model.num_classes).astype("int32")}
        return {"latent": z}
    bundle = load_dataset(run.cfg, run.spec)
    for name in ("test", "val", "train"):
        batches = bundle.raw_batches(name)
        if batches is None:
            continue
        for x, _ in batches.take(1):
            columns = x if isinstance(x, dict) else {run.spec.input.input_name: x}
            return {k: _numpy(v)[:BATCH] for k, v in columns.items()}
    raise UserError(f"{run.path}: no data to verify the export on")


def _numpy(tensor) -> np.ndarray:
    """A tensor as numpy; strings as str (UTF-8), not bytes."""
    x = np.asarray(tensor)
    return np.array([v.decode("utf-8") for v in x.ravel()], dtype=str).reshape(x.shape) if x.dtype == object else x


def _as_inputs(batch: dict[str, np.ndarray], serving: Serving) -> dict[str, np.ndarray]:
    """Each array in its serving input's dtype (decoded pixels are uint8; the signature takes float32)."""
    if serving.hub_task:
        return batch
    dtypes = {t.name: str(t.dtype) for t in serving.model.inputs}
    return {k: v if dtypes.get(k, "string") == "string" else v.astype(dtypes[k]) for k, v in batch.items()}


def _tensors(batch: dict[str, np.ndarray]) -> dict:
    return {k: tf.constant(v) for k, v in batch.items()}


def _reload_outputs(fmt: str, path: Path, serving: Serving, batch: dict[str, np.ndarray]) -> np.ndarray:
    """The reloaded file's outputs, read by output name through each format's own loader."""
    import keras

    if fmt == "keras":  # called as a client calls it: `model(x)`, no `training` argument
        loaded = Serving(keras.models.load_model(path), serving.inputs, serving.output, serving.hub_task)
        if serving.hub_task:
            return np.asarray(loaded(_tensors(batch)))
        return np.asarray(loaded.model(loaded.arguments(_tensors(batch))))
    if fmt == "saved_model":
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        return np.asarray(signature(**_tensors(batch))[serving.output])
    if fmt == "onnx":
        return onnx_format.run(path, batch, serving.output)
    import warnings

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

    archive = keras.export.ExportArchive()
    archive.track(serving.model)
    by_name = {t.name: t for t in serving.model.inputs}
    specs = [tf.TensorSpec((batch_size, *by_name[n].shape[1:]), by_name[n].dtype, name=n) for n in serving.inputs]

    def serve(*args):
        return {serving.output: serving.call(dict(zip(serving.inputs, args)))}

    archive.add_endpoint("serve", serve, input_signature=specs)
    return archive


def _write(fmt: str, serving: Serving, path: Path) -> None:
    """The export at `path` (inside the private folder of an atomic write)."""
    if fmt == "keras":
        serving.model.save(path)
    elif fmt == "saved_model":
        _archive(serving, None).write_out(str(path), verbose=False)
    elif fmt == "onnx":  # tf2onnx reads lookup tables from a SavedModel, not from a live function
        source = path.parent / "onnx_source"
        _archive(serving, None).write_out(str(source), verbose=False)
        onnx_format.convert(source, "serve", path)
    else:  # a fixed batch of 1 gives the recurrent loops static shapes, so they lower to TFLite builtins
        source = path.parent / "tflite_source"
        _archive(serving, 1).write_out(str(source), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source), signature_keys=["serve"])
        path.write_bytes(converter.convert())


# how a client opens each format, without mlcli (the calls the export's own verification makes)
LOADERS = {
    "keras": "keras.models.load_model(path); model(inputs: one array, or a dict by input name)",
    "saved_model": "tf.saved_model.load(path).signatures['serving_default'](**inputs)[output]",
    "tflite": "tf.lite.Interpreter(model_path=path).get_signature_runner('serve')(**one_example)[output]",
    "onnx": "onnxruntime.InferenceSession(path)",
}


def _side_file(fmt: str, serving: Serving, spec: DataSpec) -> dict:
    """What a serving process needs besides the file: input names (and the columns they read),
    the output's name and the class names in output order."""
    columns = spec.input.column_names()
    if serving.hub_task:  # raw strings or images, which the task's own preprocessor reads in `predict`
        text = spec.input.modality == "text"
        inputs = [{"name": serving.inputs[0], "dtype": "string" if text else "float32",
                   "shape": [] if text else [None, None, spec.input.image.channels]}]  # fmt: skip
        usage = {"load": "import keras_hub; keras.saving.load_model(path)", "call": "model.predict(raw inputs)"}
    else:
        by_name = {t.name: t for t in serving.model.inputs}
        inputs = [{"name": n, "dtype": str(by_name[n].dtype), "shape": list(by_name[n].shape[1:]),
                   **({"column": columns[n]} if n in columns else {})} for n in serving.inputs]  # fmt: skip
        usage = {"load": LOADERS[fmt]}
    image = spec.input.images if spec.task != "generation" else None  # a generator reads latents, not images
    if image is not None:
        usage["images"] = (
            f"0-255 pixels, {image.channels} channel(s); "
            + ("any size: resized inside the model to " if fmt not in TOKEN_FORMATS else "at the model's size ")
            + f"{image.size[0]}x{image.size[1]} (bilinear, antialiased, rounded)"
        )
    return {
        "format": fmt,
        "inputs": inputs,
        "output": serving.output,
        "classes": spec.class_names or None,  # a conditional GAN's labels too
        **usage,
    }


# what Keras' TextVectorization does, for a client without TensorFlow (keras/src/layers/preprocessing)
STANDARDIZE_MEANS = {
    "lower": "tf.strings.lower: ASCII capitals only (É, Ж, Σ stay as they are)",
    "strip_punctuation": "removes each match of the regex [!\"#$%&()\\*\\+,-\\./:;<=>?@\\[\\\\\\]^_`{|}~']",
}
SUFFIXES = {"keras": (".keras",), "tflite": (".tflite",), "onnx": (".onnx",), "saved_model": None}
NOT_A_FOLDER = (".keras", ".tflite", ".h5", ".onnx", ".json")


def vocabulary_file(out: Path) -> Path:
    """`model.tflite.vocab.txt`: named after the whole export, like its side file, so a TFLite and an
    ONNX export of one run can sit in the same folder."""
    return out.parent / f"{out.name}.vocab.txt"


def _check_out(fmt: str, out: Path, force: bool) -> None:
    """A name that the format's loader will open, never a run's own file, never replacing anything
    without --force: the export itself, its side file, the vocabulary of a TFLite text model."""
    if fmt == "saved_model" and out.suffix.lower() in NOT_A_FOLDER:
        raise UserError(f"{out}: a SavedModel is a folder; give a folder name without {out.suffix}")
    check_output(out, suffixes=SUFFIXES[fmt], force=force, folder=fmt == "saved_model")
    check_output(out.parent / f"{out.name}.json", force=force)
    if fmt in TOKEN_FORMATS:
        check_output(vocabulary_file(out), force=force)


def export_command(run_dir: Path, fmt: str, out: Path | None, checkpoint: str, force: bool = False) -> dict:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = open_run(run_dir)
    spec = run.spec
    out = Path(out) if out else Path(run_dir) / "export" / FORMATS[fmt]
    _check_out(fmt, out, force)
    lite = fmt == "tflite"
    tokens_only = fmt in TOKEN_FORMATS and spec.input.tokenizer() is not None
    if fmt == "onnx":
        onnx_format.require_converter()
    model = load_checkpoint(run, checkpoint)
    if lite and spec.input.tflite_problem():
        raise UserError(f"--format tflite: {spec.input.tflite_problem()}")
    fixed = fmt in TOKEN_FORMATS  # neither has the antialiased resize: images at the model's size
    serving = serving_model(model, spec, strings=not (lite or tokens_only), any_size=not fixed, fmt=fmt)
    batch = _as_inputs(sample_batch(run, model), serving)
    if tokens_only:
        batch = {"tokens": np.asarray(spec.input.preprocess(tf.constant(batch[spec.input.input_name])))}
    # the checkpoint wrapped with its preprocessing; a KerasHub task export is a rebuilt model, checked against it
    reference = serving_model(model, spec, strings=not lite, any_size=not fixed) if serving.hub_task else serving
    expected = np.asarray(reference(_tensors(batch)))
    side = out.parent / f"{out.name}.json"
    measured: dict[str, float] = {}

    def write_verified(tmp: Path) -> None:
        """Write, reload with the format's own loader, compare; a mismatch leaves nothing behind."""
        _write(fmt, serving, tmp)
        got = _reload_outputs(fmt, tmp, serving, batch)
        diff = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        if got.shape != expected.shape or not diff <= TOLERANCE:
            raise ExportMismatch(
                f"{fmt} export differs from the checkpoint by {diff:.3g} (> {TOLERANCE}) "
                f"on {len(expected)} real inputs; nothing written"
            )
        measured["diff"] = diff

    made_folder = not out.parent.exists()
    try:
        atomic_write(out, write_verified)
    except BaseException:
        if made_folder and out.parent.is_dir() and not any(out.parent.iterdir()):
            out.parent.rmdir()  # a refused export leaves nothing, not even RUN_DIR/export/
        raise
    diff = measured["diff"]
    info = _side_file(fmt, serving, spec)
    if tokens_only:  # what a client needs to turn text into the token ids this file takes
        vocab = vocabulary_file(out)
        tokens = spec.input.vocabulary[2:]  # without padding and [UNK]: TextVectorization adds them back
        tokenizer = spec.input.tokenizer()
        # one token per line, as Keras reads the file: impossible when a token is a line break (a
        # character vocabulary of multi-line texts); the list in this side file is then the only copy
        as_file = not any("\n" in t or "\r" in t for t in tokens)
        split = "every character is a token" if tokenizer["split"] == "character" else "split on whitespace runs"
        info["tokenizer"] = {**tokenizer, "vocabulary": tokens,
                             "how": "keras.layers.TextVectorization(vocabulary="
                                    + ("<vocabulary_file, or the list below>" if as_file else "<the list below>")
                                    + ", output_sequence_length=..., split=..., standardize=...)",
                             "ids": "0 pads to output_sequence_length, 1 is a word not in the vocabulary, "
                                    "vocabulary[i] is id i + 2",
                             "standardize_means": {**STANDARDIZE_MEANS,
                                                   "order": f"lower, then strip; then {split}"}}  # fmt: skip
        if as_file:
            info["tokenizer"]["vocabulary_file"] = vocab.name
    atomic_write_text(side, json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    if tokens_only:
        where = f"{side} (a token is a line break, so there is no one-per-line file)"
        if "vocabulary_file" in info["tokenizer"]:
            atomic_write_text(vocab, "\n".join(info["tokenizer"]["vocabulary"]) + "\n")
            where = f"{vocab} and {side}"
        why = "TFLite has no string ops without Flex" if lite else "ONNX has no TextVectorization"
        print(f"{why}: the model takes token ids; vocabulary in {where}")
    print(
        f"exported {fmt} to {out} (inputs {', '.join(serving.inputs)}; output {serving.output!r}; described in "
        f"{side.name}); reloaded and matched the checkpoint on {len(expected)} real inputs (max difference {diff:.2g})"
    )
    return {"format": fmt, "path": str(out), "max_difference": diff, "inputs": len(expected)}


__all__: list[Any] = ["export_command", "FORMATS"]
