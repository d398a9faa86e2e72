"""The one command line, generated from the installed Apps: ``sextant <app> <verb>``.

Every App gets the same verbs: ``prepare``, one command per training stage (``train``,
and ``pretrain`` where there is one), ``evaluate``, ``predict`` and ``print-config``.
``predict``'s flags come from the App's ``batch_options`` dataclass (the batch flow takes
the same options). Every error a person can cause is one line on stderr and exit code 2.

``--set`` takes ``key=value`` overrides, repeated or one after another
(``--set train.max_steps=50 train.lr=1e-3``).
"""

# No ``from __future__ import annotations``: Typer reads the annotations of the functions
# built here at run time, and some name types only a closure knows.
import dataclasses
import inspect
import sys
import types
import typing
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
# Typer carries its own copy of click; its exceptions are the ones its commands raise.
from typer._click import exceptions as click_errors

from shared.app import App, installed_apps, options_from, run_predictor
from shared.errors import SextantError

# What the user typed after the program name: a data-parallel run re-runs the same command under
# torchrun as ``python -m shared.cli <app> <stage> ...`` whichever program (an alias, a nested
# group) it was typed in.
_ARGV: ContextVar[list[str]] = ContextVar("argv", default=[])

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="a shipped config name, or a YAML path")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", metavar="KEY=VALUE",
                                                     help="config overrides, e.g. train.max_steps=50 (repeatable)")]
PreparedOpt = Annotated[Optional[Path], typer.Option("--prepared", help="the prepared data folder "
                                                     "(default: under the config's cache folder)")]
ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="a model folder, e.g. RUN/best")]


def _data_option(app: App) -> Any:
    return Annotated[Optional[str], typer.Option("--data", "-d", help=f"your own data: {app.data_help}")]


