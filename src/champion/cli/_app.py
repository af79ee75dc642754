"""The conventions every `champion` command shares, written once: global options accepted
before or after the command, one-line usage errors, help with an example on every command, a
group alone printing its own help, and every failure turned into one line and an exit code.

Exit codes: 0 done; 1 a rejection the caller asked to fail on (`--fail-on-reject`), or a bug in
champion (the line says so); 2 the user must change something (a flag, a value, a name, a path,
no run context); 3 the machine or the workspace failed (disk, I/O, damage, the service); 130
interrupted. A command module adds itself with `add_to(commands)`: `commands.group(...)` for a
command group, `commands.command(...)` for a command, and one line in `champion.cli.MODULES`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from champion import __version__, _env
from champion._usage import Parser, error_line
from champion.cli import _output
from champion.errors import InputError, from_environment
from champion.record import neutralize_logging_commands as escape

Handler = Callable[[argparse.Namespace], int]
BACKENDS = ("local", "azureml", "mlflow")


class _Formatter(argparse.HelpFormatter):
    """Descriptions wrap to the terminal; the examples in the epilog keep their lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:\n"):
            return text
        return super()._fill_text(text, width, indent)


def _global_options(
    parser: argparse.ArgumentParser, *, top: bool, formats: Sequence[str] = _output.FORMATS
) -> None:
    """The same options on the top parser and on every command, so they work in either place.
    On a command their default is SUPPRESS: absent there, the top parser's value stands. A
    command lists only what it takes: `--json` where it prints JSON (`champion serve --help`
    offered `--json`, then refused it), `--format` naming the formats it prints."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    offered = (
        "table (default, also in a pipe), json or csv; list and show commands offer all "
        "three, commands that act table and json"
        if top
        else ", ".join([f"{formats[0]} (default, also in a pipe)", *formats[1:-1]])
        + (f" or {formats[-1]}" if formats[1:] else " only")
    )

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        metavar="BACKEND",
        default=default(None),
        help="the registry: local (the local workspace), azureml (config.json's workspace; "
        "register only) or mlflow ($MLFLOW_TRACKING_URI); default $CHAMPION_BACKEND, else local",
    )
    group.add_argument(
        "--workspace",
        type=Path,
        metavar="PATH",
        default=default(None),
        help="local workspace folder (default: $CHAMPION_WORKSPACE, else the nearest "
        ".champion/ in this folder or its parents)",
    )
    group.add_argument(
        "--format",
        choices=_output.FORMATS,
        metavar="FORMAT",
        default=default(None),
        help=f"output: {offered}",
    )
    if top or "json" in formats:
        group.add_argument(
            "--json",
            action="store_true",
            default=default(False),
            help="the same as --format json: one JSON document on stdout",
        )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="print the traceback of an error, too",
    )


def _examples(examples: Sequence[str]) -> str:
    return "examples:\n" + "\n".join(f"  {example}" for example in examples)


class Commands:
    """Where a command module adds its commands: a thin, typed face over argparse's
    subparsers, so every command gets the global options, help and an example."""

    def __init__(self, parser: argparse.ArgumentParser, title: str, prefix: str = "") -> None:
        self._subparsers = parser.add_subparsers(title=title, metavar="COMMAND")
        self._prefix = prefix

    def command(
        self,
        name: str,
        handler: Handler,
        *,
        help: str,
        description: str,
        examples: Sequence[str],
        formats: Sequence[str] = _output.LISTS,
        passthrough: bool = False,
    ) -> argparse.ArgumentParser:
        """A command. `formats` are the output formats it offers (the first is the default);
        `passthrough` leaves the library's prints on stdout (its output is theirs)."""
        parser = self._add(name, help, description, examples, formats)
        parser.set_defaults(
            handler=handler,
            formats=tuple(formats),
            passthrough=passthrough,
            command_name=f"{self._prefix}{name}",
        )
        return parser

    def group(self, name: str, *, help: str, description: str, examples: Sequence[str]) -> Commands:
        """A command group; alone (`champion models`) it prints its own help and exits 2."""
        parser = self._add(name, help, description, examples)
        parser.set_defaults(handler=_help_of(parser), formats=_output.FORMATS, passthrough=False)
        return Commands(parser, f"{name} commands", prefix=f"{self._prefix}{name} ")

    def _add(
        self,
        name: str,
        help: str,
        description: str,
        examples: Sequence[str],
        formats: Sequence[str] = _output.FORMATS,
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name,
            help=help,
            description=description,
            epilog=_examples(examples),
            formatter_class=_Formatter,
        )
        _global_options(parser, top=False, formats=formats)
        return parser


def _help_of(parser: argparse.ArgumentParser) -> Handler:
    def show_help(args: argparse.Namespace) -> int:
        _output.write(parser.format_help())
        return 2  # no command ran: a script that lost its subcommand must not pass

    return show_help


