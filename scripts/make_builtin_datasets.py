"""Regenerate the datasets shipped in mlcli/data/shipped/ from their upstream copies.

digits: the 1,797 8x8 UCI optdigits images as copied in scikit-learn (CC BY 4.0), rescaled from
0-16 to uint8 0-255, with a fixed stratified 80/20 train/test split (random_state=0).
co2: NOAA Mauna Loa weekly CO2 as shipped by statsmodels (public domain), with its 59 missing
weeks filled by linear interpolation in time.

Needs the dev extra (scikit-learn, statsmodels); run: python scripts/make_builtin_datasets.py [OUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "mlcli" / "data" / "shipped"


def make_digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.2, stratify=labels, random_state=0)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def make_co2() -> str:
    import statsmodels.api as sm

    frame = sm.datasets.co2.load_pandas().data
    frame = frame.interpolate(method="time")
    lines = ["date,co2"] + [f"{d.date().isoformat()},{v:.2f}" for d, v in zip(frame.index, frame["co2"])]
    return "\n".join(lines) + "\n"


def main(out: Path = DEFAULT_OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "digits.npz", **make_digits())
    (out / "co2.csv").write_text(make_co2())
    print(f"wrote {out / 'digits.npz'} and {out / 'co2.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
