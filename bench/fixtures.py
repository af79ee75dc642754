"""Workspaces for the benchmarks: a registry with N versions, built fast, and pipeline runs.

Populating goes through the store's own methods (create_run, add_artifacts, create_asset,
register_model), inside ONE outer transaction, so 10,000 versions take seconds instead of
10,000 step processes, and every row has the shape the gate writes: a pipeline run per version,
its artifact (one shared blob), an asset, and the tags/properties `gate._new_version` stores.
A populated folder is built once per benchmark session and copied for each use.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

from _common import progress

MODEL = "iris"
EXPERIMENT = "iris-pipeline"
MODEL_SIZE = 128 * 1024  # a pickled scikit-learn model on iris is ~10-200 KiB


def model_bytes(size: int = MODEL_SIZE, seed: int = 7) -> bytes:
    """The same incompressible bytes on every call (one model, registered many times)."""
    return random.Random(seed).randbytes(size)


def write_model(folder: Path, size: int = MODEL_SIZE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.pkl"
    if not path.exists():
        path.write_bytes(model_bytes(size))
    return path


def accuracy_of(version: int) -> str:
    """Populated champions climb from 0.5 in steps of 1e-5 (10,000 versions end at 0.6); the
    benchmarks' challengers start above 0.6 so that every one of them wins."""
    return f"{0.5 + version * 1e-5:.6f}"


def build_number_of(version: int) -> str:
    return f"2025.{version}"


def _metadata(version: int, run_id: str, digest: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the gate stores on a promoted version (see champion.gate._new_version)."""
    acc = accuracy_of(version)
    common = {"accuracy": acc, "model_type": "SVC", "build_number": build_number_of(version)}
    outcome = "first" if version == 1 else "promoted"
    properties = {
        **common,
        "artifact_sha256": digest,
        "champion.outcome": outcome,
        "champion.policy": json.dumps(
            {"direction": "higher", "floor": None, "metric": "accuracy", "min_delta": "0"},
            sort_keys=True,
        ),
        "champion.parent_run_id": run_id,
        "champion.reason": "challenger beats champion",
    }
    if version > 1:
        properties["champion.previous_version"] = str(version - 1)
        properties["champion.previous_metric"] = accuracy_of(version - 1)
    tags = {**common, "champion.outcome": outcome}
    return tags, properties


def populate(ws_path: Path, versions: int, *, model_file: Path, name: str = MODEL) -> None:
    """Register `versions` versions of `name` as the gate would have, in one transaction."""
    from champion.local.store import RUN_ORIGIN, Store

    ws_path.parent.mkdir(parents=True, exist_ok=True)
    store = Store.create(ws_path)
    digest, size = store.put_blob(model_file)
    listing = hashlib.sha256(f"model.pkl\0{digest}\n".encode()).hexdigest()
    with store.transaction():
        for version in range(1, versions + 1):
            run = store.create_run(EXPERIMENT, status="Completed")
            tags, properties = _metadata(version, run.run_id, listing)
            path = f"outputs/{name}/model.pkl"
            store.add_artifacts(RUN_ORIGIN, run.data_container_id, [(path, digest, size)])
            asset = store.create_asset(
                [f"{RUN_ORIGIN}/{run.data_container_id}/outputs/{name}"],
                name=name,
                run_id=run.run_id,
            )
            store.register_model(
                name,
                asset.id,
                tags=tags,
                properties=properties,
                description=f"accuracy={tags['accuracy']} from pipeline run {run.run_id}",
                framework="ScikitLearn",
                framework_version="1.5.2",
                run_id=run.run_id,
                experiment_name=EXPERIMENT,
            )
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


class FixtureCache:
    """Populated workspaces built once per session and copied per use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.model_file = write_model(root / "model")
        self._built: dict[int, Path] = {}

    def workspace(self, versions: int, target: Path) -> Path:
        """A fresh copy of a workspace holding `versions` versions of MODEL at `target`."""
        source = self._built.get(versions)
        if source is None:
            source = self.root / f"populated-{versions}"
            if source.exists():
                shutil.rmtree(source)
            progress(f"fixture: populating {versions:,} versions")
            populate(source / "ws", versions, model_file=self.model_file)
            self._built[versions] = source
        shutil.copytree(source / "ws", target)
        return target


class Pipeline:
    """Pipeline runs shaped like the local runner's: a parent run tagged by the training step,
    its `train` step run and the `register` step run the gate runs in."""

    def __init__(self, ws_path: Path) -> None:
        from champion.local import Experiment, Workspace

        self.ws_path = ws_path
        ws_path.parent.mkdir(parents=True, exist_ok=True)
        self.ws = Workspace.create(ws_path, exist_ok=True)
        self.exp = Experiment(self.ws, EXPERIMENT)

    def new_run(self, accuracy: str, model_type: str = "SVC") -> Any:
        """Return the register step's run; its parent carries the challenger's metric."""
        parent = self.exp.start_logging()
        parent.child_run(name="train")
        parent.set_tags({"accuracy": accuracy, "best_model": model_type})
        return parent.child_run(name="register")

    def close(self) -> None:
        self.ws._store.close()
