"""`mlcli export`: a model that takes raw inputs, verified by reloading it before it is kept.

The exported model wraps the checkpoint with the run's saved preprocessing (rescaling, text
vectorisation, standardisation) and a readable output (class probabilities, values in original
units, GAN images in 0-255). It is written to a temporary path, reloaded with the format's own
loader (`keras.models.load_model`, `tf.saved_model.load`, `tf.lite.Interpreter`) and compared with
the checkpoint on a batch of real inputs; only a match within 1e-4 is moved into place.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import MlcliError, UserError

FORMATS = {"keras": "model.keras", "saved_model": "saved_model", "tflite": "model.tflite"}
TOLERANCE = 1e-4
BATCH = 16


class ExportMismatch(MlcliError):
    """The reloaded export disagrees with the checkpoint: exit 1, nothing kept."""


def serving_model(model, spec: Any, vectorize_text: bool = True):
    """Raw inputs in, readable outputs out: the checkpoint wrapped with its preprocessing.

    `vectorize_text=False` keeps token ids as the input (TFLite has no string ops without Flex).
    """
    import keras

    from mlcli.data.preprocess import preprocessor
    from mlcli.models.layers import ClassProbabilities

    if spec.task == "generation":
        z = keras.Input((model.latent_dim,), name="latent")
        inputs = [z, keras.Input((), dtype="int32", name="label")] if model.num_classes else z
        images = model.generator(inputs, training=False)
        return keras.Model(
            inputs, keras.layers.Rescaling(127.5, 127.5, name="to_uint8_range")(images), name="generator_export"
        )
    if spec.kind == "text" and vectorize_text:
        raw = keras.Input((), dtype="string", name="text")
    elif spec.kind == "text":
        raw = keras.Input(tuple(spec.input_shape), dtype="int64", name="tokens")
    elif spec.kind == "tokens":
        raw = keras.Input(tuple(spec.input_shape), dtype="int32", name="tokens")
    else:
        raw = keras.Input(tuple(spec.input_shape), dtype="float32", name="inputs")
    pre = preprocessor(spec.kind, spec.state) if vectorize_text or spec.kind != "text" else None
    out = model(pre(raw) if pre is not None else raw)
    if spec.task == "classification":
        out = ClassProbabilities(name="probabilities")(out)
    elif spec.kind == "series":
        out = keras.layers.Rescaling(spec.state["std"][0], spec.state["mean"][0], name="original_units")(out)
    return keras.Model(raw, out, name="export")


def sample_batch(run: Any, model) -> Any:
    """Real raw inputs: the first examples of the test (else val, train) split; latents for a GAN."""
    if run.spec.task == "generation":
        z = np.random.default_rng(0).normal(size=(BATCH, model.latent_dim)).astype("float32")
        return [z, (np.arange(BATCH) % model.num_classes).astype("int32")] if model.num_classes else z
    from mlcli.data import load_dataset
    from mlcli.data.raw import split_arrays

    raw = load_dataset(run.cfg, run.spec).raw
    for split in (raw.test, raw.val, raw.train):
        x, _ = split_arrays(split, BATCH)
        if len(x):
            if x.dtype == object or x.dtype.kind in "SU":
                return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in x], dtype=object)
            return x.astype("int32" if run.spec.kind == "tokens" else "float32")
    raise UserError(f"{run.path}: no data to verify the export on")


def _as_tensor(x):
    import tensorflow as tf

    if isinstance(x, list):
        return [tf.constant(v) for v in x]
    return tf.constant(x.astype(str)) if x.dtype == object else tf.constant(x)


def _reload_outputs(fmt: str, path: Path, batch) -> np.ndarray:
    import keras
    import tensorflow as tf

    if fmt == "keras":
        return np.asarray(keras.models.load_model(path)(_as_tensor(batch), training=False))
    if fmt == "saved_model":
        loaded = tf.saved_model.load(str(path))
        args = _as_tensor(batch)
        return np.asarray(loaded.serve(args))
    import warnings

    from mlcli.tfenv import stderr_silenced

    with warnings.catch_warnings(), stderr_silenced():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    inputs = batch if isinstance(batch, list) else [batch]
    details = sorted(interpreter.get_input_details(), key=lambda d: "label" in d["name"])  # latent first
    with stderr_silenced():
        interpreter.allocate_tensors()
    outputs = []
    for i in range(len(inputs[0])):  # the TFLite graph has a fixed batch of 1, as deployed
        for detail, value in zip(details, inputs):
            interpreter.set_tensor(detail["index"], np.asarray(value[i : i + 1]).astype(detail["dtype"]))
        with stderr_silenced():
            interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return np.concatenate(outputs)


def _write(fmt: str, serving, tmp: Path) -> Path:
    import tensorflow as tf

    if fmt == "keras":
        path = tmp / FORMATS["keras"]
        serving.save(path)
        return path
    if fmt == "saved_model":
        saved = tmp / FORMATS["saved_model"]
        serving.export(str(saved), format="tf_saved_model", verbose=False)
        return saved
    # a fixed batch of 1 gives the recurrent loops static shapes, so they lower to TFLite builtins
    import keras

    archive = keras.export.ExportArchive()
    archive.track(serving)
    specs = [tf.TensorSpec((1, *t.shape[1:]), t.dtype) for t in serving.inputs]
    archive.add_endpoint(
        "serve", lambda *args: serving(list(args) if len(args) > 1 else args[0], training=False), input_signature=specs
    )
    source = tmp / "tflite_source"
    archive.write_out(str(source), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source), signature_keys=["serve"])
    path = tmp / FORMATS["tflite"]
    path.write_bytes(converter.convert())
    return path


def export_command(run_dir: Path, fmt: str, out: Path | None, checkpoint: str) -> dict:
    from mlcli.runs import load_checkpoint, open_run

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = open_run(run_dir)
    model = load_checkpoint(run, checkpoint)
    out = Path(out) if out else Path(run_dir) / "export" / FORMATS[fmt]
    if out.exists():
        raise UserError(f"{out} already exists; remove it or choose another --out")
    tokens_only = fmt == "tflite" and run.spec.kind == "text"
    serving = serving_model(model, run.spec, vectorize_text=not tokens_only)
    batch = sample_batch(run, model)
    if tokens_only:
        from mlcli.data.preprocess import preprocessor

        batch = np.asarray(preprocessor("text", run.spec.state)(batch.astype(str)))
    expected = np.asarray(serving(_as_tensor(batch), training=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        written = _write(fmt, serving, Path(tmp))
        got = _reload_outputs(fmt, written, batch)
        diff = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        if got.shape != expected.shape or not diff <= TOLERANCE:
            raise ExportMismatch(
                f"{fmt} export differs from the checkpoint by {diff:.3g} (> {TOLERANCE}) "
                f"on {len(expected)} real inputs; nothing written"
            )
        shutil.move(str(written), out)
    if tokens_only:
        vocab = out.with_suffix(".vocab.txt")
        vocab.write_text("\n".join(run.spec.state["vocabulary"]) + "\n", encoding="utf-8")
        print(f"TFLite has no string ops without Flex: the model takes token ids; vocabulary in {vocab}")
    print(
        f"exported {fmt} to {out}; reloaded and matched the checkpoint on {len(expected)} real inputs "
        f"(max difference {diff:.2g})"
    )
    return {"format": fmt, "path": str(out), "max_difference": diff, "inputs": len(expected)}
