"""results.json → benchmarks/RESULTS.md and the generated blocks of README.md. Nothing here measures;
every figure it writes is one a benchmark script stored (command, date, machine and rounds beside it).

README blocks sit between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; text outside them is
written by hand and carries no figures. python benchmarks/render.py
"""

from __future__ import annotations

import json
import re

from common import RESULTS, ROOT

TARGETS = {"mlcli/tutorial": 1.5, "mlcli/expert": 0.98, "tutorial/mlcli": 1.2}


def spread(s: dict, fmt: str = "{:,.0f}", unit: str = "") -> str:
    """`median (min–max)`, the one way figures are quoted."""
    return f"{fmt.format(s['median'])}{unit} ({fmt.format(s['min'])}–{fmt.format(s['max'])})"


def provenance(section: dict) -> str:
    m = section["machine"]
    v = ", ".join(f"{k} {x}" for k, x in section["versions"].items())
    rounds = f"; {section['rounds']} rounds" if section.get("rounds") else ""
    at = f" at commit {section['commit']}" if section.get("commit") else ""
    return f"`{section['command']}` on {section['date']}{at}: {m['cores']} cores ({m['cpu']}), {v}{rounds}."


def vs_keras(section: dict) -> list[str]:
    lines = []
    for case, r in section["results"].items():
        if case == "matmul_gflops_runs":
            continue
        lines += [
            f"**{r.get('case', case)}** ({r['train_samples']:,} training and {r['val_samples']:,} validation "
            f"images, batch {r.get('batch_size', 128)}, {r['epochs']} epochs; throughput over epochs 2–{r['epochs']}, "
            "validation and "
            "per-epoch writes included):",
            "",
            "| side | samples/s | whole command, s | peak RSS, MiB | GFLOP/s | of matmul peak |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        e = r["efficiency"]
        for side, label in (("mlcli", "mlcli (defaults: checkpoints, TensorBoard)"), ("tutorial", "tutorial Keras"),
                            ("expert", "expert Keras")):  # fmt: skip
            lines.append(
                f"| {label} | {spread(r['samples_per_s'][side])} | {spread(r['wall_s'][side], '{:.1f}')} | "
                f"{r['peak_rss_mib'][side]['median']:,.0f} | {e['achieved_gflops'][side]:.1f} | "
                f"{e['fraction_of_matmul'][side]:.0%} |"
            )
        t, w = r["throughput_ratio"], r["wall_speedup"]
        lines += [
            "",
            f"- throughput mlcli / tutorial: **{spread(t['mlcli/tutorial'], '{:.2f}', '×')}** (target ≥ 1.5×); "
            f"mlcli / expert: **{spread(t['mlcli/expert'], '{:.2f}', '×')}** (target ≥ 0.98×)",
            f"- wall time tutorial / mlcli: **{spread(w['tutorial/mlcli'], '{:.2f}', '×')}** (target ≥ 1.2×); "
            f"expert / mlcli: {spread(w['expert/mlcli'], '{:.2f}', '×')}",
            f"- one training sample costs {e['train_flops_per_sample'] / 1e6:.1f} MFLOP (3× the forward pass); "
            f"TensorFlow's float32 matmul reaches {e['matmul_gflops']:.0f} GFLOP/s on this machine in the same run",
            "",
        ]
    return lines


def epoch_writes(section: dict, vs: dict | None = None) -> list[str]:
    """Per-epoch durable writes, and their share of an mlcli epoch where bench_vs_keras measured one."""
    lines = ["| model | parameters | model.keras, MiB | writes per epoch end, ms | share of an mlcli epoch |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for case, r in section["results"].items():
        share = "not measured"
        measured = [k for k in (case, f"{case}, batch 128") if vs and k in vs["results"]]
        if measured:
            v = vs["results"][measured[0]]
            epoch_ms = 1000 * v["train_samples"] / v["samples_per_s"]["mlcli"]["median"]
            share = f"{r['ms_per_epoch']['median'] / epoch_ms:.1%} of {epoch_ms / 1000:.1f} s"
        lines.append(f"| {case} | {r['parameters']:,} | {r['model_keras_mib']:.1f} | "
                     f"{spread(r['ms_per_epoch'])} | {share} |")  # fmt: skip
    return lines


def startup(section: dict) -> list[str]:
    lines = ["| command | median s (min–max) | target |", "| --- | --- | --- |"]
    targets = {"mlcli --help": "≤ 0.3", "mlcli validate configs/cnn_cifar10.yaml": "≤ 0.5"}
    phases = {}
    for name, r in section["results"].items():
        if name in targets:
            lines.append(f"| `{name}` | {spread(r, '{:.3f}')} | {targets[name]} |")
        else:
            phases = (name, r)
    if phases:
        name, r = phases
        total = sum(p["median"] for p in r.values())
        lines += ["", f"`{name.split(':')[0]}` before its first steps finish ({total:.1f} s in all, medians):", "",
                  "| phase | seconds (min–max) |", "| --- | --- |"]  # fmt: skip
        lines += [f"| {phase} | {spread(p, '{:.2f}')} |" for phase, p in r.items()]
    return lines


def autos(section: dict) -> list[str]:
    lines = ["| setting | data | value | samples/s | vs `auto` |", "| --- | --- | --- | --- | --- |"]
    for setting, cases in section["results"].items():
        for case, variants in cases.items():
            for value, r in variants.items():
                lines.append(f"| `{setting}` | {case} | {value} | {spread(r['samples_per_s'])} | "
                             f"{spread(r['rate_vs_auto'], '{:.2f}', '×')} |")  # fmt: skip
    return lines


def time_to_accuracy(section: dict) -> list[str]:
    r = section["results"]
    lines = ["| epochs | test accuracy | whole command, s |", "| --- | --- | --- |"]
    for epochs, row in r["by_epochs"].items():
        lines.append(f"| {epochs} | {spread(row['test_accuracy'], '{:.2%}')} | {spread(row['wall_s'], '{:.1f}')} |")
    if r["seconds_to_target"] is not None:
        lines += ["", f"`{r['config']}` reaches {r['target_test_accuracy']:.0%} test accuracy in every round from "
                  f"{r['fewest_epochs_reaching_it_every_round']} epochs: **{r['seconds_to_target']:.1f} s** of "
                  "whole command (median), TensorFlow start-up included."]  # fmt: skip
    return lines


def pipeline(section: dict) -> list[str]:
    lines = ["| data | pipeline alone, batches/s | training step, batches/s | ratio (target ≥ 10) |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for case, r in section["results"].items():
        lines.append(f"| {case} | {r['pipeline_batches_per_s']:,.0f} | {r['train_batches_per_s']:,.0f} | "
                     f"{r['ratio']:.0f}× |")  # fmt: skip
    return lines


def presets(section: dict) -> list[str]:
    r = section["results"]
    c = r["cnn_digits"]
    lines = [
        "| config | result |",
        "| --- | --- |",
        f"| `configs/cnn_digits.yaml` | test accuracy {spread(c['test_accuracy'], '{:.2%}')} over seeds "
        f"{c['seeds'][0]}–{c['seeds'][-1]}; wall {spread(c['wall_s'], '{:.1f}', ' s')} |",
        f"| `configs/mlp_digits.yaml` | test accuracy {r['mlp_digits']['test_accuracy']:.1%}; "
        f"wall {r['mlp_digits']['wall_s']:.0f} s |",
        f"| `configs/lstm_co2.yaml` | test RMSE {r['lstm_co2']['test_rmse_ppm']:.2f} ppm vs "
        f"{r['lstm_co2']['naive_last_value_rmse_ppm']:.2f} ppm for the naive last-value forecast "
        f"({r['lstm_co2']['skill_vs_naive']:.0%} better); wall {r['lstm_co2']['wall_s']:.0f} s |",
    ]
    if "gan_digits" in r:
        lines.append(f"| `configs/gan_digits.yaml` | wall {r['gan_digits']['wall_s'] / 60:.1f} min |")
    return lines


def gan_quality(section: dict) -> list[str]:
    g = section["results"].get("gan_digits")
    if not g:
        return ["(not measured: `python benchmarks/bench_presets.py` without `--skip-gan`)"]
    q, one = g["quality"], g["quality_after_1_epoch"]
    real = next(k for k in q if k.startswith("real_"))
    row = "| {} ({}) | {:.3f} | {:.0%} | {:.2f} |"
    return [
        "| images | mean confidence | class coverage | Fréchet distance |",
        "| --- | --- | --- | --- |",
        row.format("generated", q["generated"]["samples"], q["generated"]["mean_confidence"],
                   q["generated"]["class_coverage"], q["generated"]["frechet_distance"]),
        row.format(f"real held-out {real[5:]}", q[real]["samples"], q[real]["mean_confidence"],
                   q[real]["class_coverage"], q[real]["frechet_distance"]),
        row.format("generator after 1 epoch", one["generated"]["samples"], one["generated"]["mean_confidence"],
                   one["generated"]["class_coverage"], one["generated"]["frechet_distance"]),
    ]  # fmt: skip


def peer_ludwig(section: dict) -> list[str]:
    r = section["results"]
    return [
        "| tool (config) | test accuracy | whole command, s |",
        "| --- | --- | --- |",
        *(f"| {tool} (`{r['configs'][tool]}`) | {spread(r[tool]['test_accuracy'], '{:.2%}')} | "
          f"{spread(r[tool]['wall_s'], '{:.1f}')} |" for tool in ("mlcli", "ludwig")),
        "",
        f"Wall time Ludwig / mlcli: {spread(r['wall_ratio_ludwig/mlcli'], '{:.2f}', '×')}. Both score the same "
        "360 test images (Ludwig's by counting its predicted labels, mlcli's from summary.json); mlcli ran on "
        + ", ".join(f"{k} {v}" for k, v in r.get("mlcli_side_versions", {}).items())
        + ".",
    ]  # fmt: skip


def hostile_configs(section: dict) -> list[str]:
    lines = ["| config | `mlcli validate`, s | peak RSS, MiB |", "| --- | --- | --- |"]
    for case, r in section["results"].items():
        rss = f"{r['peak_rss_mib']:.0f}" if "peak_rss_mib" in r else f"{r['configs']} configs"
        lines.append(f"| {case} | {spread(r['wall_s'], '{:.2f}')} | {rss} |")
    return lines


def real_data(section: dict) -> list[str]:
    lines = ["| data (rows × features) | metric | mlcli | linear | gradient boosting / naive | mlcli train, s |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for case, r in section["results"].items():
        fmt = "{:.1%}" if r["metric"] == "accuracy" else "{:,.4g}"
        linear = r.get("logistic regression") or r.get("ridge")
        other = r.get("gradient boosting") or r.get("naive last value")
        lines.append(f"| {case}: {r['source']} ({r['rows']:,} × {r['columns']}) | {r['metric']} | "
                     f"**{spread(r['mlcli'], fmt)}** | {spread(linear, fmt)} | {spread(other, fmt)} | "
                     f"{spread(r['wall_s'], '{:.0f}')} |")  # fmt: skip
    return lines


def evaluate_vs_predict(section: dict) -> list[str]:
    r = section["results"]
    return [
        "| command | wall, s |",
        "| --- | --- |",
        *(f"| `mlcli {k}` ({r['samples']:,} texts) | {spread(r[k], '{:.1f}')} |" for k in ("evaluate", "predict")),
        "",
        f"evaluate / predict: {spread(r['ratio'], '{:.2f}', '×')} (target ≤ 1.2×)",
    ]


def serve(section: dict) -> list[str]:
    lines = ["| request | requests/s | images/s | p50, ms | p99, ms |", "| --- | --- | --- | --- | --- |"]
    for case, r in section["results"].items():
        lines.append(f"| {case} ({r['clients']} clients, {r['requests']} requests a round) | "
                     f"{spread(r['requests_per_s'])} | {spread(r['images_per_s'])} | "
                     f"{spread(r['p50_ms'], '{:.1f}')} | {spread(r['p99_ms'], '{:.1f}')} |")  # fmt: skip
    return lines


def suite(section: dict) -> list[str]:
    lines = ["| step, fresh clone | seconds | exit codes | pytest's last line |", "| --- | --- | --- | --- |"]
    for step, r in section["results"].items():
        summaries = "; ".join(r.get("summaries", [])) or "—"
        codes = ", ".join(map(str, r.get("exit_codes", []))) or "—"
        lines.append(f"| {step} | {spread(r['seconds'])} | {codes} | {summaries} |")
    return lines


def smoke_train(section: dict) -> list[str]:
    sides = [k for k in next(iter(section["results"].values())) if k != "ratio"]
    ratio = "ratio" in next(iter(section["results"].values()))
    lines = ["| config | " + " | ".join(f"{s}, s" for s in sides) + (" | ratio |" if ratio else " |"),
             "| --- " * (len(sides) + 1 + ratio) + "|"]  # fmt: skip
    for config, row in section["results"].items():
        cells = [spread(row[s], "{:.2f}") for s in sides] + ([spread(row["ratio"], "{:.3f}")] if ratio else [])
        lines.append(f"| `{config}` | " + " | ".join(cells) + " |")
    return lines


SECTIONS = {  # results.json section -> (title, renderer)
    "vs_keras": ("mlcli against hand-written Keras on the seed CNNs", vs_keras),
    "epoch_writes": ("What mlcli writes at every epoch end", epoch_writes),
    "startup": ("Start-up", startup),
    "time_to_accuracy": ("Time to accuracy", time_to_accuracy),
    "autos": ("Where each `auto` comes from", autos),
    "pipeline": ("Input pipeline alone against the training step", pipeline),
    "presets": ("Offline presets", presets),
    "peer_ludwig": ("A peer: Ludwig on the digits split (run by hand, benchmarks/peer_ludwig/)", peer_ludwig),
    "real_data": ("Real data against scikit-learn on the same split (`bench_real_data.py`)", real_data),
    "evaluate_vs_predict": ("Scoring speed: `evaluate` against `predict` on an LSTM text model", evaluate_vs_predict),
    "serve": ("`mlcli serve`: the digits CNN over loopback HTTP", serve),
    "suite": ("The test suite from a fresh clone (`bench_suite.py`)", suite),
    "smoke_train": ("A whole `mlcli train` of the smoke configs, start-up included (`bench_smoke_train.py`)",
                    smoke_train),
    "hostile_configs": ("Hostile configs: each refused with exit 2 in one line", hostile_configs),
    "gpu_vs_keras": ("GPU: mlcli against hand-written Keras", vs_keras),
    "gpu_precision": ("GPU: mixed precision and XLA", autos),
}


def body(key: str, data: dict) -> list[str]:
    """One section's lines; `epoch_writes` also reads `vs_keras` for how long an mlcli epoch takes."""
    if key == "epoch_writes":
        return epoch_writes(data[key], data.get("vs_keras"))
    return SECTIONS[key][1](data[key])


def block(name: str, data: dict) -> str:
    """A README block: one section's table and where it came from."""
    if name == "autos":  # one section per setting, one table
        parts = [data[k] for k in sorted(data) if k.startswith("autos:")]
        if not parts:
            return "(not measured yet: run `python benchmarks/bench_autos.py`)"
        merged = {"results": {k: v for p in parts for k, v in p["results"].items()}}
        sources = dict.fromkeys(provenance(p) for p in parts)  # one line per distinct run, in order
        return "\n".join([*autos(merged), "", *(f"<sub>{line}</sub>" for line in sources)])
    section_name = {"gan_quality": "presets"}.get(name, name)
    if section_name not in data:
        return f"(not measured yet: run the benchmark that writes `{section_name}` in results.json)"
    lines = gan_quality(data[section_name]) if name == "gan_quality" else body(name, data)
    return "\n".join([*lines, "", f"<sub>{provenance(data[section_name])}</sub>"])


def results_md(data: dict) -> str:
    lines = ["# Benchmark results", "", "Generated by `python benchmarks/render.py` from `results.json`, which only "
             "the scripts in `benchmarks/` write (`make bench`). Figures are medians with min–max.", ""]  # fmt: skip
    for key, (title, _) in SECTIONS.items():
        if key in data:
            lines += [f"## {title}", "", *body(key, data), "", provenance(data[key]), ""]
        if key == "autos" and any(k.startswith("autos:") for k in data):
            lines += [f"## {title}", "", block("autos", data).replace("<sub>", "").replace("</sub>", ""), ""]
    if "presets" in data:
        lines += ["## GAN quality score (`mlcli evaluate`)", "", *gan_quality(data["presets"]), ""]
    for key in sorted(k for k in set(data) - set(SECTIONS) if not k.startswith("autos:")):
        lines += [f"## {key}", "", "```json", json.dumps(data[key]["results"], indent=1), "```", "",
                  provenance(data[key]), ""]  # fmt: skip
    return "\n".join(lines)


def fill_readme(text: str, data: dict) -> str:
    pattern = re.compile(r"(<!-- bench:(\w+) -->\n).*?(<!-- /bench:\2 -->)", re.S)
    return pattern.sub(lambda m: f"{m.group(1)}{block(m.group(2), data)}\n{m.group(3)}", text)


def main() -> None:
    if not RESULTS.is_file():
        raise SystemExit(f"{RESULTS.relative_to(ROOT)} does not exist yet: run `make bench` first")
    data = json.loads(RESULTS.read_text())
    (ROOT / "benchmarks" / "RESULTS.md").write_text(results_md(data))
    readme = ROOT / "README.md"
    readme.write_text(fill_readme(readme.read_text(), data))
    print("wrote benchmarks/RESULTS.md and README.md's generated blocks")


if __name__ == "__main__":
    main()
