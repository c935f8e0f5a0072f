"""Model builders: parity with the hand-written seed models, shapes, save/reload, bad input."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from mlcli.config import load_config, load_config_text
from mlcli.errors import ConfigError
from mlcli.models import build_model
from mlcli.spec import DataSpec
from tests.conftest import ROOT, cli
from tests.specs import features_spec, image_spec, series_spec, tokens_spec


def same_function(ours: keras.Model, hand: keras.Model, x: np.ndarray) -> np.ndarray:
    """Copy our weights into the hand-written model (layer order is the same) and return both outputs:
    equal parameter counts alone would not show the two compute the same function."""
    assert ours.count_params() == hand.count_params()
    hand.set_weights(ours.get_weights())
    return ours(x, training=False).numpy(), hand(x, training=False).numpy()


def test_mnist_cnn_matches_hand_written_keras():
    hand = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    ours = build_model(load_config(ROOT / "configs/cnn_mnist.yaml"), image_spec((28, 28, 1)))
    assert hand.count_params() == 225_034
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    logits, probs = same_function(ours, hand, x)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probs, rtol=1e-5, atol=1e-6)


def test_cifar10_cnn_matches_hand_written_keras():
    hand = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    ours = build_model(load_config(ROOT / "configs/cnn_cifar10.yaml"), image_spec((32, 32, 3)))
    assert hand.count_params() == 122_570
    x = np.random.default_rng(0).uniform(size=(3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(*same_function(ours, hand, x), rtol=1e-5, atol=1e-6)


def test_stacked_lstm_matches_hand_written_keras():
    """The tutorial's stacked LSTM, plus mlcli's forecast framing written out by hand: the window is fed
    relative to its last value in step units, and the head's output is a change added back to it."""
    hand_body = keras.Sequential(
        [keras.Input((10, 1)), keras.layers.LSTM(64, return_sequences=True), keras.layers.LSTM(64),
         keras.layers.Dense(1)]
    )  # fmt: skip
    step = 0.37
    ours = build_model(load_config(ROOT / "configs/lstm_stacked.yaml"), series_spec(10, step_std=step))
    assert ours.count_params() == hand_body.count_params() == 49_985
    hand_body.set_weights(ours.get_weights())
    x = np.cumsum(np.random.default_rng(0).normal(size=(4, 10, 1)), axis=1).astype("float32")
    relative = (x - x[:, -1:, :]) / step
    expected = hand_body(relative).numpy() * step + x[:, -1, :]
    np.testing.assert_allclose(ours(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_dense_mlp_matches_hand_written_keras():
    hand = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(10, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )
    spec = features_spec(8, ["0", "1"])  # binary: one logit, as by hand
    ours = build_model(load_config(ROOT / "configs/mlp_tabular.yaml"), spec)
    assert hand.count_params() == 101
    x = np.random.default_rng(0).normal(size=(5, 8)).astype("float32")
    logit, prob = same_function(ours, hand, x)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), prob, rtol=1e-5, atol=1e-6)


FAMILIES = [
    (
        "cnn-residual",
        "{type: cnn, blocks: [{filters: 8, batch_norm: true}, {filters: 16, residual: true, convs: 2}], "
        "head: global_avg, dense: [8], dropout: 0.1, regularizer: {l2: 0.001}}",
        image_spec((32, 32, 3), 4),
        (4,),
    ),
    (
        "cnn-grey-28",
        "{type: cnn, blocks: [{filters: 4, strides: 2, padding: same}], head: global_max}",
        image_spec((28, 28, 1)),
        (10,),
    ),
    (
        "mlp",
        "{type: mlp, layers: [16, 8], batch_norm: true, dropout: 0.2, regularizer: {l1: 0.001}}",
        features_spec(5),
        (1,),
    ),
    (
        "gru-tokens",
        "{type: rnn, cell: gru, units: [8, 8], bidirectional: true, embedding_dim: 8}",
        tokens_spec(12, list("abc"), 50),
        (3,),
    ),
    (
        "lstm-forecast",
        "{type: rnn, units: [8], dense: [4]}",
        series_spec(6, 3),
        (3,),
    ),
    (
        "transformer-prenorm",
        "{type: transformer, embed_dim: 16, num_heads: 4, ff_dim: 16, num_layers: 2}",
        tokens_spec(12, list("abc"), 50),
        (3,),
    ),
    (
        "transformer-postnorm",
        "{type: transformer, embed_dim: 8, num_heads: 2, norm_first: false, pooling: max}",
        series_spec(6, 1),
        (1,),
    ),
]


