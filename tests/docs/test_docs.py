"""README and CLI stay true to each other."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from champion import cli
from champion.cli._app import _format_of

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make run", "make test"]
    assert README.index("```sh") < README.index("\n## ")  # before any section


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    found = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    path = f"{prefix} {name}".strip()
                    found.append((path, sub))
                    walk(sub, path)

    walk(cli.build_parser(), "")
    return found


COMMANDS = _commands()


@pytest.mark.parametrize(("command", "parser"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_every_cli_command_is_in_the_readme_and_has_help(command, parser) -> None:
    assert parser.format_help().strip()
    words = command.split()
    assert re.search(r"champion .*" + r".*".join(map(re.escape, words)), README), command


@pytest.mark.parametrize(("command", "parser"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_every_option_has_help_and_every_command_an_example(command, parser) -> None:
    """Subcommand options had no help text; now `--help` explains each and shows a command
    line to copy that names this very command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)
    examples = (parser.epilog or "").splitlines()
    assert examples[0] == "examples:", command
    assert examples[1:] and all(e.startswith(f"  champion {command}") for e in examples[1:])
    assert "examples:\n  champion " + command in parser.format_help()


@pytest.mark.parametrize(("command", "parser"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_every_command_takes_each_global_option_its_help_lists(command, parser) -> None:
    """`champion serve --help` listed `--json`, then `champion serve iris --json` answered
    "this command prints no json". Each global option a command's help lists is one it takes:
    `--json` only where JSON is printed, `--format` with exactly the formats it prints."""
    listed = {
        option
        for group in parser._action_groups
        if group.title == "global options (before or after the command)"
        for action in group._group_actions
        for option in action.option_strings
    }
    assert {"--backend", "--workspace", "--format", "--debug"} <= listed, command
    formats = parser.get_default("formats")
    said = parser._option_string_actions["--format"].help
    offered = [fmt for fmt in ("table", "json", "csv") if fmt in said]
    assert offered == list(formats), command  # the help names exactly the formats it prints
    for fmt in offered:
        assert _format_of(argparse.Namespace(json=False, format=fmt, formats=formats)) == fmt
    if "--json" in listed:
        assert _format_of(argparse.Namespace(json=True, format=None, formats=formats)) == "json"
    else:
        assert "json" not in formats, command


def test_cli_without_a_command_prints_help_and_exits_2(capsys) -> None:
    assert cli.main([]) == 2
    assert "commands" in capsys.readouterr().out


def test_readme_lists_every_commands_exit_codes() -> None:
    """The exit-code table in the README's command-line section names every command."""
    section = README.split("## The command line", 1)[1].split("\n## ", 1)[0]
    table = section.split("| command | exit codes |", 1)[1].split("\n\n", 1)[0]
    for command, _ in COMMANDS:
        assert f"`champion {command}`" in table or f"`champion {command} " in table, command
