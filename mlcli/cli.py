"""The `mlcli` command line. Thin: parse, call a command, map errors to exit codes.

The one module that imports lazily: commands that train or load a model import TensorFlow (quietly,
through `tfenv`) only once they run, so `--help`, `validate`, `config show`, `schema`, `models`,
`datasets`, `runs`, `init` and `inspect` answer in a fraction of a second.
"""

from __future__ import annotations

import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperArgument, TyperGroup

from mlcli import __version__
from mlcli.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, ConfigError, MlcliError, TrainingFailed, UserError

app = typer.Typer(
    name="mlcli",
    help="Train tf.keras models from declarative YAML configs.\n\n"
    "Start with `mlcli init DATA` (a config from your data), `mlcli inspect CONFIG`, then `mlcli train CONFIG`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: Rich's formatter costs ~0.15 s of imports per call
)
# Typer prints an argument's Python type after its metavar (`CONFIG <path>`, `RUN_DIR... <list[Path]>`);
# the metavar and the help text say it better.
TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
config_app = typer.Typer(help="Inspect configs.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")


class DefaultToList(TyperGroup):
    """`mlcli runs [DIR]` lists, `mlcli runs compare A B` compares: a first word that is not a
    subcommand goes to `list`, so both read naturally and `runs compare --help` is compare's help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


runs_app = typer.Typer(
    cls=DefaultToList, help="The runs table (`mlcli runs [DIR]`) and comparisons (`mlcli runs compare A B`).",
    rich_markup_mode=None,
)  # fmt: skip
app.add_typer(runs_app, name="runs")

_state = {"debug": False}

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a field: --set training.epochs=5 (repeatable)."),
]
ConfigArg = Annotated[Path, typer.Argument(metavar="CONFIG", help="A YAML config file.", show_default=False)]
RunDirArg = Annotated[
    Path, typer.Argument(metavar="RUN_DIR", help="A run directory written by `mlcli train`.", show_default=False)
]
CheckpointOption = Annotated[
    str, typer.Option(metavar="best|last|FILE", help="Which checkpoint: best, last, or a .keras file.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Let TensorFlow's own logs through.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace the output if it exists.")]


def _run(action: Callable[[], object]) -> None:
    """Call `action`, turning known failures into one-line messages and exit codes."""
    try:
        action()
    except ConfigError as exc:
        for line in exc.problems:
            typer.echo(line, err=True)
        raise typer.Exit(exc.exit_code) from None
    except MlcliError as exc:
        typer.echo(f"error: {exc}", err=True)
        if _state["debug"]:
            traceback.print_exc()
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        typer.echo("interrupted", err=True)
        raise typer.Exit(128 + getattr(exc, "signum", EXIT_INTERRUPTED - 128)) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: report, don't crash
        if _state["debug"]:
            traceback.print_exc()
        else:
            typer.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        raise typer.Exit(EXIT_RUNTIME) from None


def _tensorflow(verbose: bool = False, deterministic: bool = False) -> None:
    """Import TensorFlow quietly (environment and start-up logs) before a command that needs it."""
    from mlcli.tfenv import import_tensorflow

    import_tensorflow(verbose, deterministic=deterministic)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for runtime failures.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command(epilog="\b\nExamples:\n  mlcli validate configs/cnn_digits.yaml\n"
             "  mlcli validate my.yaml --set training.epochs=0    # exit 2, with file:line:col")  # fmt: skip
def validate(
    config: ConfigArg,
    set_: SetOption = None,
    no_data: Annotated[bool, typer.Option("--no-data", help="Check the config alone, not the data it names.")] = False,
) -> None:
    """Check a config and the data it names (every problem at once, file:line:col); exit 2 if wrong."""

    def action() -> None:
        from mlcli.commands.checked import load_checked

        cfg = load_checked(config, set_ or [], data=not no_data)
        typer.echo(f"{config}: ok ({cfg.model.type} on {cfg.data.source}, {cfg.training.epochs} epochs)")

    _run(action)


@app.command(epilog="\b\nExamples:\n  mlcli init photos/              # class folders of images\n"
             "  mlcli init reviews.csv --out reviews.yaml\n  mlcli init houses.csv --label price\n"
             "  mlcli init texts/ --force")  # fmt: skip
def init(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="An image folder, a text folder, a .csv or an .npz.")],
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Where to write the config.  [default: NAME.yaml here]")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    label: Annotated[
        str | None, typer.Option(metavar="COLUMN", help="A CSV's label column.  [default: one named label, target, "
                                 "price, ...; else the last]", show_default=False)
    ] = None,  # fmt: skip
) -> None:
    """Write a commented starter config from the data itself: source, task, label, classes, image size,
    a model for the kind and size, a test split."""

    def action() -> None:
        from mlcli.commands.init import init_command

        init_command(data, out, force, label)

    _run(action)


@app.command(epilog="\b\nExample:\n  mlcli inspect configs/mlp_tabular.yaml --set data.path=houses.csv")
def inspect(config: ConfigArg, set_: SetOption = None) -> None:
    """Show the data a config reads, before training: split sizes, class counts, each column's type
    (with why, missing share, distinct values), identifiers left out, image sizes and modes."""

    def action() -> None:
        from rich.console import Console

        from mlcli.commands.checked import load_checked
        from mlcli.data.inspect import load_profile, print_profile

        print_profile(load_profile(load_checked(config, set_ or [])), Console())

    _run(action)


@config_app.command("show", epilog="\b\nExample:\n  mlcli config show experiments/small_lr.yaml --origin")
def config_show(
    config: ConfigArg,
    set_: SetOption = None,
    origin: Annotated[bool, typer.Option("--origin", help="Show where each value came from.")] = False,
) -> None:
    """Print the resolved config: bases merged, overrides applied, defaults filled in."""

    def action() -> None:
        from mlcli.config.loader import load_document, validate_document
        from mlcli.config.render import to_yaml, with_origins

        doc = load_document(config, set_ or [])
        cfg = validate_document(doc)
        typer.echo(with_origins(cfg, doc) if origin else to_yaml(cfg), nl=False)

    _run(action)


@app.command(epilog="\b\nExample:\n  mlcli schema > mlcli.schema.json    # completion and hover docs in editors")
def schema() -> None:
    """Print the JSON Schema of the config (with every field's description)."""
    import json

    from mlcli.config import Config

    typer.echo(json.dumps(Config.model_json_schema(), indent=2))


@app.command()
def models(
    presets: Annotated[
        bool,
        typer.Option(
            "--presets", help="Also list KerasHub's presets per task (imports TensorFlow and KerasHub: slow)."
        ),
    ] = False,
) -> None:
    """List the model families with every field, its type, default and description."""
    from mlcli.config.models import MODEL_TYPES
    from mlcli.config.render import print_registry

    print_registry("Model families (model.type)", MODEL_TYPES, "type")
    if presets:
        _tensorflow()
        from mlcli.commands.presets import print_presets

        print_presets()
    else:
        typer.echo("model.type pretrained takes a KerasHub preset: `mlcli models --presets` lists them")


@app.command()
def datasets() -> None:
    """List the data sources (every field, its type, default and description) and the builtin datasets."""
    from mlcli.config.data import DATA_SOURCES
    from mlcli.config.render import print_builtin_datasets, print_registry

    print_registry("Data sources (data.source)", DATA_SOURCES, "source")
    print_builtin_datasets()


@app.command(epilog="\b\nExamples:\n  mlcli train configs/cnn_digits.yaml\n"
             "  mlcli train my.yaml --set training.epochs=5 --run-dir runs/try1\n"
             "  mlcli train --resume runs/try1 --set training.epochs=20")  # fmt: skip
def train(
    config: Annotated[
        Path | None, typer.Argument(metavar="CONFIG", help="YAML config, or a run directory with --resume.")
    ] = None,
    set_: SetOption = None,
    run_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Write the run here.  [default: runs/NAME/TIME]")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run: `--resume RUN_DIR` or `--run-dir DIR --resume`.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One plain line per epoch.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Train a model from CONFIG and leave a run directory (resumable after Ctrl-C or a kill)."""

    def action() -> None:
        from mlcli.commands import train as command

        plan = command.prepare(config, set_ or [], run_dir, resume)  # refusals happen here, before TensorFlow
        if plan.already_done:
            typer.echo(f"{plan.run_dir}: its last epoch and summary were written before it stopped; marked completed")
            return
        try:
            print(f"run directory: {plan.run_dir}", flush=True)
            from mlcli.training import signals

            # before TensorFlow's seconds of import: a SIGTERM then removed nothing and left a half run
            # directory behind (killed by the default action), where Ctrl-C already cleaned up
            signals.interrupt_on_signals()
            _tensorflow(verbose, deterministic=plan.cfg.training.deterministic)
            if plan.cfg.distribute.strategy == "multi_worker":
                signals.exit_cleanly_on_signals(plan.run_dir)  # a worker may block in a collective for a long time
            from mlcli.training.entry import train_and_evaluate

            summary = train_and_evaluate(plan.cfg, plan.run_dir, resume=plan.resume, quiet=quiet, argv=sys.argv)
        except KeyboardInterrupt as exc:
            code = 128 + getattr(exc, "signum", EXIT_INTERRUPTED - 128)
            if command.nothing_trained(plan):
                command.abandon(plan)
                typer.echo(f"interrupted before the first epoch finished; removed {plan.run_dir}", err=True)
            else:
                typer.echo(f"interrupted ({str(exc) or 'Ctrl-C'}); every finished epoch is kept. Resume with:\n"
                           f"  mlcli train --resume {plan.run_dir}", err=True)  # fmt: skip
            raise typer.Exit(code) from None
        except UserError:
            if command.nothing_trained(plan):
                command.abandon(plan)  # a data error leaves no `failed` directory behind
            raise
        except TrainingFailed:
            if command.peers_never_joined(plan):
                command.abandon(plan)  # so that the same command works once every worker is started
            raise
        command.report(summary, plan.run_dir)

    _run(action)


@app.command(epilog="\b\nExamples:\n  mlcli evaluate runs/cnn_digits/20261201-101500\n"
             "  mlcli evaluate RUN_DIR --split val --checkpoint last --json")  # fmt: skip
def evaluate(
    run_dir: RunDirArg,
    split: Annotated[str, typer.Option(metavar="test|val|train", help="Which split to score.")] = "test",
    checkpoint: CheckpointOption = "best",
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a run's checkpoint on a split (per class, confusion matrix); writes eval.json."""

    def action() -> None:
        _tensorflow(verbose)
        from mlcli.commands.evaluate import evaluate_command

        evaluate_command(run_dir, split, checkpoint, json_out)

    _run(action)


@app.command(epilog="\b\nExamples:\n  mlcli predict RUN_DIR photos/test/ --out preds.csv\n"
             "  mlcli predict RUN_DIR 'inbox/*.txt'\n  mlcli predict RUN_DIR notes.txt --lines\n"
             "  mlcli predict RUN_DIR --text 'what a lovely film'\n"
             "  mlcli predict RUN_DIR rows.csv --top-k 1")  # fmt: skip
def predict(
    run_dir: RunDirArg,
    inputs: Annotated[
        list[str] | None,
        typer.Argument(metavar="INPUT", help="Files, folders or globs: images, .txt documents, a .csv, an .npz.",
                       show_default=False),
    ] = None,  # fmt: skip
    out: Annotated[Path | None, typer.Option(metavar="FILE", help="Also write them to a .csv or .json.")] = None,
    checkpoint: CheckpointOption = "best",
    top_k: Annotated[int, typer.Option(metavar="K", min=1, help="Classes shown per input.")] = 3,
    lines: Annotated[bool, typer.Option("--lines", help="Each line of a .txt is one example.")] = False,
    text: Annotated[
        list[str] | None, typer.Option("--text", metavar="STRING", help="A text to classify, typed here (repeatable).")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Predict with a trained run on new inputs: the exported model's very computation."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.predict import predict_command

        predict_command(run_dir, inputs or [], out, checkpoint, top_k, lines=lines, texts=text or [], force=force)

    _run(action)


@app.command(epilog="\b\nExamples:\n  mlcli serve RUN_DIR                 # http://127.0.0.1:8501/\n"
             "  curl -d '{\"instances\": [\"a lovely film\"]}' \\\n"
             "      http://127.0.0.1:8501/v1/models/NAME:predict")  # fmt: skip
def serve(
    run_dir: RunDirArg,
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to bind (0.0.0.0: every interface).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(metavar="PORT", min=0, max=65535, help="0: any free port.")] = 8501,
    checkpoint: CheckpointOption = "best",
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Model name in the URL.  [default: the run's name]",
                                             show_default=False)] = None,  # fmt: skip
) -> None:
    """Serve a run over HTTP in TF Serving's REST format, with a page to try it at /."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.serve import serve_command

        serve_command(run_dir, host, port, checkpoint, name)

    _run(action)


@app.command(epilog="\b\nExample:\n  mlcli sample RUN_DIR --num 64 --out digits.npz --png grid.png --label 7")
def sample(
    run_dir: RunDirArg,
    num: Annotated[int, typer.Option(metavar="N", min=1, help="How many images.")] = 16,
    out: Annotated[Path, typer.Option(metavar="FILE.npz", help="Where the images go (uint8 N x H x W x C).")] = Path(
        "samples.npz"
    ),
    seed: Annotated[int, typer.Option(metavar="S", help="Latent seed: the same seed gives the same images.")] = 0,
    png: Annotated[Path | None, typer.Option(metavar="FILE.png", help="Also write a grid of them.")] = None,
    label: Annotated[str | None, typer.Option(metavar="K|NAME",
                                              help="Class to generate, by name or index (a name wins); "
                                                   "without it the classes take turns (conditional GANs).")] = None,
    checkpoint: CheckpointOption = "last",
    force: ForceOption = False,
) -> None:
    """Generate images with a trained GAN."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.sample import sample_command

        sample_command(run_dir, num, out, seed, png, label, checkpoint, force=force)

    _run(action)


@app.command(epilog="\b\nExample:\n  mlcli sweep configs/mlp_digits.yaml --trials 20 \\\n"
             "      --param optimizer.learning_rate='loguniform(1e-4,1e-1)' \\\n"
             "      --param model.layers='choice([64], [128, 64])'")  # fmt: skip
def sweep(
    config: ConfigArg,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="PATH=SPEC",
                     help="A field to search: loguniform(a,b), uniform(a,b), int(a,b) or choice(x,...) (repeatable)."),
    ] = None,  # fmt: skip
    trials: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="Finished trials the study should reach.  [default: "
                                 "sweep.trials, else 10]")  # fmt: skip
    ] = None,
    sweep_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Trials, study.db, sweep.json/png.  [default: sweeps/NAME]")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(metavar="NAME", help="What trials are scored on.  [default: val_loss, else loss]")
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(metavar="auto|minimize|maximize", help="[default: auto, the metric's own direction]"),
    ] = None,
    jobs: Annotated[int, typer.Option(metavar="J", min=1, help="Processes running trials at once.")] = 1,
    storage: Annotated[
        str | None, typer.Option(metavar="URL", help="Optuna storage shared by several hosts.  [default: DIR/study.db]")
    ] = None,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live table.")] = False,
) -> None:
    """Search hyperparameters with Optuna; each trial is a run directory, the study is resumable."""

    def action() -> None:
        if direction not in (None, "auto", "minimize", "maximize"):
            raise UserError(f"--direction {direction!r}: choose auto, minimize or maximize")
        from mlcli.sweep.plan import plan

        p = plan(config, set_ or [], param or [], trials, metric, direction, sweep_dir, storage)
        _tensorflow()
        from mlcli.sweep.report import short
        from mlcli.sweep.study import run_sweep

        try:
            report = run_sweep(p, jobs, quiet)
        except KeyboardInterrupt as exc:
            again = " ".join(shlex.quote(a) for a in ["mlcli", *sys.argv[1:]])
            typer.echo(f"interrupted; the finished trials are kept in {p.storage}. Continue with:\n  {again}",
                       err=True)  # fmt: skip
            raise typer.Exit(128 + getattr(exc, "signum", EXIT_INTERRUPTED - 128)) from None
        best = report["best"]
        done = sum(t["state"] in ("complete", "pruned") for t in report["trials"])
        params = ", ".join(f"{k}={short(v)}" for k, v in best["params"].items()) if best else ""
        found = f"trial {best['number']} {p.metric} {best['value']:.4g} ({params}) in {best['path']}" if best else ""
        typer.echo(f"{done} finished trials in {p.sweep_dir}; best: {found or 'none'}")

    _run(action)


