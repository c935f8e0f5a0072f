"""The hostile-config corpus: configs a careless user or an attacker could hand `mlcli validate`, each of
which must be refused with exit 2 and one line, quickly and in little memory. Shared by
tests/test_hostile.py (exit codes and messages) and bench_hostile_configs.py (how long each takes)."""

from __future__ import annotations

from pathlib import Path

BASE = "name: h\ndata: {source: synthetic, kind: regression, shape: [4], num_samples: 64}\nmodel: {type: mlp}\n"

# name -> (what the file holds, a word the one-line message must contain)
EXPECTED = {
    "two_megabyte_list": "bytes",
    "fifty_megabyte_string": "bytes",
    "many_nodes_under_the_size_limit": "nodes",
    "alias_bomb": "alias",
    "ten_thousand_levels": "nested",
    "fifteen_hundred_bases": "base",
    "five_thousand_digit_integer": "digits",
    "base_is_proc_environ": "system file",
    "nul_character": "character",
    "control_character": "character",
    "image_size_100000": "GiB",
    "bad_merge": "merge",
    "bad_int_tag": "not a valid int",
    "bad_float_tag": "not a valid float",
    "bad_bool_tag": "not a valid bool",
    "bad_timestamp_tag": "not a valid timestamp",
    "python_tag": "tag",
}


def write_corpus(folder: Path) -> dict[str, Path]:
    """Write every config of the corpus below `folder`; returns name -> path of the file to validate."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        "two_megabyte_list": BASE + "x-big: [" + ",".join(["1"] * 1_000_000) + "]\n",
        "fifty_megabyte_string": BASE + 'x-s: "' + "a" * 50_000_000 + '"\n',
        "many_nodes_under_the_size_limit": BASE + "x-many: [" + ",".join(["1"] * 400_000) + "]\n",
        "alias_bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                  for p, c in zip("abcdefgh", "bcdefghi"))  # fmt: skip
        + BASE,
        "ten_thousand_levels": "name: h\nx-deep: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "five_thousand_digit_integer": BASE + "seed: " + "9" * 5000 + "\n",
        "base_is_proc_environ": "base: /proc/self/environ\n" + BASE,
        "nul_character": BASE.replace("name: h", "name: h\x00"),
        "control_character": BASE.replace("name: h", "name: h\x07"),
        "image_size_100000": "name: h\ndata: {source: image_folder, path: /tmp, image_size: [100000, 100000]}\n"
        "model: {type: cnn}\n",
        "bad_merge": "x-a: &a [1]\n<<: *a\n" + BASE,
        "bad_int_tag": BASE + "training: {epochs: !!int abc}\n",
        "bad_float_tag": BASE + "optimizer: {learning_rate: !!float fast}\n",
        "bad_bool_tag": BASE + "training: {deterministic: !!bool maybe}\n",
        "bad_timestamp_tag": BASE + "x-when: !!timestamp 2020-13-45\n",
        "python_tag": BASE + "x-run: !!python/object/apply:os.system [touch /tmp/mlcli-pwned]\n",
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_bytes(text.encode("utf-8"))
    chain = folder / "chain"
    chain.mkdir(exist_ok=True)
    for i in range(1500):
        (chain / f"c{i}.yaml").write_text(f"base: c{i + 1}.yaml\n")
    (chain / "c1500.yaml").write_text(BASE)
    paths["fifteen_hundred_bases"] = chain / "c0.yaml"
    return paths
