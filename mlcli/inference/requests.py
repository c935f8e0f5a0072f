"""TF Serving's REST request bodies → batches for the serving model, and its outputs → response bodies.

The row format (`{"instances": [...]}`, each instance a raw value or `{input name: value}`) and the
columnar format (`{"inputs": value or {name: values}}`) both arrive here. Raw inputs are what
`mlcli predict` reads: images as `{"b64": ...}` (an encoded file, TF Serving's binary convention) or
nested lists of 0-255 pixels, strings, table rows by column name, a series' last `window` values,
feature or token arrays. A payload the run cannot read raises BadRequest with the reason.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import numpy as np

from mlcli.data.table import model_batch, typed_table
from mlcli.spec import DataSpec

MAX_INSTANCES = 4096
MAX_PIXELS = int(os.environ.get("MLCLI_SERVE_MAX_PIXELS", 25_000_000))  # a 25-megapixel photo; decoded: 300 MB


class BadRequest(ValueError):
    """A payload this run cannot read: answered with HTTP 400 and this message."""


def instances_of(body: Any, spec: DataSpec, reads: str | None = None) -> tuple[list, bool]:
    """The instances of a request, and whether it was in the columnar (`inputs`) format.
    `reads` is what the served model reads when it is not the data's kind ("latent" for a GAN generator)."""
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise BadRequest('the body must be a JSON object with either "instances" (a list) or "inputs"')
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise BadRequest('"instances" must be a non-empty list')
        columnar = False
    else:
        rows, columnar = _columns_to_rows(body["inputs"], spec, reads or spec.input.reads), True
    if len(rows) > MAX_INSTANCES:
        raise BadRequest(f"{len(rows)} instances in one request; send at most {MAX_INSTANCES}")
    return rows, columnar


