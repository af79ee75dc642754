"""champion's optional extras: which modules each one brings, and the one `pip install` line that
adds an extra to the installation that is running.

Why one place: the hints were written by hand at each import site (`pip install
'champion[plot]'`), and none was true, since champion is not on the package index yet; a user
who installed from a checkout or a wheel was told to fetch something that does not exist, and an
extra with no hint at all (`--backend mlflow` without mlflow) ended in "internal error ... a bug
in champion". Now every message about a missing extra is made here, from how champion was
installed (PEP 610's `direct_url.json`): a checkout gets `pip install -e 'PATH[extra]'`, a wheel
`pip install 'champion[extra] @ file:///...whl'`, an index install `pip install
'champion[extra]==VERSION'`. Installing the extra through champion's own requirement (never the
bare packages) keeps champion's pins in the one resolve: installing azureml-pipeline-* beside an
environment on its own is what breaks joblib.

A leaf: it imports nothing of champion, so `champion.errors` can use it when a
`ModuleNotFoundError` reaches a command's edge. It runs only when something is missing: the
happy path never reads distribution metadata.
"""

from __future__ import annotations

import json
import shlex
from importlib import metadata, util
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlparse

__all__ = [
    "EXTRAS",
    "NEEDED_FOR",
    "extra_of",
    "imported_by_champion",
    "install_command",
    "is_installed",
    "missing_message",
]

EXTRAS: dict[str, tuple[str, ...]] = {
    "pipelines": ("azureml.pipeline.core", "azureml.pipeline.steps"),
    "mlflow": ("mlflow",),
    "plot": ("matplotlib",),
    "serve": ("azureml_inference_server_http",),
    "onnx": ("skl2onnx", "onnxruntime", "onnx"),
    "v2": ("azure.ai.ml",),
    "team": ("psycopg2",),
    "testing": ("pytest", "pytest_mock"),
}
"""Extra -> the modules it provides (a missing one, or one under it, means the extra is missing)."""

NEEDED_FOR = {
    "pipelines": "building an Azure ML pipeline",
    "mlflow": "the MLflow backend (--backend mlflow)",
    "plot": "--plot",
    "serve": "champion serve",
    "onnx": "converting to ONNX",
    "v2": "the Azure ML SDK v2",
    "team": "an MLflow store on PostgreSQL",
    "testing": "champion's pytest fixtures",
}
"""What each extra is for, as a missing-extra line says it when the caller does not."""

DISTRIBUTION = "champion"


SHARED_NAMESPACES = frozenset({"azure", "azureml"})
"""Namespaces champion's own requirements also fill (azureml-core, azure-storage-blob): a missing
`azureml` is a broken installation, not a missing extra."""


def extra_of(module: str) -> str | None:
    """The extra that provides `module` (`mlflow.tracking`, `azureml.pipeline`), if any."""
    for extra, modules in EXTRAS.items():
        for provided in modules:
            if module == provided or module.startswith(provided + "."):
                return extra
            if provided.startswith(module + ".") and module not in SHARED_NAMESPACES:
                return extra  # `azure.ai` of `azure.ai.ml`: the extra's own parent package
    return None


def is_installed(extra: str) -> bool:
    """Whether every module of `extra` can be imported (without importing it)."""
    for module in EXTRAS[extra]:
        try:
            if util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):  # a parent package is missing or not a package
            return False
    return True


def install_command(extra: str) -> str:
    """The `pip install ...` line that adds `extra` to this installation of champion, true as
    printed for the way champion was installed."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
        return _pip(f"{DISTRIBUTION}[{extra}]")
    direct = _direct_url(dist)
    if direct is None:  # from a package index
        return _pip(f"{DISTRIBUTION}[{extra}]=={dist.version}")
    url = str(direct.get("url", ""))
    if "dir_info" in direct:  # a checkout (or any folder), editable or not
        folder = _local_path(url)
        editable = bool(direct["dir_info"].get("editable", False))
        return _pip(f"{folder}[{extra}]", editable=editable)
    if "vcs_info" in direct:
        vcs = direct["vcs_info"]
        commit = f"@{vcs['commit_id']}" if vcs.get("commit_id") else ""
        return _pip(f"{DISTRIBUTION}[{extra}] @ {vcs.get('vcs', 'git')}+{url}{commit}")
    if url.startswith("file:") and not Path(_local_path(url)).exists():
        return _pip(*_requirements(dist, extra))  # the wheel it came from is gone
    return _pip(f"{DISTRIBUTION}[{extra}] @ {url}")


def missing_message(extra: str, needed_for: str | None = None, detail: str = "") -> str:
    """One line: what needs the extra, what it is, and the command that installs it."""
    said = f" ({detail})" if detail else ""
    modules = ", ".join(EXTRAS[extra])
    return (
        f"{needed_for or NEEDED_FOR[extra]} needs champion's [{extra}] extra ({modules}), which "
        f"is not installed{said}; install it with `{install_command(extra)}` and run again"
    )


def imported_by_champion(traceback: TracebackType | None) -> bool:
    """Whether the import that failed was champion's own: the innermost frame of the traceback
    outside importlib is a champion module. A user's entry script that lacks a package is not
    ours to explain."""
    importer = ""
    while traceback is not None:
        name = traceback.tb_frame.f_globals.get("__name__", "")
        if isinstance(name, str) and not name.startswith(("importlib", "_frozen_importlib")):
            importer = name
        traceback = traceback.tb_next
    return importer.split(".")[0] == DISTRIBUTION


def _direct_url(dist: metadata.Distribution) -> dict[str, dict[str, object]] | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _local_path(url: str) -> str:
    if not url.startswith("file:"):
        return url
    return unquote(urlparse(url).path)


def _requirements(dist: metadata.Distribution, extra: str) -> list[str]:
    """The requirements `extra` adds, from the installed metadata (`matplotlib>=3.8`)."""
    found = []
    for requirement in dist.requires or []:
        spec, _, marker = requirement.partition(";")
        if f'extra == "{extra}"' in marker or f"extra == '{extra}'" in marker:
            found.append(spec.strip())
    return found or [f"{DISTRIBUTION}[{extra}]"]


def _pip(*requirements: str, editable: bool = False) -> str:
    pip = "pip install -e" if editable else "pip install"
    return " ".join([pip, *(shlex.quote(r) for r in requirements)])
