"""The SDK's silent traps, on both faces: each call returns exactly what Azure ML returns, and
warns with `AzureMLTrapWarning`, naming the call, what Azure does, and the form that does what
was meant. The well-formed call next to each trap returns what was meant and does not warn.

Not contract checks of azureml-semantics.md (those are test_cNN_*); these pin the trap list of
`champion.local._traps` to the same two faces.
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from azureml.core.run import _OfflineRun
from azureml.exceptions import UserErrorException, WebserviceException

from champion.local import AzureMLTrapWarning
from champion.local._traps import mark_step_workdir

from .conftest import Target

NAME = "compliance-classifier"


@contextmanager
def no_trap() -> Iterator[None]:
    """The block must not warn (even where the suite's filter would let a warning pass)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    traps = [str(w.message) for w in caught if issubclass(w.category, AzureMLTrapWarning)]
    assert traps == []


def trap(*fragments: str) -> Any:
    """pytest.warns for one AzureMLTrapWarning whose text holds every fragment, in order."""
    return pytest.warns(AzureMLTrapWarning, match=".*".join(map(re.escape, fragments)))


def _three_builds(target: Target) -> None:
    for build in ("20190809.1", "20190809.2", "20190809.3"):
        target.Model.register(
            target.ws, "model.pkl", NAME, tags={"build_number": build}, properties={"p": build}
        )


# --------------------------------------------------------------------------- Model lookups


def test_tag_dict_lookup_returns_the_latest_version_and_warns_with_the_fix(
    target: Target,
) -> None:
    _three_builds(target)
    Model, ws = target.Model, target.ws
    with trap(
        f"Model(ws, '{NAME}', tags={{'build_number': '20190809.2'}})",
        "Azure ML ignores the values of a tags dict",
        "pass tags=[['build_number', '20190809.2']]",
    ):
        found = Model(ws, NAME, tags={"build_number": "20190809.2"})
    assert (found.version, found.tags["build_number"]) == (3, "20190809.3")  # Azure's answer
    with no_trap():
        meant = Model(ws, NAME, tags=[["build_number", "20190809.2"]])
    assert (meant.version, meant.tags["build_number"]) == (2, "20190809.2")


def test_property_dict_lookup_ignores_the_values(target: Target) -> None:
    _three_builds(target)
    with trap(
        "properties={'p': '20190809.1'}", "ignores the values", "properties=[['p', '20190809.1']]"
    ):
        assert target.Model(target.ws, NAME, properties={"p": "20190809.1"}).version == 3
    with no_trap():
        assert target.Model(target.ws, NAME, properties=[["p", "20190809.1"]]).version == 1


def test_a_dict_of_keys_only_is_no_trap(target: Target) -> None:
    _three_builds(target)
    with no_trap():
        assert target.Model(target.ws, NAME, tags={"build_number": None}).version == 3


def test_tag_string_lookup_is_iterated_per_character(target: Target) -> None:
    _three_builds(target)
    with (
        trap("tags='build_number'", "character by character", "pass tags=['build_number']"),
        pytest.raises(WebserviceException) as err,
    ):
        target.Model(target.ws, NAME, tags="build_number")
    assert err.value.message.startswith("ModelNotFound")  # a gate would see "no champion"
    with no_trap():
        assert target.Model(target.ws, NAME, tags=["build_number"]).version == 3


def test_a_comma_in_a_filter_value_splits_the_query(target: Target) -> None:
    Model, ws = target.Model, target.ws
    Model.register(ws, "model.pkl", "m", tags={"k": "a,b"})
    Model.register(ws, "model.pkl", "m", tags={"k": "a", "b": "x"})
    with trap("tags=[['k', 'a,b']]", "reads 'k=a,b' as 'k' = 'a' and 'b' present", "tags=['k']"):
        assert Model(ws, "m", tags=[["k", "a,b"]]).version == 2  # not the version tagged a,b


def test_id_and_version_ignore_the_other_filters(target: Target) -> None:
    _three_builds(target)
    Model, ws = target.Model, target.ws
    with trap(
        "version=1, tags=[['build_number', '20190809.3']]",
        f"fetches {NAME}:1 directly and ignores tags",
        "Model.list(ws, ",
    ):
        assert Model(ws, NAME, version=1, tags=[["build_number", "20190809.3"]]).version == 1
    with trap("id='compliance-classifier:2'", "ignores name, run_id"):
        assert Model(ws, "other", id=f"{NAME}:2", run_id="r").version == 2
    with no_trap():
        assert Model(ws, NAME, version=1).version == 1
        assert Model(ws, name=NAME, id=f"{NAME}:2", version=2).version == 2


def test_model_list_checks_tags_but_not_properties(target: Target) -> None:
    _three_builds(target)
    Model, ws = target.Model, target.ws
    with no_trap(), pytest.raises(UserErrorException, match="Expected tags must be list type"):
        Model.list(ws, NAME, tags={"build_number": "20190809.2"})
    with trap("Model.list(ws, name='compliance-classifier', properties={'p': '20190809.2'})"):
        listed = Model.list(ws, NAME, properties={"p": "20190809.2"})
    assert [m.version for m in listed] == [3, 2, 1]
    with no_trap():
        assert [m.version for m in Model.list(ws, NAME, properties=[["p", "20190809.2"]])] == [2]


# --------------------------------------------------------------------------- run children


def _family(target: Target) -> tuple[Any, Any]:
    parent = target.new_run()
    child = target.new_run("child", parent=parent, tags={"k": "1"})
    return parent, child


def test_get_children_with_a_list_yields_nothing(target: Target) -> None:
    parent, child = _family(target)
    with trap("run.get_children(tags=['k'])", "a list matches no run", "Pass tags='k'"):
        assert list(parent.get_children(tags=["k"])) == []
    with trap("properties=[['azureml.runsource', 'x']]", "properties={'azureml.runsource': 'x'}"):
        assert list(parent.get_children(properties=[["azureml.runsource", "x"]])) == []
    with no_trap():
        assert [c.id for c in parent.get_children(tags="k")] == [child.id]


def test_get_children_with_a_number_never_matches_the_stored_string(target: Target) -> None:
    parent, child = _family(target)
    with trap("run.get_children(tags={'k': 1})", "stored as strings", "Pass tags={'k': '1'}"):
        assert list(parent.get_children(tags={"k": 1})) == []
    with no_trap():
        assert [c.id for c in parent.get_children(tags={"k": "1"})] == [child.id]


def test_get_runs_filters_on_the_service_so_no_trap(target: Target) -> None:
    """The same filters through Experiment.get_runs are a service query: a list raises at the
    call and a number matches its string, so there is nothing to warn about."""
    run = target.new_run(tags={"k": "1"})
    experiment = target.Experiment(target.ws, "exp")
    with no_trap():
        with pytest.raises(ValueError, match="Unknown filter type for run tags: <class 'list'>"):
            experiment.get_runs(tags=["k"])
        assert [r.id for r in experiment.get_runs(tags={"k": 1})] == [run.id]
        assert [r.id for r in target.Run.list(experiment, tags={"k": "1"})] == [run.id]


# --------------------------------------------------------------------------- metrics


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("value", "stored", "fix"),
    [
        (np.int64(5), "np.int64(5)", "run.log('n', int(value))"),
        (Colour.RED, "<Colour.RED: 1>", "run.log('n', int(value))"),
        ((0.5, 0.7), "(0.5, 0.7)", "run.log_list('n', "),
    ],
    ids=["numpy-int64", "int-enum", "tuple"],
)
def test_log_of_an_unconverted_value_stores_its_repr(
    target: Target, value: object, stored: str, fix: str
) -> None:
    run = target.new_run()
    with trap(f"run.log('n', {value!r})", "stores a", f"as its repr, the string {stored!r}", fix):
        run.log("n", value)
    assert run.get_metrics() == {"n": stored}


