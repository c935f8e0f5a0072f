"""A GAN quality number that means something, computed the same way for real and generated images.

A small CNN classifier is trained on the real training images (cached in `quality/`). Each image
set is scored by (1) the classifier's mean confidence, (2) class coverage: the share of classes
that are the top prediction for at least 1 % of the set, and (3) a Fréchet distance between
Gaussians fitted to the classifier's penultimate features of that set and of the real training
images (FID, with our classifier in place of Inception). Held-out real images give the reference
numbers a perfect generator would reach; an untrained generator scores far worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlcli.data import load_dataset
from mlcli.data.pipeline import with_spec_files
from mlcli.data.raw import split_arrays
from mlcli.errors import UserError
from mlcli.fileio import atomic_write

EVAL_SEED = 1234
CLASSIFIER_EPOCHS = 20
COVERAGE_SHARE = 0.01


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2); the trace of the root from eigenvalues."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s_a @ s_b)
    root_trace = float(np.sum(np.sqrt(np.clip(eig.real, 0, None))))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * root_trace)


def _to_model_range(images: np.ndarray) -> np.ndarray:
    return images.astype("float32") / 127.5 - 1.0


def _classifier(path: Path, x: np.ndarray, y: np.ndarray, num_classes: int, seed: int):
    import keras

    if path.is_file():
        return keras.models.load_model(path)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(64, activation="relu", name="features"),
            keras.layers.Dense(num_classes),
        ]
    )
    model.compile(
        keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(_to_model_range(x), y, batch_size=64, epochs=CLASSIFIER_EPOCHS, verbose=0, shuffle=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: model.save(tmp), suffix=".keras")
    return model


def probabilities(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def score_images(classifier, features_model, images: np.ndarray, reference: np.ndarray, num_classes: int) -> dict:
    x = _to_model_range(images)
    probs = probabilities(np.asarray(classifier.predict(x, verbose=0, batch_size=256)))
    counts = np.bincount(probs.argmax(axis=1), minlength=num_classes)
    feats = np.asarray(features_model.predict(x, verbose=0, batch_size=256))
    return {
        "mean_confidence": float(probs.max(axis=1).mean()),
        "class_coverage": float(np.mean(counts >= COVERAGE_SHARE * len(images))),
        "frechet_distance": frechet_distance(feats, reference),
        "samples": int(len(images)),
    }


def evaluate_gan(run: Any, gan, split: str) -> dict:
    import keras

    bundle = load_dataset(run.cfg, run.spec)
    train_x, train_y = split_arrays(with_spec_files(bundle.raw.train, run.spec))
    held_x, held_y = split_arrays(with_spec_files(bundle.split(split), run.spec))
    if not len(held_x):
        raise UserError(f"{run.path}: this run's data has no {split} split to compare against")
    if train_y is None or run.spec.num_classes < 2:
        raise UserError(f"{run.path}: the GAN quality score needs class labels in the training data")
    classifier = _classifier(
        run.path / "quality" / "classifier.keras", train_x, train_y, run.spec.num_classes, run.cfg.seed
    )
    features_model = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    reference = np.asarray(features_model.predict(_to_model_range(train_x), verbose=0, batch_size=256))
    num = len(held_x)
    labels = np.random.default_rng(EVAL_SEED).integers(0, gan.num_classes, num) if gan.num_classes else None
    generated = gan.generate(num, EVAL_SEED, labels)
    classes = run.spec.num_classes
    accuracy = float(np.mean(np.asarray(classifier.predict(_to_model_range(held_x), verbose=0)).argmax(1) == held_y))
    return {
        "classifier_accuracy_on_real": accuracy,
        "generated": score_images(classifier, features_model, generated, reference, classes),
        f"real_{split}": score_images(classifier, features_model, held_x, reference, classes),
        "method": "classifier trained on real train images; Fréchet distance of its 64-d features to train",
    }
