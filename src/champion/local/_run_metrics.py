"""A run's metrics: `log`, `log_list` and `get_metrics`, with the SDK's conversions (plain
values kept, small numpy scalars turned into Python ones, anything else stored as its repr) and
its shapes (one value when logged once, a list when logged more)."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

from champion.local import _sdk, _traps
from champion.local._run_base import RunBase


class RunMetrics(RunBase):
    """Logging and reading metrics."""

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        if isinstance(value, list | range | types.GeneratorType):
            raise _sdk.user_error("run.log does not support list type. Use run.log_list instead")
        _traps.check_metric_value(name, value)
        self._store.log_metric(self.id, name, _metric_value(value), step)

    def log_list(self, name: str, value: Sequence[Any], description: str = "") -> None:
        for item in value:
            self._store.log_metric(self.id, name, _metric_value(item))

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """One value when logged once, a list when logged more; `recursive` keys by run id."""
        if recursive:
            runs = [self._record, *self._store.list_children(self.id, recursive=True)]
            out = {}
            for record in runs:
                if run_type is not None and record.run_type != run_type:
                    continue
                metrics = _shape_metrics(self._store.get_metrics(record.run_id), name)
                if metrics:
                    out[record.run_id] = metrics
            return out
        return _shape_metrics(self._store.get_metrics(self.id), name)


def _metric_value(value: Any) -> Any:
    """The SDK's `Metric.get_converted_value` (`_sdk.metric_kept`): plain values kept, small
    numpy scalars turned into Python ones, anything else (an IntEnum, a tuple, np.int64) stored
    as its repr, so np.int64(5) is 'np.int64(5)'."""
    if value is None or type(value) in (int, float, str, bool):
        return value
    if _sdk.metric_kept(value):
        return value.item()
    return repr(value)


def _shape_metrics(metrics: Mapping[str, list[Any]], name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in metrics.items():
        if name is not None and key != name:
            continue
        kept = [v for v in values if v is not None]
        if not kept:
            continue
        out[key] = kept[0] if len(values) == 1 else values
    return out
