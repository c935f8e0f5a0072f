"""CSV tables as users have them: numeric, string-category, integer-category and text columns, missing
values, string labels, separate files in another column order; checked against scikit-learn."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli

CITIES = ["Zürich", "東京", "São Paulo", "Kraków", "القاهرة", "Reykjavík"]
NOTES = ["paid late twice", "toujours à l'heure, client fidèle", "nouveau client sans historique", "pays on time"]
COLUMNS = ["city", "income (€)", "grade", "note", "age", "label"]


def rows(n: int, seed: int) -> list[dict]:
    """A churn-like table whose label depends on every column type (and missing income is informative)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        city, grade, note = rng.choice(CITIES[:5]), int(rng.integers(1, 5)), rng.choice(NOTES)
        age, income = rng.normal(40, 10), rng.normal(50, 12)
        hidden = rng.random() < 0.15
        score = (
            1.2 * (city in ("Zürich", "東京")) - 0.8 * (city == "Kraków") + 0.7 * (grade - 2.5)
            + (age - 40) / 10 + (income - 50) / 12 - 1.5 * ("late" in note) - 1.0 * hidden + rng.normal(0, 0.4)
        )  # fmt: skip
        out.append({
            "city": city, "income (€)": "" if hidden else f"{income:.2f}", "grade": grade, "note": note,
            "age": "NA" if rng.random() < 0.1 else f"{age:.1f}", "label": "stays" if score > 0 else "leaves",
        })  # fmt: skip
    return out


def write(path: Path, table: list[dict], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table)
    return path


