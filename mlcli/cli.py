"""The `mlcli` command line. Thin: parse, call, map errors to exit codes.

Nothing here imports TensorFlow at module level; commands that train import it lazily, so
`--help`, `validate`, `config show`, `schema`, `models` and `datasets` stay fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from mlcli import __version__
from mlcli.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, ConfigError, MlcliError, UserError

app = typer.Typer(
    name="mlcli",
    help="Train tf.keras models from declarative YAML configs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: Rich's formatter costs ~0.15 s of imports per call
)
config_app = typer.Typer(help="Inspect configs.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")

_state = {"debug": False}

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: --set training.epochs=5 (repeatable)."),
]
ConfigArg = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)]
RunDirArg = Annotated[Path, typer.Argument(help="A run directory written by `mlcli train`.")]


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
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: report, don't crash
        if _state["debug"]:
            traceback.print_exc()
        else:
            typer.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        raise typer.Exit(EXIT_RUNTIME) from None


def _tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow quietly (environment and start-up logs) before a command that needs it."""
    from mlcli.tfenv import import_tensorflow

    import_tensorflow(verbose)


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


@app.command()
def validate(config: ConfigArg, set_: SetOption = None) -> None:
    """Check a config (every problem at once, with file:line:col); exit 2 if it is wrong."""

    def action() -> None:
        from mlcli.config import load_config

        cfg = load_config(config, set_ or [])
        typer.echo(f"{config}: ok ({cfg.model.type} on {cfg.data.source}, {cfg.training.epochs} epochs)")

    _run(action)


@config_app.command("show")
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the config (for editor completion and checks)."""
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
    """List the model families with their fields and defaults (and KerasHub presets with --presets)."""
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
    """List the data sources and the builtin datasets."""
    from mlcli.config.data import DATA_SOURCES
    from mlcli.config.render import print_builtin_datasets, print_registry

    print_registry("Data sources (data.source)", DATA_SOURCES, "source")
    print_builtin_datasets()


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config, or a run directory with --resume.")] = None,
    set_: SetOption = None,
    run_dir: Annotated[Path | None, typer.Option(help="Write the run here instead of runs/<name>/<time>.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run: `--resume RUN_DIR` or `--run-dir DIR --resume`.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One plain line per epoch.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Let TensorFlow's own logs through.")] = False,
) -> None:
    """Train a model from CONFIG and leave a run directory."""

    def action() -> None:
        from mlcli.commands import train as command

        plan = command.prepare(config, set_ or [], run_dir, resume)  # refusals happen here, before TensorFlow
        print(f"run directory: {plan.run_dir}", flush=True)
        _tensorflow(verbose)
        if plan.cfg.distribute.strategy == "multi_worker":
            from mlcli.training.signals import exit_cleanly_on_signals

            exit_cleanly_on_signals(plan.run_dir)  # a worker may block in a collective for a long time
        from mlcli.training.entry import train_and_evaluate

        summary = train_and_evaluate(plan.cfg, plan.run_dir, resume=plan.resume, quiet=quiet, argv=sys.argv)
        command.report(summary, plan.run_dir)

    _run(action)


@app.command()
def evaluate(
    run_dir: RunDirArg,
    split: Annotated[str, typer.Option(help="test, val or train.")] = "test",
    checkpoint: Annotated[str, typer.Option(help="best, last, or a .keras file.")] = "best",
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Let TensorFlow's own logs through.")] = False,
) -> None:
    """Evaluate a run's checkpoint on a split; writes eval.json."""

    def action() -> None:
        _tensorflow(verbose)
        from mlcli.commands.evaluate import evaluate_command

        evaluate_command(run_dir, split, checkpoint, json_out)

    _run(action)