def _columns_to_rows(inputs: Any, spec: DataSpec, reads: str) -> list:
    if isinstance(inputs, dict) and (reads == "table" or (reads == "latent" and len(inputs) > 1)):
        lengths = {len(v) if isinstance(v, list) else -1 for v in inputs.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise BadRequest('"inputs": every column must be a list, all of one length')
        names = list(inputs)
        return [dict(zip(names, values, strict=True)) for values in zip(*inputs.values(), strict=True)]
    if isinstance(inputs, dict):
        if len(inputs) != 1:
            name = "latent" if reads == "latent" else spec.input.input_name
            raise BadRequest(f'"inputs": this model has one input, {name!r}')
        inputs = next(iter(inputs.values()))
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest('"inputs" must be a non-empty list (one entry per example)')
    return inputs


def _unwrap(value: Any, name: str) -> Any:
    """`{name: value}` → value for single-input models (TF Serving accepts both)."""
    if isinstance(value, dict) and set(value) == {name}:
        return value[name]
    return value


def batches(rows: list, spec: DataSpec, label: str | None = None) -> list[dict[str, np.ndarray]]:
    """Model batches for the rows: one per image (images keep their own sizes), else one for all.
    A table row may carry the `label` column, as the CSVs `predict` reads may: it is not read."""
    reads, name = spec.input.reads, spec.input.input_name
    if reads == "table":
        return [_table(rows, spec, label)]
    values = [_unwrap(r, name) for r in rows]
    if reads == "image":
        return [{name: _image(v, i, spec)[None]} for i, v in enumerate(values)]
    if reads == "text":
        bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
        if bad:
            raise BadRequest(f"instance {bad[0]}: this run reads text; send a string")
        for i, v in enumerate(values):
            _unicode(v, f"instance {i}")
        return [{name: np.array(values, dtype=str)}]
    try:
        array = np.array(values, dtype=np.float32 if reads == "series" else spec.input.dtype)
    except (ValueError, TypeError):
        raise BadRequest("instances must be numbers (nested lists of one shape)") from None
    expected = tuple([spec.input.window] if reads == "series" else spec.input.shape)
    if array.shape[1:] != expected:
        raise BadRequest(f"each instance must have shape {list(expected)}; got {list(array.shape[1:])}")
    if not np.isfinite(array.astype(np.float64)).all():
        raise BadRequest("instances hold NaN or infinite values")
    return [{name: array}]


def latents(rows: list, latent_dim: int, num_classes: int) -> list[dict[str, np.ndarray]]:
    """A GAN generator's batch: each instance a latent vector, or `{"latent": [...], "label": class index}`
    (a conditional GAN needs the label)."""
    vectors, labels = [], []
    for i, row in enumerate(rows):
        row = row if isinstance(row, dict) else {"latent": row}
        if set(row) - {"latent", "label"}:
            raise BadRequest(f'instance {i}: a generator reads "latent" (and "label"); got {sorted(row)}')
        try:
            vector = np.array(row.get("latent"), dtype=np.float32)
        except (ValueError, TypeError):
            raise BadRequest(f"instance {i}: the latent must be {latent_dim} numbers") from None
        if vector.shape != (latent_dim,) or not np.isfinite(vector).all():
            raise BadRequest(f"instance {i}: the latent must be {latent_dim} finite numbers")
        vectors.append(vector)
        if num_classes:
            label = row.get("label")
            if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < num_classes:
                top = num_classes - 1
                raise BadRequest(f'instance {i}: a conditional generator needs "label", a class index 0-{top}')
            labels.append(label)
    batch = {"latent": np.stack(vectors)}
    if num_classes:
        batch["label"] = np.array(labels, dtype=np.int32)
    return [batch]


def _image(value: Any, index: int, spec: DataSpec) -> np.ndarray:
    """One image as 0-255 float32 pixels (height, width, channels), at its own size."""
    import tensorflow as tf

    channels = spec.input.channels
    if isinstance(value, dict) and set(value) == {"b64"}:
        try:
            data = base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise BadRequest(f'instance {index}: "b64" is not base64') from None
        _check_size(data, index)
        try:
            pixels = tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()
        except tf.errors.OpError:
            raise BadRequest(f"instance {index}: not an image TensorFlow can decode (PNG, JPEG, GIF, BMP)") from None
        return pixels.astype(np.float32)
    try:
        pixels = np.array(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise BadRequest(f'instance {index}: send {{"b64": <an encoded image>}} or nested lists of pixels') from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] != channels or min(pixels.shape[:2]) < 1:
        raise BadRequest(f"instance {index}: pixels of shape {list(pixels.shape)}; this run takes "
                         f"(height, width, {channels})")  # fmt: skip
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
        raise BadRequest(f"instance {index}: pixels must be 0-255")
    return pixels


def _table(rows: list, spec: DataSpec, label: str | None = None) -> dict[str, np.ndarray]:
    """Rows by column name (any order; a missing value may be null or absent), encoded as the CSV is."""
    names = [c.name for c in spec.input.columns]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"instance {i}: a table row is an object of column: value; the model reads {names}")
        extra = [k for k in row if k not in names and k not in spec.input.other_columns and k != label]
        if extra:
            raise BadRequest(f"instance {i}: unknown column(s) {', '.join(map(repr, extra))}; the model reads {names}")
    columns = [tuple("" if r.get(n) is None else str(r[n]) for r in rows) for n in names]
    for name, values in zip(names, columns):
        for i, v in enumerate(values):
            _unicode(v, f"instance {i}, column {name!r}")
    try:
        table = typed_table(names, columns, {c.name: c.type for c in spec.input.columns}, "request")
    except Exception as exc:  # a UserError naming the column and value
        raise BadRequest(str(exc)) from None
    return model_batch(table)


def _check_size(data: bytes, index: int) -> None:
    """A few hundred KB of PNG can decode to gigabytes: the header's size is checked before decoding."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return  # TensorFlow's decoder gives the reason
    if width * height > MAX_PIXELS:
        raise BadRequest(f"instance {index}: a {width}x{height} image ({width * height:,} pixels) is above the "
                         f"limit of {MAX_PIXELS:,} (MLCLI_SERVE_MAX_PIXELS)")  # fmt: skip


def _unicode(text: str, where: str) -> None:
    """JSON may carry lone UTF-16 surrogates ("\\ud800"), which are not text TensorFlow can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{where}: not valid Unicode (an unpaired surrogate)") from None


def response(outputs: np.ndarray, columnar: bool) -> dict:
    """TF Serving's answer: `predictions` (row format) or `outputs` (columnar), one entry per instance."""
    values = np.asarray(outputs, dtype=np.float64).round(7).tolist()
    return {"outputs": values} if columnar else {"predictions": values}