def top_parser() -> tuple[Parser, Commands]:
    parser = Parser(
        prog="champion",
        description="Champion/challenger model registration for Azure ML, and its local "
        "workspace. Exit codes: 0 done, 1 rejected with --fail-on-reject, 2 a mistake you can "
        "fix, 3 the machine or the workspace failed.",
        epilog=_examples(["champion init", "champion models list --json", "champion verify"]),
        formatter_class=_Formatter,
    )
    _global_options(parser, top=True)
    parser.add_argument(
        "--version", action="version", version=f"champion {__version__}", help="print the version"
    )
    parser.set_defaults(handler=_help_of(parser), formats=_output.FORMATS, passthrough=False)
    return parser, Commands(parser, "commands")


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, choose the output format, run the command, and turn any failure into one line
    and an exit code; stdout stays safe to close early throughout."""
    with _output.pipe_safe_stdout():
        argv = list(sys.argv[1:] if argv is None else argv)
        undecodable = next((arg for arg in argv if not _is_text(arg)), None)
        if undecodable is not None:
            print(
                f"champion: error [usage]: argument {os.fsencode(undecodable)!r} is not UTF-8 "
                "text; champion stores names, values and paths as UTF-8, so give them in UTF-8",
                file=sys.stderr,
            )
            return 2
        try:
            args = parser.parse_args(argv)
        except SystemExit as stop:  # --help (0) or a usage error (2, already printed)
            return stop.code if isinstance(stop.code, int) else 0
        try:
            fmt = _format_of(args)
        except InputError as exc:
            print(error_line("usage", exc.message), file=sys.stderr)
            return 2
        with _output.command_output(fmt, passthrough=args.passthrough):
            return _call(args)


def _is_text(arg: str) -> bool:
    """Whether an argument is text: bytes that are not UTF-8 reach Python as lone surrogates
    (`runs show $'\\xff'`), which no store, JSON or terminal can take."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _format_of(args: argparse.Namespace) -> str:
    if args.json and args.format not in (None, "json"):
        raise InputError(f"--json and --format {args.format} disagree; pass one of them")
    fmt = "json" if args.json else (args.format or args.formats[0])
    if fmt not in args.formats:
        offered = " or ".join(args.formats)
        raise InputError(f"this command prints no {fmt}; use --format {offered}")
    return str(fmt)


def _call(args: argparse.Namespace) -> int:
    handler: Handler = args.handler
    try:
        return handler(args)
    except SystemExit as stop:  # a pipeline file's own argparse (`champion run FILE --bad`)
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(f"champion: error: {escape(str(stop.code))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("champion: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        return _one_line(exc, debug=args.debug)


def _one_line(exc: Exception, *, debug: bool) -> int:
    known = from_environment(exc)
    if known is not None:
        print(error_line(known.code, known.message), file=sys.stderr)
        return known.exit_code
    if type(exc).__module__.startswith("azureml."):  # the SDK's own errors: say them plainly
        message = getattr(exc, "message", None) or str(exc)
        print(f"champion: {type(exc).__name__}: {escape(message)}", file=sys.stderr)
        return 2 if "ModelNotFound" in message or "Cannot find" in message else 3
    if not debug:
        print(
            f"champion: internal error: {type(exc).__name__}: {escape(str(exc))} "
            "(a bug in champion; run again with --debug for the traceback and report it)",
            file=sys.stderr,
        )
    return 1


# ---------------------------------------------------------------------- shared by commands


def backend_of(args: argparse.Namespace) -> str:
    """`--backend`, else `$CHAMPION_BACKEND`, else local (a wrong name is a usage error)."""
    chosen = getattr(args, "backend", None) or _env.backend() or "local"
    if chosen not in BACKENDS:
        raise InputError(
            f"CHAMPION_BACKEND={chosen!r} is not a backend; use one of {', '.join(BACKENDS)}",
            field="CHAMPION_BACKEND",
            value=chosen,
        )
    return chosen


def local_only(args: argparse.Namespace, what: str) -> None:
    """Commands that read the local workspace's own tables (runs, verify, gc) say so."""
    if backend_of(args) != "local":
        raise InputError(
            f"{what} reads the local workspace; --backend {backend_of(args)} has no such "
            "command here (MLflow: its UI or `mlflow` CLI; Azure ML: the studio)",
            field="--backend",
            value=backend_of(args),
        )


def open_mlflow(args: argparse.Namespace, *, alias: str | None = None) -> Any:
    """The MLflow registry `$MLFLOW_TRACKING_URI` names, for the models commands (a `sqlite:///`
    file that does not exist is refused, never created)."""
    from champion.registry.mlflow import MlflowReader, MlflowRegistry, connect

    return MlflowReader(MlflowRegistry(connect(), alias=alias))


def open_workspace(args: argparse.Namespace, *, write: bool = False) -> Any:
    """Open the workspace the command means: an existing one only, read-only unless `write`
    (then say which one, so a write never lands in a registry the user did not mean)."""
    from champion.local.access import open_workspace as open_local
    from champion.local.workspace import resolve_workspace_path

    local_only(args, f"'champion {args.command_name}'")
    path, _ = resolve_workspace_path(args.workspace)
    ws = open_local(path, read_only=not write)
    if write:
        _output.note(f"champion: workspace {ws.path}")
    return ws


def registered_model(args: argparse.Namespace) -> Any:
    """The local workspace's `Model` of `args.name` (`args.version`, else the latest: the
    champion); a name or version the registry lacks is the user's to fix."""
    from champion.local import Model

    ws = open_workspace(args)
    try:
        return Model(ws, args.name, version=args.version, expand=False)
    except Exception as exc:
        if "ModelNotFound" not in (getattr(exc, "message", None) or str(exc)):
            raise
        what = f"version {args.version} of {args.name!r}" if args.version else repr(args.name)
        raise InputError(
            f"no model {what} in {ws.path}; 'champion models list' shows the names, "
            f"'champion models history {args.name}' the versions",
            field="name",
            value=args.name,
        ) from None


def positive_int(text: str) -> int:
    """An argparse type: a count of at least 1 (`--limit -1` silently dropped a run)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def version_number(text: str) -> int:
    """An argparse type for `--version`: registry versions start at 1."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a version; versions are whole numbers from 1"
        ) from None


def model_name(text: str) -> str:
    """An argparse type: a name Azure ML would accept, checked before anything is opened."""
    from champion._validation import validate_model_name

    try:
        return validate_model_name(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