def _batch(spec: DataSpec) -> np.ndarray:
    rng = np.random.default_rng(0)
    if spec.vocab_size:
        x = rng.integers(1, spec.vocab_size, (4, *spec.input_shape)).astype(np.int32)
        x[:, -3:] = 0  # padding, masked
        return x
    return rng.normal(size=(4, *spec.input_shape)).astype(np.float32)


@pytest.mark.parametrize("name, model, spec, out_shape", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_output_shape_and_reload(tmp_path: Path, name, model, spec, out_shape):
    cfg = load_config_text(f"name: t\ndata: {{source: npz, path: any.npz}}\nmodel: {model}\n")
    built = build_model(cfg, spec)
    x = _batch(spec)
    y = built(x, training=False).numpy()
    assert y.shape == (4, *out_shape) and np.isfinite(y).all()
    assert built.layers[-1].dtype_policy.name == "float32" or built.layers[-1].dtype == "float32"
    path = tmp_path / "m.keras"
    built.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(x, training=False).numpy(), y)


def test_padding_is_masked_in_transformer():
    """The pooled vector is the mean over real tokens only: padding (id 0) is masked out."""
    spec = tokens_spec(8, list("ab"), 20)
    cfg = load_config_text(
        "name: t\ndata: {source: builtin, name: co2}\n"
        "model: {type: transformer, embed_dim: 8, num_heads: 2, dropout: 0.0}\n"
    )
    model = build_model(cfg, spec)
    tokens = np.array([[3, 4, 5, 0, 0, 0, 0, 0]], np.int32)
    seq, pool = _sequence_and_pooled(model, tokens)
    np.testing.assert_allclose(pool[0], seq[0, :3].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(pool[0], seq[0].mean(axis=0), atol=1e-4)


def test_transformer_max_pooling_ignores_padding():
    """With `pooling: max` the pooled vector is the max over real tokens, never over padding."""
    keras.utils.set_random_seed(0)
    spec = tokens_spec(8, list("ab"), 20)
    cfg = load_config_text(
        "name: t\ndata: {source: builtin, name: co2}\n"
        "model: {type: transformer, embed_dim: 8, num_heads: 2, dropout: 0.0, pooling: max}\n"
    )
    model = build_model(cfg, spec)
    tokens = np.array([[3, 4, 5, 0, 0, 0, 0, 0]], np.int32)
    seq, pool = _sequence_and_pooled(model, tokens)
    np.testing.assert_allclose(pool[0], seq[0, :3].max(axis=0), rtol=1e-6)
    assert not np.allclose(pool[0], seq[0].max(axis=0))
    same = keras.models.load_model(_saved(model), compile=False)
    np.testing.assert_allclose(same(tokens).numpy(), model(tokens).numpy(), rtol=1e-6)


def _sequence_and_pooled(model, tokens):
    """The encoder's output sequence and the pooling layer's output for `tokens`."""
    sequence = model.get_layer("final_norm").output
    pooled = model.get_layer("pooled").output
    return (t.numpy() for t in keras.Model(model.inputs, [sequence, pooled])(tokens))


def _saved(model):
    import tempfile

    path = tempfile.mkdtemp() + "/m.keras"
    model.save(path)
    return path


def test_cnn_too_deep_for_input_is_config_error_at_build():
    cfg = load_config_text(
        "name: t\ndata: {source: tfds, name: mnist}\n"
        "model: {type: cnn, blocks: [{filters: 4}, {filters: 4}, {filters: 4}, {filters: 4}]}\n"
    )
    with pytest.raises(ConfigError, match=r"model.blocks.3: block 3 shrinks the 1x1 .*input 28x28x1"):
        build_model(cfg, image_spec((28, 28, 1)))


@pytest.mark.parametrize(
    "model, message",
    [
        ("{type: mlp, activation: relux}", "Input should be 'relu'"),
        ("{type: cnn, blocks: [{filters: 4, pooling: mean}]}", "Input should be 'max', 'avg' or 'none'"),
        ("{type: rnn, cell: rnn}", "Input should be 'lstm' or 'gru'"),
        ("{type: transformer, embed_dim: 10, num_heads: 3}", "divisible by num_heads"),
    ],
)
def test_bad_model_config_exits_2_before_tensorflow(tmp_path: Path, model: str, message: str):
    config = tmp_path / "c.yaml"
    config.write_text(f"name: t\ndata: {{source: synthetic, kind: tokens, shape: [8]}}\nmodel: {model}\n")
    result = cli("validate", config)
    assert result.exit_code == 2 and message in result.output
