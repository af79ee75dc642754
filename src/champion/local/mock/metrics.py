"""Metrics: `MetricsClient.log_v2`, the metric listings and `RunClient.wait_for_metrics_ingest`,
answered from the store's metric rows. They are stored synchronously (the SDK batches them on a
background queue), so `run.log(...)` then `run.get_metrics()` is deterministic."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from azureml._restclient import models as rest
from azureml._restclient.metrics_client import MetricsClient
from azureml._restclient.run_client import RunClient

from champion.local.mock.backend import ClientFamily, Patch, as_method


def metric_values(dto: Any) -> list[tuple[Any, int | None]]:
    """A MetricV2Dto as store rows: one row per logged value, the bare value for a scalar or
    list metric (its only column is the metric's name), the `{column: value}` row of a table."""
    columns = set(dto.columns or {})
    single = columns == {dto.name}
    out: list[tuple[Any, int | None]] = []
    for value in dto.value or []:
        data = dict(value.data or {})
        out.append((data.get(dto.name) if single else data, value.step))
    return out


def metric_dto(name: str, values: Sequence[Any], data_container_id: str) -> Any:
    """Store rows back as the MetricV2Dto `get_full_fidelity` returns; the SDK then builds the
    scalar/list/table shapes of `get_metrics` itself (`get_cells_from_metric_v2_dto`)."""
    if values and all(isinstance(v, dict) for v in values):
        keys: dict[str, None] = {}
        for row in values:
            keys.update(dict.fromkeys(row))
        columns = {k: _column_type(row.get(k) for row in values) for k in keys}
        rows = [{k: row.get(k) for k in keys} for row in values]
        ux_type = "azureml.v1.table"
    else:
        columns = {name: _column_type(values)}
        rows = [{name: v} for v in values]
        ux_type = "azureml.v1.scalar"
    return rest.MetricV2Dto(
        data_container_id=data_container_id,
        name=name,
        columns=columns,
        value=[rest.MetricV2Value(metric_id=str(uuid.uuid4()), data=row) for row in rows],
        properties=rest.MetricProperties(ux_metric_type=ux_type),
    )


def _column_type(values: Iterable[Any]) -> str:
    present = [v for v in values if v is not None]
    if any(isinstance(v, float) for v in present):
        return "double"
    if not present:
        return "none"
    first = present[0]
    if isinstance(first, bool):
        return "bool"
    if isinstance(first, int):
        return "int"
    return "string"


class Metrics(ClientFamily):
    """Logging and reading metrics (see the module docstring)."""

    def patches(self) -> list[Patch]:
        return [
            (MetricsClient, "log_v2", as_method(self._metrics_log, "log_v2")),
            (MetricsClient, "list_metric_names_for_run_id",
             as_method(self._metrics_names, "list_metric_names_for_run_id")),
            (MetricsClient, "get_metric_dto_for_run_v2",
             as_method(self._metrics_get, "get_metric_dto_for_run_v2")),
            (RunClient, "wait_for_metrics_ingest",
             as_method(self._metrics_wait, "wait_for_metrics_ingest")),
        ]  # fmt: skip

    def _metrics_log(self, client: Any, metric: Any, custom_headers: Any = None) -> None:
        metric_v2 = metric.create_v2_dto()
        if metric_v2 is None:
            return
        self.backend.begin("metrics.log", self.backend.rest_error)
        with self.store.transaction():
            for value, step in metric_values(metric_v2):
                self.store.log_metric(client._run_id, metric_v2.name, value, step)

    def _metrics_names(
        self, client: Any, run_id: str | None = None, custom_headers: Any = None
    ) -> list[str]:
        self.backend.begin("metrics.list_names", self.backend.rest_error)
        return list(self.store.get_metrics(run_id or client._run_id))

    def _metrics_get(
        self,
        client: Any,
        name: str,
        run_id: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
        custom_headers: Any = None,
    ) -> Any:
        self.backend.begin("metrics.get", self.backend.rest_error)
        run_id = run_id or client._run_id
        values = self.store.get_metrics(run_id).get(name)
        if not values:
            return None  # the SDK maps the service's 404 for an unknown metric to None
        record = self.store.get_run(run_id)
        return metric_dto(name, values, record.data_container_id if record else "")

    def _metrics_wait(self, client: Any, *args: Any, **kwargs: Any) -> None:
        self.backend.begin("metrics.wait_ingest", self.backend.rest_error)
