"""A v1 pipeline file (`build_spec`) and a v2 one (`build_pipeline`) offer one command line:
the same mode flags (`--run`, also spelled `--local`, `--validate`, `--submit`), their
keyword parameters as typed options, and the same refusal of a parameter that would shadow a
driver option."""

from __future__ import annotations

from typing import Any

import pytest

from champion.errors import InputError
from champion.pipeline._options import build_parser
from champion.pipeline.v2_local import _parser as v2_parser


def v1_file(*, seed: int = 42, strict: bool = False) -> Any:
    """A v1 pipeline.

    Args:
        seed: the split's seed
    """


def v2_file(*, seed: int = 42, strict: bool = False, build_number: str = "dev") -> Any:
    """A v2 pipeline (its `build_number` is filled by --build-number).

    Args:
        seed: the split's seed
    """


def parse(kind: str, *argv: str) -> Any:
    parser = build_parser(v1_file) if kind == "v1" else v2_parser(v2_file, None, None)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("kind", ["v1", "v2"])
@pytest.mark.parametrize(
    ("argv", "mode"),
    [((), "run"), (("--run",), "run"), (("--local",), "run"), (("--validate",), "validate")],
)
def test_both_kinds_of_file_take_the_same_mode_flags(kind, argv, mode):
    assert parse(kind, *argv).mode == mode


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_both_kinds_of_file_type_their_options_from_the_defaults(kind):
    args = parse(kind, "--seed", "7", "--strict")
    assert (args.spec_seed, args.spec_strict) == (7, True)
    assert parse(kind, "--no-strict").spec_strict is False


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_two_mode_flags_are_a_usage_error(kind, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(kind, "--run", "--validate")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["v1", "v2"])
@pytest.mark.parametrize("name", ["run", "local", "workspace"])
def test_a_parameter_named_like_a_driver_option_is_refused_naming_it(kind, name):
    source = f"def f(*, {name}=1):\n    ...\n"
    space: dict[str, Any] = {}
    exec(compile(source, "pipeline.py", "exec"), space)
    with pytest.raises(InputError, match=f"clashes with the driver's own --{name}"):
        if kind == "v1":
            build_parser(space["f"])
        else:
            v2_parser(space["f"], None, None)
