"""The command line's conventions, tried as a user meets them: options where habit puts them,
JSON and CSV a script can read, a table on a terminal and in a pipe, `| head` without a
traceback, help for a group, and exit 2 with one line for every mistake a user can fix."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CHAMPION, clean_env

from champion.local import Model, Workspace

ROOT = Path(__file__).resolve().parents[2]

# Every list and show command, with {run} standing for the registry's run id.
LIST_AND_SHOW = [
    ("models", "list"),
    ("models", "show", "iris"),
    ("models", "history", "iris"),
    ("runs", "list"),
    ("runs", "show", "{run}"),
]
LISTS = [("models", "list"), ("models", "history", "iris"), ("runs", "list")]


def _args(command: tuple[str, ...], registry) -> list[str]:
    return [part.format(run=registry.run_id) for part in command]


def _ids(commands):
    return [" ".join(c) for c in commands]


# --------------------------------------------------------------------------- global options


@pytest.mark.parametrize(
    "command", [("verify",), ("models", "list"), ("models", "history", "iris"), ("runs", "list")],
    ids=" ".join,
)  # fmt: skip
def test_global_options_work_before_and_after_the_command(champion, registry, command):
    """`champion verify --workspace X` gave "unrecognized arguments": the global options only
    worked before the command."""
    ws = str(registry.path)
    before = champion("--workspace", ws, "--json", *command)
    after = champion(*command, "--workspace", ws, "--json")
    between = champion(command[0], "--json", "--workspace", ws, *command[1:])

    for result in (before, after, between):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(between.stdout)


def test_verify_takes_the_workspace_in_either_place(champion, registry):
    for args in (
        ("verify", "--workspace", registry.path),
        ("--workspace", registry.path, "verify"),
    ):
        result = champion(*args)
        assert result.returncode == 0, result.stderr
        assert f"{registry.path}: healthy" in result.stdout


def test_debug_after_the_command_shows_the_traceback(champion, tmp_path):
    quiet = champion("models", "list", "--workspace", tmp_path / "nowhere")
    loud = champion("models", "list", "--workspace", tmp_path / "nowhere", "--debug")
    assert quiet.returncode == loud.returncode == 2
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("command", LIST_AND_SHOW, ids=_ids(LIST_AND_SHOW))
def test_json_of_every_list_and_show_command_is_one_document(champion, registry, command):
    """`--json` existed only on `models history` (as JSON lines); `show` always printed JSON
    and `list` always a table."""
    args = [*_args(command, registry), "--json", "--workspace", str(registry.path)]
    piped = champion(*args, shell_tail="| python -m json.tool")

    assert piped.returncode == 0, piped.stderr
    document = json.loads(piped.stdout)
    if command[1] == "list" or command[1] == "history":
        assert isinstance(document, list) and document
        assert len({tuple(sorted(entry)) for entry in document}) == 1  # the same keys each
    else:
        assert isinstance(document, dict)


def test_json_keys_are_the_documented_ones(champion, registry):
    def doc(*args: str):
        result = champion(*args, "--json", "--workspace", registry.path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    (iris,) = [m for m in doc("models", "list") if m["name"] == "iris"]
    assert iris == {
        "name": "iris", "version": 1, "metric": "accuracy", "metric_value": "0.9",
        "outcome": "first", "build_number": "7", "registered": iris["registered"],
        "run_id": registry.run_id,
    }  # fmt: skip
    assert iris["registered"].endswith("+00:00")
    shown = doc("models", "show", "iris")
    assert shown["properties"]["build_number"] == "7" and shown["run_id"] == registry.run_id
    (entry,) = doc("models", "history", "iris")  # a version registered without a record
    assert set(entry) == {
        "decided", "run_id", "outcome", "metric", "challenger", "champion", "champion_version",
        "version", "build_number", "reason", "policy", "record", "registered",
    }  # fmt: skip
    assert (entry["outcome"], entry["version"], entry["record"]) == ("first", 1, None)
    assert entry["run_id"] == registry.run_id and entry["challenger"] == "0.9"
    (run,) = doc("runs", "list")
    assert set(run) == {"run_id", "experiment", "name", "status", "outcome", "created"}
    details = doc("runs", "show", registry.run_id)
    assert details["tags"]["accuracy"] == "0.9"
    (child,) = details["children"]
    assert child["name"].endswith("train")  # the SDK chains child names: "<parent>>train"
    assert "outputs/iris/model.pkl" in details["files"]


def readme_keys() -> dict[str, set[str]]:
    """The CLI reference's table of what `--json` prints: command -> its keys (nested ones left
    out)."""
    reference = (ROOT / "docs" / "reference" / "cli.md").read_text()
    table = reference.split("| command | `--json` prints (keys) |", 1)[1].split("\n\n", 1)[0]
    keys = {}
    for row in table.splitlines()[2:]:
        _, command, prints, _ = row.split("|")
        listed = re.sub(r"\(.*?\)", "", prints.split(":", 1)[1])
        keys[command.strip().strip("`")] = set(re.findall(r"`([a-z_]+)`", listed))
    return keys


def test_json_keys_are_the_ones_the_reference_lists(champion, registry):
    documented = readme_keys()
    commands = {
        "models list": ("models", "list"),
        "models show": ("models", "show", "iris"),
        "models history": ("models", "history", "iris"),
        "runs list": ("runs", "list"),
        "runs show": ("runs", "show", registry.run_id),
        "verify": ("verify",),
    }
    for name, args in commands.items():
        result = champion(*args, "--json", "--workspace", registry.path)
        document = json.loads(result.stdout)
        for entry in document if isinstance(document, list) else [document]:
            assert set(entry) == documented[name], name


@pytest.mark.parametrize("command", LISTS, ids=_ids(LISTS))
def test_csv_has_the_json_keys_as_header_and_a_row_per_record(champion, registry, command):
    ws = ["--workspace", str(registry.path)]
    as_csv = champion(*command, "--format", "csv", *ws)
    as_json = champion(*command, "--json", *ws)

    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    records = json.loads(as_json.stdout)
    assert rows == [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]
    assert set(as_csv.stdout.splitlines()[0].split(",")) == set(records[0])  # the JSON keys


def test_show_commands_print_a_field_table_by_default_and_field_value_csv(champion, registry):
    table = champion("models", "show", "iris", "--workspace", registry.path)
    as_csv = champion("models", "show", "iris", "--format", "csv", "--workspace", registry.path)
    assert table.stdout.splitlines()[0].split() == ["field", "value"]
    assert ["properties.build_number", "7"] in [line.split() for line in table.stdout.splitlines()]
    assert ["properties.build_number", "7"] in list(csv.reader(io.StringIO(as_csv.stdout)))


def test_the_table_is_the_default_on_a_terminal_and_in_a_pipe(champion, registry):
    """The same table either way: output that changes shape when piped breaks `| grep` and
    build logs; scripts ask for --json or --format csv."""
    piped = champion("models", "list", "--workspace", registry.path)
    primary, replica = pty.openpty()
    try:
        done = subprocess.run(
            [CHAMPION, "models", "list", "--workspace", str(registry.path)],
            stdout=replica, stderr=subprocess.PIPE, env=clean_env(), timeout=120,
        )  # fmt: skip
        os.close(replica)
        on_terminal = _read_all(primary)
    finally:
        os.close(primary)
    assert done.returncode == 0, done.stderr
    assert piped.stdout.splitlines()[0].split()[:2] == ["model", "version"]
    assert on_terminal.replace("\r\n", "\n") == piped.stdout


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_json_output_holds_only_the_document(champion, tmp_path):
    """What the library prints (the SDK's "Registering model ...") goes to stderr, so stdout
    parses; so does every command that acts."""
    model = tmp_path / "trained" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(b"a model")
    ws = tmp_path / "ws"
    register = ["register", "--model-name", "iris", "--model-path", model, "--metric-value"]

    results = {
        "init": champion("init", ws, "--json"),
        "register": champion(*register, "0.9", "--workspace", ws, "--json"),
        "download": champion("models", "download", "iris", "--target", tmp_path / "out",
                             "--workspace", ws, "--json"),
        "verify": champion("verify", "--workspace", ws, "--json"),
        "gc": champion("gc", "--workspace", ws, "--json"),
    }  # fmt: skip

    docs = {}
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stderr)
        docs[name] = json.loads(result.stdout)
    assert docs["init"] == {"workspace": str(ws), "created": True}
    assert docs["register"]["outcome"] == "first" and docs["register"]["registered_version"] == 1
    assert "Registering model iris" in results["register"].stderr
    assert docs["download"]["verified"] is True
    assert docs["verify"]["healthy"] is True and docs["verify"]["problems"] == []
    assert docs["gc"]["bytes_freed"] == 0
    documented = readme_keys()
    for name in ("init", "verify", "gc"):
        assert set(docs[name]) == documented[name], name
    assert set(docs["download"]) == documented["models download"]


# --------------------------------------------------------------------------- pipes


@pytest.mark.parametrize(
    "args",
    [
        ("models", "show", "iris"),
        ("models", "show", "big"),
        ("models", "show", "big", "--json"),
        ("models", "show", "big", "--format", "csv"),
    ],
    ids=" ".join,
)
def test_a_reader_that_stops_early_is_not_an_error(champion, registry, args):
    """`champion models show iris | head -1` ended in a BrokenPipeError (exit 3, or a
    traceback). `big` prints ~1 MB, more than the pipe holds, so head really closes it."""
    result = champion(*args, "--workspace", registry.path, shell_tail="| head -1")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 1


def test_a_closed_stdout_does_not_change_what_a_command_does(tmp_path):
    """The reader went away before the first byte: the command still does its work and exits
    with its own code (a win 0, a rejection with --fail-on-reject 1), quietly."""
    model = tmp_path / "trained" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(b"a model")
    ws = tmp_path / "ws"
    created = subprocess.run([CHAMPION, "init", str(ws)], env=clean_env(), capture_output=True)
    assert created.returncode == 0, created.stderr

    def register(value: str) -> subprocess.CompletedProcess[str]:
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            return subprocess.run(
                [CHAMPION, "register", "--model-name", "iris", "--model-path", str(model),
                 "--metric-value", value, "--fail-on-reject", "--workspace", str(ws)],
                stdout=write_end, stderr=subprocess.PIPE, text=True, env=clean_env(),
                cwd=tmp_path, timeout=120,
            )  # fmt: skip
        finally:
            os.close(write_end)

    win, loss = register("0.9"), register("0.5")

    assert (win.returncode, loss.returncode) == (0, 1), win.stderr + loss.stderr
    assert "Traceback" not in win.stderr + loss.stderr
    assert "Broken pipe" not in win.stderr + loss.stderr
    assert [m.version for m in Model.list(Workspace(ws), name="iris")] == [1]


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("group", "commands"),
    [("models", ["list", "show", "history", "download"]), ("runs", ["list", "show"])],
)
def test_a_group_alone_prints_its_own_help_and_exits_2(champion, group, commands):
    """`champion models` printed the top-level help."""
    alone = champion(group)
    asked = champion(group, "--help")

    assert alone.returncode == 2  # no command ran: a script that lost its subcommand fails
    assert asked.returncode == 0
    assert alone.stdout == asked.stdout
    assert alone.stdout.startswith(f"usage: champion {group} ")
    assert all(f"    {name} " in alone.stdout for name in commands)
    assert "    register " not in alone.stdout
    assert f"examples:\n  champion {group} " in alone.stdout


def test_every_command_help_shows_each_option_and_an_example(champion):
    result = champion("runs", "list", "--help")
    assert result.returncode == 0
    assert "at most N runs, the newest (default: 20)" in result.stdout
    assert "global options (before or after the command)" in result.stdout
    assert "examples:\n  champion runs list --limit 5\n" in result.stdout


# --------------------------------------------------------------------------- mistakes


MISTAKES = {
    "negative limit": (("runs", "list", "--limit", "-1"), "'-1' must be 1 or more"),
    "zero limit": (("runs", "list", "--limit", "0"), "'0' must be 1 or more"),
    "limit not a number": (("runs", "list", "--limit", "ten"), "'ten' is not a whole number"),
    "limit and all": (("runs", "list", "--limit", "5", "--all"), "not allowed with argument"),
    "bad model name": (("models", "show", "my model"), "model name 'my model' is invalid"),
    "unknown model": (("models", "show", "nope"), "no model 'nope' in"),
    "unknown history": (("models", "history", "nope"), "no model named 'nope' in"),
    "version 0": (("models", "show", "iris", "--version", "0"), "'0' is not a version"),
    "unknown version": (("models", "show", "iris", "--version", "9"), "no model version 9"),
    "unknown run": (("runs", "show", "nope"), "no run 'nope' in"),
    "negative age": (("gc", "--min-age", "-5"), "'-5' must be 0 or more seconds"),
    "json and csv": (("models", "list", "--json", "--format", "csv"), "disagree"),
    "no such format": (("models", "list", "--format", "xml"), "invalid choice: 'xml'"),
    "csv of an act": (("gc", "--format", "csv"), "this command prints no csv"),
    "json of run": (("--json", "run", "pipelines/iris.py"), "this command prints no json"),
    "unknown command": (("frobnicate",), "invalid choice: 'frobnicate'"),
    "missing option": (("register", "--model-name", "iris"), "the following arguments are"),
    "missing value": (("models", "list", "--metric"), "expected one argument"),
}


@pytest.mark.parametrize(("args", "says"), MISTAKES.values(), ids=MISTAKES.keys())
def test_a_mistake_the_user_can_fix_is_exit_2_and_one_line(champion, registry, args, says):
    result = champion(*args, "--workspace", registry.path, cwd=ROOT)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("champion: error [")
    assert says in line


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_kept_as_text(champion, tmp_path):
    """A tag or property is anyone's text; opened from --format csv, `=HYPERLINK(...)` must be
    shown, not run. Numbers such as -0.5 stay numbers."""
    model = tmp_path / "model.pkl"
    model.write_bytes(b"a model")
    ws = Workspace.create(tmp_path / "ws")
    with contextlib.chdir(tmp_path):
        Model.register(
            ws,
            model_path="model.pkl",
            model_name="sly",
            properties={"note": '=HYPERLINK("http://evil.example","x")', "loss": "-0.5"},
        )
    shown = champion("models", "show", "sly", "--format", "csv", "--workspace", ws.path)
    assert shown.returncode == 0, shown.stderr
    cells = dict(row for row in csv.reader(io.StringIO(shown.stdout)) if len(row) == 2)
    assert cells["properties.note"] == '\'=HYPERLINK("http://evil.example","x")'
    assert cells["properties.loss"] == "-0.5"
