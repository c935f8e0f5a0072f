"""Any TFDS dataset by name; image, text and label features found from `info.features`.

TFDS retries a failed download for minutes. We check the network in a few seconds first and,
when it is not there, say how to prepare the data elsewhere and point `data_dir` at it.
"""

from __future__ import annotations

import difflib
import socket

from mlcli.config.data import TfdsData
from mlcli.data.files import plain
from mlcli.data.raw import RawData
from mlcli.data.sources.registry import SOURCES
from mlcli.errors import UserError

PROBE_HOST, PROBE_PORT, PROBE_TIMEOUT_S = "storage.googleapis.com", 443, 5.0


def network_available() -> bool:
    """A short TCP connect to the host TFDS downloads from; False within seconds when offline."""
    try:
        with socket.create_connection((PROBE_HOST, PROBE_PORT), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _builder(cfg: TfdsData):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(cfg.name, data_dir=cfg.data_dir, try_gcs=False)
    except tfds.core.registered.DatasetNotFoundError:
        names = tfds.list_builders(with_community_datasets=False)
        guess = difflib.get_close_matches(cfg.name, names, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(guess)}?" if guess else ""
        raise UserError(f"data.name: unknown TFDS dataset {cfg.name!r}{hint} (see `tfds.list_builders()`)") from None


def _prepare(builder, cfg: TfdsData) -> None:
    if builder.is_prepared():
        return
    where = cfg.data_dir or "~/tensorflow_datasets"
    how = (
        f'prepare it on a machine with network (`python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('{cfg.name}').download_and_prepare()\"`), copy ~/tensorflow_datasets here, and set "
        f"data.data_dir to it"
    )
    if not cfg.download:
        raise UserError(f"TFDS dataset {cfg.name!r} is not prepared in {where} and data.download is false; {how}")
    if not network_available():
        raise UserError(f"TFDS dataset {cfg.name!r} is not in {where} and there is no network to download it; {how}")
    builder.download_and_prepare()


def _feature_keys(info, cfg: TfdsData) -> tuple[str, str, str]:
    import tensorflow_datasets as tfds

    features = info.features
    supervised = info.supervised_keys or (None, None)
    label = cfg.label_key or next(
        (k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), supervised[1]
    )
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    texts = [k for k, f in features.items() if isinstance(f, tfds.features.Text)]
    key = cfg.image_key or cfg.text_key or (images[0] if images else texts[0] if texts else supervised[0])
    if key is None or key not in features:
        raise UserError(f"TFDS dataset {cfg.name!r} has no image or text feature (features: {', '.join(features)})")
    if label is None or label not in features:
        raise UserError(f"TFDS dataset {cfg.name!r} has no class label feature; set data.label_key")
    kind = "image" if isinstance(features[key], tfds.features.Image) else "text"
    return key, label, kind


def _carve_val(train, fraction: float):
    """The last `fraction` of the train split (in TFDS' file order) becomes val, sliced or not."""
    total = int(train.cardinality())
    n_val = int(round(total * fraction))
    if n_val < 1 or total - n_val < 1:
        raise UserError(
            f"data.val_fraction: {fraction} of the {total} training examples leaves no validation or no "
            "training data; change data.val_fraction or give data.splits.val"
        )
    return train.take(total - n_val), train.skip(total - n_val)


@SOURCES.register("tfds")
def load(cfg: TfdsData, seed: int) -> RawData:
    import tensorflow as tf

    builder = _builder(cfg)
    _prepare(builder, cfg)
    key, label, kind = _feature_keys(builder.info, cfg)

    def split(name: str | None):
        if name is None:
            return None
        try:
            ds = builder.as_dataset(split=name, shuffle_files=False)
        except (ValueError, KeyError) as exc:
            raise UserError(f"data.splits: bad TFDS split {name!r} for {cfg.name}: {exc}") from None
        ds = ds.map(plain(lambda ex: (ex[key], tf.cast(ex[label], tf.int32))), num_parallel_calls=tf.data.AUTOTUNE)
        return ds

    names = builder.info.features[label].names
    train, val = split(cfg.splits.train), split(cfg.splits.val)
    if val is None and cfg.val_fraction > 0:
        train, val = _carve_val(train, cfg.val_fraction)
    sets = [train, val, split(cfg.splits.test)]
    sizes = tuple(int(s.cardinality()) if s is not None else 0 for s in sets)
    return RawData(kind, "classification", *sets, class_names=list(names), sizes=sizes)