@app.command()
def predict(
    run_dir: RunDirArg,
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders or globs: images, .txt documents, a .csv, an .npz.", show_default=False),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write predictions to a .csv or .json file.")] = None,
    checkpoint: Annotated[str, typer.Option(help="best, last, or a .keras file.")] = "best",
    top_k: Annotated[int, typer.Option(min=1, help="Classes shown per input.")] = 3,
    lines: Annotated[bool, typer.Option("--lines", help="Each line of a .txt is one example.")] = False,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A text to classify, typed here (repeatable).")
    ] = None,
) -> None:
    """Predict with a trained run on new inputs (the exported model's very computation)."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.predict import predict_command

        predict_command(run_dir, inputs or [], out, checkpoint, top_k, lines=lines, texts=text or [])

    _run(action)


@app.command()
def sample(
    run_dir: RunDirArg,
    num: Annotated[int, typer.Option(min=1, help="How many images.")] = 16,
    out: Annotated[Path, typer.Option(help="Output .npz (images uint8 NxHxWxC).")] = Path("samples.npz"),
    seed: Annotated[int, typer.Option(help="Latent seed.")] = 0,
    png: Annotated[Path | None, typer.Option(help="Also write a grid PNG.")] = None,
    label: Annotated[int | None, typer.Option(help="Class to generate (conditional GANs).")] = None,
    checkpoint: Annotated[str, typer.Option(help="best, last, or a .keras file.")] = "last",
) -> None:
    """Generate images with a trained GAN."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.sample import sample_command

        sample_command(run_dir, num, out, seed, png, label, checkpoint)

    _run(action)


@app.command()
def sweep(
    config: ConfigArg,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="PATH=SPEC, e.g. optimizer.learning_rate=loguniform(1e-4,1e-1)."),
    ] = None,
    trials: Annotated[int | None, typer.Option(min=1, help="Finished trials the study should reach.")] = None,
    sweep_dir: Annotated[Path | None, typer.Option(help="Trial run directories, study.db, sweep.json/png.")] = None,
    metric: Annotated[str | None, typer.Option(help="What trials are scored on (default: val_loss or loss).")] = None,
    direction: Annotated[str | None, typer.Option(help="auto, minimize or maximize.")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Processes running trials at once.")] = 1,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL shared by several hosts.")] = None,
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
        from mlcli.sweep.study import run_sweep

        report = run_sweep(p, jobs, quiet)
        best = report["best"]
        done = sum(t["state"] in ("complete", "pruned") for t in report["trials"])
        typer.echo(
            f"{done} finished trials in {p.sweep_dir}; best: "
            + (
                f"trial {best['number']} {p.metric} {best['value']:.4g} {best['params']} ({best['path']})"
                if best
                else "none"
            )
        )

    _run(action)


@app.command(name="runs")
def runs_command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="A folder to list (default: runs), or `compare RUN_A RUN_B ...`.", show_default=False),
    ] = None,
    sort: Annotated[
        str | None, typer.Option(help="Order by a test metric, `best`, `started` or `wall_time_s`.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    out: Annotated[Path, typer.Option(help="Where `compare` writes its curves.")] = Path("compare.png"),
) -> None:
    """List the runs below a folder (`mlcli runs [DIR]`), or compare some (`mlcli runs compare A B`)."""

    def action() -> None:
        from mlcli.commands.runs_table import compare_runs, runs_table

        given = args or ["runs"]
        if given[0] == "compare":
            compare_runs([Path(a) for a in given[1:]], out, as_json)
        elif len(given) > 1:
            raise UserError(f"runs takes one folder (got {len(given)}); to compare runs: mlcli runs compare A B")
        else:
            runs_table(Path(given[0]), sort, as_json)

    _run(action)


@app.command()
def export(
    run_dir: RunDirArg,
    format_: Annotated[str, typer.Option("--format", help="keras, saved_model or tflite.")] = "keras",
    out: Annotated[Path | None, typer.Option(help="Where to write the export.")] = None,
    checkpoint: Annotated[str, typer.Option(help="best or last.")] = "best",
) -> None:
    """Export a model that takes raw inputs, verified by reloading it."""

    def action() -> None:
        _tensorflow()
        from mlcli.commands.export import export_command

        export_command(run_dir, format_, out, checkpoint)

    _run(action)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
