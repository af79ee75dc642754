"""A pipeline file's command line: the driver's own options and `build_spec`'s, as argparse.

Why apart from the driver: turning `build_spec(*, seed: int = 42)` into `--seed` (with its
default and the docstring's `Args:` text) is a job of its own, and the part users see first
(`champion pipeline run FILE --help`); the driver only runs what was parsed.
"""

from __future__ import annotations

import argparse
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion import _env
from champion._usage import Parser, seconds
from champion.errors import InputError
from champion.pipeline._pipeline_file import SpecBuilder, location

MODES = ("run", "validate", "submit", "publish")


WORKSPACE_ENV = _env.WORKSPACE


DEFAULT_WORKSPACE = _env.DEFAULT_WORKSPACE_FOLDER


BUILD_NUMBER_ENV = _env.BUILD_NUMBER


DEFAULT_COMPUTE_TARGET = "cpu-cluster"


DATA_OPTION = "data"


# The driver's own options: a build_spec parameter may not take one of these names.
_RESERVED = frozenset(
    {
        "workspace",
        "backend",
        "build_number",
        "real_sdk",
        "step_timeout",
        "wait",
        "experiment",
        "compute_target",
        "config",
        "wheel",
        "mode",
        "run",
        "local",
        "validate",
        "submit",
        "publish",
        "help",
    }
)


