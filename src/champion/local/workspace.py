"""`Workspace` of the local workspace, named and shaped like `azureml.core`'s.

A local workspace is a folder. The one deliberate difference from the SDK is how it is named:
`Workspace(path)` instead of a subscription, resource group and name, because there is no Azure
account behind it. Everything reached from it (experiments, runs, models) behaves like the SDK.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from champion import _env
from champion.errors import NotAWorkspaceError
from champion.local import _sdk
from champion.local._default_workspace import set_default_opener
from champion.local.abstract_dataset import AbstractDataset
from champion.local.azure_storage_datastore import AbstractAzureStorageDatastore
from champion.local.dataset import Dataset
from champion.local.datastore import Datastore, datastore_object
from champion.local.model import Model
from champion.local.run import Experiment, Run
from champion.local.store import Store, is_workspace

__all__ = [
    "Experiment",
    "Workspace",
    "default_workspace_path",
    "find_workspace",
    "resolve_workspace_path",
]

DEFAULT_FOLDER = _env.DEFAULT_WORKSPACE_FOLDER
WORKSPACE_ENV = _env.WORKSPACE
CONFIG_KEY = "champion_workspace"


def default_workspace_path() -> Path:
    """`$CHAMPION_WORKSPACE`, else `.champion` in the working directory (the embedded default)."""
    return Path(_env.workspace() or DEFAULT_FOLDER)


def find_workspace(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest `.champion/` workspace in `start` (default: the working directory) or its
    parents, as git finds `.git`: a command run from a subfolder of a project uses the
    project's registry instead of starting an empty one."""
    folder = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in [folder, *folder.parents]:
        if is_workspace(candidate / DEFAULT_FOLDER):
            return candidate / DEFAULT_FOLDER
    return None


