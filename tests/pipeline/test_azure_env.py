"""What travels to Azure ML with the pipeline: pins, the wheel's name, credentials; and the
installed set the pins in pyproject.toml resolve to."""

from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

from champion.errors import ChampionError, InputError
from champion.pipeline import azure
from champion.pipeline._azure_env import AzureCliTokens


def test_runtime_pins_are_championss_runtime_requirements_at_the_installed_versions() -> None:
    pins = azure.runtime_pins()
    assert [p.split("==")[0] for p in pins] == [
        "azureml-core",
        "scikit-learn",
        "joblib",
        "pandas",
        "numpy",
    ]
    for pin in pins:
        name, version = pin.split("==")
        assert metadata.version(name) == version
    # No test, lint or pipelines-SDK package reaches the compute.
    assert not {"pytest", "ruff", "mypy", "azureml-pipeline-core", "azureml-pipeline-steps"} & {
        p.split("==")[0] for p in pins
    }


def test_environment_spec_adds_champion_last_and_this_python() -> None:
    spec = azure.environment_spec("https://store/champion-0.1.0-0ab-py3-none-any.whl")
    assert spec.name == "champion"
    assert spec.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert spec.pip_packages == (*azure.runtime_pins(), spec.pip_packages[-1])
    assert spec.pip_packages[-1].endswith("champion-0.1.0-0ab-py3-none-any.whl")


def test_a_pin_that_breaks_the_projects_own_requirement_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "1.6.0" if name == "joblib" else real(name)
    )
    with pytest.raises(ChampionError, match=r"installed joblib 1.6.0 does not satisfy"):
        azure.runtime_pins()
    with pytest.raises(ChampionError, match="not installed"):
        azure.runtime_pins("no-such-distribution")


def test_the_installed_set_resolves_the_pipelines_conflict() -> None:
    """The pins in pyproject.toml hold: joblib below 1.6 (it needs cloudpickle>=3), the
    pipelines extra's cloudpickle<3 and numpy<2.3.3, and joblib's process pool works with that
    cloudpickle (it pickles the function with it)."""
    assert Version(metadata.version("joblib")) < Version("1.6")
    assert Version(metadata.version("cloudpickle")) < Version("3")
    if sys.platform == "linux":
        assert Version(metadata.version("numpy")) < Version("2.3.3")
    from joblib import Parallel, delayed

    offset = 3
    squares = Parallel(n_jobs=2, backend="loky")(
        delayed(lambda x: x * x + offset)(i) for i in range(4)
    )
    assert squares == [3, 4, 7, 12]


def make_wheel(path: Path, content: str, *, when: tuple[int, ...] = (2020, 1, 1, 0, 0, 0)) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (
            ("champion/__init__.py", content),
            ("champion-0.1.0.dist-info/METADATA", "x"),
        ):
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)  # type: ignore[arg-type]
    return path


def test_wheels_are_renamed_by_their_contents(tmp_path: Path) -> None:
    one = make_wheel(tmp_path / "champion-0.1.0-py3-none-any.whl", "A = 1")
    tagged = azure.content_tagged_wheel(one, tmp_path / "out")
    name, version, build, *tags = tagged.name.removesuffix(".whl").split("-")
    assert (name, version, tags) == ("champion", "0.1.0", ["py3", "none", "any"])
    assert build[0] == "0" and len(build) == 17  # a build tag must start with a digit
    assert tagged.read_bytes() == one.read_bytes()

    (tmp_path / "b").mkdir()
    rebuilt = make_wheel(
        tmp_path / "b" / "champion-0.1.0-py3-none-any.whl", "A = 1", when=(2024, 6, 1, 12, 0, 0)
    )
    assert azure.content_tagged_wheel(rebuilt, tmp_path / "out2").name == tagged.name
    (tmp_path / "c").mkdir()
    changed = make_wheel(tmp_path / "c" / "champion-0.1.0-py3-none-any.whl", "A = 2")
    assert azure.content_tagged_wheel(changed, tmp_path / "out3").name != tagged.name


def test_a_file_that_is_not_a_wheel_is_refused(tmp_path: Path) -> None:
    for name in ("champion.zip", "champion-0.1.0.whl", "missing-0.1-py3-none-any.whl"):
        path = tmp_path / name
        if not name.startswith("missing"):
            path.write_text("")
        with pytest.raises(InputError, match="is not a wheel file"):
            azure.content_tagged_wheel(path, tmp_path / "out")


def fake_az(tmp_path: Path, answer: dict[str, object], code: int = 0) -> Path:
    """An `az` that logs its arguments and prints `answer`, as `az account get-access-token`."""
    log = tmp_path / "az.log"
    script = tmp_path / "az"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        f"echo '{json.dumps(answer)}'\n"
        + ("echo 'ERROR: Please run az login' >&2\n" if code else "")
        + f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_cli_tokens_come_from_az_and_are_kept_until_near_expiry(tmp_path: Path) -> None:
    now = [1_000_000.0]
    az = fake_az(tmp_path, {"accessToken": "t1", "expires_on": 1_003_600})
    tokens = AzureCliTokens(az=str(az), clock=lambda: now[0])
    assert tokens("https://ml.azure.com") == "t1"
    assert tokens("https://ml.azure.com") == "t1"
    assert tokens("https://management.core.windows.net/") == "t1"
    calls = (tmp_path / "az.log").read_text().splitlines()
    assert calls == [
        "account get-access-token --resource https://ml.azure.com --output json",
        "account get-access-token --resource https://management.core.windows.net/ --output json",
    ]
    now[0] = 1_003_600 - 299  # within five minutes of expiry: ask again
    tokens("https://ml.azure.com")
    assert len((tmp_path / "az.log").read_text().splitlines()) == 3


def test_cli_tokens_read_the_older_expiry_format(tmp_path: Path) -> None:
    az = fake_az(tmp_path, {"accessToken": "t2", "expiresOn": "2999-01-01 00:00:00.000000"})
    assert AzureCliTokens(az=str(az))("r") == "t2"


def test_cli_tokens_fail_clearly_without_a_login_or_an_az(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    az = fake_az(tmp_path, {}, code=1)
    with pytest.raises(ChampionError, match="Please run az login"):
        AzureCliTokens(az=str(az))("r")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ChampionError, match=r"Azure CLI \(az\) is not on PATH"):
        AzureCliTokens()("r")
    assert os.environ["PATH"].endswith("empty")
