"""The text of a package's environment files and its Dockerfile, from what the package holds.

Why these choices, once:
- Azure ML's inference HTTP server (`azmlinfsrv`) runs the entry script, as in an Azure ML
  scoring container and in `champion serve`, on its default port 5001 (`PORT`), with the
  model where an Azure ML deployment puts it (`/var/azureml-app/azureml-models/NAME/VERSION`,
  `AZUREML_MODEL_DIR`) and the code in `AML_APP_ROOT`, which the server puts on `sys.path`;
- the base image is the slim official Python of the version champion ran here, since the
  pins are the versions installed here and some of them need that Python;
- the server runs as a user without a password or shell (with a home, where gunicorn keeps
  its control socket) who owns nothing it serves: the files are root's, read-only to it;
- a `HEALTHCHECK` asks the server's liveness route (`GET /`), with Python, as the slim image
  has no curl;
- each `COPY` names one source, so the Dockerfile says plainly where every file lands.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from champion.packaging._runtime import Pin

__all__ = [
    "APP_ROOT",
    "ENTRY_SCRIPT",
    "PORT",
    "USER",
    "conda_yaml",
    "dockerfile",
    "image_path",
    "model_dir",
    "requirements",
]

APP_ROOT = "/var/azureml-app"
PORT = 5001
USER = "champion"
UID = 10001
ENTRY_SCRIPT = "score.py"


def model_dir(name: str, version: int) -> str:
    """Where the image holds the model's files: as an Azure ML deployment mounts them."""
    return f"{APP_ROOT}/azureml-models/{name}/{version}"


def image_path(relative: str, name: str, version: int) -> str | None:
    """Where the image holds the package's file `relative`, or None for a file that only builds
    or deploys it (the Dockerfile, conda.yaml, the v2 YAML files). The Dockerfile's COPY lines
    and the manifest both follow this one rule."""
    top, _, rest = relative.partition("/")
    if top == "model" and rest:
        return f"{model_dir(name, version)}/{rest}"
    if top == "code" and rest:
        return f"{APP_ROOT}/{rest}"
    if relative in ("requirements.txt", "MANIFEST.json"):
        return f"{APP_ROOT}/{relative}"
    return None


def requirements(model_id: str, python: str, pins: Sequence[Pin]) -> str:
    lines = [
        f"# The environment of {model_id}, written by `champion models package`.",
        "# scikit-learn (the framework): the version the model was trained with, as stored on it.",
        f"# The others: the versions champion loaded and scored it with (Python {python}).",
        *(pin.line for pin in pins),
    ]
    return "\n".join(lines) + "\n"


def conda_yaml(name: str, python: str, pins: Sequence[Pin]) -> str:
    """A conda environment with the same pins (for an Azure ML environment's conda_file)."""
    lines = [
        f"name: {json.dumps(name)}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
        *(f"      - {json.dumps(pin.line)}" for pin in pins),
    ]
    return "\n".join(lines) + "\n"


def dockerfile(
    *,
    model_id: str,
    digest: str,
    python: str,
    name: str,
    version: int,
    code: Sequence[str],
    manifest: str,
) -> str:
    """The Dockerfile. `code` are the entries of the code folder (`code/score.py`,
    `code/champion`), each copied where `image_path` says; the requirements first, so the
    installed layer is reused while only the model changes."""
    models = model_dir(name, version)

    def copy(source: str) -> str:
        target = image_path(source, name, version)
        assert target is not None, source
        return f"COPY {source} {target}"

    health = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/', timeout=4)"
    command = [
        "azmlinfsrv",
        *("--entry_script", f"{APP_ROOT}/{ENTRY_SCRIPT}"),
        *("--model_dir", models),
        *("--port", str(PORT)),
    ]
    lines = [
        f"# {model_id} (artifact_sha256 {digest}), packaged by `champion models package`.",
        "# MANIFEST.json lists every file copied here with its sha256.",
        f"FROM python:{python}-slim",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        f"    AML_APP_ROOT={APP_ROOT} \\",
        f"    AZUREML_MODEL_DIR={models}",
        f"RUN useradd --uid {UID} --create-home --shell /usr/sbin/nologin {USER}",
        f"WORKDIR {APP_ROOT}",
        copy("requirements.txt"),
        f"RUN pip install --no-cache-dir --requirement {APP_ROOT}/requirements.txt",
        *(copy(entry) for entry in code),
        f"COPY model/ {models}/",
        copy(manifest),
        f"USER {USER}",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \\",
        f"    CMD {json.dumps(['python', '-c', health])}",
        f"CMD {json.dumps(command)}",
    ]
    return "\n".join(lines) + "\n"
