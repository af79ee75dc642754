"""The public API is what `champion.__all__` says, each name documented and importable without
azureml: a name added or dropped is a decision, made here, not an accident of an import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import champion

PUBLIC = [
    "ChampionError",
    "ConflictError",
    "Decision",
    "DecisionEntry",
    "DecisionRecord",
    "InfrastructureError",
    "InputError",
    "MetricError",
    "MetricRule",
    "ModelPathError",
    "ModelVersion",
    "NotAWorkspaceError",
    "Outcome",
    "Policy",
    "PolicyError",
    "RegisterRequest",
    "Registry",
    "RejectedError",
    "RescoreRequest",
    "TestDataError",
    "UnscoredChampionError",
    "WorkspaceStoreError",
    "decide",
    "get_registry",
    "mock_azureml",
    "register_file_if_better",
    "register_if_better",
]


def test_all_is_pinned():
    assert champion.__all__ == PUBLIC
    assert sorted(champion.__all__) == champion.__all__


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_documented(name):
    value = getattr(champion, name)
    assert (value.__doc__ or "").strip(), f"champion.{name} has no docstring"


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'gate_internals'"):
        champion.gate_internals  # noqa: B018


@pytest.mark.process
def test_every_public_name_imports_without_azureml():
    """In a fresh interpreter: `import champion` loads nothing else, and every public name
    (mock_azureml included: it patches the SDK only when started) leaves azureml unimported."""
    script = f"""
import json, sys
import champion
before = sorted(m for m in sys.modules if m.startswith("champion."))
for name in {PUBLIC!r}:
    getattr(champion, name)
azureml = sorted(m for m in sys.modules if m == "azureml" or m.startswith("azureml."))
print(json.dumps({{"before": before, "azureml": azureml}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    assert found["before"] == [], "import champion must import no submodule"
    assert found["azureml"] == []


@pytest.mark.parametrize(
    "module",
    ["champion.local", "champion.testing", "champion.steps", "champion.pipeline"],
)
def test_public_packages_stay_public(module):
    imported = __import__(module, fromlist=["__all__"])
    assert imported.__all__, f"{module} names its public API"
