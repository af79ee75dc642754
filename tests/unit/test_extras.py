"""A missing extra's hint is a `pip install` line that works for the way champion was installed.

The hints said `pip install 'champion[plot]'` everywhere, and champion is on no package index
yet: a user who installed from a checkout or a wheel was sent to fetch a package that does not
exist. Each case below is an installation as pip records it (PEP 610's `direct_url.json` in the
dist-info folder), read through importlib.metadata as at run time."""

from __future__ import annotations

import json
import shlex
from importlib import metadata
from pathlib import Path

import pytest

from champion import _extras


def installed(tmp_path: Path, direct_url: dict[str, object] | None) -> metadata.Distribution:
    """A dist-info folder as pip leaves it: METADATA with the plot extra, and direct_url.json."""
    info = tmp_path / "champion-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: champion\nVersion: 0.1.0\n"
        "Requires-Dist: pandas>=2.0\n"
        "Provides-Extra: plot\n"
        'Requires-Dist: matplotlib>=3.8; extra == "plot"\n'
    )
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return metadata.PathDistribution(info)


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(direct_url: dict[str, object] | None) -> str:
        dist = installed(tmp_path, direct_url)
        monkeypatch.setattr(_extras.metadata, "distribution", lambda name: dist)
        return _extras.install_command("plot")

    return install


@pytest.mark.parametrize(
    ("editable", "pip"), [(True, ["pip", "install", "-e"]), (False, ["pip", "install"])]
)
def test_from_a_checkout_the_hint_reinstalls_the_checkout_with_the_extra(
    install, tmp_path, editable, pip
):
    checkout = tmp_path / "my projects" / "champion"  # a space: the line must quote it
    hint = install({"url": checkout.as_uri(), "dir_info": {"editable": editable}})
    assert shlex.split(hint) == [*pip, f"{checkout}[plot]"]


def test_from_a_wheel_the_hint_names_that_wheel(install, tmp_path):
    wheel = tmp_path / "dist" / "champion-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    hint = install({"url": wheel.as_uri(), "archive_info": {}})
    assert shlex.split(hint) == ["pip", "install", f"champion[plot] @ {wheel.as_uri()}"]


def test_from_a_wheel_that_is_gone_the_hint_installs_the_extras_requirements(install, tmp_path):
    gone = (tmp_path / "champion-0.1.0-py3-none-any.whl").as_uri()
    assert install({"url": gone, "archive_info": {}}) == "pip install 'matplotlib>=3.8'"


def test_from_git_the_hint_names_the_commit(install):
    hint = install(
        {"url": "https://example.org/champion.git", "vcs_info": {"vcs": "git", "commit_id": "ab12"}}
    )
    assert shlex.split(hint)[2] == "champion[plot] @ git+https://example.org/champion.git@ab12"


def test_from_a_package_index_the_hint_keeps_the_installed_version(install):
    assert install(None) == "pip install 'champion[plot]==0.1.0'"


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("mlflow", "mlflow"),
        ("mlflow.tracking", "mlflow"),
        ("matplotlib", "plot"),
        ("azureml.pipeline", "pipelines"),
        ("azureml.pipeline.steps", "pipelines"),
        ("azure.ai", "v2"),
        ("onnxruntime", "onnx"),
        ("azureml_inference_server_http", "serve"),
        ("azureml", None),  # azureml-core is a requirement, not an extra: a broken install
        ("azure", None),
        ("sklearn", None),
    ],
)
def test_a_missing_module_is_traced_to_its_extra(module, extra):
    assert _extras.extra_of(module) == extra
