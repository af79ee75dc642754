"""`ParentRun` over an `azureml.core`-shaped run: the real SDK's, or `champion.local`'s.

Why apart from the registries: the run side is what the gate's own modules read and write
(the challenger's tags, the model's files, the decision record), and readers of a record
(`champion.record.read_record`, the pipeline driver, the testing kit) hold SDK runs. This
adapter imports nothing of either backend, so any layer may use it.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from champion.registry import ArtifactConflict, ParentRun, StepRun, record_then_tags

__all__ = ["RunLike", "SdkRun", "as_parent_run", "sdk_run_of", "step_run_of"]


# The few members of Run and Model used here. The SDK has no type hints, so these say what we
# rely on; `Any` stays inside this module, never in the Protocols above it.


class RunLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def tags(self) -> Mapping[str, Any]: ...

    def get_tags(self) -> Mapping[str, Any]: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...

    def remove_tags(self, tags: list[str]) -> Any: ...

    def get_children(self, *, _rehydrate_runs: bool = ...) -> Iterator[Any]: ...

    def get_file_names(self) -> list[str]: ...

    def upload_file(self, name: str, path_or_stream: Any) -> Any: ...

    def upload_files(self, names: list[str], paths: list[str]) -> Any: ...

    def download_file(self, name: str, output_file_path: str | None = ...) -> Any: ...

    def register_model(self, model_name: str, **kwargs: Any) -> Any: ...


def _tags(raw: Mapping[str, Any] | None) -> dict[str, str | None]:
    return {str(k): None if v is None else str(v) for k, v in (raw or {}).items()}


class SdkRun:
    """`ParentRun` over an SDK-shaped run (azureml's or champion.local's): one SDK call each."""

    def __init__(self, run: RunLike, steps: Sequence[StepRun] | None = None) -> None:
        self.sdk = run
        self._steps = None if steps is None else list(steps)  # listed with the run already

    @property
    def id(self) -> str:
        return str(self.sdk.id)

    @property
    def tags(self) -> Mapping[str, str | None]:
        # `run.parent` (or `Run.get`) has just fetched the run: its tags are current
        return _tags(self.sdk.tags)

    @property
    def metrics(self) -> Mapping[str, float]:
        return {}  # Azure ML lists a run without its metrics; the gate reads tags

    def get_tags(self) -> Mapping[str, str | None]:
        return _tags(self.sdk.get_tags())

    def step_runs(self) -> Sequence[StepRun]:
        if self._steps is not None:
            return list(self._steps)
        # The listing carries each child's tags: no GET per child. Not rehydrated: the SDK
        # would rebuild each step run as azureml-pipeline-core's StepRun, three calls apiece.
        return [step_run_of(child) for child in self.sdk.get_children(_rehydrate_runs=False)]

    def file_names(self) -> list[str]:
        return list(self.sdk.get_file_names())

    @property
    def overwrites(self) -> bool:
        return False  # the artifact service has no overwrite

    def upload_file(self, name: str, path: Path) -> None:
        with refused([name]):
            self.sdk.upload_file(name, str(path))

    def upload_bytes(self, name: str, data: bytes) -> None:
        with refused([name]):
            self.sdk.upload_file(name, io.BytesIO(data))

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        # `Run.upload_files` creates every artifact in one call, then transfers each; it takes
        # paths only, so bytes go through a file of their own. A reserved name is left to
        # `upload_bytes` (the SDK's public calls have no "create now, transfer later"; the
        # Azure ML backend's run does that with the SDK's artifact client).
        with tempfile.TemporaryDirectory(prefix="champion-upload-") as tmp, refused(list(files)):
            paths = []
            for index, content in enumerate(files.values()):
                if isinstance(content, bytes):
                    path = Path(tmp) / str(index)
                    path.write_bytes(content)
                    content = path
                paths.append(str(content))
            transfers = self.sdk.upload_files(list(files), paths)
            for _ in transfers or ():  # the SDK's transfers are lazy: each raises when waited on
                pass

    def download_file(self, name: str, target: Path) -> None:
        self.sdk.download_file(name, str(target))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.sdk.set_tags(dict(tags))

    def remove_tags(self, keys: Sequence[str]) -> None:
        self.sdk.remove_tags(list(keys))

    def add_record(
        self, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
    ) -> None:
        record_then_tags(self, name, data, tags, untag)  # the service has no transaction


def step_run_of(child: RunLike) -> StepRun:
    """A step run as the gate reads it, from an SDK run built from a listing (its tags come
    with it)."""
    return StepRun(str(child.id), str(child.name or ""), _tags(child.tags))


@contextmanager
def refused(names: Sequence[str]) -> Iterator[None]:
    """The service's "already exists" (the SDK's AzureMLAggregatedException of per-artifact
    errors, as the local workspace raises it too) as ArtifactConflict; anything else as is."""
    try:
        yield
    except Exception as exc:
        text = str(getattr(exc, "message", None) or exc)
        if "Resource Conflict" in text and "already exists" in text:
            raise ArtifactConflict(names) from exc
        raise


def sdk_run_of(run: ParentRun) -> RunLike:
    """The SDK run behind `run`: an SDK-shaped registry registers through its own runs only
    (`champion.context` builds the two together)."""
    if not isinstance(run, SdkRun):
        raise TypeError(f"{type(run).__name__} is not a run of an azureml-shaped backend")
    return run.sdk


def as_parent_run(run: ParentRun | RunLike) -> ParentRun:
    """`run` itself when it already is a `ParentRun`, else the adapter over the SDK run. Told
    by the class (an SDK-shaped run's `__getattr__` may raise for a name it does not have)."""
    if callable(getattr(type(run), "file_names", None)):
        return run  # type: ignore[return-value]
    return SdkRun(run)  # type: ignore[arg-type]
