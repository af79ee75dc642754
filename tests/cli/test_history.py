"""`champion models history NAME [--plot FILE.png]` as a user runs it: every decision, oldest
first, rejections included, in a table people can read (short run ids) and in JSON and CSV
with full ids; and the picture of the champion's metric over time."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import struct
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import clean_env

from champion import Policy, RegisterRequest, register_file_if_better
from champion._extras import install_command
from champion.gate import register_if_better
from champion.local import Experiment, Model, Workspace
from champion.names import DECISION_ARTIFACT, MODEL_TAG
from champion.testing import create_workspace, make_pipeline_run

STEPS = {"train": {}, "register": {}}
KEYS = [
    "decided", "run_id", "outcome", "metric", "challenger", "champion", "champion_version",
    "version", "build_number", "reason", "policy", "record", "registered",
]  # fmt: skip
OUTCOMES = [
    "registered",
    "promoted",
    "rejected",
    "promoted",
    "rejected",
    "rejected",
    "would_reject",
]


@dataclass(frozen=True)
class Scene:
    ws: Path
    pipeline_runs: list[str]  # the two pipeline runs' ids, in order


def _dry_run(ws: Workspace, root: Path) -> None:
    """The record a dry run of a policy of two metrics leaves (the gate's policy work)."""
    run = Experiment(ws, "iris-pipeline").start_logging()
    record = {
        "model_name": "iris",
        "outcome": "would_reject",
        "decided_at": datetime.now(UTC).isoformat(),
        "policy": {"metrics": [{"metric": "accuracy", "min_delta": "0.0"}, {"metric": "f1"}]},
        "challenger": {"accuracy": "0.94", "f1": "0.7"},
        "champion": {"accuracy": "0.95", "f1": "0.8"},
        "champion_version": 3,
        "registered_version": None,
        "build_number": "dry",
        "reason": "f1 0.7 does not improve on 0.8; a dry run registers nothing",
    }
    path = root / "dry-run.json"
    path.write_text(json.dumps(record))
    run.upload_file(DECISION_ARTIFACT, str(path))
    run.set_tags({MODEL_TAG: "iris", "champion.outcome": "would_reject"})
    run.complete()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """A version registered by hand, two pipeline runs, four decisions outside a pipeline (two
    with a floor and a min-delta), and a dry run's record."""
    root = tmp_path_factory.mktemp("history")
    ws = create_workspace(root / "ws")
    model = root / "model.pkl"
    model.write_bytes(b"weights")
    with contextlib.chdir(root):  # the SDK's rule: a model_path inside the working directory
        Model.register(ws, "model.pkl", "iris", properties={"accuracy": "0.8"})

    def request(**policy: Any) -> RegisterRequest:
        return RegisterRequest("iris", model, Policy(**policy), build_number="42")

    def pipeline(accuracy: str) -> str:
        tree = make_pipeline_run(ws, {"accuracy": accuracy}, STEPS)
        register_if_better(tree.steps["register"], request())
        return str(tree.parent.id)

    strict = {"min_delta": 0.02, "floor": 0.75}
    runs = [pipeline("0.9")]
    register_file_if_better(ws, request(), "0.85")
    register_file_if_better(ws, request(**strict), "0.95")
    register_file_if_better(ws, request(**strict), "0.96")  # inside the min-delta band
    register_file_if_better(ws, request(**strict), "0.7")  # below the floor
    _dry_run(ws, root)
    return Scene(root / "ws", runs)


def history(champion, scene: Scene, *args: str) -> subprocess.CompletedProcess[str]:
    return champion("models", "history", "iris", "--workspace", scene.ws, *args)


def test_the_table_lists_every_decision_with_short_run_ids(champion, scene):
    result = history(champion, scene)
    assert result.returncode == 0, result.stderr
    title, header, _, *rows = result.stdout.splitlines()
    assert title == (
        "iris: 7 decision(s) on accuracy, oldest first; the champion is iris:3 (accuracy 0.95)"
    )
    assert header.split() == [
        "decided", "(UTC)", "run", "decision", "challenger", "champion", "version", "build",
        "reason",
    ]  # fmt: skip
    assert [row.split()[3] for row in rows] == OUTCOMES
    pipeline_row = rows[1].split()
    assert pipeline_row[2] == scene.pipeline_runs[0][:8]  # a UUID's first 8 characters
    assert scene.pipeline_runs[0] not in result.stdout
    assert pipeline_row[4:8] == ["0.9", "0.8", "(v1)", "2"]  # challenger, champion, new version
    assert "does not reach the floor 0.75" in rows[5]
    assert "0.94" in rows[6] and "0.95 (v3)" in rows[6]  # the dry run's primary metric


def test_json_has_the_documented_keys_full_ids_and_every_decision(champion, scene):
    result = history(champion, scene, "--json")
    assert result.returncode == 0, result.stderr
    lines = json.loads(result.stdout)
    assert [sorted(line) for line in lines] == [sorted(KEYS)] * 7
    assert [line["outcome"] for line in lines] == OUTCOMES
    assert [line["decided"] for line in lines] == sorted(line["decided"] for line in lines)
    assert all(line["decided"].endswith("+00:00") for line in lines)
    by_hand, pipeline, outside = lines[:3]
    assert (by_hand["record"], by_hand["version"], by_hand["challenger"]) == (None, 1, "0.8")
    assert pipeline["run_id"] == scene.pipeline_runs[0]  # the full id
    assert pipeline["record"] == DECISION_ARTIFACT
    assert pipeline["registered"] is not None and outside["registered"] is None
    assert (outside["challenger"], outside["champion"], outside["champion_version"]) == (
        "0.85",
        "0.9",
        2,
    )
    assert outside["version"] is None and outside["policy"]["metric"] == "accuracy"
    assert lines[4]["policy"]["min_delta"] == "0.02" and lines[4]["policy"]["floor"] == "0.75"


def test_metric_shows_another_metric_of_the_records(champion, scene):
    lines = json.loads(history(champion, scene, "--metric", "f1", "--json").stdout)
    assert [line["metric"] for line in lines] == ["f1"] * 7
    assert [line["challenger"] for line in lines] == [None] * 6 + ["0.7"]
    assert lines[6]["champion"] == "0.8"


def test_csv_has_the_json_keys_and_the_policy_as_json(champion, scene):
    result = history(champion, scene, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == KEYS
    assert len(rows) == 7 and rows[1]["run_id"] == scene.pipeline_runs[0]
    assert json.loads(rows[4]["policy"])["floor"] == "0.75"


# ---------------------------------------------------------------------- --plot


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def near(pixels: Any, rgb: tuple[float, float, float]) -> int:
    """How many pixels are within a small distance of the colour `rgb`."""
    distance = ((pixels[:, :, :3] - rgb) ** 2).sum(axis=2)
    return int((distance < 0.01).sum())


def test_plot_draws_the_champion_and_every_challenger(champion, scene, tmp_path):
    from matplotlib.image import imread

    target = tmp_path / "history.png"
    result = history(champion, scene, "--plot", target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"champion: plot written to {target} (800x450 PNG, accuracy: 3 promoted, 3 rejected, "
        "1 dry run(s))"
    )
    assert png_size(target) == (800, 450)
    pixels = imread(target)
    assert pixels.shape[:2] == (450, 800)
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::7]}) > 50  # not blank
    assert near(pixels, (0.172, 0.627, 0.172)) > 50  # tab:green: promoted points
    assert near(pixels, (0.839, 0.153, 0.157)) > 20  # tab:red: rejected crosses
    assert near(pixels, (0.122, 0.467, 0.706)) > 500  # tab:blue: the champion's step line
    assert not list(tmp_path.glob(".history.png.*"))  # no temp file left