def _examples(app: App, prog: str) -> str:
    """The App's examples as an epilog click prints line by line (``\\b`` stops re-wrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {prog} {example}" for example in app.examples)


def _load(app: App, config: str, overrides: Sequence[str] | None, data: str | None) -> Any:
    cfg = app.load_config(config, list(overrides or []))
    return app.with_data(cfg, data) if data else cfg


def _prepared(app: App, cfg: Any, prepared: Path | None, rebuild: bool = False) -> Path:
    """The prepared folder for ``cfg``, prepared now if it is not yet (or ``rebuild``)."""
    folder = Path(prepared) if prepared else app.prepared_dir(cfg)
    if rebuild or not app.is_prepared(cfg, folder):
        app.prepare(cfg, folder)
    return folder


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _print_table(rows: list[dict], title: str | None = None, key: str = "model") -> None:
    """Rows of dicts as a rich table; numbers to 4 significant digits."""
    from rich.table import Table

    columns = list(dict.fromkeys(k for row in rows for k in row))
    if key in columns:
        columns.remove(key)
        columns.insert(0, key)
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column == key else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    _console().print(table)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _json(value: Any) -> None:
    import json

    print(json.dumps(value.to_dict() if hasattr(value, "to_dict") else value, indent=2, default=str))


def _stage_command(app: App, stage: str) -> Callable[..., None]:
    data_opt = _data_option(app)
    earlier = app.stages[: app.stages.index(stage)]
    init_help = (f"start from this model folder (e.g. the {earlier[-1]} stage's RUN/best)" if earlier
                 else "start from the weights of this model folder")

    def command(config: ConfigOpt = "default", set_: SetOpt = None, data: data_opt = None,
                prepared: PreparedOpt = None,
                run: Annotated[Path, typer.Option("--run", "-r", help="run folder: checkpoints, RUN/best, RUN/last")]
                = Path(f"runs/{app.name}/{stage}"),
                resume: Annotated[bool, typer.Option("--resume", help="continue from RUN/last")] = False,
                init: Annotated[Optional[str], typer.Option("--init", help=init_help)] = None,
                nproc: Annotated[int, typer.Option("--nproc", metavar="N", help="train data-parallel in N processes "
                                                   "(torchrun; gloo on CPU, nccl on GPU)")] = 1) -> None:
        from shared import distributed

        cfg = _load(app, config, set_, data)
        folder = _prepared(app, cfg, prepared)
        if nproc > 1 and not distributed.launched_by_torchrun():
            argv = _ARGV.get()
            rest = argv[argv.index(stage) + 1:]  # the stage's own arguments (app names never equal a stage)
            args = [app.name, stage, *distributed.without_option(rest, "--nproc")]
            raise typer.Exit(distributed.relaunch_under_torchrun(nproc, "shared.cli", args))
        summary = app.train(cfg, folder, run, stage, resume=resume, init=init)
        if distributed.current().is_main:
            _json(summary)

    command.__doc__ = f"Train the {stage} stage on the prepared data (best model: RUN/best)."
    return command


def _options_command(app: App) -> Callable[..., None]:
    """``predict``, with one flag per field of the App's ``batch_options`` dataclass."""

    def predict(inputs: list[str], model: Path, out: Path, **options: Any) -> None:
        opts = options_from(app.batch_options, options)
        result = run_predictor(app.predictor(str(model), opts), inputs, out)
        print(result["line"])
        for kind, path in result["files"].items():
            print(f"{kind}: {path}")
        print(f"outputs: {out}/ (errors: {result['errors_path']})")
        if result["exit_code"]:
            raise typer.Exit(result["exit_code"])

    params = [
        inspect.Parameter("inputs", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=Annotated[list[str], typer.Argument(help=app.input_help, show_default=False)]),
        inspect.Parameter("model", inspect.Parameter.KEYWORD_ONLY, annotation=ModelOpt),
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[Path, typer.Option("--out", "-o", help="output folder (a rerun resumes)")]),
    ]
    hints = typing.get_type_hints(app.batch_options)
    for f in dataclasses.fields(app.batch_options):
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=_option_annotation(f, hints[f.name])))

    def command(**kwargs: Any) -> None:
        predict(kwargs.pop("inputs"), kwargs.pop("model"), kwargs.pop("out"), **kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = "Predict every input (files, folders or manifests); bad inputs go to errors.jsonl, a rerun resumes."
    return command


def _option_annotation(f: dataclasses.Field, tp: Any) -> Any:
    """A Typer option for a dataclass field: ``--field-name``, its help from ``metadata["help"]``."""
    flag = "--" + f.name.replace("_", "-")
    help_text = f.metadata.get("help", "")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return Annotated[bool, typer.Option(f"{flag}/--no-{flag[2:]}", help=help_text)]
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        if typing.get_origin(inner) is list:
            return Annotated[Optional[inner], typer.Option(flag, help=help_text + " (repeatable)")]
        return Annotated[Optional[inner], typer.Option(flag, help=help_text)]
    return Annotated[tp, typer.Option(flag, help=help_text)]


def app_cli(app: App, prog: str | None = None) -> typer.Typer:
    """The Typer group of one App: ``prepare``, its stages, ``evaluate``, ``predict``, ``print-config``."""
    prog = prog or f"sextant {app.name}"
    cli = typer.Typer(name=app.name, help=f"{app.title}\n\nYour own data (--data): {app.data_help}.",
                      epilog=_examples(app, prog), no_args_is_help=True, add_completion=False,
                      rich_markup_mode=None, pretty_exceptions_enable=False)
    data_opt = _data_option(app)
    epilog = _examples(app, prog)

    @cli.command(epilog=epilog)
    def prepare(config: ConfigOpt = "default", set_: SetOpt = None, data: data_opt = None,
                prepared: PreparedOpt = None) -> None:
        """Read, validate and split the data (the shipped sets, or yours with --data) into a prepared folder."""
        cfg = _load(app, config, set_, data)
        folder = _prepared(app, cfg, prepared, rebuild=True)
        report = app.validate(cfg, folder)
        _print_table([{"split": k, app.items: v} for k, v in report.splits.items()],
                     title=f"{report.items:,} {app.items} prepared in {folder}", key="split")
        for key, value in report.details.items():
            print(f"{key}: {value}")

    for stage in app.stages:
        cli.command(name=stage, epilog=epilog)(_stage_command(app, stage))

    @cli.command(epilog=epilog)
    def evaluate(model: ModelOpt, config: ConfigOpt = "default", set_: SetOpt = None, data: data_opt = None,
                 prepared: PreparedOpt = None,
                 out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder "
                                                             "(default: RUN/evaluate beside RUN/best)")] = None,
                 peers: Annotated[Optional[list[str]], typer.Option("--peers", help="peers to compare with "
                                                                    "(repeatable; 'none' for none; default: the config's)")]
                 = None) -> None:
        """Score the model next to the peers on the held-out data; print the table, write files and plots."""
        cfg = _load(app, config, set_, data)
        folder = _prepared(app, cfg, prepared)
        if out is None:
            if model.name not in ("best", "last"):
                raise SextantError(f"{model} is not a run's best or last folder: pass --out for the evaluation files")
            out = model.parent / "evaluate"
        chosen = None if peers is None else [p for p in peers if p != "none"]
        evaluation = app.evaluate(cfg, str(model), folder, out, chosen)
        _print_table(evaluation.table, title=f"{app.name}: {evaluation.metric} ({'lower' if evaluation.mode == 'min' else 'higher'}"
                                              f" is better) on held-out data")
        if evaluation.split_rule:
            print(f"held out: {evaluation.split_rule}")
        if evaluation.best_peer:
            print(f"best peer: {evaluation.best_peer}")
        for kind, path in evaluation.artifacts.items():
            print(f"{kind}: {path}")

    cli.command(name="predict", epilog=epilog)(_options_command(app))

    @cli.command(name="print-config", epilog=epilog)
    def print_config(config: ConfigOpt = "default", set_: SetOpt = None, data: data_opt = None) -> None:
        """Print the config with every override applied (YAML), as training would use it."""
        import yaml

        from shared.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(_load(app, config, set_, data)), sort_keys=False), end="")

    for name, fn in getattr(app, "commands", lambda: {})().items():
        cli.command(name=name, epilog=epilog)(fn)
    return cli


