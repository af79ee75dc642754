"""What MLflow's REST API says: its error body, and the store's records as MLflow entities
(`Run`, `Experiment`, `ModelVersion`, `RegisteredModel`), with the mapping between Azure ML's
run statuses and MLflow's."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

#: Azure ML run status -> MLflow run status, and back.
TO_MLFLOW_STATUS = {
    "NotStarted": "SCHEDULED",
    "Queued": "SCHEDULED",
    "Preparing": "SCHEDULED",
    "Starting": "SCHEDULED",
    "Running": "RUNNING",
    "Finalizing": "RUNNING",
    "CancelRequested": "RUNNING",
    "Completed": "FINISHED",
    "Failed": "FAILED",
    "Canceled": "KILLED",
}
FROM_MLFLOW_STATUS = {
    "SCHEDULED": "NotStarted",
    "RUNNING": "Running",
    "FINISHED": "Completed",
    "FAILED": "Failed",
    "KILLED": "Canceled",
}
#: Azure ML's model stage -> the MLflow stage a client reads.
TO_MLFLOW_STAGE = {"Development": "None", "Production": "Production", "Archived": "Archived"}
DEFAULT_EXPERIMENT = ("0", "Default")


class MlflowError(Exception):
    """An MLflow REST error: HTTP `status`, MLflow's `error_code`, and the message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> bytes:
        return json.dumps({"error_code": self.code, "message": self.message}).encode()

    def reply(self) -> tuple[int, bytes, str]:
        return self.status, self.body(), "application/json"


def not_found(message: str) -> MlflowError:
    return MlflowError(404, "RESOURCE_DOES_NOT_EXIST", message)


def invalid(message: str) -> MlflowError:
    return MlflowError(400, "INVALID_PARAMETER_VALUE", message)


def millis(iso: str | None) -> int | None:
    if not iso:
        return None
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def key_values(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": "" if v is None else str(v)} for k, v in pairs.items()]
