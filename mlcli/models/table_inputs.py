"""A table's raw columns in, one feature vector out: Keras' own preprocessing layers, in the model.

Built from the JSON state the data room fitted on the training split (means, vocabularies), so the
checkpoint and every export take raw rows (floats with NaN for missing, strings as they are) and
reload in plain Keras. Categorical embeddings live here, inside the model, so they are trained.
"""

from __future__ import annotations

from typing import Any

import keras


def _numeric(x, col: dict) -> list:
    missing = keras.ops.isnan(x)
    filled = keras.ops.expand_dims(keras.ops.where(missing, col["impute"], x), -1)
    norm = keras.layers.Normalization(mean=[col["mean"]], variance=[col["variance"]], name=f"{col['key']}_normalized")
    parts = [norm(filled)]
    if col["missing_indicator"]:
        parts.append(keras.ops.expand_dims(keras.ops.cast(missing, "float32"), -1))
    return parts


def _categorical(x, col: dict):
    key = col["key"]
    if col["encoding"] == "one_hot":  # unknown values share one out-of-vocabulary slot
        return keras.layers.StringLookup(vocabulary=col["vocabulary"], output_mode="one_hot", name=f"{key}_lookup")(x)
    ids = keras.layers.StringLookup(vocabulary=col["vocabulary"], name=f"{key}_lookup")(x)
    return keras.layers.Embedding(len(col["vocabulary"]) + 1, col["embedding_dim"], name=f"{key}_embedding")(ids)


def _text(x, col: dict):
    settings = col["text"]
    vocabulary = [t for t in col["vocabulary"] if t != ""]  # multi-hot has no padding token
    return keras.layers.TextVectorization(
        max_tokens=settings["max_tokens"],
        output_mode="multi_hot",
        split=settings["split"],
        standardize="lower_and_strip_punctuation" if settings["lowercase"] else "strip_punctuation",
        vocabulary=vocabulary,
        name=f"{col['key']}_words",
    )(x)


def table_inputs(spec: Any) -> tuple[dict, Any]:
    """One named input per column and their concatenated encoding."""
    inputs, parts = {}, []
    for col in spec.state["columns"]:
        dtype = "float32" if col["type"] == "numeric" else "string"
        x = inputs[col["key"]] = keras.Input((), dtype=dtype, name=col["key"])
        if col["type"] == "numeric":
            parts.extend(_numeric(x, col))
        elif col["type"] == "categorical":
            parts.append(_categorical(x, col))
        else:
            parts.append(_text(x, col))
    encoded = keras.layers.Concatenate(name="encoded_columns")(parts) if len(parts) > 1 else parts[0]
    return inputs, encoded
