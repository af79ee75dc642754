"""Trust at the edges, the command line's side: the right registry or none, downloads that write
all of a model or nothing and never outside the target, one clear line for every failure, and
stored values printed so they cannot act on a terminal or an Azure DevOps agent."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from hostile import close_stores, files_of, one_line_error, read_only, small_disk

from champion import cli as cli_module

# --------------------------------------------------------------------------- which registry


def _champion_of(pipeline, cli, model: Path, value: str = "0.99") -> None:
    result = cli(
        "register", "--model-name", "iris", "--model-path", str(model), "--metric-value", value,
        workspace=pipeline.ws_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "trained" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(b"a model trained by hand")
    return path


def test_a_mistyped_champion_workspace_is_refused_not_created(pipeline, cli, model, tmp_path):
    """A typo in CHAMPION_WORKSPACE made a fresh registry: 0.10 became 'first' while the real
    champion was 0.99, and verify called the new empty folder healthy."""
    _champion_of(pipeline, cli, model)
    typo = Path(str(pipeline.ws_path) + "s")

    results = [
        cli(
            "register",
            "--model-name",
            "iris",
            "--model-path",
            str(model),
            "--metric-value",
            "0.10",
            workspace=typo,
        ),
        cli("models", "list", workspace=typo),
        cli("verify", workspace=typo),
    ]

    for result in results:
        assert result.returncode == 2, result.stdout
        line = one_line_error(result)
        assert f"not a champion workspace: {typo}; create one with 'champion init {typo}'" in line
    assert not typo.exists()
    assert pipeline.versions() == [1]


def test_workspace_flag_at_a_plain_folder_or_a_file_is_refused(cli, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a workspace")

    for args in (("verify",), ("models", "list"), ("gc",), ("runs", "list")):
        for target in (plain, a_file):
            result = cli("--workspace", str(target), *args)
            assert result.returncode == 2, (args, target, result.stdout)
            assert "not a champion workspace" in one_line_error(result)
    assert list(plain.iterdir()) == []
    assert a_file.read_text() == "not a workspace"


def test_commands_in_a_subfolder_use_the_project_workspace(cli, model, tmp_path):
    """A `cd` into a subfolder started an empty registry there; the nearest .champion/ up the
    tree is used instead, as git finds .git, and every write says which one it used."""
    project = tmp_path / "project"
    deep = project / "src" / "steps"
    deep.mkdir(parents=True)
    created = cli("init", cwd=project)
    assert created.returncode == 0, created.stderr
    assert f"created workspace {project / '.champion'}" in created.stdout

    register = cli(
        "register", "--model-name", "iris", "--model-path", str(model), "--metric-value", "0.9",
        cwd=deep,
    )  # fmt: skip
    listing = cli("models", "list", cwd=deep)

    assert register.returncode == 0, register.stderr
    assert f"champion: workspace {project / '.champion'}" in register.stdout
    assert "iris" in listing.stdout
    assert not (deep / ".champion").exists() and not (project / "src" / ".champion").exists()


def test_without_any_workspace_commands_say_how_to_create_one(cli, tmp_path):
    result = cli("models", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert "create one with 'champion init" in one_line_error(result)
    assert not (tmp_path / ".champion").exists()


def test_init_creates_once_and_refuses_a_file_or_a_folder_holding_other_files(cli, tmp_path):
    first, again = cli("init", "reg"), cli("init", "reg")
    assert (first.returncode, again.returncode) == (0, 0)
    assert "already a champion workspace" in again.stdout
    assert (tmp_path / "reg" / "workspace.db").is_file()

    (tmp_path / "a-file").write_text("x")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "main.py").write_text("print('mine')")
    for path in ("a-file", "project"):
        result = cli("init", path)
        assert result.returncode == 2
        one_line_error(result)
    assert files_of(tmp_path / "project") == {"main.py": b"print('mine')"}


# --------------------------------------------------------------------------- downloads


def _registered(pipeline, accuracy: str, files: dict[str, bytes]):
    """A model folder registered by the register step (so with its artifact_sha256)."""
    run = pipeline.new_run({"accuracy": accuracy})
    (run.model_dir / "model.pkl").unlink()
    for name, data in files.items():
        (run.model_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run.model_dir / name).write_bytes(data)
    result = pipeline.register(run)
    assert result.exit_code == 0, result.stderr
    return run


def _download(cli, pipeline, target: Path, *extra: str):
    return cli("models", "download", "iris", "--target", str(target), *extra,
               workspace=pipeline.ws_path)  # fmt: skip


def test_download_never_writes_through_a_symlink_in_the_target(pipeline, cli, tmp_path):
    _registered(pipeline, "0.9", {"model.pkl": b"model"})
    target, outside = tmp_path / "target", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (target / "iris").symlink_to(outside, target_is_directory=True)

    result = _download(cli, pipeline, target)

    assert result.returncode == 2
    assert "symlink" in one_line_error(result)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in target.iterdir()) == ["iris"]


def test_download_refuses_a_tampered_artifact_path_and_writes_nothing(pipeline, cli, tmp_path):
    """Artifact paths read from the database were not checked again before writing: a
    workspace copied from elsewhere could write outside --target."""
    _registered(pipeline, "0.9", {"model.pkl": b"model"})
    with contextlib.closing(sqlite3.connect(pipeline.ws_path / "workspace.db")) as conn:
        conn.execute(
            "UPDATE artifacts SET path='outputs/iris/../../escape.txt'"
            " WHERE path='outputs/iris/model.pkl'"
        )
        conn.commit()
    base = tmp_path / "dl"
    target = base / "inner" / "target"

    result = _download(cli, pipeline, target)
    checked = cli("verify", workspace=pipeline.ws_path)

    assert result.returncode == 3
    assert "could escape" in one_line_error(result)
    assert not base.exists() or files_of(base) == {}
    assert not any(p.name == "escape.txt" for p in tmp_path.rglob("*"))
    assert checked.returncode == 3
    assert "unsafe artifact path" in checked.stdout


def test_download_into_a_non_empty_folder_verifies(pipeline, cli, model, tmp_path):
    """The artifact_sha256 check hashed the whole target folder: a correct model downloaded
    into a folder holding anything else (the default `.` included) was called tampered."""
    _champion_of(pipeline, cli, model)  # a file model: it lands in the target folder itself
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    result = _download(cli, pipeline, target)
    in_cwd = cli("models", "download", "iris", workspace=pipeline.ws_path, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "(sha256 verified)" in result.stdout
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "model.pkl").read_bytes() == b"a model trained by hand"
    assert in_cwd.returncode == 0, in_cwd.stderr  # the default target `.`, full of files
    assert (tmp_path / "model.pkl").read_bytes() == b"a model trained by hand"


def test_a_model_whose_only_entry_is_a_folder_downloads_and_verifies(pipeline, cli, tmp_path):
    _registered(pipeline, "0.9", {"sub/b.txt": b"b", "sub/deeper/c.txt": b"c"})

    result = _download(cli, pipeline, tmp_path / "out")

    assert result.returncode == 0, result.stderr
    assert "(sha256 verified)" in result.stdout
    assert files_of(tmp_path / "out") == {"iris/sub/b.txt": b"b", "iris/sub/deeper/c.txt": b"c"}


def test_a_multi_file_download_with_a_corrupt_last_blob_writes_nothing(pipeline, cli, tmp_path):
    """The first files stayed in place (with --exist-ok, two versions' files mixed) while the
    message said nothing was written."""
    old = {"a.txt": b"old a", "b.txt": b"old b", "z.txt": b"old z"}
    _registered(pipeline, "0.9", old)
    target = tmp_path / "out"
    assert _download(cli, pipeline, target).returncode == 0
    _registered(pipeline, "0.95", {"a.txt": b"new a", "b.txt": b"new b", "z.txt": b"new z"})
    for blob in (pipeline.ws_path / "blobs").rglob("*"):
        if blob.is_file() and blob.read_bytes() == b"new z":
            blob.write_bytes(b"rot z")
    fresh = tmp_path / "fresh"

    replaced = _download(cli, pipeline, target, "--exist-ok")
    new = _download(cli, pipeline, fresh)

    for result in (replaced, new):
        assert result.returncode == 3
        assert "nothing was written" in one_line_error(result)
    assert files_of(target) == {f"iris/{name}": data for name, data in old.items()}
    assert not fresh.exists()


def test_downloading_over_a_file_asks_for_the_flag_the_cli_has(pipeline, cli, tmp_path):
    """It said "set exist_ok to True" (a Python argument) and exited 3, as if Azure failed."""
    _registered(pipeline, "0.9", {"model.pkl": b"model"})
    target = tmp_path / "out"
    assert _download(cli, pipeline, target).returncode == 0

    again = _download(cli, pipeline, target)
    replaced = _download(cli, pipeline, target, "--exist-ok")

    assert again.returncode == 2
    assert "--exist-ok" in one_line_error(again)
    assert replaced.returncode == 0, replaced.stderr


def test_a_target_that_is_a_file_or_not_writable_is_one_line(pipeline, cli, tmp_path):
    _registered(pipeline, "0.9", {"model.pkl": b"model"})
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()

    onto_file = _download(cli, pipeline, a_file)
    with read_only(locked):
        not_writable = _download(cli, pipeline, locked)

    assert onto_file.returncode == 2
    assert str(a_file) in one_line_error(onto_file)
    # a mode the user can change is theirs (2); a read-only mount is the machine's (3)
    assert not_writable.returncode == (3 if os.geteuid() == 0 else 2)
    assert str(locked) in one_line_error(not_writable)
    assert a_file.read_text() == "x" and list(locked.iterdir()) == []


def test_a_full_disk_is_one_line_and_changes_nothing(pipeline, cli, tmp_path, monkeypatch):
    """A full disk gave a traceback and exit 1, for a download and for a registration."""
    big = tmp_path / "big" / "model.pkl"
    big.parent.mkdir()
    big.write_bytes(os.urandom(2 * 1024 * 1024))  # 2 MiB: more than the 1 MiB disk holds
    _champion_of(pipeline, cli, big, "0.9")
    disk = tmp_path / "disk"
    with small_disk(disk) as mounted:
        if not mounted:
            _full_disk_injected(pipeline, disk, monkeypatch)
            return
        download = _download(cli, pipeline, disk / "target")
        assert download.returncode == 3, download.stderr
        assert files_of(disk) == {}
        assert cli("init", str(disk / "ws")).returncode == 0
        register = cli(
            "register", "--model-name", "iris", "--model-path", str(big),
            "--metric-value", "0.9", workspace=disk / "ws",
        )  # fmt: skip
        versions = cli("models", "list", workspace=disk / "ws").stdout
        left_in_tmp = files_of(disk / "ws" / "tmp")
    for result in (download, register):
        assert result.returncode == 3, result.stderr
        line = one_line_error(result)
        assert "No space left on device" in line and "free space" in line
    assert "(none)" in versions and left_in_tmp == {}


def _full_disk_injected(pipeline, target: Path, monkeypatch) -> None:
    """Where nothing can be mounted: ENOSPC raised where a download writes its bytes."""
    from champion.local.store import Store

    def full(self, digest, name, folder_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)

    monkeypatch.setattr(Store, "_write_verified", full)
    code = cli_module.main(
        ["--workspace", str(pipeline.ws_path), "models", "download", "iris",
         "--target", str(target / "target")]
    )  # fmt: skip
    assert code == 3
    assert files_of(target) == {}


# --------------------------------------------------------------------------- output


EVIL = "7\n##vso[task.setvariable variable=deploy]yes\x1b[2J\x9b31m\r"


def test_models_history_escapes_control_characters(pipeline, cli, model):
    """Build numbers and tags were printed raw: a newline plus ##vso[...] printed a logging
    command of its own on an Azure DevOps agent, and ESC sequences repainted the terminal."""
    result = cli(
        "register", "--model-name", "iris", "--model-path", str(model), "--metric-value", "0.9",
        "--build-number", EVIL, workspace=pipeline.ws_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    close_stores(pipeline.ws_path)

    commands = [("models", "history", "iris"), ("models", "list"), ("models", "show", "iris")]
    formats = [(), ("--json",), ("--format", "csv")]
    outputs = {
        (*args, *fmt): cli(*args, *fmt, workspace=pipeline.ws_path)
        for args in commands
        for fmt in formats
    }

    for args, out in outputs.items():
        assert out.returncode == 0, (args, out.stderr)
        assert "##" not in out.stdout, args
        assert not any(ch in out.stdout for ch in "\x1b\x9b\r"), args
    shown = "7%0A#%23vso[task.setvariable variable=deploy]yes%1B[2J%9B31m%0D"
    table = outputs["models", "history", "iris"].stdout
    assert shown in table
    assert len(table.splitlines()) == 4  # title, header, rule, one row: no line of its own
    (entry,) = json.loads(outputs["models", "history", "iris", "--json"].stdout)
    assert entry["build_number"] == EVIL  # JSON stays JSON, the value exact
    shown_json = json.loads(outputs["models", "show", "iris", "--json"].stdout)
    assert shown_json["properties"]["build_number"] == EVIL
    csv_out = outputs["models", "history", "iris", "--format", "csv"].stdout
    assert len(csv_out.splitlines()) == 2  # header and one row
    (row,) = csv.DictReader(io.StringIO(csv_out))
    assert row["build_number"] == shown
    fields = dict(
        csv.reader(io.StringIO(outputs["models", "show", "iris", "--format", "csv"].stdout))
    )
    assert fields["properties.build_number"] == shown


def test_debug_shows_the_traceback_the_one_line_hides(cli, tmp_path):
    quiet = cli("--workspace", str(tmp_path / "nowhere"), "models", "list")
    loud = cli("--debug", "--workspace", str(tmp_path / "nowhere"), "models", "list")
    assert quiet.returncode == loud.returncode == 2
    one_line_error(quiet)
    assert "Traceback" in loud.stderr and "not a champion workspace" in loud.stderr


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_the_register_step_refuses_a_workspace_that_does_not_exist(pipeline, real_sdk):
    run = pipeline.new_run({"accuracy": "0.9"})
    typo = pipeline.root / "wrokspace"

    result = pipeline.register(run, env={"CHAMPION_WORKSPACE": str(typo)}, real_sdk=real_sdk)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"not a champion workspace: {typo}" in one_line_error(result)
    assert not typo.exists()
    assert pipeline.versions() == []


def test_schema_drift_is_damage_to_verify_and_stops_gc(pipeline, cli, model):
    _champion_of(pipeline, cli, model)
    close_stores(pipeline.ws_path)
    with contextlib.closing(sqlite3.connect(pipeline.ws_path / "workspace.db")) as conn:
        conn.execute("ALTER TABLE models ADD COLUMN approved_by TEXT")
        conn.execute("DROP INDEX models_run")
        conn.commit()

    checked = cli("verify", workspace=pipeline.ws_path)
    collected = cli("gc", "--min-age", "0", workspace=pipeline.ws_path)

    assert checked.returncode == 3
    assert "schema drift: unexpected column models.approved_by TEXT" in checked.stdout
    assert "schema drift: missing index models_run on models" in checked.stdout
    assert collected.returncode == 3
    assert "refusing to collect garbage" in one_line_error(collected)


def test_writing_to_a_read_only_workspace_is_one_line(pipeline, cli, model):
    _champion_of(pipeline, cli, model, "0.9")
    close_stores(pipeline.ws_path)
    with read_only(pipeline.ws_path):
        result = cli(
            "register", "--model-name", "iris", "--model-path", str(model),
            "--metric-value", "0.95", workspace=pipeline.ws_path,
        )  # fmt: skip
    assert result.returncode in (2, 3)  # a mode the user set (2), a read-only mount (3)
    line = one_line_error(result)
    assert "read-only" in line
    with contextlib.closing(sqlite3.connect(pipeline.ws_path / "workspace.db")) as conn:
        assert conn.execute("SELECT count(*) FROM models").fetchone() == (1,)


def test_runs_show_takes_the_short_id_history_prints(pipeline, cli, model):
    """`models history` prints 8 characters of a run id; `runs show` refused them."""
    for value in ("0.8", "0.9"):
        _champion_of(pipeline, cli, model, value)
    history = cli("models", "history", "iris", "--format", "csv", workspace=pipeline.ws_path)
    full = [row["run_id"] for row in csv.DictReader(io.StringIO(history.stdout))]
    table = cli("models", "history", "iris", workspace=pipeline.ws_path).stdout
    short = [s for s in (f[:8] for f in full) if s in table]
    assert len(short) == 2

    shown = cli("runs", "show", short[1], "--json", workspace=pipeline.ws_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["run_id"] == full[1]

    # a start many runs share is refused, naming them; one no run has is "no run"
    for _ in range(17):  # 17 runs: two of them share a first hex digit
        pipeline.new_run({"accuracy": "0.5"})
    ids = [r["run_id"] for r in json.loads(
        cli("runs", "list", "--all", "--json", workspace=pipeline.ws_path).stdout)]  # fmt: skip
    shared = next(i[0] for i in ids if sum(j.startswith(i[0]) for j in ids) > 1)
    many = cli("runs", "show", shared, workspace=pipeline.ws_path)
    assert many.returncode == 2 and "is the start of several runs" in one_line_error(many)
    none = cli("runs", "show", "zz" + full[0], workspace=pipeline.ws_path)
    assert none.returncode == 2 and "no run" in one_line_error(none)
