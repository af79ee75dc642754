"""What travels to the workspace with a pipeline: the steps' image and snapshot, and credentials.

Why pins from the installed metadata: the compute must run what the tests ran. The requirements
come from the installed `champion` distribution (`importlib.metadata`), so pyproject.toml stays the
one list, and each is pinned to the version installed here. champion itself is installed from
its wheel, uploaded to the workspace under a content-addressed name (`content_tagged_wheel`).
The [pipelines] extra is not installed on the compute: the steps only need azureml-core, and
leaving it out keeps the image small and out of its numpy/cloudpickle ranges.

Credentials on a build agent come from the Azure CLI's login (`AzureCliTokens`): an AzureCLI@2
task logs in with the service connection, whatever its kind (secret, certificate, workload
identity federation), and the SDK's own `AzureCliAuthentication` would need the whole azure-cli
package installed in this environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion import _env
from champion.errors import ChampionError, InputError
from champion.pipeline.spec import PipelineSpec

if TYPE_CHECKING:
    from packaging.requirements import Requirement

__all__ = [
    "ALSO_PINNED",
    "AzureCliTokens",
    "EnvironmentSpec",
    "content_tagged_wheel",
    "environment_spec",
    "load_workspace",
    "runtime_pins",
    "stage_snapshot",
    "upload_wheel",
]

#: Packages pinned on the compute although champion does not require them directly: the model
#: is a joblib pickle of numpy arrays, and loading it needs the numpy it was written with.
ALSO_PINNED = ("numpy",)


@dataclass(frozen=True)
class EnvironmentSpec:
    """The image the steps run in: a Python version and exact pip requirements."""

    name: str
    python_version: str
    pip_packages: tuple[str, ...]

    def to_azureml(self) -> Any:
        """An `azureml.core.Environment` with exactly these pip packages.

        Built from an empty `CondaDependencies` rather than `CondaDependencies.create`, which
        adds `azureml-defaults`, pins SDK packages to the local SDK's version and, depending on
        where the SDK was installed from, pip `--find-links`/`--extra-index-url` options: the
        image must not depend on this machine. The `anaconda` channel (commercial terms) is
        dropped, leaving conda-forge for Python itself."""
        from azureml.core import Environment
        from azureml.core.conda_dependencies import CondaDependencies

        dependencies = CondaDependencies()
        dependencies.set_python_version(self.python_version)
        for package in list(dependencies.pip_packages):
            dependencies.remove_pip_package(package)
        for package in self.pip_packages:
            dependencies.add_pip_package(package)
        dependencies.remove_channel("anaconda")
        environment = Environment(self.name)
        environment.python.conda_dependencies = dependencies
        return environment


def runtime_pins(distribution: str = "champion") -> tuple[str, ...]:
    """`name==version` for each runtime requirement of the installed `distribution` (extras
    skipped) and for `ALSO_PINNED`, at the versions installed here.

    Exact pins because the compute must run what the tests ran; a pin that no longer satisfies
    the project's own requirement (an environment changed by hand) is an error, not a guess.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError as exc:
        raise ChampionError(
            f"{distribution} is not installed, so its requirements cannot be read; install the "
            "project (make test does) before building the Azure ML environment",
            field="distribution",
            value=distribution,
        ) from exc
    pins: dict[str, str] = {}
    for text in [*requires, *ALSO_PINNED]:
        requirement = Requirement(text)
        key = canonicalize_name(requirement.name)
        if key in pins or not _needed_at_run_time(requirement):
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError as exc:
            raise ChampionError(
                f"{requirement.name} is required at run time but not installed here, so it "
                "cannot be pinned; reinstall the project",
                field="requirement",
                value=text,
            ) from exc
        if not requirement.specifier.contains(version, prereleases=True):
            raise ChampionError(
                f"installed {requirement.name} {version} does not satisfy {distribution}'s "
                f"requirement {text!r}; reinstall the project in one resolve (make test)",
                field="requirement",
                value=text,
            )
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        pins[key] = f"{requirement.name}{extras}=={version}"
    return tuple(pins.values())


def _needed_at_run_time(requirement: Requirement) -> bool:
    """A requirement without an extra whose marker holds here. An extra's requirement is told
    by its text: packaging before 26 (azureml-core needs <26) reads `extra == "v2"` as a
    version comparison and raises InvalidVersion on the empty extra."""
    marker = requirement.marker
    if marker is None:
        return True
    return "extra" not in str(marker) and marker.evaluate()


