"""`Model.get_model_path`: where a scoring script finds its model, as azureml-core 1.61 finds it.

The SDK's search, kept step for step (azureml/core/model.py, `get_model_path` and its helpers):
the cache `$AML_APP_ROOT/azureml-models/<name>/<version>/` (the latest version folder when no
version is given), which must hold exactly one file or folder; else `./<name>`; else, when a
workspace is known (passed as `_workspace`, or the workspace of the run this process belongs
to), the version is downloaded into that cache first. Inside a deployment (Azure ML's scoring
container, or `champion serve`) the models are already in the cache. One difference: the SDK
reads `AML_APP_ROOT` once, when `azureml.core.model` is imported; this reads it at each call.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from champion import _env
from champion.local import _sdk
from champion.local._default_workspace import open_default_workspace

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

MODELS_FOLDER = "azureml-models"


def models_dir() -> str:
    return os.path.join(_env.aml_app_root(), MODELS_FOLDER)


def get_model_path(
    model_class: Any, model_name: str, version: int | None, workspace: Workspace | None
) -> str:
    if version is not None and not isinstance(version, int):
        raise _sdk.webservice_error("version should be an int")
    active = workspace
    if _env.run_id():  # inside a run, the run's workspace (as the SDK's Run.get_context())
        active = open_default_workspace()
    if version is not None:
        try:
            return _local(model_name, version)
        except _sdk.model_not_found_in_cache_type() as exc:
            if active is not None:
                return _remote(model_class, model_name, version, active)
            raise _sdk.webservice_error(str(getattr(exc, "message", exc))) from None
    if active is not None:
        return _remote(model_class, model_name, version, active)
    return _local(model_name, version)


def _local(model_name: str, version: int | None) -> str:
    if model_name is None:
        raise _sdk.webservice_error("model_name is None")
    candidate = os.path.join(models_dir(), model_name)
    if not os.path.exists(candidate):
        return _from_root(model_name)
    if version is None:
        versions = [int(v) for v in os.listdir(candidate)]
        if not versions:
            raise _sdk.webservice_error("versions is empty")
        version = max(versions)
    candidate = os.path.join(candidate, str(version))
    if not os.path.exists(candidate):
        return _from_root(model_name)
    entries = os.listdir(candidate)
    if len(entries) != 1:
        raise _sdk.webservice_error(
            f"Dir {candidate} can contain only 1 file or folder. Found {entries}"
        )
    return os.path.join(candidate, entries[0])


def _from_root(model_name: str) -> str:
    if os.path.exists(model_name):
        return model_name
    raise _sdk.model_not_found_in_cache(
        f"Model {model_name} not found in cache at {models_dir()} or in current working "
        f"directory {os.getcwd()}. For more info, set logging level to DEBUG."
    )


def _remote(model_class: Any, model_name: str, version: int | None, workspace: Workspace) -> str:
    try:
        model = model_class(workspace, name=model_name, version=version)
    except Exception as exc:
        message = str(getattr(exc, "message", "") or exc)
        if "ModelNotFound" not in message:
            raise
        found = sorted(f"{m.name}/{m.version}" for m in model_class.list(workspace))
        raise _sdk.model_not_found_in_cache(
            f"Model/Version {model_name}/{version} not found in workspace. {found}"
        ) from None
    target = os.path.join(models_dir(), model_name, str(model.version))
    path = str(model.download(target, exist_ok=True))
    if not os.path.exists(path):
        raise _sdk.model_not_found_in_cache(
            f"Expected model path does not exist: {path}. Found items in dir: {os.listdir(target)}"
        )
    return path
