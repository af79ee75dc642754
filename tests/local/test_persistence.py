"""Real processes sharing one local workspace: what one writes, a fresh interpreter reads back
byte for byte; concurrent registrations get distinct, contiguous versions; and the happy path
never pays for importing azureml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from champion.local import Model, Workspace

pytestmark = pytest.mark.process  # separate processes are what this file tests

TIMEOUT = 60


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}


def _python(code: str, cwd: Path, *args: str) -> Any:
    """Run `code` in a fresh interpreter in `cwd`; it prints a JSON result as its last line
    (Model.register prints progress lines first, as the SDK does)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


WRITER = """
    import io, json
    from champion.local import Experiment, Model, Workspace

    ws = Workspace.create("ws")
    run = Experiment(ws, "train").start_logging()
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.upload_file("outputs/notes.txt", io.BytesIO(b"written by process A"))
    run.upload_folder("outputs/mdir", "mdir")
    run.set_tags({"accuracy": 0.953, "best_model": "SVC"})
    run.add_properties({"source": "process A"})
    versions = [
        run.register_model(
            "iris",
            model_path="outputs/model.pkl",
            tags={"round": i, "stage": "candidate"},
            properties={"accuracy": 0.9 + i / 100},
        ).version
        for i in range(2)
    ]
    versions.append(
        Model.register(ws, "mdir", "iris", tags={"round": 2}, properties={"kind": "folder"}).version
    )
    print(json.dumps({"run_id": run.id, "versions": versions}))
"""

READER = """
    import json, sys
    from champion.local import Model, Workspace

    ws = Workspace("ws")
    run = ws.get_run(sys.argv[1])
    run.download_file("outputs/model.pkl", "b/run/model.pkl")
    run.download_files(prefix="outputs/mdir", output_directory="b/run_files")
    first = Model(ws, "iris", version=1).download("b/v1")
    latest = Model(ws, "iris").download("b/latest")
    models = Model.list(ws, name="iris")
    print(json.dumps({
        "models": [[m.version, m.tags, m.properties, m.run_id] for m in models],
        "files": run.get_file_names(),
        "tags": run.get_tags(),
        "properties": run.get_properties(),
        "downloads": [first, latest],
    }))
"""


def test_a_fresh_process_reads_what_another_process_wrote(tmp_path: Path) -> None:
    model_bytes = os.urandom(300_000)
    (tmp_path / "model.pkl").write_bytes(model_bytes)
    (tmp_path / "mdir" / "sub").mkdir(parents=True)
    (tmp_path / "mdir" / "weights.bin").write_bytes(b"w" * 1000)
    (tmp_path / "mdir" / "sub" / "config.json").write_text('{"c": 1}')

    written = _python(WRITER, tmp_path)
    read = _python(READER, tmp_path, written["run_id"])

    assert written["versions"] == [1, 2, 3]
    assert read["models"] == [
        [3, {"round": "2"}, {"kind": "folder"}, None],
        [2, {"round": "1", "stage": "candidate"}, {"accuracy": "0.91"}, written["run_id"]],
        [1, {"round": "0", "stage": "candidate"}, {"accuracy": "0.9"}, written["run_id"]],
    ]
    assert read["files"] == [
        "outputs/mdir/sub/config.json",
        "outputs/mdir/weights.bin",
        "outputs/model.pkl",
        "outputs/notes.txt",
    ]
    assert read["tags"] == {"accuracy": "0.953", "best_model": "SVC"}
    assert read["properties"] == {"source": "process A"}
    assert read["downloads"] == ["b/v1/model.pkl", "b/latest/mdir"]
    assert (tmp_path / "b" / "run" / "model.pkl").read_bytes() == model_bytes
    assert (tmp_path / "b" / "v1" / "model.pkl").read_bytes() == model_bytes
    for relative in ("weights.bin", "sub/config.json"):
        original = (tmp_path / "mdir" / relative).read_bytes()
        assert (tmp_path / "b" / "latest" / "mdir" / relative).read_bytes() == original
        assert (tmp_path / "b" / "run_files" / "outputs" / "mdir" / relative).read_bytes() == (
            original
        )


REGISTRAR = """
    import json, sys, time
    from pathlib import Path
    from champion.local import Model, Workspace

    ws = Workspace.create("ws", exist_ok=True)  # all start at once: one creates, all share it
    Path(f"ready-{sys.argv[1]}").touch()
    deadline = time.monotonic() + 30
    while not Path("go").exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.002)
    versions = [
        Model.register(ws, "model.pkl", "m", tags={"worker": sys.argv[1]}).version
        for _ in range(5)
    ]
    print(json.dumps(versions))
"""


def test_concurrent_registrations_get_unique_contiguous_versions(tmp_path: Path) -> None:
    """Four processes open one new workspace and register the same model five times each,
    released together, so the BEGIN IMMEDIATE transactions really contend."""
    (tmp_path / "model.pkl").write_bytes(b"the same model, four writers")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(REGISTRAR), str(n)],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all((tmp_path / f"ready-{n}").exists() for n in range(4)):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(w.poll() is None for w in workers), "a worker died before the start"
            time.sleep(0.005)
        (tmp_path / "go").touch()
        outputs = [w.communicate(timeout=TIMEOUT) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    per_worker = []
    for worker, (stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        assert "Traceback" not in stderr
        per_worker.append(json.loads(stdout.strip().splitlines()[-1]))
    for versions in per_worker:
        assert versions == sorted(versions)  # each writer sees its own numbers grow
    assert sorted(v for versions in per_worker for v in versions) == list(range(1, 21))

    models = Model.list(Workspace(tmp_path / "ws"), name="m")
    assert [m.version for m in models] == list(range(20, 0, -1))
    by_worker = {str(n): 0 for n in range(4)}
    for model in models:
        assert model.tags is not None
        by_worker[model.tags["worker"]] += 1
    assert by_worker == {str(n): 5 for n in range(4)}


HAPPY_PATH = """
    import io, json, os, sys
    from champion.local import Experiment, Model, Run, Workspace

    def azureml_modules():
        return sorted(m for m in sys.modules if m == "azureml" or m.startswith("azureml."))

    ws = Workspace.create("ws")
    parent = Experiment(ws, "pipeline").start_logging()
    parent.tag("accuracy", "0.953")
    step = parent.child_run("register")
    os.environ.update(CHAMPION_WORKSPACE="ws", CHAMPION_RUN_ID=step.id)
    run = Run.get_context()
    run.parent.upload_file("outputs/model.pkl", io.BytesIO(b"model"))
    run.parent.register_model("iris", model_path="outputs/model.pkl", tags={"b": "1"})
    run.parent.register_model(
        "iris", model_path="outputs/model.pkl", properties={"accuracy": "0.953"}
    )
    champion = Model(ws, "iris")
    accuracy = float(champion.properties["accuracy"])
    run.tag("outcome", "promoted")
    run.log("accuracy", accuracy)
    loaded = azureml_modules()
    try:
        Model(ws, "no-such-model")
    except Exception:
        pass
    print(json.dumps({
        "version": champion.version,
        "parent": run.parent.get_tags(),
        "loaded": loaded,
        "loaded_after_an_error": bool(azureml_modules()),
    }))
"""


def test_the_happy_path_never_imports_azureml(tmp_path: Path) -> None:
    result = _python(HAPPY_PATH, tmp_path)

    assert result["version"] == 2
    assert result["parent"] == {"accuracy": "0.953"}
    assert result["loaded"] == []
    # The measurement can see an import: raising the SDK's own exception does load azureml.
    assert result["loaded_after_an_error"] is True
