"""The README, the docs pages and the CLI stay true to each other: the README is a short front
page whose links resolve, every command is documented and has help with an example, the exit
codes page names every command, and the CLI reference is generated from the parsers."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

from champion import cli
from champion.cli._app import _format_of

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DOCS = "\n".join(page.read_text() for page in PAGES)


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make run", "make test"]
    assert README.index("```sh") < README.index("\n## ")  # before any section


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_is_a_front_page_whose_links_resolve() -> None:
    """The README was 1,327 lines; the rest lives in docs/, which mkdocs checks. The README is
    outside the site, so its own links are checked here."""
    assert len(README.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README links to the documentation"
    assert [link for link in local if not (ROOT / link).exists()] == []


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
def test_every_cli_command_is_in_the_docs_and_has_help(command, parser) -> None:
    assert parser.format_help().strip()
    words = command.split()
    assert re.search(r"champion .*" + r".*".join(map(re.escape, words)), DOCS), command


def test_the_cli_reference_is_every_commands_help_as_the_parsers_print_it(monkeypatch) -> None:
    """The hook mkdocs runs (tools/docs_hooks.py) turns the page's marker into each command's
    `--help`: the reference cannot drift from the code."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import docs_hooks
    finally:
        sys.path.remove(str(ROOT / "tools"))
    page = (ROOT / "docs/reference/cli.md").read_text()
    built = docs_hooks.on_page_markdown(page, page=None)
    assert docs_hooks.MARKER not in built and built.startswith(page.split(docs_hooks.MARKER)[0])
    monkeypatch.setenv("COLUMNS", docs_hooks.WIDTH)  # argparse wraps to the terminal's width
    for command, parser in [("", cli.build_parser()), *COMMANDS]:
        title = f"champion {command}".strip()
        assert f"### `{title}`" in built, title
        assert parser.format_help().rstrip() in built, title
    assert built.count("### `champion") == len(COMMANDS) + 1


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


def test_the_exit_codes_page_lists_every_commands_exit_codes() -> None:
    """The table of docs/reference/exit-codes.md names every command."""
    page = (ROOT / "docs/reference/exit-codes.md").read_text()
    table = page.split("| command | exit codes |", 1)[1].split("\n\n", 1)[0]
    for command, _ in COMMANDS:
        assert f"`champion {command}`" in table or f"`champion {command} " in table, command
