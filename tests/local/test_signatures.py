"""The local classes have azureml.core's shape: every public member they define exists on the
SDK class with the same signature (or is the same kind of property), except the few deliberate
differences listed here with the reason for each. Also checks the coverage table of
docs/reference/fidelity.md."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import azureml.core
import pytest

import champion.local


def _coverage_module() -> ModuleType:
    path = Path(__file__).with_name("coverage_table.py")
    spec = importlib.util.spec_from_file_location("coverage_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COVERAGE = _coverage_module()
CLASSES = tuple(COVERAGE.CLASSES)


def _classes(class_name: str) -> tuple[type, type]:
    """(the local class, the SDK class) for a class label of the coverage table."""
    sdk_path, local_path = COVERAGE.CLASSES[class_name]
    return COVERAGE.load(local_path), COVERAGE.load(sdk_path)


DELIBERATE_DIFFERENCES: dict[tuple[str, str], str] = {
    ("Workspace", "__init__"): (
        "a local workspace is a folder, not subscription/resource group/name"
    ),
    ("Workspace", "path"): "the folder behind a local workspace; an Azure workspace has none",
    ("Run", "input_datasets"): (
        "the SDK has it on _SubmittedRun, the Run get_context() returns in a job; one local Run"
        " class plays both"
    ),
    ("Dataset", "__init__"): (
        "the SDK's constructor is deprecated; datasets come from Dataset.Tabular/File and lookups"
    ),
}


def _members(cls: type) -> list[str]:
    return sorted({name for name in dir(cls) if not name.startswith("_")} | {"__init__"})


def _shape(obj: Any) -> list[tuple[str, str, Any]]:
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(obj).parameters.values()]


def _public_constants(cls: type) -> dict[str, Any]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_")}


def _difference(class_name: str, member: str) -> str | None:
    """How the local member differs from the SDK's, or None when the shapes agree."""
    local_class, sdk_class = _classes(class_name)
    if not hasattr(sdk_class, member):
        return "not a member of the SDK class"
    local = inspect.getattr_static(local_class, member)
    sdk = inspect.getattr_static(sdk_class, member)
    if isinstance(local, property) or isinstance(sdk, property):
        both = isinstance(local, property) and isinstance(sdk, property)
        return None if both else f"{type(local).__name__} here, {type(sdk).__name__} in the SDK"
    if type(local) is not type(sdk):  # function vs staticmethod vs classmethod
        return f"{type(local).__name__} here, {type(sdk).__name__} in the SDK"
    if isinstance(local, type):  # a nested class: Model.Framework, Dataset.Tabular
        return _nested_difference(local, sdk)
    if not isinstance(local, staticmethod | classmethod) and not callable(local):
        return None if local == sdk else f"{local!r} here, {sdk!r} in the SDK"
    ours, theirs = _shape(getattr(local_class, member)), _shape(getattr(sdk_class, member))
    return None if ours == theirs else f"signature {ours} here, {theirs} in the SDK"


def _nested_difference(local: type, sdk: type) -> str | None:
    """Constants must be equal; methods must exist on the SDK's class with the same kind and
    signature."""
    for name, value in _public_constants(local).items():
        theirs = inspect.getattr_static(sdk, name, None)
        if isinstance(value, staticmethod | classmethod) or callable(value):
            if type(value) is not type(theirs):
                return f"{name}: {type(value).__name__} here, {type(theirs).__name__} in the SDK"
            if _shape(getattr(local, name)) != _shape(getattr(sdk, name)):
                return f"{name}: another signature"
        elif theirs != value:
            return f"{name}: {value!r} here, {theirs!r} in the SDK"
    return None


LOCAL_MEMBERS = [
    (class_name, member)
    for class_name in CLASSES
    for member in _members(_classes(class_name)[0])
    if (class_name, member) not in DELIBERATE_DIFFERENCES
]