def test_log_of_converted_values_is_no_trap(target: Target) -> None:
    run = target.new_run()
    with no_trap():
        for name, value in (("f", np.float64(0.5)), ("i", np.int32(3)), ("b", True), ("s", "x")):
            run.log(name, value)
    assert run.get_metrics() == {"f": 0.5, "i": 3, "b": True, "s": "x"}


# --------------------------------------------------------------------------- run context


def _step_workdir(target: Target, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory the local runner marked as step 'train''s, entered without the
    step's CHAMPION_RUN_ID (the target fixture removed it), as a stripped subprocess is."""
    workdir = target.workdir / "pipeline-steps" / "p" / "r" / "cwd"
    workdir.mkdir(parents=True)
    mark_step_workdir(workdir, step="train", run_id="step-run-1")
    monkeypatch.chdir(workdir)
    return workdir


def test_offline_context_inside_a_local_step_warns(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    _step_workdir(target, monkeypatch)
    with trap(
        "Run.get_context() returned an offline run",
        "local pipeline step 'train' (step run step-run-1)",
        "no CHAMPION_RUN_ID",
        "env={**os.environ",
    ):
        context = target.Run.get_context()
    assert isinstance(context, _OfflineRun)  # what the SDK returns there too


def test_offline_context_outside_any_step_is_no_trap(target: Target) -> None:
    with no_trap():
        assert isinstance(target.Run.get_context(), _OfflineRun)


# --------------------------------------------------------------------------- call sites


def test_the_warning_points_at_the_callers_line(target: Target) -> None:
    _three_builds(target)
    with pytest.warns(AzureMLTrapWarning) as caught:
        line = _lookup_line(lambda: target.Model(target.ws, NAME, tags={"build_number": "x"}))
    (warned,) = [w for w in caught if issubclass(w.category, AzureMLTrapWarning)]
    assert (warned.filename, warned.lineno) == (__file__, line)


def _lookup_line(call: Callable[[], object]) -> int:
    call()
    code = call.__code__
    return code.co_firstlineno