def gradient_boosting_accuracy(train: list[dict], test: list[dict]) -> float:
    """scikit-learn's HistGradientBoosting on the same rows: categories ordinal-encoded, NaN for missing."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OrdinalEncoder

    def numeric(table, column):
        return np.array([float(r[column]) if r[column] not in ("", "NA") else np.nan for r in table])

    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    cats = enc.fit_transform([[r["city"], r["grade"], r["note"]] for r in train])

    def features(table, encoded):
        return np.column_stack([encoded, numeric(table, "income (€)"), numeric(table, "age")])

    model = HistGradientBoostingClassifier(categorical_features=[0, 1, 2], random_state=0)
    model.fit(features(train, cats), [r["label"] for r in train])
    test_x = features(test, enc.transform([[r["city"], r["grade"], r["note"]] for r in test]))
    return float(np.mean(model.predict(test_x) == np.array([r["label"] for r in test])))


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> tuple[Path, Path, list[dict], list[dict]]:
    root = tmp_path_factory.mktemp("table")
    train, test = rows(1500, 0), rows(500, 1)
    write(root / "train.csv", train, COLUMNS)
    write(root / "test.csv", test, ["label", "age", "note", "city", "grade", "income (€)"])  # another order
    config = root / "table.yaml"
    config.write_text(
        f"name: churn\nseed: 3\ndata: {{source: csv, path: {root / 'train.csv'}, test_path: {root / 'test.csv'}, "
        "label: label, batch_size: 32}\nmodel: {type: mlp, layers: [32], dropout: 0.1}\n"
        "optimizer: {learning_rate: 0.01}\ntraining: {epochs: 12, tensorboard: false, plots: false}\n",
        encoding="utf-8",
    )
    result = cli("train", config, "--run-dir", root / "run", "--quiet")
    assert result.exit_code == 0, result.output
    return root / "run", root, train, test


def test_mixed_table_is_typed_and_trains_close_to_gradient_boosting(table_run):
    run, root, train, test = table_run
    spec = json.loads((run / "data_spec.json").read_text(encoding="utf-8"))
    columns = {c["name"]: c for c in spec["input"]["columns"]}
    # grade 1-4 is a run of integers (ordinal): numeric; city strings: categories; note averages 3 words: text
    assert {n: c["type"] for n, c in columns.items()} == {
        "city": "categorical", "income (€)": "numeric", "grade": "numeric", "note": "text", "age": "numeric"
    }  # fmt: skip
    assert columns["income (€)"]["key"] == "income" and columns["income (€)"]["missing_indicator"]
    present = [float(r["income (€)"]) for r in train if r["income (€)"]]
    assert abs(columns["income (€)"]["impute"] - np.mean(present)) < 0.5  # train split only: ~90 % of the rows
    assert spec["class_names"] == ["leaves", "stays"]
    accuracy = json.loads((run / "summary.json").read_text())["test"]["accuracy"]
    baseline = gradient_boosting_accuracy(train, test)
    print(f"mlcli mlp test accuracy {accuracy:.4f}; scikit-learn gradient boosting {baseline:.4f}")
    assert accuracy >= baseline - 0.04, (accuracy, baseline)


def test_predict_takes_raw_rows_by_name_in_any_order(table_run, tmp_path: Path):
    run, root, _, test = table_run
    outputs = []
    for order in (COLUMNS, COLUMNS[::-1], ["note", "age", "city", "income (€)", "grade"]):  # label optional
        path = write(tmp_path / f"rows{len(outputs)}.csv", test, order)
        result = cli("predict", run, path, "--top-k", "1", "--out", tmp_path / f"p{len(outputs)}.json")
        assert result.exit_code == 0, result.output
        outputs.append(json.loads((tmp_path / f"p{len(outputs)}.json").read_text(encoding="utf-8")))
    for rows in outputs:  # the file's other columns (the label here) are written next to each prediction
        assert [r.get("label") for r in rows[:3]] == ([r["label"] for r in test[:3]] if "label" in rows[0] else
                                                      [None] * 3)  # fmt: skip
    predictions = [[r["predictions"] for r in rows] for rows in outputs]
    assert predictions[0] == predictions[1] == predictions[2]
    predicted = [p["predictions"][0]["class"] for p in outputs[0]]
    accuracy = float(np.mean(np.array(predicted) == np.array([r["label"] for r in test])))
    assert abs(accuracy - json.loads((run / "summary.json").read_text())["test"]["accuracy"]) < 1e-9
    unseen = [{**test[0], "city": "Reykjavík", "age": "", "income (€)": "?"}]  # unknown category, all missing
    result = cli("predict", run, write(tmp_path / "unseen.csv", unseen, COLUMNS), "--top-k", "1")
    assert result.exit_code == 0 and ("stays" in result.output or "leaves" in result.output), result.output


@pytest.mark.parametrize(
    ("columns", "edit", "message"),
    [
        (["city", "grade", "note", "age"], None, "missing column(s) 'income (€)'"),
        ([*COLUMNS, "zip"], None, "unexpected column(s) 'zip'"),
        (COLUMNS, {"age": "forty"}, "column 'age' is numeric but has the value 'forty'"),
    ],
)
def test_predict_rejects_rows_it_cannot_read(table_run, tmp_path: Path, columns, edit, message):
    run, _, _, test = table_run
    table = [{**r, "zip": "8000", **(edit or {})} for r in test[:3]]
    result = cli("predict", run, write(tmp_path / "bad.csv", table, columns))
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize(
    ("csv_text", "extra", "message"),
    [
        ("a,b,label\n1,2,x\n\n3,4\n", "", "t.csv: line 4 has 2 fields; the header has 3"),  # blank line counted
        ("a,b,label\n1,2,x\n3,4,\n5,6,y\n", ", missing_labels: refuse",
         "1 row(s) have no value in the label column 'label'"),  # fmt: skip
        ("a,b,label\n1,x,x\n3,y,y\n", ", columns: {b: numeric}", "column 'b' is numeric but has the value 'x'"),
        ("a,b,label\n1,2,x\n3,4,y\n", ", columns: {c: text}", "data.columns.c: no column 'c' in"),
    ],
)
def test_bad_tables_are_exit_2_with_the_reason(tmp_path: Path, csv_text: str, extra: str, message: str):
    (tmp_path / "t.csv").write_text(csv_text, encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: t\ndata: {{source: csv, path: {tmp_path / 't.csv'}, label: label{extra}}}\nmodel: {{type: mlp}}\n"
    )
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run").exists()  # a data error is found before the run directory is made


def test_validate_names_a_non_utf8_byte_and_a_test_file_short_of_a_column(tmp_path: Path):
    rows = "city,income,label\n" + "".join(f"{c},{i},{'ab'[i % 2]}\n" for i, c in enumerate(["Bern", "Zürich"] * 9))
    (tmp_path / "latin1.csv").write_bytes(rows.encode("latin-1"))  # the header itself is plain ASCII
    (tmp_path / "t.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "nocity.csv").write_text("".join(",".join(r.split(",")[1:]) + "\n" for r in rows.splitlines()))
    for data, message in (
        (f"path: {tmp_path / 'latin1.csv'}", "latin1.csv: not UTF-8 (byte 0xfc on line 3); save it as UTF-8"),
        (f"path: {tmp_path / 't.csv'}, test_path: {tmp_path / 'nocity.csv'}",
         "data.test_path: no column(s) 'city' in "),
    ):  # fmt: skip
        config = tmp_path / "c.yaml"
        config.write_text(f"name: t\ndata: {{source: csv, {data}, label: label}}\nmodel: {{type: mlp}}\n")
        result = cli("validate", config)  # it printed `ok`, and train failed after making the run directory
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_table_needs_the_mlp_family(tmp_path: Path):
    write(tmp_path / "t.csv", rows(40, 0), COLUMNS)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: t\ndata: {{source: csv, path: {tmp_path / 't.csv'}, label: label}}\nmodel: {{type: rnn}}\n"
    )
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 2 and "'rnn' cannot read table inputs; use mlp" in result.output