@pytest.mark.parametrize(
    ("class_name", "member"), LOCAL_MEMBERS, ids=[f"{c}.{m}" for c, m in LOCAL_MEMBERS]
)
def test_local_member_has_the_sdk_shape(class_name: str, member: str) -> None:
    assert _difference(class_name, member) is None


@pytest.mark.parametrize(
    ("class_name", "member"),
    sorted(DELIBERATE_DIFFERENCES),
    ids=[f"{c}.{m}" for c, m in sorted(DELIBERATE_DIFFERENCES)],
)
def test_each_deliberate_difference_is_still_real(class_name: str, member: str) -> None:
    why = DELIBERATE_DIFFERENCES[class_name, member]
    assert why.strip() and "\n" not in why
    assert member in _members(_classes(class_name)[0]), "no longer a local member"
    assert _difference(class_name, member) is not None, "now equal to the SDK: drop the entry"


def test_model_instance_attributes_are_the_sdks() -> None:
    """Model's data lives in instance attributes, which dir(Model) does not list: every public
    attribute a loaded local model has is one the SDK's Model sets."""
    sdk_names = {n for n in vars(azureml.core.Model(None)) if not n.startswith("_")}
    source = inspect.getsource(azureml.core.Model._initialize)
    sdk_names |= set(re.findall(r"self\.([A-Za-z]\w*)\s*=", source))
    local = champion.local.Model(None)
    local_names = {n for n in vars(local) if not n.startswith("_")}
    assert {"name", "version", "tags", "properties", "run_id"} <= local_names
    assert local_names - sdk_names == set()


# --------------------------------------------------------------------------- coverage table


def test_coverage_table_matches_the_classes(capsys: pytest.CaptureFixture[str]) -> None:
    coverage = COVERAGE
    coverage.main([])
    out = capsys.readouterr().out

    tick, dash = coverage.DONE, coverage.MISSING
    assert (tick, dash) == ("\N{CHECK MARK}", "\N{EN DASH}")
    rows = re.findall(rf"^\| (\w+) \| `(\w+)` \| ({tick}|{dash}) \|$", out, flags=re.M)
    summaries = {
        name: (int(done), int(total))
        for name, done, total in re.findall(
            r"^- (\w+): (\d+) of (\d+) members implemented$", out, flags=re.MULTILINE
        )
    }
    assert out.startswith("| class | member | local |\n|---|---|---|\n")
    assert list(summaries) == list(CLASSES)
    for class_name in CLASSES:
        local_class, sdk_class = _classes(class_name)
        sdk_members = sorted(n for n in dir(sdk_class) if not n.startswith("_"))
        listed = [(member, mark) for name, member, mark in rows if name == class_name]
        assert [member for member, _ in listed] == sdk_members
        for member, mark in listed:
            assert (mark == tick) == hasattr(local_class, member), f"{class_name}.{member}"
        implemented = sum(hasattr(local_class, m) for m in sdk_members)
        assert summaries[class_name] == (implemented, len(sdk_members))
    # what the library and the steps rely on is covered
    for class_name, member in [
        ("Run", "get_context"),
        ("Run", "register_model"),
        ("Run", "parent"),
        ("Model", "register"),
        ("Workspace", "from_config"),
    ]:
        assert (class_name, member, tick) in rows
    for class_name, member in [
        ("Workspace", "get_default_datastore"),
        ("Datastore", "get"),
        ("AzureBlobDatastore", "upload_files"),
        ("Dataset", "get_by_name"),
        ("TabularDataset", "to_pandas_dataframe"),
        ("FileDataset", "download"),
        ("Model", "add_dataset_references"),
    ]:
        assert (class_name, member, tick) in rows


def test_the_docs_carry_the_current_coverage_table() -> None:
    """Regenerate with `.venv/bin/python tests/local/coverage_table.py --docs`."""
    page = Path(__file__).resolve().parents[2] / "docs" / "reference" / "fidelity.md"
    assert COVERAGE.render_docs(COVERAGE.coverage()) in page.read_text()