def test_plot_with_json_keeps_stdout_one_document(champion, scene, tmp_path):
    target = tmp_path / "h.png"
    result = history(champion, scene, "--plot", target, "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 7
    assert f"plot written to {target}" in result.stderr
    assert png_size(target) == (800, 450)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("history.jpg", "the plot is a PNG; name the file with .png"),
        ("missing/history.png", "does not exist; create it or choose another"),
        ("folder.png", "is a folder; name a file in it"),
    ],
)
def test_a_plot_target_that_cannot_be_is_refused_before_anything(
    champion, scene, tmp_path, name, said
):
    (tmp_path / "folder.png").mkdir()
    before = sorted(tmp_path.rglob("*"))
    result = history(champion, scene, "--plot", tmp_path / name)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert said in line and "--plot" in line
    assert sorted(tmp_path.rglob("*")) == before


def test_without_matplotlib_the_plot_says_how_to_install_it(scene, tmp_path):
    """matplotlib is the optional extra [plot]: without it, one line and exit 3 (the
    installation lacks a part, as for `pipeline validate` without [pipelines]), and nothing is
    written, not even the table."""
    target = tmp_path / "h.png"
    hide = "import sys; sys.modules['matplotlib'] = None"  # `import matplotlib` raises
    main = "from champion.cli import main; raise SystemExit(main(sys.argv[1:]))"
    args = ["models", "history", "iris", "--workspace", str(scene.ws), "--plot", str(target)]
    result = subprocess.run(
        [sys.executable, "-c", f"{hide}; {main}", *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "--plot needs champion's [plot] extra (matplotlib)" in line
    assert f"`{install_command('plot')}`" in line  # true for this installation
    assert not target.exists()
    # and without --plot, history needs no matplotlib at all
    plain = subprocess.run(
        [sys.executable, "-c", f"{hide}; {main}", *args[:5]],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plain.returncode == 0, plain.stderr
    assert "7 decision(s)" in plain.stdout


def test_dry_runs_and_rollbacks_made_from_the_cli_are_in_the_history(champion, tmp_path):
    """What `champion register --dry-run` and `champion models rollback` decide is found by
    `models history` like any other decision: each has a run of its own with the record."""
    ws = create_workspace(tmp_path / "ws")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")

    def register(value: str, *extra: str) -> None:
        result = champion(
            "register", "--model-name", "iris", "--model-path", model,
            "--metric-value", value, "--workspace", ws.path, *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    register("0.8")
    register("0.9")
    register("0.95", "--dry-run")
    rolled = champion(
        "models", "rollback", "iris", "--to", "1", "--reason", "v2 drifts", "--workspace", ws.path
    )
    assert rolled.returncode == 0, rolled.stderr

    result = champion("models", "history", "iris", "--workspace", ws.path, "--json")
    assert result.returncode == 0, result.stderr
    lines = json.loads(result.stdout)
    assert [line["outcome"] for line in lines] == [
        "first", "promoted", "would_promote", "rolled_back",
    ]  # fmt: skip
    dry, rollback = lines[2], lines[3]
    assert (dry["challenger"], dry["version"]) == ("0.95", None)
    assert rollback["version"] == 3 and "v2 drifts" in rollback["reason"]
    assert len({line["run_id"] for line in lines}) == 4  # every decision on a run of its own
    shown = Model(ws, "iris")
    assert (shown.version, shown.properties["accuracy"]) == (3, "0.8")
