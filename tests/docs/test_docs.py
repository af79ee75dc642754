"""README and CLI stay true to each other."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from champion import cli

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
def test_every_command_takes_the_global_options(command, parser) -> None:
    for option in ("--workspace", "--json", "--format", "--debug"):
        assert option in parser._option_string_actions, (command, option)
    said = parser._option_string_actions["--format"].help
    for fmt in ("table", "json", "csv"):  # the help names exactly the formats it offers
        assert (fmt in said) == (fmt in parser.get_default("formats")), (command, fmt)


def test_cli_without_a_command_prints_help_and_exits_2(capsys) -> None:
    assert cli.main([]) == 2
    assert "commands" in capsys.readouterr().out


def test_readme_lists_every_commands_exit_codes() -> None:
    """The exit-code table in the README's command-line section names every command."""
    section = README.split("## The command line", 1)[1].split("\n## ", 1)[0]
    table = section.split("| command | exit codes |", 1)[1].split("\n\n", 1)[0]
    for command, _ in COMMANDS:
        assert f"`champion {command}`" in table or f"`champion {command} " in table, command
