"""A rollback on MLflow (`MlflowRegistry.make_champion`)."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.errors import ConflictError
from champion.registry import (
    ChampionChange,
)
from champion.registry.mlflow._calls import _GATE_PREFIX, _PENDING, _found, _remote
from champion.registry.mlflow.runs import MlflowParentRun

if TYPE_CHECKING:
    from champion.registry.mlflow.registry import MlflowRegistry


class Rollback:
    """`MlflowRegistry.make_champion`: MLflow keeps no alias history, so a rollback moves the
    alias back and tags the version with the event, and every step it took is undone when a
    later one fails (a half-done rollback would leave a champion nobody chose)."""

    def __init__(self, registry: MlflowRegistry) -> None:
        self.registry = registry
        self.client = registry.client

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        """The alias moves back to `version`, or, without aliases, its files again."""
        earlier = self.registry._model_version(name, version)
        with self.registry.decision_run(change.experiment, f"rollback {name}") as run:
            if self.registry.aliases_supported is False:
                return self._register_again(name, earlier, change, run)
            return self._move_back(name, earlier, change, run)

    def _conflict(self, name: str, expected: int | None, now: int | None) -> ConflictError:
        return ConflictError(
            f"the champion of {name!r} changed from v{expected} to v{now} while rolling back; "
            f"nothing was changed. Look at 'champion models history {name} --backend mlflow', "
            "then run the rollback again if it is still wanted.",
            field="name",
            value=name,
        )

    def _move_back(
        self, name: str, earlier: Any, change: ChampionChange, run: MlflowParentRun
    ) -> int:
        version = int(earlier.version)
        holder = self.registry._alias_holder(name)
        if holder != change.expected_champion:
            raise self._conflict(name, change.expected_champion, holder)
        before = {str(k): str(v) for k, v in (earlier.tags or {}).items()}
        # the version's own tags (its metrics, test data, digest) are what `change` copied
        # from it: only the event's tags differ, so only those are written
        event = {k: v for k, v in change.properties.items() if before.get(k) != v}
        try:
            self._tag_version(name, version, event)
            if not self.registry._set_alias(name, version):  # the server has no aliases after all
                self._untag_version(name, version, event, before)
                return self._register_again(name, earlier, change, run)
            self.registry._moves[(name, version)] = (holder, version)
            after = self.registry._alias_holder(name)
            if after != version:
                raise self._conflict(name, version, after)
            if change.record is not None:
                change.record(run, version)
        except BaseException:
            with contextlib.suppress(Exception):
                self._restore(name, version, holder, event, before)
            raise
        return version

    def _restore(
        self,
        name: str,
        version: int,
        holder: int | None,
        event: Mapping[str, str],
        before: Mapping[str, str],
    ) -> None:
        """Undo a rollback stopped part way: the alias back where it was (if still ours to
        move), the version's tags as they were."""
        self.registry._moves.pop((name, version), None)
        if self.registry._alias_holder(name) == version:
            if holder is not None:
                self.registry._set_alias(name, holder)
            else:  # no version held it before: none holds it again
                self.registry._remove_alias(name)
        self._untag_version(name, version, event, before)

    def _tag_version(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            _remote(
                f"tagging version {version} of {name!r} with {key}",
                functools.partial(
                    self.client.set_model_version_tag, name, str(version), key, value
                ),
            )

    def _untag_version(
        self, name: str, version: int, written: Mapping[str, str], before: Mapping[str, str]
    ) -> None:
        self._tag_version(name, version, {k: before[k] for k in written if k in before})
        for key in (k for k in written if k not in before):
            remove = functools.partial(
                self.client.delete_model_version_tag, name, str(version), key
            )
            _remote(
                f"removing tag {key} of version {version} of {name!r}",
                functools.partial(_found, remove),
            )

    def _register_again(
        self, name: str, earlier: Any, change: ChampionChange, run: MlflowParentRun
    ) -> int:
        """A server without aliases takes the latest version as the champion: as on Azure ML,
        the earlier version's files (downloaded and verified first) are logged to the rollback
        run and registered from there as a new version, in one call. (MLflow refuses a source
        outside the run the version names.)"""
        latest = self.registry._latest(name)
        now = None if latest is None else latest.version
        if now != change.expected_champion:
            raise self._conflict(name, change.expected_champion, now)
        with tempfile.TemporaryDirectory(prefix="champion-rollback-") as tmp:
            files = self.registry.download(name, int(earlier.version), Path(tmp))
            for path in sorted(p for p in files.rglob("*") if p.is_file()):
                relative = path.relative_to(files).as_posix()
                upload = functools.partial(
                    run.upload_file, f"{_GATE_PREFIX}{name}/{relative}", path
                )
                _remote(f"uploading {relative} to the rollback run", upload)
        source = f"{run.artifact_uri}/{name}"
        created = _remote(
            f"registering {name} again",
            lambda: self.client.create_model_version(
                name,
                source,
                run_id=run.id,
                tags={**change.tags, **change.properties},
                description=change.description,
                await_creation_for=0,
            ),
        )
        new = (
            int(created.version)
            if created.status != _PENDING
            else self.registry._await_ready(created)
        )
        if change.record is not None:
            change.record(run, new)
        return new
