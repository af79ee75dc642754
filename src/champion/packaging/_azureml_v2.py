"""`--for azureml-v2`: the YAML files Azure ML's CLI v2 deploys the package from, each loaded
back with the real `azure-ai-ml` loaders before the package is kept.

    az ml model create -f model.yml                 # the model's files, with its properties
    az ml environment create -f environment.yml     # an inference image + conda.yaml (the pins)
    az ml online-endpoint create -f endpoint.yml
    az ml online-deployment create -f deployment.yml --all-traffic

Why loaded back: a YAML file that only looks right fails at `az ml ... create`, far from here.
The loaders are the CLI's own schema (marshmallow) and entity classes; what they do not check
(that the paths the files name exist in the package) is checked here on what they parsed.

The deployment refers to the model and the environment by name and version
(`azureml:NAME:VERSION`), the model keeping the version it has here, so the endpoint serves the
version the manifest names; an Azure ML workspace that already has that version refuses
`az ml model create`, and then the version it has is the one to deploy.

This is the only module of champion's packaging that imports `azure.ai.ml` (the `[v2]` extra),
and only when these files are asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import util
from pathlib import Path
from typing import Any

from champion.errors import InfrastructureError

__all__ = [
    "FILES",
    "IMAGE",
    "INSTANCE_TYPE",
    "deployment_name",
    "endpoint_name",
    "require_sdk",
    "write",
]

FILES = ("model.yml", "environment.yml", "endpoint.yml", "deployment.yml")
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
"""Azure ML's base image for an environment built from a conda file (its documented samples')."""
INSTANCE_TYPE = "Standard_DS3_v2"
SCHEMA = "https://azuremlschemas.azureedge.net/latest/{}.schema.json"
_NAME_MAX = 32
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]*")


def require_sdk() -> None:
    """The `[v2]` extra is installed, or one line saying how to install it (nothing written)."""
    if util.find_spec("azure") is None or util.find_spec("azure.ai.ml") is None:
        raise InfrastructureError(
            "--for azureml-v2 checks its files with Azure ML's SDK v2, which is not "
            "installed: pip install 'champion[v2]'",
            field="--for",
            value="azureml-v2",
        )


def endpoint_name(model: str) -> str:
    """An endpoint name Azure accepts (3 to 32 letters, digits and hyphens, a letter first and
    a letter or digit last) made from the model's name."""
    return _azure_name(model, "-endpoint")


def deployment_name(model: str, version: int) -> str:
    """A deployment name Azure accepts, ending in the version (`iris-v3`)."""
    return _azure_name(model, f"-v{version}")


def _azure_name(text: str, suffix: str) -> str:
    """`text` made an endpoint or deployment name (the rule above) that ends in `suffix`, which
    is kept whole when the name must be cut."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9-]+", "-", text))
    if not name[:1].isalpha():
        name = f"m-{name}"
    return name[: _NAME_MAX - len(suffix)].rstrip("-") + suffix


def write(folder: Path, source: Any, digest: str) -> None:
    """Write the four files into the package `folder` and load each back."""
    name, version = str(source.name), int(source.version)
    endpoint = endpoint_name(name)
    environment = f"{name}-env"
    documents: dict[str, dict[str, Any]] = {
        "model.yml": {
            "$schema": SCHEMA.format("model"),
            "name": name,
            "version": str(version),
            "type": "custom_model",
            "path": "model",
            "description": f"{source.id} packaged by champion (artifact_sha256 {digest})",
            "properties": dict(sorted(source.properties.items())),
        },
        "environment.yml": {
            "$schema": SCHEMA.format("environment"),
            "name": environment,
            "version": str(version),
            "image": IMAGE,
            "conda_file": "conda.yaml",
            "description": f"{source.id}'s pins: scikit-learn as it was trained with, the "
            "rest as champion scored it with",
        },
        "endpoint.yml": {
            "$schema": SCHEMA.format("managedOnlineEndpoint"),
            "name": endpoint,
            "auth_mode": "key",
        },
        "deployment.yml": {
            "$schema": SCHEMA.format("managedOnlineDeployment"),
            "name": deployment_name(name, version),
            "endpoint_name": endpoint,
            "model": f"azureml:{name}:{version}",
            "environment": f"azureml:{environment}:{version}",
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "instance_type": INSTANCE_TYPE,
            "instance_count": 1,
        },
    }
    for file, document in documents.items():
        (folder / file).write_text(_yaml(document), encoding="utf-8")
    _load_back(folder, name, version, endpoint)


def _yaml(document: Mapping[str, Any], indent: int = 0) -> str:
    """YAML for the documents above: mappings of strings, numbers and mappings. Every string
    value (and a key that is not a plain name) is written as a JSON string, which YAML reads as
    the same double-quoted string."""
    lines = []
    for key, value in document.items():
        pad = " " * indent + (key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)) + ":"
        if isinstance(value, Mapping):
            lines.append(pad + (" {}" if not value else ""))
            if value:
                lines.append(_yaml(value, indent + 2).rstrip("\n"))
        else:
            lines.append(f"{pad} {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _load_back(folder: Path, name: str, version: int, endpoint: str) -> None:
    """Each file through its loader, then what the loaders parsed held against the package."""
    from azure.ai.ml import (
        load_environment,
        load_model,
        load_online_deployment,
        load_online_endpoint,
    )

    def load(file: str, loader: Any) -> Any:
        try:
            return loader(folder / file)
        except Exception as exc:
            said = " ".join(str(exc).split())[:400]
            raise InfrastructureError(
                f"{file} was written but Azure ML's SDK refuses it ({type(exc).__name__}: "
                f"{said}); nothing was written. This is a bug in champion: please report it",
                field="--for",
                value=file,
            ) from None

    model = load("model.yml", load_model)
    environment = load("environment.yml", load_environment)
    loaded_endpoint = load("endpoint.yml", load_online_endpoint)
    deployment = load("deployment.yml", load_online_deployment)
    code = folder / str(deployment.code_configuration.code)
    problems = [
        what
        for what, wrong in (
            (
                "model.yml's path is not the package's model folder",
                Path(model.path) != folder / "model",
            ),
            (
                "model.yml's name or version",
                (model.name, str(model.version)) != (name, str(version)),
            ),
            ("environment.yml's conda file", not isinstance(environment.conda_file, dict)),
            ("endpoint.yml's name", loaded_endpoint.name != endpoint),
            ("deployment.yml's endpoint", deployment.endpoint_name != endpoint),
            ("deployment.yml's model", str(deployment.model) != f"{name}:{version}"),
            ("deployment.yml's code folder", not code.is_dir()),
            (
                "deployment.yml's scoring script",
                not (code / str(deployment.code_configuration.scoring_script)).is_file(),
            ),
        )
        if wrong
    ]
    if problems:
        raise InfrastructureError(
            f"the azureml-v2 files do not describe this package ({'; '.join(problems)}); "
            "nothing was written. This is a bug in champion: please report it",
            field="--for",
            value="azureml-v2",
        )
