"""The champion alias of an MLflow registry: who holds it, moving it, and the moves made.

Why apart from `registry.py`: the alias is MLflow's whole notion of a champion, and it is
where MLflow differs from the other registries in ways that must fail closed:

- a model whose versions exist but none holds the alias (its holder was deleted, or someone
  removed the alias) has an unknown champion, never "no champion": that would let any
  challenger in as the first (`ChampionUnknownError`, naming the versions and the aliases);
- MLflow has no compare-and-set on an alias, so a move is read before and checked after
  (`_move_alias`);
- MLflow keeps no alias history, so every move made here is remembered (`alias_move`) for
  the decision record that the gate or a rollback writes next: history shows the moves that
  were recorded, never ones inferred from a version's outcome;
- a failure after the move is not "failed": the alias names the new version, and the error
  says so (`RegisteredThenFailedError`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from champion import names
from champion._failpoints import failpoint
from champion.errors import (
    ChampionError,
    ChampionUnknownError,
    InfrastructureError,
    RegisteredThenFailedError,
)
from champion.registry import ModelVersion
from champion.registry.mlflow._calls import (
    _ABSENT,
    _NO_ALIASES,
    ALIAS_PENDING,
    MlflowCallError,
    _found,
    _optional_int,
    _remote,
    _translated,
    version_of,
)

if TYPE_CHECKING:
    from champion.registry.mlflow.runs import MlflowWorkspace

_LISTED = 10
"""Versions named one by one in a message; more are shown as a range."""
_FIRST_MOVE_WAIT_S = 30.0
"""How long a lookup waits for a first registration to move the alias (`ALIAS_PENDING`): it
moves a moment after the version is created, unless its gate stopped in between."""
_FIRST_MOVE_POLL_S = 0.25


class AliasKeeper:
    """The alias half of `MlflowRegistry` (a mixin: the registry's state, its alias jobs)."""

    workspace: MlflowWorkspace
    client: Any
    alias: str
    aliases_supported: bool | None
    _moves: dict[tuple[str, int], tuple[int | None, int]]

    # -- who holds it

    def _champion(self, name: str) -> ModelVersion | None:
        if self.aliases_supported is False:
            return self._latest(name)
        action = f"looking up the champion model {name!r} (alias {self.alias!r})"
        outcome: list[str] = []

        def attempt() -> Any:
            outcome.clear()
            try:
                return _found(lambda: self.client.get_model_version_by_alias(name, self.alias))
            except MlflowCallError as exc:
                if exc.error_code in _NO_ALIASES:
                    outcome.append("no aliases")
                    return None
                if exc.error_code == "INVALID_PARAMETER_VALUE":
                    outcome.append("alias not set?")  # checked below, in its own loop
                    return None
                raise

        found = _remote(action, attempt)  # RESOURCE_DOES_NOT_EXIST: no such model
        if outcome == ["no aliases"]:
            self.aliases_supported = False
            return self._latest(name)
        self.aliases_supported = True
        if not outcome:
            return None if found is _ABSENT else version_of(found)
        # MLflow answers a model without the alias with a 400: the model exists. Only one
        # without versions has no champion; one with versions has a champion nobody names.
        model = self._registered_model(name)
        holder = None if model is _ABSENT else _aliases_of(model).get(self.alias)
        if holder is not None:  # set between the two reads (another gate's first move)?
            found = _remote(action, attempt)
            if not outcome and found is not _ABSENT:
                return version_of(found)
            raise InfrastructureError(
                f"{action} failed: the server refused the lookup, yet the alias names "
                f"version {holder}",
                field="model_name",
                value=name,
            )
        versions = [] if model is _ABSENT else self.versions(name)
        if not versions:
            return None
        pending = [v.version for v in versions if ALIAS_PENDING in v.properties]
        if pending:  # a first registration between its version and its alias move
            deadline = time.monotonic() + _FIRST_MOVE_WAIT_S
            while time.monotonic() < deadline:
                time.sleep(_FIRST_MOVE_POLL_S)
                found = _remote(action, attempt)
                if not outcome and found is not _ABSENT:
                    return version_of(found)
        raise self._unknown_champion(name, [v.version for v in versions], model, pending)

    def _unknown_champion(
        self, name: str, versions: list[int], model: Any, pending: list[int] | None = None
    ) -> ChampionUnknownError:
        aliases = _aliases_of(model)
        held = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items()))
        other = (
            f"its aliases are {held}"
            if held
            else f"the first registration, of version {pending[0]}, has not moved the alias "
            f"after {_FIRST_MOVE_WAIT_S:.0f} s: its gate stopped? A retry of its run finishes it"
            if pending
            else "it has no alias at all: was the champion's version deleted?"
        )
        flag = "" if self.alias == "champion" else f" --champion-alias {self.alias}"
        return ChampionUnknownError(
            f"model {name!r} has {_listing(versions)} but none holds alias {self.alias!r} "
            f"({other}), so its champion "
            f"is unknown and nothing was changed. Make a version the champion: 'champion "
            f"models rollback {name} --to VERSION --reason TEXT{flag} --backend mlflow', or "
            f"set the alias in the MLflow UI",
            field="--champion-alias",
            value=self.alias,
        )

    def _registered_model(self, name: str) -> Any:
        """MLflow's registered model `name`, or `_ABSENT` when there is none."""
        return _remote(
            f"reading the aliases of {name!r}",
            lambda: _found(lambda: self.client.get_registered_model(name)),
        )

    def _alias_holder(self, name: str) -> int | None:
        """The version the alias names now (None: the model or the alias does not exist).

        One read of the alias, whose cost does not grow with the model: MLflow's answer to
        `get_registered_model` lists every version (0.07 s at 1,000 versions, 0.4 s at 10,000,
        on PostgreSQL). Only a refusal (no such alias, or a server without aliases) reads the
        registered model to tell which."""
        refused: list[bool] = []

        def attempt() -> Any:
            refused.clear()
            try:
                return _found(lambda: self.client.get_model_version_by_alias(name, self.alias))
            except MlflowCallError as exc:
                if exc.error_code not in _NO_ALIASES | {"INVALID_PARAMETER_VALUE"}:
                    raise
                refused.append(True)
                return _ABSENT

        found = _remote(f"reading alias {self.alias!r} of {name!r}", attempt)
        if not refused:  # RESOURCE_DOES_NOT_EXIST: no such model
            return None if found is _ABSENT else int(found.version)
        model = self._registered_model(name)
        return None if model is _ABSENT else _aliases_of(model).get(self.alias)

    def _latest(self, name: str) -> ModelVersion | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def versions(self, name: str) -> list[ModelVersion]:
        return [version_of(mv) for mv in self._all_versions(name)]

    def _all_versions(self, name: str) -> list[Any]:
        """MLflow's model versions of `name`, every page, in version order."""
        found: list[Any] = []
        token: str | None = None
        while True:
            page = _remote(
                f"listing the versions of {name!r}",
                functools.partial(
                    self.client.search_model_versions,
                    f"name='{name}'",
                    max_results=1000,
                    page_token=token,
                ),
            )
            found += list(page)
            token = getattr(page, "token", None)
            if not token:
                return sorted(found, key=lambda mv: int(mv.version))

    # -- moving it

    def alias_move(self, name: str, version: int) -> dict[str, Any] | None:
        """The move of the alias to `version` this registry made, for the decision record:
        `{"alias", "from", "to"}` (`from` None: no version held it), or None when it made none
        (a rejection, a server without aliases, a retry that found the move done)."""
        made = self._moves.get((name, version))
        if made is None:
            return None
        return {"alias": self.alias, "from": made[0], "to": made[1]}

    def _finish_move(self, version: ModelVersion) -> None:
        """A retry's half of a registration a crash cut in two: the alias moves to `version`
        if it still names the champion `version` was decided against."""
        if version.properties.get(names.OUTCOME) not in ("first", "promoted"):
            return  # registered by hand, or not by a decision: not ours to move
        holder = self._alias_holder(version.name)
        expected = _optional_int(version.properties.get(names.PREVIOUS_VERSION))
        if holder != version.version and holder == expected:  # else done, or moved on since
            if self._set_alias(version.name, version.version):
                self._moves[(version.name, version.version)] = (holder, version.version)
        if ALIAS_PENDING in version.properties:
            self._clear_pending(version.name, version.version)

    def _clear_pending(self, name: str, version: int) -> None:
        """A first registration's alias has moved: waiting lookups stop waiting for it."""
        remove = functools.partial(
            self.client.delete_model_version_tag, name, str(version), ALIAS_PENDING
        )
        _remote(
            f"clearing {ALIAS_PENDING} on version {version} of {name!r}", lambda: _found(remove)
        )

    def _move_alias(self, name: str, version: int) -> bool:
        """Point the alias at our new version, noting the holder it had just before (for the
        record and for `converge`, which settles any race after it); False when the server
        has no aliases.

        MLflow has no compare-and-set on an alias, so two gates that compared with the same
        champion can both move it, and the last move stands. `converge` runs next and moves
        the alias to the best of the racing decisions (`champion.registry.mlflow._race`).

        A failure before the move leaves the champion as it was (a retry of the pipeline run
        finishes the move); one after it raises RegisteredThenFailedError, which says that the
        alias names our version now.
        """
        if self.aliases_supported is False:
            return False
        try:
            before = self._alias_holder(name)
            failpoint("mlflow.alias_checked")
            if not self._set_alias(name, version):
                return False
        except ChampionError as exc:
            raise InfrastructureError(
                f"{name}:{version} is registered, but alias {self.alias!r} may not have moved "
                f"to it: {exc.message}. A retry of the same pipeline run finds version "
                f"{version} and finishes the move",
                field="model_name",
                value=name,
            ) from exc
        self._moves[(name, version)] = (before, version)
        failpoint("mlflow.alias_moved")
        return True

    @contextlib.contextmanager
    def after_move(self, name: str, version: int) -> Iterator[None]:
        """A block of calls made once the alias names `version`: a failure in it becomes
        RegisteredThenFailedError, saying where the alias is."""
        try:
            yield
        except RegisteredThenFailedError:
            raise
        except ChampionError as exc:
            before = self._moves.get((name, version), (None, version))[0]
            since = "" if before is None else f" from version {before}"
            raise RegisteredThenFailedError(
                f"{name}:{version} is registered and alias {self.alias!r} moved to it{since}, "
                f"so it is the champion now; then {exc.message}",
                version=version,
                field="model_name",
                value=name,
            ) from exc

    def _remove_alias(self, name: str) -> None:
        _remote(
            f"removing alias {self.alias!r} of {name!r}",
            lambda: _found(lambda: self.client.delete_registered_model_alias(name, self.alias)),
        )

    def _set_alias(self, name: str, version: int) -> bool:
        """Point the alias at `version`; False when the server has no aliases."""
        unsupported: list[bool] = []

        move = _alias_mover(self.client)

        def attempt() -> None:
            try:
                _translated(lambda: move(name, self.alias, version))
            except MlflowCallError as exc:
                if exc.error_code not in _NO_ALIASES:
                    raise
                unsupported.append(True)

        _remote(f"moving alias {self.alias!r} of {name!r} to version {version}", attempt)
        if unsupported:
            self.aliases_supported = False
            return False
        self.aliases_supported = True
        return True


def _alias_mover(client: Any) -> Any:
    """`set_registered_model_alias` of MLflow's registry client, under `MlflowClient`'s own:
    that one first reads the whole registered model to refuse a prompt's name (a
    `get_registered_model`, whose cost grows with the model's versions: 0.4 s at 10,000), and
    the gate moves the alias of a model it has just registered a version of, never a prompt's.
    The server checks the name, the alias and the version either way."""
    registry_client = getattr(client, "_get_registry_client", None)
    if registry_client is None:  # pragma: no cover - a future MLflow without it
        return client.set_registered_model_alias
    return registry_client().set_registered_model_alias


def _aliases_of(model: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(model.aliases or {}).items()}


def _listing(versions: list[int]) -> str:
    """`version 1`, `versions 1, 3` or, for many, `versions 1, 2, ..., 480 (400 versions)`."""
    if len(versions) == 1:
        return f"version {versions[0]}"
    if len(versions) <= _LISTED:
        return "versions " + ", ".join(str(v) for v in versions)
    return f"versions {versions[0]}, {versions[1]}, ..., {versions[-1]} ({len(versions)} of them)"
