"""What a `Run` holds, declared once for the parts its class is made of (`run.py`,
`_run_updates.py`, `_run_metrics.py`, `_run_files.py`): the store, the run's record as last read."""

from __future__ import annotations

from champion.local.store import RunRecord, Store


class RunBase:
    """A run's state: `_record` is the cached copy the SDK's `tags`/`properties` read."""

    _store: Store
    _record: RunRecord

    @property
    def id(self) -> str:
        return self._record.run_id

    def _refresh(self) -> RunRecord:
        record = self._store.get_run(self.id)
        assert record is not None
        self._record = record
        return record
