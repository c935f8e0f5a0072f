"""The ONNX format of `mlcli export`: the serving model's SavedModel converted by tf2onnx, run back by onnxruntime.

tf2onnx converts a SavedModel signature better than a live function: from the SavedModel it reads the
contents of Keras' lookup tables (StringLookup) into ONNX's CategoryMapper, which `from_function` and
`from_keras` cannot (onnx/tensorflow-onnx#1867). What has no ONNX operator is refused by name before
anything is written, instead of the invalid file tf2onnx would otherwise save: TensorFlow's text
ops (standardising and splitting strings: text inputs therefore go in as token ids, as for TFLite) and
the antialiased resize (images go in at the model's size).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

from mlcli.errors import UserError

OPSET = 18
INSTALL = ("pip install 'mlcli[onnx]' (tf2onnx, onnx and onnxruntime; in a clone of mlcli: "
           "pip install -e '.[onnx]')")
# operations tf2onnx leaves unconverted, with where upstream tracks them
TEXT_OPS = "https://github.com/onnx/tensorflow-onnx/issues/1886 (Keras TextVectorization does not convert)"
UPSTREAM = {
    "StaticRegexReplace": TEXT_OPS,
    "RegexReplace": TEXT_OPS,
    "StringSplitV2": TEXT_OPS,
    "StringLower": TEXT_OPS,
    "ScaleAndTranslate": "https://github.com/onnx/tensorflow-onnx/pull/2241 (antialiased resize: no converter)",
    "LookupTableFindV2": "https://github.com/onnx/tensorflow-onnx/issues/1867",
}
DEFAULT_UPSTREAM = "https://github.com/onnx/tensorflow-onnx/blob/main/support_status.md"


def require_converter() -> None:
    """tf2onnx, onnx and onnxruntime are an optional extra: say how to install them before any work."""
    missing = []
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UserError(f"--format onnx needs {', '.join(missing)}: {INSTALL}")


def convert(saved_model: Path, signature: str, out: Path) -> None:
    """`saved_model`'s `signature` as an ONNX file at `out`; exit 2 naming any operation ONNX lacks."""
    import onnx
    import tensorflow as tf
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import tf_loader

    quiet = io.StringIO()
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # tf2onnx logs each step at INFO and unsupported ops at ERROR
    try:
        with contextlib.redirect_stdout(quiet), tf.device("/cpu:0"):
            graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
                str(saved_model), None, None, "serve", [signature],
                return_initialized_tables=True, return_tensors_to_rename=True)  # fmt: skip
            try:  # what `python -m tf2onnx.convert --saved-model` calls
                proto, _ = tf2onnx_convert._convert_common(
                    graph_def, name="mlcli", opset=OPSET, input_names=inputs, output_names=outputs,
                    tensors_to_rename=renames, initialized_tables=tables)  # fmt: skip
            except ValueError as e:  # tf2onnx's shape inference: a select against a scalar, in older table runs
                raise UserError(
                    f"--format onnx: tf2onnx could not convert this model ({e}); a table run "
                    "trained by an older mlcli converts once retrained; else export saved_model"
                ) from None
    finally:
        logger.setLevel(level)
    unknown = sorted({n.op_type for n in proto.graph.node if not onnx.defs.has(n.op_type, n.domain or "")})
    if unknown:
        where = "; ".join(f"{op}: {UPSTREAM.get(op, DEFAULT_UPSTREAM)}" for op in unknown)
        raise UserError(f"--format onnx: this model uses TensorFlow operation(s) ONNX has no converter for: {where}; "
                        "export saved_model or keras instead")  # fmt: skip
    onnx.checker.check_model(proto)
    out.write_bytes(proto.SerializeToString())


def run(path: Path, batch: dict[str, np.ndarray], output: str) -> np.ndarray:
    """The ONNX file's `output` for `batch`, by onnxruntime (strings as Python objects, as it takes them)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {k: v.astype(object) if v.dtype.kind in "US" else v for k, v in batch.items()}
    names = [o.name for o in session.get_outputs()]
    return np.asarray(session.run([output], feed)[0] if output in names else session.run(None, feed)[0])