def resolve_workspace_path(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Which workspace a command means, and how it was chosen: the explicit path, else
    `$CHAMPION_WORKSPACE`, else the nearest `.champion/` up from here, else `./.champion`
    (which then must be created, or is refused as not a workspace)."""
    if explicit is not None:
        return Path(explicit), "--workspace"
    from_env = _env.workspace()
    if from_env:
        return Path(from_env), f"${WORKSPACE_ENV}"
    found = find_workspace()
    if found is not None:
        return found, "found from the working directory"
    return Path(DEFAULT_FOLDER), "the default"


class Workspace:
    """A local workspace folder, shared by every process that opens it.

    As in the SDK, `Workspace(...)`, `Workspace.get` and `Workspace.from_config` open a workspace
    that exists and raise `ProjectSystemException` ("not a champion workspace") otherwise;
    `Workspace.create(name)` creates one, `name` being the folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._store = _open_store(path if path is not None else default_workspace_path())

    @classmethod
    def _open(cls, path: str | os.PathLike[str], *, read_only: bool) -> Workspace:
        """Open an existing workspace; `read_only` reads without writing a byte or taking the
        write lock (what the CLI's listing, show, download and verify use)."""
        workspace = cls.__new__(cls)
        workspace._store = _open_store(path, read_only=read_only)
        return workspace

    # ------------------------------------------------------------------ constructors

    @staticmethod
    def create(
        name: str | os.PathLike[str],
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        create_resource_group: bool = True,
        sku: str = "basic",
        tags: Any = None,
        friendly_name: str | None = None,
        storage_account: str | None = None,
        key_vault: str | None = None,
        app_insights: str | None = None,
        container_registry: str | None = None,
        adb_workspace: str | None = None,
        primary_user_assigned_identity: str | None = None,
        cmk_keyvault: str | None = None,
        resource_cmk_uri: str | None = None,
        hbi_workspace: bool = False,
        default_cpu_compute_target: Any = None,
        default_gpu_compute_target: Any = None,
        private_endpoint_config: Any = None,
        private_endpoint_auto_approval: bool = True,
        exist_ok: bool = False,
        show_output: bool = True,
        user_assigned_identity_for_cmk_encryption: str | None = None,
        system_datastores_auth_mode: str = "accessKey",
        v1_legacy_mode: bool | None = None,
    ) -> Workspace:
        """Create a local workspace in the folder `name` (new or empty). As in the SDK, an
        existing workspace raises `WorkspaceException` unless `exist_ok`; the Azure resource
        arguments are accepted and ignored."""
        if is_workspace(name) and not exist_ok:
            raise _sdk.workspace_exists(str(name))
        workspace = Workspace.__new__(Workspace)
        workspace._store = Store.create(name)
        return workspace

    @staticmethod
    def from_config(
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Open the workspace a `config.json` names, as the SDK does, or the nearest one.

        `$CHAMPION_WORKSPACE` wins when no `path` is given, so a step run by the local runner
        opens the same folder as `Run.get_context()`. Otherwise `path` may be the config file
        itself; else, as the SDK searches, `.azureml/`, `aml_config/` and the folder itself are
        tried for `config.json` and `project.json` (or `_file_name`), from `path` (or the
        working directory) up to the root. A `"champion_workspace"` key in the file names the
        local folder (relative to the file); a file without one (an Azure workspace's), or no
        `path` and no file, means the nearest `.champion/` in the folder or its parents. A `path`
        with no file anywhere is the SDK's UserErrorException. `path` may also be a local
        workspace folder. Never creates one.
        """
        if path is None and _env.workspace():
            return Workspace()  # the runner's choice for this step wins over any config.json
        start = Path(path) if path is not None else Path.cwd()
        if is_workspace(start):
            return Workspace(start)
        config = start if start.is_file() else _find_config(start, _file_name)
        if config is None and path is not None:
            raise _sdk.user_error(
                "The workspace configuration file config.json, could not be found in "
                f"{os.path.abspath(start)} or its parent directories. Please check whether the "
                "workspace configuration file exists, or provide the full path to the "
                "configuration file as an argument. You can download a configuration file for "
                "your workspace, via http://ml.azure.com and clicking on the name of your "
                "workspace in the right top."
            )
        if config is not None:
            data = json.loads(config.read_text())
            if CONFIG_KEY in data:
                return Workspace(config.parent / str(data[CONFIG_KEY]))
        return Workspace(find_workspace(start) or start / DEFAULT_FOLDER)

    @staticmethod
    def get(
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
    ) -> Workspace:
        """Open an existing local workspace by folder (the SDK's name argument is the folder)."""
        return Workspace(name)

    def write_config(
        self, path: str | os.PathLike[str] | None = None, file_name: str | None = None
    ) -> None:
        """Write a config.json that `from_config()` resolves back to this folder, where the
        SDK writes it: `<path>/.azureml/<file_name>`; like the SDK, only `.azureml` is created
        (a missing `path` is the SDK's UserErrorException)."""
        folder = (Path(path) if path is not None else Path.cwd()) / ".azureml"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise _sdk.user_error(f"Could not write the config file to: {folder}\n{exc}") from None
        name = file_name or "config.json"
        target = folder / (name if name.endswith(".json") else f"{name}.json")
        target.write_text(
            json.dumps(
                {
                    CONFIG_KEY: str(self._store.root),
                    "workspace_name": self.name,
                    "subscription_id": self.subscription_id,
                    "resource_group": self.resource_group,
                },
                indent=2,
            )
        )

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:
        return self._store.root.name

    @property
    def path(self) -> Path:
        """The folder; not in the SDK, which has no folder."""
        return self._store.root

    @property
    def subscription_id(self) -> str:
        return "00000000-0000-0000-0000-000000000000"

    @property
    def resource_group(self) -> str:
        return "local"

    @property
    def location(self) -> str:
        return "local"

    @property
    def tags(self) -> dict[str, str]:
        return {}

    @property
    def _workspace_id(self) -> str:
        return self._store.workspace_id

    def get_details(self) -> dict[str, Any]:
        return {
            "id": str(self._store.root),
            "name": self.name,
            "location": self.location,
            "workspaceid": self._workspace_id,
            "resourceGroup": self.resource_group,
        }

    def __repr__(self) -> str:
        return f"Workspace.create(name='{self.name}', path='{self._store.root}')"

    def __getattr__(self, name: str) -> Any:
        raise _sdk.missing_member("Workspace", name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._store is self._store

    def __hash__(self) -> int:
        return hash(self._store.root)

    # ------------------------------------------------------------------ contents

    @property
    def experiments(self) -> dict[str, Experiment]:
        return {
            name: Experiment(self, name, _id=exp_id)
            for name, exp_id in self._store.list_experiments()
        }

    @property
    def models(self) -> dict[str, Model]:
        return {str(m.name): m for m in Model.list(self, latest=True)}

    def get_run(self, run_id: str) -> Run:
        return Run.get(self, run_id)

    @property
    def datastores(self) -> dict[str, AbstractAzureStorageDatastore]:
        return {r.name: datastore_object(self, r) for r in self._store.list_datastores()}

    def get_default_datastore(self) -> AbstractAzureStorageDatastore:
        return Datastore.get_default(self)  # type: ignore[no-any-return]

    def set_default_datastore(self, name: str) -> None:
        Datastore._set_default(self, name)

    @property
    def datasets(self) -> dict[str, AbstractDataset]:
        return Dataset.get_all(self)


def _find_config(start: Path, file_name: str | None) -> Path | None:
    """The SDK's search order: each subfolder kind (`.azureml`, `aml_config`, the folder
    itself) and each file name, walking up from `start`, before the next kind."""
    names = [file_name] if file_name else ["config.json", "project.json"]
    folders = [start.resolve(), *start.resolve().parents]
    for sub in (".azureml", "aml_config", None):
        for name in names:
            for folder in folders:
                candidate = (folder / sub / name) if sub else folder / name
                if candidate.is_file():
                    return candidate
    return None


def _open_store(path: str | os.PathLike[str], *, read_only: bool = False) -> Store:
    """The SDK answers a missing workspace with ProjectSystemException; ours is that class and
    champion's NotAWorkspaceError at once, so SDK-style and champion-style callers both catch
    it (imported only on this error path: azureml costs most of a second)."""
    try:
        return Store.open(path, read_only=read_only)
    except NotAWorkspaceError as exc:
        raise _sdk.workspace_not_found(exc) from None


# `Run.get_context()` opens the step's workspace with this class (`_default_workspace.py`).
set_default_opener(Workspace)
