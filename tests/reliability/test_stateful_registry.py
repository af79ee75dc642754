"""The local model registry against an in-memory reference, driven by hypothesis.

Random sequences of register / lookup / list-with-tag-filter / delete / add_properties / add_tags
/ reopen run on a real local workspace folder; after every step the registry must agree with a
dictionary that knows the service's rules:

- a version number is max(every version ever registered under the name) + 1, never reused after
  a delete;
- `Model(ws, name)` is the newest live version, or the SDK's "ModelNotFound" WebserviceException;
- `Model.list` is newest first and a tag filter keeps exactly the versions carrying that tag;
- model properties are immutable (the SDK refuses any key it already has, the service refuses a
  different value for a key it has);
- everything survives closing and reopening the workspace.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis.strategies as st
import pytest
from azureml.exceptions import WebserviceException
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from champion.local import Model, Workspace

NAMES = ("iris", "wine.model-2")
TAG_KEYS = ("team", "stage")
TAG_VALUES = ("a", "b", "c")
PROPERTY_KEYS = ("accuracy", "owner", "notes")

pytestmark = pytest.mark.slow  # a few seconds: hundreds of fsynced registry writes

names = st.sampled_from(NAMES)
tag_sets = st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=2)


@dataclass
class Version:
    tags: dict[str, str]
    properties: dict[str, str]
    seq: int
    live: bool = True


@dataclass
class Reference:
    """What the registry should hold."""

    versions: dict[tuple[str, int], Version] = field(default_factory=dict)
    seq: int = 0

    def next_version(self, name: str) -> int:
        return max((v for n, v in self.versions if n == name), default=0) + 1

    def live(self, name: str | None = None) -> list[tuple[str, int]]:
        """Live versions, newest registration first."""
        keys = [k for k, rec in self.versions.items() if rec.live and name in (None, k[0])]
        return sorted(keys, key=lambda k: -self.versions[k].seq)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, WebserviceException) and "ModelNotFound" in str(exc.message)


@contextlib.contextmanager
def not_found():
    try:
        yield
    except WebserviceException as exc:
        assert is_not_found(exc), exc.message
    else:
        raise AssertionError("expected the SDK's ModelNotFound WebserviceException")


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="champion-stateful-"))
        (self.root / "model.pkl").write_bytes(b"model bytes")
        self.ws_path = self.root / "ws"
        self.ws = Workspace.create(self.ws_path)
        self.ref = Reference()
        self.reopened = 0

    def teardown(self) -> None:
        self.ws._store.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ writes

    @rule(name=names, tags=tag_sets)
    def register(self, name: str, tags: dict[str, str]) -> None:
        expected = self.ref.next_version(name)
        with contextlib.chdir(self.root), contextlib.redirect_stdout(None):
            model = Model.register(
                self.ws, "model.pkl", name, tags=tags, properties={"accuracy": str(expected)}
            )
        assert (model.name, model.version) == (name, expected)
        assert model.tags == tags
        self.ref.seq += 1
        self.ref.versions[(name, expected)] = Version(
            dict(tags), {"accuracy": str(expected)}, self.ref.seq
        )

    @precondition(lambda self: self.ref.versions)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name, version = data.draw(st.sampled_from(sorted(self.ref.versions)), label="version")
        if not self.ref.versions[(name, version)].live:
            with not_found():
                Model(self.ws, name, version=version)
            return
        model = Model(self.ws, name, version=version)
        model.delete()
        self.ref.versions[(name, version)].live = False
        with not_found():
            model.delete()  # a second delete of the same version finds nothing

    @precondition(lambda self: self.ref.live())
    @rule(name=names)
    def delete_newest(self, name: str) -> None:
        """The case that reuses a number if versions are max(live) + 1: delete the newest."""
        live = self.ref.live(name)
        if not live:
            return
        Model(self.ws, name).delete()
        self.ref.versions[live[0]].live = False

    @precondition(lambda self: self.ref.live())
    @rule(data=st.data(), key=st.sampled_from(PROPERTY_KEYS), value=st.sampled_from("xyz"))
    def add_properties(self, data: st.DataObject, key: str, value: str) -> None:
        name, version = data.draw(st.sampled_from(sorted(self.ref.live())), label="version")
        expected = self.ref.versions[(name, version)].properties
        model = Model(self.ws, name, version=version)
        stale = Model(self.ws, name, version=version)
        if key in expected:
            with contextlib.redirect_stdout(None):
                try:
                    model.add_properties({key: value})
                except WebserviceException as exc:
                    assert "immutable" in exc.message, exc.message
                else:
                    raise AssertionError(f"property {key!r} of {name}:{version} was overwritten")
            return
        with contextlib.redirect_stdout(None):
            model.add_properties({key: value})
        expected[key] = value
        # an object fetched before the change does not know the key: the service refuses it
        with contextlib.redirect_stdout(None):
            try:
                stale.add_properties({key: value + "-other"})
            except WebserviceException as exc:
                assert "immutable" in exc.message, exc.message
            else:
                raise AssertionError(f"a stale object overwrote property {key!r}")

    @precondition(lambda self: self.ref.live())
    @rule(data=st.data(), key=st.sampled_from(TAG_KEYS), value=st.sampled_from(TAG_VALUES))
    def add_tags(self, data: st.DataObject, key: str, value: str) -> None:
        name, version = data.draw(st.sampled_from(sorted(self.ref.live())), label="version")
        with contextlib.redirect_stdout(None):
            Model(self.ws, name, version=version).add_tags({key: value})
        self.ref.versions[(name, version)].tags[key] = value

    @rule()
    def reopen(self) -> None:
        old = self.ws._store
        old.close()
        self.ws = Workspace(self.ws_path)
        assert self.ws._store is not old  # a closed store is never handed out again
        self.reopened += 1

    # ------------------------------------------------------------------ reads

    @rule(name=names)
    def lookup_latest(self, name: str) -> None:
        live = self.ref.live(name)
        if not live:
            with not_found():
                Model(self.ws, name)
            return
        model = Model(self.ws, name)
        assert model.version == max(v for _, v in live)
        assert model.tags == self.ref.versions[(name, model.version)].tags

    @rule(name=names, version=st.integers(1, 12))
    def lookup_version(self, name: str, version: int) -> None:
        record = self.ref.versions.get((name, version))
        if record is None or not record.live:
            with not_found():
                Model(self.ws, name, version=version)
            return
        model = Model(self.ws, name, version=version)
        assert (model.name, model.version, model.id) == (name, version, f"{name}:{version}")
        assert model.tags == record.tags
        assert model.properties == record.properties

    @rule(
        name=st.none() | names,
        key=st.sampled_from(TAG_KEYS),
        value=st.none() | st.sampled_from(TAG_VALUES),
    )
    def list_with_tag_filter(self, name: str | None, key: str, value: str | None) -> None:
        tags: list[object] = [key] if value is None else [[key, value]]
        found = [(m.name, m.version) for m in Model.list(self.ws, name=name, tags=tags)]
        expected = [
            k
            for k in self.ref.live(name)
            if key in self.ref.versions[k].tags
            and (value is None or self.ref.versions[k].tags[key] == value)
        ]
        assert found == expected, (name, tags)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def latest_is_the_newest_live_version(self) -> None:
        for name in NAMES:
            live = [v for n, v in self.ref.live(name)]
            listed = [m.version for m in Model.list(self.ws, name=name)]
            assert listed == sorted(live, reverse=True)  # newest first, deleted ones gone
            if live:
                assert Model(self.ws, name, expand=False).version == max(live)
            else:
                with not_found():
                    Model(self.ws, name, expand=False)

    @invariant()
    def list_is_newest_first_across_names(self) -> None:
        found = [(m.name, m.version) for m in Model.list(self.ws, expand=False)]
        assert found == self.ref.live()
        latest = [(m.name, m.version) for m in Model.list(self.ws, latest=True, expand=False)]
        newest: dict[str, tuple[str, int]] = {}
        for key in self.ref.live():
            newest.setdefault(key[0], key)
        assert latest == list(newest.values())


TestLocalRegistry = RegistryMachine.TestCase
TestLocalRegistry.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
