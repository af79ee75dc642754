"""The challenger's metrics as a JSON file (`--metrics-file`, the register component's `metrics`
input): the register step as a real process on a local workspace, and the decision record and
control output it hands on (`--decision-output`, `--control-outputs`).

A metrics file is read as strictly as a tag (exact digits, finite, in range), and a file that
disagrees with the runs' tags is a conflict, never a guess; every refusal happens before
anything is uploaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from champion.local import Model


def metrics(tmp_path: Path, text: str, name: str = "metrics.json") -> Path:
    path = tmp_path / "metrics" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_the_metrics_file_is_the_challenger_s_numbers_digit_for_digit(pipeline, tmp_path):
    file = metrics(tmp_path, '{"accuracy": 0.9523809523809523, "model_type": "SVC"}')
    run = pipeline.new_run()  # no tag anywhere: the file is the only source
    result = pipeline.register(run, "--metrics-file", str(file))
    assert result.exit_code == 0, result.stderr
    model = Model(pipeline.ws, "iris")
    assert model.properties["accuracy"] == "0.9523809523809523"  # the file's digits
    assert model.properties["model_type"] == "SVC"
    on_run = run.parent.get_tags()
    assert on_run["champion.outcome"] == "first"


def test_a_folder_output_is_read_through_its_metrics_json(pipeline, tmp_path):
    file = metrics(tmp_path, '{"accuracy": "0.91"}')
    result = pipeline.register(pipeline.new_run(), "--metrics-file", str(file.parent))
    assert result.exit_code == 0, result.stderr
    assert Model(pipeline.ws, "iris").properties["accuracy"] == "0.91"


def test_a_file_that_disagrees_with_the_run_s_tag_is_a_conflict(pipeline, tmp_path):
    file = metrics(tmp_path, '{"accuracy": 0.99}')
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, "--metrics-file", str(file))
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr and "metrics file" in result.stderr
    assert run.parent.get_file_names() == []  # nothing uploaded
    assert Model.list(pipeline.ws) == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"accuracy": NaN}', "not a plain decimal number"),
        ('{"accuracy": "95%"}', "not a plain decimal number"),
        ('{"accuracy": true}', "is a bool"),
        ('{"accuracy": 1.5}', "range"),
        ('{"accuracy": 0.95000000000000000001}', "more digits than a float keeps"),
        ('{"loss": 0.1}', "no 'accuracy' in metrics file"),
        ("[0.95]", "not an object"),
        ("{accuracy: 0.95", "is not JSON"),
    ],
    ids=["nan", "percent", "bool", "out-of-range", "digits", "missing", "array", "not-json"],
)
def test_a_bad_metrics_file_is_one_line_exit_2_and_changes_nothing(pipeline, tmp_path, text, said):
    file = metrics(tmp_path, text)
    run = pipeline.new_run()
    result = pipeline.register(run, "--metrics-file", str(file))
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("champion: error [")
    assert said in lines[0]
    assert run.parent.get_file_names() == [] and Model.list(pipeline.ws) == []


def test_a_missing_metrics_file_names_the_path(pipeline, tmp_path):
    result = pipeline.register(pipeline.new_run(), "--metrics-file", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "nope.json does not exist" in result.stderr


def test_the_decision_is_written_where_the_step_is_told(pipeline, tmp_path):
    out = tmp_path / "out" / "decision"
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, "--decision-output", str(out))
    assert result.exit_code == 0, result.stderr
    written = json.loads(out.read_text())
    assert written["outcome"] == "first" and written["registered_version"] == 1
    assert written["parent_run_id"] == run.parent.id
    folder = tmp_path / "folder-output"
    folder.mkdir()
    again = pipeline.register(
        pipeline.new_run({"accuracy": "0.8"}), "--decision-output", str(folder)
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads((folder / "champion_decision.json").read_text())["outcome"] == "rejected"


def test_control_outputs_are_refused_before_anything_where_the_backend_has_none(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, "--control-outputs")
    assert result.exit_code == 2
    assert "--control-outputs" in result.stderr and "local backend" in result.stderr
    assert Model.list(pipeline.ws) == [] and run.parent.get_file_names() == []


@pytest.mark.parametrize(("given", "registered"), [("false", True), ("true", False)])
def test_a_yes_no_option_takes_the_string_a_component_passes(pipeline, given, registered):
    result = pipeline.register(pipeline.new_run({"accuracy": "0.9"}), "--dry-run", given)
    assert result.exit_code == 0, result.stderr
    assert bool(Model.list(pipeline.ws)) is registered


def test_a_yes_no_option_refuses_anything_else(pipeline):
    result = pipeline.register(pipeline.new_run({"accuracy": "0.9"}), "--dry-run", "maybe")
    assert result.exit_code == 2
    assert "'maybe' is not true or false" in result.stderr