@dataclass(frozen=True)
class SpecOption:
    """One keyword parameter of `build_spec`, offered as `--name-with-dashes`."""

    name: str
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def spec_options(
    builder: SpecBuilder | Any,
    kind: str = "build_spec",
    *,
    reserved: frozenset[str] | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[SpecOption]:
    """The options `builder` takes: its keyword parameters with defaults (`data` included),
    described by its docstring's `Args:` section. A parameter without a default, or named like
    one of the driver's options (`reserved`, default: a v1 file's driver's), is an InputError:
    the command line could not offer it. `kind` names the function in messages (a v2 pipeline
    file's is `build_pipeline`); `skip` names parameters the driver fills itself."""
    reserved = _RESERVED if reserved is None else reserved
    described = _described_args(inspect.getdoc(builder) or "")
    options = []
    for parameter in inspect.signature(builder).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name in skip:
            continue
        where = f"{location(builder)}: {kind} parameter {parameter.name!r}"
        if parameter.default is parameter.empty:
            raise InputError(
                f"{where} has no default; every {kind} parameter needs one so that the "
                "pipeline runs without options",
                field=kind,
                value=parameter.name,
            )
        if parameter.name in reserved:
            raise InputError(
                f"{where} clashes with the driver's own --{parameter.name.replace('_', '-')}; "
                "rename it",
                field=kind,
                value=parameter.name,
            )
        options.append(
            SpecOption(parameter.name, parameter.default, described.get(parameter.name, ""))
        )
    return options


def add_spec_options(
    group: Any, options: list[SpecOption], kind: str, extra: dict[str, str] | None = None
) -> None:
    """Each option as `--name-with-dashes`, typed by its default (an int, a float, a bool as
    `--x/--no-x`), stored as `spec_<name>`; `extra` adds to an option's help."""
    for spec_option in options:
        default = spec_option.default
        kind_of = type(default)
        text = (spec_option.help or f"{kind}'s {spec_option.name}") + (extra or {}).get(
            spec_option.name, ""
        )
        typed: dict[str, Any] = {"type": kind_of} if kind_of in (int, float) else {}
        if kind_of is bool:
            typed = {"action": argparse.BooleanOptionalAction}
        group.add_argument(
            spec_option.flag,
            dest=f"spec_{spec_option.name}",
            metavar=spec_option.name.upper(),
            default=default,
            help=f"{text} (default: {default!r})",
            **typed,
        )


_MODE_FLAGS = {
    "run": (("--run", "--local"), "run it here, on the local workspace (the default)"),
    "validate": (("--validate",), "build the pipeline offline and check it with the SDK"),
    "submit": (("--submit",), "submit a run to the Azure ML workspace config.json names"),
    "publish": (("--publish",), "publish the pipeline, version = --build-number"),
}


def add_mode_flags(parser: argparse.ArgumentParser, modes: tuple[str, ...]) -> None:
    """The mode flags of `python FILE`, the same for a v1 and a v2 file (`--run`, the default,
    also spelled `--local`), for the modes this kind of file has."""
    group = parser.add_mutually_exclusive_group()
    for mode in modes:
        flags, text = _MODE_FLAGS[mode]
        group.add_argument(*flags, dest="mode", action="store_const", const=mode, help=text)
    parser.set_defaults(mode="run")


def _described_args(doc: str) -> dict[str, str]:
    """`name: text` entries of a Google-style `Args:` section, continuation lines joined."""
    found: dict[str, str] = {}
    section = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    if section is None:
        return found
    current = None
    for line in section.group(1).splitlines():
        entry = re.match(r"^\s{2,8}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2).strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found


# Which of the driver's options each mode takes; `python FILE` (no fixed mode) takes them all.
_OPTIONS_OF = {
    "run": {"workspace", "backend", "build_number", "real_sdk", "step_timeout"},
    "validate": {"build_number", "experiment", "compute_target"},
    "submit": {"build_number", "wait", "experiment", "compute_target", "config", "wheel"},
    "publish": {"build_number", "experiment", "compute_target", "config", "wheel"},
}


_OPTION_DEFAULTS = {
    "workspace": None,
    "backend": None,
    "build_number": None,
    "real_sdk": False,
    "step_timeout": None,
    "wait": False,
    "experiment": None,
    "compute_target": DEFAULT_COMPUTE_TARGET,
    "config": None,
    "wheel": None,
}


def build_parser(
    builder: SpecBuilder,
    *,
    prog: str | None = None,
    mode: str | None = None,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """The command line for one pipeline file. `mode` None offers the mode flags of
    `python FILE` (--local, the default, --validate, --submit, --publish) and every option; a
    mode given is fixed, as `champion pipeline MODE FILE` fixes it, with that mode's options."""
    parser = Parser(prog=prog, description=description)
    wanted = _OPTIONS_OF[mode] if mode is not None else set(_OPTION_DEFAULTS)
    parser.set_defaults(**_OPTION_DEFAULTS)

    def option(name: str, *args: Any, group: Any = parser, **kwargs: Any) -> None:
        if name in wanted:
            group.add_argument("--" + name.replace("_", "-"), *args, **kwargs)

    option(
        "workspace",
        type=Path,
        help=f"local workspace folder, created if needed (default: ${WORKSPACE_ENV}, else the "
        f"nearest {DEFAULT_WORKSPACE}/ in this folder or its parents, else ./{DEFAULT_WORKSPACE})",
    )
    option(
        "backend",
        choices=("local", "azureml", "mlflow"),
        default=_env.backend(),
        help="where the run's steps record and register (default: $CHAMPION_BACKEND, else "
        "local): local, the local workspace; azureml, the same under mock_azureml() (as "
        "--real-sdk); mlflow, the MLflow server or sqlite:/// database $MLFLOW_TRACKING_URI "
        "names, a parent run and one nested run per step",
    )
    option(
        "build_number",
        default=_env.build_number(),
        help=f"value of the build_number pipeline parameter (default: ${BUILD_NUMBER_ENV} when "
        "an Azure DevOps agent sets it, else the spec's default)",
    )
    spec_group = parser.add_argument_group("the pipeline's own options (its build_spec)")
    copied = "; on Azure ML the file is copied into the steps' snapshot" if mode != "run" else ""
    add_spec_options(spec_group, spec_options(builder), "build_spec", {DATA_OPTION: copied})
    if mode is None:
        add_mode_flags(parser, ("run", "validate", "submit", "publish"))
    else:
        parser.set_defaults(mode=mode)
    option(
        "real_sdk",
        action="store_true",
        help="local run: each step under mock_azureml(), for scripts importing azureml.core",
    )
    option(
        "step_timeout",
        type=seconds,
        metavar="SECONDS",
        help="local run: end a step that runs longer (it is Canceled, the pipeline Failed, exit "
        "124), unless the step has a timeout of its own (default: no limit)",
    )
    azure = parser.add_argument_group("Azure ML") if wanted & {"experiment", "wait"} else parser
    option(
        "wait",
        group=azure,
        action="store_true",
        help="with submit: wait for the run to end, then print the decision read from it",
    )
    option("experiment", group=azure, help="experiment to submit to (default: the pipeline's name)")
    option(
        "compute_target",
        group=azure,
        help=f"AmlCompute cluster the steps run on (default: {DEFAULT_COMPUTE_TARGET})",
    )
    option(
        "config",
        group=azure,
        type=Path,
        help="workspace config.json, or the folder holding it (default: searched as "
        "Workspace.from_config() does, from the current folder up)",
    )
    option(
        "wheel",
        group=azure,
        type=Path,
        help="champion wheel for the steps' environment (default: built from the checkout "
        "champion is installed from, with `pip wheel`)",
    )
    return parser
