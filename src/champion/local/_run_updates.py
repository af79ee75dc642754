"""Changing a run: its status (start, complete, fail, cancel, the context manager) and its tags
and properties, each one PATCH of the run, as the SDK sends it."""

from __future__ import annotations

import builtins
import types
from collections.abc import Mapping, Sequence
from typing import Any, Self

from champion.local import _sdk
from champion.local._run_base import RunBase
from champion.local.store import PropertyConflict


class RunUpdates(RunBase):
    """Status, tags and properties of a run."""

    def start(self) -> None:
        self._record = self._store.update_run(self.id, status="Running")

    def complete(self, _set_status: bool = True) -> None:
        if _set_status:
            self._record = self._store.update_run(self.id, status="Completed")

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        if _set_status:
            error = {
                "message": str(error_details) if error_details is not None else None,
                "code": error_code,
            }
            self._record = self._store.update_run(self.id, status="Failed", error=error)

    def cancel(self) -> None:
        self._record = self._store.update_run(self.id, status="Canceled")

    def flush(self, timeout_seconds: int = 300) -> None:
        """Metrics are stored as they are logged; nothing is buffered."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc is None:
            self.complete()
        else:
            self.fail(error_details=exc)

    # ------------------------------------------------------------------ tags and properties

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._record = self._store.update_run(self.id, set_tags=_sdk.wire_str(dict(tags.items())))

    def get_tags(self) -> dict[str, str | None]:
        return dict(self._refresh().tags)

    def remove_tags(self, tags: Sequence[str]) -> None:
        self._record = self._store.update_run(self.id, remove_tags=list(tags))

    def add_properties(self, properties: Mapping[str, Any] | None) -> None:
        if not properties:
            return
        try:
            self._record = self._store.update_run(self.id, add_properties=_sdk.wire_str(properties))
        except PropertyConflict as exc:
            raise _sdk.service_error(
                f"Properties are immutable and cannot be modified: {','.join(exc.keys)}",
                status_code=409,
            ) from None

    def get_properties(self) -> dict[str, str | None]:
        return dict(self._refresh().properties)