@runs_app.command("list", epilog="\b\nExamples:\n  mlcli runs\n  mlcli runs sweeps/mlp --sort best --json")
def runs_list(
    root: Annotated[
        Path | None, typer.Argument(metavar="[DIR]", help="Where to look, recursively.  [default: runs/ and sweeps/]")
    ] = None,
    sort: Annotated[
        str | None, typer.Option(metavar="METRIC|best|started|wall_time_s", help="Order by a test metric, best first.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every run below DIR: status, epochs, best monitored value, test metrics, wall time."""

    def action() -> None:
        from mlcli.commands.runs_table import runs_table

        runs_table(root, sort, as_json)

    _run(action)


@runs_app.command("compare", epilog="\b\nExample:\n  mlcli runs compare runs/a/1 runs/b/1 --out ab.png")
def runs_compare(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR", help="Two or more run directories.")],
    out: Annotated[Path | None, typer.Option(metavar="FILE.png", help="Also plot the curves overlaid here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    force: ForceOption = False,
) -> None:
    """The config fields that differ (dotted paths), test metrics side by side, curves overlaid."""

    def action() -> None:
        from mlcli.commands.runs_table import compare_runs

        compare_runs(run_dirs, out, as_json, force=force)

    _run(action)


@app.command(epilog="\b\nExamples:\n  mlcli export RUN_DIR --format saved_model --out serving/1\n"
             "  mlcli export RUN_DIR --format tflite --out model.tflite")  # fmt: skip
def export(
    run_dir: RunDirArg,
    format_: Annotated[
        str, typer.Option("--format", metavar="keras|saved_model|tflite|onnx", help="The format.")
    ] = "keras",
    out: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Where to write it.  [default: RUN_DIR/export/...]")
    ] = None,
    checkpoint: CheckpointOption = "best",
    force: ForceOption = False,
) -> None:
    """Export the model `predict` runs (raw inputs in), verified by reloading it."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.export import export_command

        export_command(run_dir, format_, out, checkpoint, force=force)

    _run(action)


def main() -> None:
    from mlcli.console import survive_closed_stdout

    survive_closed_stdout()
    app()


if __name__ == "__main__":
    main()
