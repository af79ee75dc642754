"""`champion models package NAME --output DIR`: a build context that serves the verified champion
(or a given version) with Azure ML's inference server, and with `--format azureml-v2` the files
`az ml online-endpoint/online-deployment create` deploys it from (`--for azureml-v2` on the
command line: `--format` is every command's output format).

What the folder holds:

    MANIFEST.json      the model (name, version, artifact_sha256, framework, build number), the
                       decision record that registered it, the pins, and every file with its
                       sha256 and where the image holds it
    Dockerfile         on the inference server (`_docker`)
    requirements.txt   the pins: the framework at the version the model was trained with, the
    conda.yaml         rest at the versions champion runs it with here (`_runtime`)
    code/score.py      `champion serve`'s entry script, byte for byte
    code/champion/     the modules of champion it imports, byte for byte
    model/             the model's files, as the verified download wrote them
    model.yml environment.yml endpoint.yml deployment.yml   (azureml-v2; `_azureml_v2`)

Why it can be trusted: the model's files come only from `Registry.download`, which checks every
byte against the version's `artifact_sha256` (an unverified or damaged version is refused), and
the entry script is the one `champion serve` answers with, so a package answers as `champion
serve` does. Everything that can refuse (the framework, the environment, the output folder, the
SDK for the v2 files) is checked before the first byte is written, and the folder is written in
one rename at the end (`_folder`): a refusal or a failure leaves nothing behind.

`azure.ai.ml` is imported only by `_azureml_v2`, and only for `--format azureml-v2`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from champion import _frameworks, names
from champion._digest import sha256_file
from champion.errors import InputError
from champion.packaging import _docker
from champion.packaging._folder import staged
from champion.packaging._runtime import Pin, Runtime, entry_runtime, pins_for
from champion.registry import Registry

__all__ = ["FORMATS", "MANIFEST", "SCHEMA_VERSION", "Package", "Source", "package"]

FORMATS = ("docker", "azureml-v2")
MANIFEST = "MANIFEST.json"
SCHEMA_VERSION = 1
CODE = "code"
MODEL = "model"
PACKAGE_INIT = '"""The modules of champion that the entry script imports, copied by `champion models\npackage`; not the whole library."""\n'  # noqa: E501


@dataclass(frozen=True)
class Source:
    """The version to package, as the registry stores it."""

    name: str
    version: int
    framework: str | None
    framework_version: str | None
    properties: Mapping[str, str] = field(default_factory=dict)
    registered: str | None = None
    run_id: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Package:
    """What was written: the folder and its manifest."""

    path: Path
    manifest: Mapping[str, Any]


def package(registry: Registry, source: Source, output: Path, *, fmt: str = "docker") -> Package:
    """Write the package of `source` into `output` (absent, or an empty folder).

    Raises InputError for what the user can change (a format, a framework that cannot be
    pinned, an environment with another framework version, an unverified version, the output
    folder, a model the entry script cannot find), before anything is written;
    InfrastructureError (a damaged download, a missing extra) with nothing left behind."""
    from champion.serving import DEFAULT_ENTRY_SCRIPT

    if fmt not in FORMATS:
        raise InputError(
            f"{fmt!r} is not a package format; use {' or '.join(FORMATS)}",
            field="--for",
            value=fmt,
        )
    digest = source.properties.get(names.ARTIFACT_SHA256)
    if not digest:
        raise InputError(
            f"{source.id} has no {names.ARTIFACT_SHA256} (it was registered outside the gate), "
            "so its files cannot be verified and are not packaged; register it through the gate",
            field=names.ARTIFACT_SHA256,
            value=source.id,
        )
    runtime = entry_runtime(DEFAULT_ENTRY_SCRIPT)
    pins = pins_for(source.id, source.framework, source.framework_version, runtime)
    if fmt == "azureml-v2":
        from champion.packaging import _azureml_v2

        _azureml_v2.require_sdk()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    champion_now = registry.champion(source.name)
    head = {
        "schema_version": SCHEMA_VERSION,
        "format": fmt,
        "packaged_by": f"champion {_frameworks.installed_version('champion') or '(source)'}",
        "model": {
            "name": source.name,
            "version": source.version,
            "artifact_sha256": digest,
            "framework": source.framework,
            "framework_version": source.framework_version,
            "build_number": source.properties.get(names.BUILD_NUMBER),
            "registered": source.registered,
            "run_id": source.run_id,
            "champion_when_packaged": champion_now is not None
            and champion_now.version == source.version,
            "properties": dict(sorted(source.properties.items())),
        },
        "build_number": source.properties.get(names.BUILD_NUMBER),
        "decision": _decision_record(registry, source),
        "python": python,
        "requirements": [{"name": p.name, "version": p.version, "source": p.source} for p in pins],
        "image": {
            "base": f"python:{python}-slim",
            "app_root": _docker.APP_ROOT,
            "model_dir": _docker.model_dir(source.name, source.version),
            "port": _docker.PORT,
            "user": _docker.USER,
        },
        "entry_script": f"{CODE}/{_docker.ENTRY_SCRIPT}",
    }
    with staged(output) as folder:
        registry.download(source.name, source.version, folder / MODEL)
        _check_model_file(folder / MODEL, source)
        _write_code(folder / CODE, runtime)
        _write_environment(folder, source, python, pins, digest)
        if fmt == "azureml-v2":
            _azureml_v2.write(folder, source, digest)
        manifest = {**head, **_listing(folder, source)}
        text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
        (folder / MANIFEST).write_text(text, encoding="utf-8")
    return Package(Path(os.path.abspath(output)), manifest)


def _decision_record(registry: Registry, source: Source) -> Mapping[str, object] | None:
    """The record of the decision that made the version (first, promoted, rolled back), if the
    registry has one."""
    made = ("first", "promoted", "rolled_back")
    found = [
        entry
        for entry in registry.decisions(source.name)
        if entry.registered_version == source.version and entry.outcome in made and entry.record
    ]
    return dict(found[-1].record) if found else None


def _check_model_file(model: Path, source: Source) -> None:
    """The entry script loads the one model file of the folder (`champion.scoring`'s rule):
    refuse a version it would not find one in now, not when the deployment starts."""
    from champion.scoring import MODEL_SUFFIXES, find_model_file

    try:
        find_model_file(model)
    except InputError:
        found = sorted(
            p.relative_to(model).as_posix() for p in model.rglob("*") if p.suffix in MODEL_SUFFIXES
        )
        raise InputError(
            f"{source.id} holds {len(found)} model files ({', '.join(found) or 'none'}); the "
            f"packaged entry script (champion serve's) loads exactly one "
            f"{'/'.join(MODEL_SUFFIXES)} file, so it is not packaged",
            field="model",
            value=source.id,
        ) from None


def _write_code(code: Path, runtime: Runtime) -> None:
    """The entry script as `code/score.py` and champion's modules it imports as `code/champion/`,
    byte for byte; each package folder gets an empty `__init__.py`."""
    code.mkdir()
    (code / _docker.ENTRY_SCRIPT).write_bytes(runtime.entry_script.read_bytes())
    for relative, source in runtime.modules.items():
        target = code / relative
        for folder in reversed(target.relative_to(code).parents[:-1]):
            if not (code / folder).is_dir():
                (code / folder).mkdir()
                (code / folder / "__init__.py").write_text(PACKAGE_INIT, encoding="utf-8")
        target.write_bytes(source.read_bytes())


def _write_environment(
    folder: Path, source: Source, python: str, pins: list[Pin], digest: str
) -> None:
    (folder / "requirements.txt").write_text(
        _docker.requirements(source.id, python, pins), encoding="utf-8"
    )
    (folder / "conda.yaml").write_text(
        _docker.conda_yaml(f"{source.name}-{source.version}", python, pins), encoding="utf-8"
    )
    copies = sorted(p.name for p in (folder / CODE).iterdir())
    (folder / "Dockerfile").write_text(
        _docker.dockerfile(
            model_id=source.id,
            digest=digest,
            python=python,
            name=source.name,
            version=source.version,
            code=[f"{CODE}/{name}" for name in copies],
            manifest=MANIFEST,
        ),
        encoding="utf-8",
    )


def _listing(folder: Path, source: Source) -> dict[str, list[dict[str, Any]]]:
    """Every file of the package but the manifest: `files` are what the image holds (with
    where), `deployment_files` what builds or deploys it."""
    files, deployment = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative == MANIFEST:
            continue
        entry: dict[str, Any] = {
            "path": relative,
            "sha256": sha256_file(path),
            "size": path.stat().st_size,
        }
        where = _docker.image_path(relative, source.name, source.version)
        if where is None:
            deployment.append(entry)
        else:
            files.append({**entry, "image_path": where})
    return {"files": files, "deployment_files": deployment}
