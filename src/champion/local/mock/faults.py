"""The service operations a mock answers, by name, and the faults a test injects into them."""

from __future__ import annotations

from dataclasses import dataclass

#: The service calls the mock answers, by the names `calls` records and `inject_fault` takes.
#: Each is one REST round trip (or one blob transfer) against a real workspace.
OPERATIONS: frozenset[str] = frozenset({
    "models.register", "models.get", "models.query", "models.patch", "models.delete",
    "assets.create", "assets.get",
    "artifacts.create", "artifacts.list", "artifacts.list_prefix", "artifacts.get_content",
    "artifacts.get_write_sas",
    "artifacts.upload", "artifacts.download",
    "experiments.get", "experiments.create", "experiments.get_by_id", "experiments.query",
    "runs.create", "runs.get", "runs.patch", "runs.delete_tags", "runs.get_children",
    "runs.query", "runs.event", "runs.get_details",
    "metrics.log", "metrics.list_names", "metrics.get", "metrics.wait_ingest",
    "snapshots.create",
    "pipelines.get_datatypes", "pipelines.get_run", "pipelines.get_node_status",
    "pipelines.cancel",
    "datastores.get", "datastores.get_default", "datastores.list", "datastores.create",
    "datastores.delete", "datastores.set_default",
    "datastore.upload", "datastore.download", "datastore.list",
    "datasets.save", "datasets.register", "datasets.get", "datasets.query", "datasets.update",
    "datasets.delete",
})  # fmt: skip


@dataclass
class Fault:
    """One injected failure: an HTTP status (0 for a client-side timeout), how often it
    remains, and for a timeout whether the service completed the call first."""

    status: int  # 0 for a timeout
    retry_after: float | None
    remaining: int
    after_commit: bool = False  # the service did the work, then the client timed out
    skip: int = 0  # calls that succeed before the fault starts


def timeout_error(operation: str) -> Exception:
    """What `requests` raises when the service does not answer in time."""
    import requests

    return requests.exceptions.ReadTimeout(f"injected timeout for {operation}: read timed out")