def environment_spec(champion_requirement: str, *, name: str = "champion") -> EnvironmentSpec:
    """The steps' environment: this interpreter's Python version, `runtime_pins()`, and
    `champion_requirement` (the URL of the uploaded wheel, see `upload_wheel`)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return EnvironmentSpec(name, python, (*runtime_pins(), champion_requirement))


def content_tagged_wheel(wheel: Path, dest_dir: Path) -> Path:
    """Copy `wheel` into `dest_dir` under a name whose build tag is a digest of its contents.

    Why: `Environment.add_private_pip_wheel` stores a wheel under its file name, and with
    `exist_ok=True` hands back the wheel already stored under that name. champion's version only
    changes on release, so every build would silently install the first upload. A content build
    tag (`champion-0.1.0-0<digest>-py3-none-any.whl`; a build tag must start with a digit) gives
    new code a new name and unchanged code the same one, so its image stays cached.
    """
    parts = wheel.name.removesuffix(".whl").split("-")
    if not wheel.name.endswith(".whl") or len(parts) not in (5, 6) or not wheel.is_file():
        raise InputError(
            f"{wheel} is not a wheel file (name-version-python-abi-platform.whl)",
            field="wheel",
            value=str(wheel),
        )
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            digest.update(info.filename.encode() + b"\0" + archive.read(info) + b"\0")
    name, version, *_, python, abi, platform = parts
    target = dest_dir / f"{name}-{version}-0{digest.hexdigest()[:16]}-{python}-{abi}-{platform}.whl"
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wheel, target)
    return target


def upload_wheel(workspace: Any, wheel: Path) -> str:
    """Upload a content-tagged wheel to the workspace's private package store; return its URL,
    which is the pip requirement the environment installs champion from."""
    from azureml.core import Environment

    return str(Environment.add_private_pip_wheel(workspace, os.fspath(wheel), exist_ok=True))


# --------------------------------------------------------------------------- snapshot

_SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", _env.DEFAULT_WORKSPACE_FOLDER)


def stage_snapshot(spec: PipelineSpec, dest: Path, files: Mapping[str, Path]) -> PipelineSpec:
    """Copy the spec's source directory to `dest`, add `files` (name in the snapshot -> local
    file) beside the scripts, and return the spec with `dest` as its source directory.

    Why: Azure ML runs a step in a snapshot of its source directory, with the snapshot as working
    directory, so a file the step reads (the training CSV) must be inside it; a path into the
    rest of the repository exists on the laptop only.
    """
    source = Path(spec.source_directory)
    if not source.is_dir():
        raise InputError(
            f"source directory not found: {source}", field="source_directory", value=str(source)
        )
    shutil.copytree(source, dest, ignore=_SNAPSHOT_IGNORE)
    for name, path in files.items():
        if not name or Path(name).name != name or name in (".", ".."):
            raise InputError(
                f"snapshot file name {name!r} must be a plain file name",
                field="snapshot",
                value=name,
            )
        if (dest / name).exists():
            raise InputError(
                f"{name} would replace {source / name} in the snapshot; rename the data file",
                field="snapshot",
                value=name,
            )
        if not Path(path).is_file():
            raise InputError(f"data file not found: {path}", field="snapshot", value=str(path))
        shutil.copyfile(path, dest / name)
    return replace(spec, source_directory=dest)


# --------------------------------------------------------------------------- credentials

_TOKEN_MARGIN_S = 300.0


@dataclass
class AzureCliTokens:
    """`get_token_for_audience` for the SDK's `TokenAuthentication`: access tokens from the
    Azure CLI's login (`az account get-access-token --resource R`), each kept until five minutes
    before it expires, since the SDK asks for one per request."""

    az: str | None = None
    clock: Callable[[], float] = time.time
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

    def __call__(self, resource: str) -> str:
        cached = self._cache.get(resource)
        if cached is not None and cached[1] - _TOKEN_MARGIN_S > self.clock():
            return cached[0]
        az = self.az or shutil.which("az")
        if az is None:
            raise ChampionError(
                "the Azure CLI (az) is not on PATH; on Azure DevOps run this in an AzureCLI@2 "
                "task with the service connection, elsewhere log in with `az login`",
                field="az",
            )
        command = [az, "account", "get-access-token", "--resource", resource, "--output", "json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise ChampionError(
                f"`{' '.join(command[1:])}` failed ({done.returncode}): {done.stderr.strip()}",
                field="az",
            )
        answer = json.loads(done.stdout)
        if "expires_on" in answer:  # az 2.54+: seconds since the epoch
            expires = float(answer["expires_on"])
        else:  # older az: local time, "2024-01-01 12:00:00.000000"
            expires = datetime.fromisoformat(answer["expiresOn"]).timestamp()
        token = str(answer["accessToken"])
        self._cache[resource] = (token, expires)
        return token


def load_workspace(config: Path | None = None, *, non_interactive: bool = False) -> Any:
    """`Workspace.from_config()`: config.json, or the folder holding it; None searches from the
    working directory up, as the SDK does.

    `non_interactive` takes credentials from the Azure CLI's login (`AzureCliTokens`); the SDK's
    default would start an interactive browser login, which waits forever on a build agent.
    """
    from azureml.core import Workspace
    from azureml.core.authentication import TokenAuthentication
    from azureml.exceptions import UserErrorException

    if config is not None and not Path(config).exists():
        raise InputError(
            f"--config {config}: no such file or folder; pass the workspace's config.json "
            "(download it from the workspace's page in ml.azure.com)",
            field="--config",
            value=os.fspath(config),
        )
    auth = TokenAuthentication(AzureCliTokens(), cloud="AzureCloud") if non_interactive else None
    try:
        return Workspace.from_config(path=None if config is None else os.fspath(config), auth=auth)
    except UserErrorException as exc:
        if "could not be found in" not in str(exc):
            raise
        where = Path(config) if config is not None else Path.cwd()
        raise InputError(
            f"no config.json for the Azure ML workspace in {where}, its .azureml/ or any folder "
            "above; download it from the workspace's page in ml.azure.com into the repository "
            "root, or pass --config PATH",
            field="--config",
            value=None if config is None else os.fspath(config),
        ) from None
