"""What the CLI reads of an MLflow registry (`MlflowReader`: list, show, download), and a
scikit-learn model saved as an MLflow model folder for the sample's training step."""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any

from champion import names
from champion.errors import InputError
from champion.registry.mlflow._calls import _ABSENT, _found, _remote
from champion.registry.mlflow._files import verified_files
from champion.registry.mlflow.registry import MlflowRegistry


def save_sklearn_model(model: Any, folder: Path) -> Path:
    """Save a fitted scikit-learn model as an MLflow model folder (`MLmodel`, the model, its
    environment) into the empty `folder`, so a registered version loads with
    `mlflow.pyfunc.load_model("models:/<name>@champion")`. The requirements are given, not
    inferred (inference imports the model in a subprocess: seconds, for nothing). cloudpickle,
    not MLflow 3's default skops: skops comes with the full `mlflow` only (the `[mlflow]`
    extra is mlflow-skinny), and refuses a k-NN model's KDTree unless told to trust it."""
    from importlib import metadata

    import mlflow.sklearn

    requirements = [f"{p}=={metadata.version(p)}" for p in ("scikit-learn", "cloudpickle")]
    mlflow.sklearn.save_model(
        model,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pip_requirements=requirements,
    )
    return folder / "MLmodel"


# ---------------------------------------------------------------------- the command line's reads


class MlflowReader:
    """What `champion models ...` reads and changes on MLflow, beyond the gate's `Registry`:
    the models, a version with everything MLflow stores on it, a verified download, the
    description and stage commands, and the decision records on the runs."""

    def __init__(self, registry: MlflowRegistry) -> None:
        self.registry = registry
        self.client = registry.client
        self.workspace = registry.workspace

    def models(self) -> list[tuple[str, dict[str, int]]]:
        """Every registered model's name and aliases, by name."""
        found: list[tuple[str, dict[str, int]]] = []
        token: str | None = None
        while True:
            page = _remote(
                "listing the registered models",
                functools.partial(
                    self.client.search_registered_models, max_results=1000, page_token=token
                ),
            )
            found += [
                (str(m.name), {k: int(v) for k, v in (m.aliases or {}).items()}) for m in page
            ]
            token = getattr(page, "token", None)
            if not token:
                return sorted(found)

    def version(self, name: str, version: int | None) -> Any:
        """The MLflow model version asked for (None: the champion), or InputError naming what
        is missing: a model with versions but no champion says so (ChampionUnknownError), and
        "no model" is said only when the registry has no model of that name."""
        if version is None:
            champion = self.registry._champion(name)
            if champion is None:
                model = self.registry._registered_model(name)
                what = "no model" if model is _ABSENT else "no version of the model"
                raise InputError(
                    f"{what} {name!r} on {self.workspace.name}; 'champion models list "
                    "--backend mlflow' shows the models",
                    field="name",
                    value=name,
                )
            version = champion.version
        found = _remote(
            f"reading version {version} of {name!r}",
            lambda: _found(lambda: self.client.get_model_version(name, str(version))),
        )
        if found is _ABSENT:
            raise InputError(
                f"no model version {version} of {name!r} on {self.workspace.name}; "
                f"'champion models history {name} --backend mlflow' lists the versions",
                field="version",
                value=version,
            )
        return found

    def describe(self, name: str, version: int, text: str) -> Any:
        self.version(name, version)
        return _remote(
            f"describing version {version} of {name!r}",
            lambda: self.client.update_model_version(name, str(version), description=text),
        )

    def set_stage(self, name: str, version: int, stage: str, *, archive: bool) -> Any:
        self.version(name, version)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return _remote(
                f"moving version {version} of {name!r} to stage {stage}",
                lambda: self.client.transition_model_version_stage(
                    name, str(version), stage, archive_existing_versions=archive
                ),
            )

    def download(
        self, name: str, version: int | None, target: Path, *, exist_ok: bool
    ) -> tuple[Any, Path, bool]:
        """Download a version into `target/<name>/`, checking its files against the
        registered `artifact_sha256` before any is moved into place; returns the version, the
        folder and whether the check ran. On any failure nothing is written."""
        mv = self.version(name, version)
        if target.exists() and not target.is_dir():
            raise InputError(
                f"--target {target} is a file; give a folder", field="--target", value=str(target)
            )
        target.mkdir(parents=True, exist_ok=True)
        destination = target / name
        expected = (mv.tags or {}).get(names.ARTIFACT_SHA256)
        with verified_files(self.workspace, mv, target, expected) as (local, written):
            moves = [(local / relative, destination / relative) for relative in written]
            for _, final in moves:
                _check_place(final, target, exist_ok=exist_ok)
            for source, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, final)
        return mv, destination, bool(expected)


def _check_place(final: Path, root: Path, *, exist_ok: bool) -> None:
    """A downloaded file's place under `root`: never through a symlink, never over a file
    unless `exist_ok`, never over a folder."""
    current = final
    while current != root:
        if current.is_symlink():
            raise InputError(
                f"{current} is a symlink; nothing was written (a download never writes through "
                "one)",
                field="--target",
                value=str(current),
            )
        current = current.parent
    if final.is_dir() or (final.exists() and not exist_ok):
        raise InputError(
            f"{final} already exists; nothing was written. Pass --exist-ok to replace it, or "
            "choose another --target",
            field="--target",
            value=str(final),
        )
