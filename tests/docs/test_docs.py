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

    walk(cli._parser(), "")
    return found


@pytest.mark.parametrize(("command", "parser"), _commands(), ids=lambda x: str(x))
def test_every_cli_command_is_in_the_readme_and_has_help(command, parser) -> None:
    assert parser.format_help().strip()
    words = command.split()
    assert re.search(r"champion .*" + r".*".join(map(re.escape, words)), README), command


def test_cli_without_a_command_prints_help_and_exits_2(capsys) -> None:
    assert cli.main([]) == 2
    assert "commands" in capsys.readouterr().out
