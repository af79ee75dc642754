"""The pipeline spec: the SDK's validation rules, dependency order, and argv resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from champion.errors import InputError
from champion.pipeline import (
    DataReference,
    PipelineParameter,
    PipelineSpec,
    Step,
    resolve_arguments,
    topological_order,
    validate,
)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("print('hi')\n")
    return tmp_path


def spec_of(src: Path, *steps: Step, params: tuple[PipelineParameter, ...] = ()) -> PipelineSpec:
    return PipelineSpec(name="exp", steps=steps, source_directory=src, parameters=params)


# --- building blocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model_dir", "M1", "_x", "a_b_2"])
def test_data_reference_accepts_pipeline_data_names(name: str) -> None:
    ref = DataReference(name)
    assert ref.env_var == f"AZUREML_DATAREFERENCE_{name}"
    assert str(ref) == f"$AZUREML_DATAREFERENCE_{name}"


@pytest.mark.parametrize("name", ["model-dir", "model dir", "a.b", ""])
def test_data_reference_rejects_what_pipeline_data_rejects(name: str) -> None:
    with pytest.raises(InputError, match="PipelineData name"):
        DataReference(name)


def test_pipeline_parameter_rejects_unsupported_default() -> None:
    with pytest.raises(InputError, match="unsupported type: list"):
        PipelineParameter("p", [1])  # type: ignore[arg-type]


def test_lists_become_tuples_so_a_spec_is_immutable(src: Path) -> None:
    ref = DataReference("d")
    step = Step("a", "a.py", ["--out", ref], [], [ref])  # type: ignore[arg-type]
    spec = PipelineSpec("exp", [step], str(src))  # type: ignore[arg-type]
    assert step.arguments == ("--out", ref) and step.outputs == (ref,)
    assert spec.steps == (step,) and spec.source_directory == src
    hash(spec)


# --- validation ---------------------------------------------------------------------------------


def test_a_good_spec_has_no_problems(src: Path) -> None:
    d = DataReference("d")
    p = PipelineParameter("build_number", "local")
    spec = spec_of(
        src,
        Step("a", "a.py", ("--out", d), outputs=(d,)),
        Step("b", "b.py", ("--in", d, "--build", p), inputs=(d,), allow_reuse=False),
        params=(p,),
    )
    assert validate(spec) == []
    assert spec.check() is spec


def test_missing_script_uses_the_sdk_message(src: Path) -> None:
    spec = spec_of(src, Step("z", "nope.py"))
    expected = f"Step [z]: script not found at: {src / 'nope.py'}. Make sure to specify"
    assert [p for p in validate(spec) if p.startswith(expected)]


def test_data_reference_in_arguments_must_be_an_input_or_output(src: Path) -> None:
    spec = spec_of(src, Step("a", "a.py", ("--out", DataReference("x"))))
    assert validate(spec) == [
        "Input/Output x appears in arguments list but is not in the input/output lists (step a)"
    ]


def test_input_without_producer_is_an_orphan(src: Path) -> None:
    spec = spec_of(src, Step("c", "c.py", inputs=(DataReference("orphan"),)))
    assert validate(spec) == ["Input orphan on step c is not connected to any previous step"]


def test_two_producers_of_one_output(src: Path) -> None:
    dup = DataReference("dup")
    spec = spec_of(src, Step("a1", "a.py", outputs=(dup,)), Step("a2", "b.py", outputs=(dup,)))
    assert validate(spec) == [
        "Step output dup can not be used as an output for step a1, as it is already an output "
        "of step a2."
    ]


def test_cycle_is_reported(src: Path) -> None:
    x, y = DataReference("x"), DataReference("y")
    spec = spec_of(
        src,
        Step("a", "a.py", inputs=(y,), outputs=(x,)),
        Step("b", "b.py", inputs=(x,), outputs=(y,)),
    )
    problems = validate(spec)
    assert len(problems) == 1 and problems[0].startswith("Cycle detected including node ")


def test_step_reading_its_own_output_is_a_cycle(src: Path) -> None:
    x = DataReference("x")
    spec = spec_of(src, Step("a", "a.py", inputs=(x,), outputs=(x,)))
    assert validate(spec) == ["Cycle detected including node a"]


def test_experiment_name_rule(src: Path) -> None:
    spec = PipelineSpec("my.pipeline", (Step("a", "a.py"),), src)
    [problem] = validate(spec)
    assert "Experiment name must be between 1 and 255 characters long" in problem


def test_undeclared_or_conflicting_parameters(src: Path) -> None:
    declared = PipelineParameter("build_number", "local")
    spec = spec_of(
        src,
        Step("a", "a.py", ("--x", PipelineParameter("other", "1"))),
        Step("b", "b.py", ("--b", PipelineParameter("build_number", "ci"))),
        params=(declared,),
    )
    problems = validate(spec)
    assert len(problems) == 2
    assert "'other', which the pipeline does not declare" in problems[0]
    assert "with default 'ci', but the pipeline declares it with default 'local'" in problems[1]


def test_duplicate_step_names_and_bad_argument_types(src: Path) -> None:
    spec = spec_of(src, Step("a", "a.py", ("--seed", 42)), Step("a", "b.py"))  # type: ignore[arg-type]
    problems = validate(spec)
    assert any("argument 1 is int 42" in p for p in problems)
    assert any("two steps are named 'a'" in p for p in problems)


def test_check_raises_input_error_listing_every_problem(src: Path) -> None:
    spec = PipelineSpec("bad name", (Step("z", "nope.py", inputs=(DataReference("o"),)),), src)
    with pytest.raises(InputError) as info:
        spec.check()
    message = str(info.value)
    assert "3 problems" in message
    assert "Experiment name" in message
    assert "Step [z]: script not found" in message
    assert "Input o on step z is not connected" in message
    assert info.value.exit_code == 2


def test_no_steps_is_a_problem(src: Path) -> None:
    assert validate(spec_of(src)) == ["pipeline 'exp' has no steps"]


# --- order --------------------------------------------------------------------------------------


def test_topological_order_puts_producers_first_and_keeps_declared_order(src: Path) -> None:
    x, y = DataReference("x"), DataReference("y")
    consumer = Step("consume", "c.py", inputs=(x, y))
    make_y = Step("make_y", "b.py", inputs=(x,), outputs=(y,))
    make_x = Step("make_x", "a.py", outputs=(x,))
    independent = Step("independent", "a.py")
    spec = spec_of(src, consumer, make_y, independent, make_x)
    names = [s.name for s in topological_order(spec)]
    assert names == ["independent", "make_x", "make_y", "consume"]


def test_topological_order_of_a_spec_in_order_is_the_declared_order(src: Path) -> None:
    steps = [Step(f"s{i}", "a.py") for i in range(5)]
    assert topological_order(spec_of(src, *steps)) == steps


def test_topological_order_raises_on_a_cycle(src: Path) -> None:
    x, y = DataReference("x"), DataReference("y")
    spec = spec_of(
        src,
        Step("a", "a.py", inputs=(y,), outputs=(x,)),
        Step("b", "b.py", inputs=(x,), outputs=(y,)),
    )
    with pytest.raises(InputError, match="cycle"):
        topological_order(spec)


# --- arguments ----------------------------------------------------------------------------------


def test_resolve_arguments_keeps_order_and_substitutes(tmp_path: Path) -> None:
    model, data = DataReference("model_dir"), DataReference("data")
    build = PipelineParameter("build_number", "local")
    seed = PipelineParameter("seed", 7)
    step = Step(
        "s",
        "s.py",
        ("--in", data, "--b", build, "literal", "--out", model, "--seed", seed, "--in2", data),
        inputs=(data,),
        outputs=(model,),
    )
    argv = resolve_arguments(
        step, {"model_dir": tmp_path / "m", "data": "/d"}, {"build_number": "20240101.3"}
    )
    assert argv == [
        "--in",
        "/d",
        "--b",
        "20240101.3",
        "literal",
        "--out",
        str(tmp_path / "m"),
        "--seed",
        "7",
        "--in2",
        "/d",
    ]


def test_resolve_arguments_needs_a_folder_for_each_data_reference() -> None:
    step = Step("s", "s.py", ("--out", DataReference("m")), outputs=(DataReference("m"),))
    with pytest.raises(InputError, match="no folder for data reference 'm'"):
        resolve_arguments(step, {})


# --- the names a register step will use ---------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [("--model-name", "my model"), ("--model-name=my model",), ("--model-name", "../x")],
)
def test_an_invalid_model_name_in_a_steps_arguments_is_a_problem(src: Path, arguments) -> None:
    spec = spec_of(src, Step("a", "a.py", arguments))
    (problem,) = validate(spec)
    assert problem.startswith("step 'a': --model-name ") and "is invalid" in problem
    with pytest.raises(InputError, match="model name"):
        spec.check()


def test_a_training_step_name_must_name_a_step(src: Path) -> None:
    fine = spec_of(src, Step("fit", "a.py"), Step("b", "b.py", ("--training-step-name", "fit")))
    assert validate(fine) == []
    typo = spec_of(src, Step("fit", "a.py"), Step("b", "b.py", ("--training-step-name", "fti")))
    assert validate(typo) == [
        "step 'b': --training-step-name 'fti' names no step of pipeline 'exp' "
        "(its steps: 'fit', 'b')"
    ]


def test_a_model_name_from_a_parameter_is_left_to_the_step(src: Path) -> None:
    name = PipelineParameter("model", "x y")  # known only at run time: the step checks it
    spec = spec_of(src, Step("a", "a.py", ("--model-name", name)), params=(name,))
    assert validate(spec) == []