def root_cli(apps: dict[str, App], extra: typer.Typer | None = None, epilog: str | None = None) -> typer.Typer:
    """``sextant``: one group per App, plus ``extra``'s commands (the project-wide ones)."""
    root = typer.Typer(name="sextant", help="Sextant: one transformer core, one pipeline per domain.\n\n"
                       "Every domain has the same verbs: prepare, train (and pretrain), evaluate, predict, print-config.",
                       epilog=epilog, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                       pretty_exceptions_enable=False)
    for name, app in apps.items():
        root.add_typer(app_cli(app), name=name)
    if extra is not None:
        for info in extra.registered_commands:
            root.registered_commands.append(info)
        for info in extra.registered_groups:
            root.registered_groups.append(info)
    return root


def expand_set(argv: Sequence[str]) -> list[str]:
    """``--set a=1 b=2`` as ``--set a=1 --set b=2`` (the values after ``--set`` up to the next option)."""
    out: list[str] = []
    in_set = False
    for arg in argv:
        if arg in ("--set", "-s"):
            in_set = True
            out.append("--set")
            continue
        if in_set and not arg.startswith("-") and "=" in arg and out[-1] != "--set":
            out.append("--set")
        elif arg.startswith("-") or "=" not in arg:
            in_set = False
        out.append(arg)
    return out


def run(cli: typer.Typer, argv: Sequence[str] | None = None, prog: str = "sextant") -> int:
    """Run a Typer CLI; errors a person can cause are one line on stderr and exit code 2."""
    argv = expand_set(sys.argv[1:] if argv is None else argv)
    token = _ARGV.set(argv)
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=argv, prog_name=prog, standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click_errors.NoArgsIsHelpError as err:
        err.show()
        return 2
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    except click_errors.UsageError as err:
        context = f"{err.ctx.command_path}: " if err.ctx else ""
        print(f"error: {context}{_first_line(err.format_message())}", file=sys.stderr)
        return 2
    except (SextantError, ValueError, OSError, KeyError) as err:  # OSError: missing files, a full disk
        print(f"error: {_first_line(str(err)) or type(err).__name__}", file=sys.stderr)
        return 2
    finally:
        _ARGV.reset(token)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def app_main(app: App, argv: Sequence[str] | None = None) -> int:
    """An App's own program: ``sextant-<alias> ...`` is ``sextant <app> ...``."""
    prog = Path(sys.argv[0]).name if argv is None else f"sextant {app.name}"
    return run(app_cli(app, prog), argv, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    """``sextant`` with the installed Apps only (``pipelines.cli`` adds the project-wide commands)."""
    return run(root_cli(installed_apps()), argv)


if __name__ == "__main__":
    sys.exit(main())
