"""The contract suite: the fake against what the real service answered to azure-ai-ml's own
e2e tests (`recorded.py` says where each fact comes from). Each recorded scenario is run two
ways:

- response conformance: the recorded requests, in order, sent to the local service (from the
  same storage state: the files the recorded workspace already held), must get the recorded
  status and the recorded facts of each answer (error codes, stage, names, keys);
- request conformance: the same SDK calls as the e2e test, made through the real SDK against
  the fake, must make the recorded sequence of requests (method, resource, query keys) with
  the recorded statuses: this catches SDK drift (a new call, a changed path) as well as a fake
  that answers differently enough to change the SDK's course.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.constants import ListViewType
from azure.ai.ml.entities import Model

from champion.local.mock_v2 import MockAzureAIML
from champion.local.store import DEFAULT_DATASTORE

from .recorded import (
    ARCHIVE_RESTORE,
    HASH,
    LATEST_LABEL,
    MODEL_WITH_STAGE,
    SCENARIOS,
    Exchange,
    Scenario,
)

NAME = "model_test_123661324327"
WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000/resourceGroups/00000/providers"
    "/Microsoft.MachineLearningServices/workspaces/00000/"
)
SAS = {"sv", "sig", "se", "srt", "ss", "sp", "spr", "st", "sr", "skoid", "sktid"}


def _seed(aml: MockAzureAIML, scenario: Scenario) -> None:
    for path, (data, metadata) in scenario.uploaded.items():
        aml.store.datastore_write(DEFAULT_DATASTORE, path, _bytes(data), overwrite=True)
        aml.store.set_blob_metadata(DEFAULT_DATASTORE, path, metadata)


def _bytes(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _url(aml: MockAzureAIML, exchange: Exchange) -> str:
    if exchange.target.startswith("blob:"):
        container = aml.store.default_datastore().container
        account = aml.store.default_datastore().account
        blob = exchange.target[5:].replace("{hash}", HASH)
        return f"https://{account}.blob.core.windows.net/{container}/{blob}"
    target = exchange.target.replace("{name}", NAME)
    return f"https://management.azure.com{WORKSPACE}{target}"


_QUERY_VALUES = {"$orderBy": "createdtime desc", "$top": "1", "listViewType": "ActiveOnly",
                 "stage": "Production", "comp": "metadata"}  # fmt: skip


def _replay(aml: MockAzureAIML, exchange: Exchange) -> Any:
    params = {k: _QUERY_VALUES[k] for k in exchange.query}
    params["api-version"] = "2023-08-01-preview"
    headers = {"x-ms-blob-type": "BlockBlob"} if exchange.target.startswith("blob:") else {}
    data = b"hello world" if exchange.method == "PUT" and not exchange.request else None
    return aml.transport.session.request(
        exchange.method, _url(aml, exchange), params=params, json=exchange.request,
        data=data, headers=headers,
    )  # fmt: skip


def _fact(body: Any, path: str) -> Any:
    """The value at dotted `path` (`value.*.name`: that key of every item; `keys:` prefix: the
    sorted keys there)."""
    want_keys = path.startswith("keys:")
    node = body
    parts = path.removeprefix("keys:").split(".") if path.removeprefix("keys:") else []
    for i, part in enumerate(parts):
        if part == "*":
            return [_fact(item, ".".join(parts[i + 1 :])) for item in node]
        node = node[int(part)] if isinstance(node, list) else node[part]
    return sorted(node) if want_keys else node


@pytest.mark.parametrize("test", list(SCENARIOS))
def test_the_fake_answers_each_recorded_request_as_the_service_did(
    aml: MockAzureAIML, test: str
) -> None:
    scenario = SCENARIOS[test]
    _seed(aml, scenario)
    for given in scenario.given:
        for exchange in SCENARIOS[given].exchanges:
            _replay(aml, exchange)
    for number, exchange in enumerate(scenario.exchanges):
        reply = _replay(aml, exchange)
        where = f"{scenario.source} exchange {number}: {exchange.method} {exchange.target}"
        assert reply.status_code == exchange.status, f"{where}: {reply.text[:300]}"
        if exchange.answer:
            body = reply.json()
            for path, value in exchange.answer.items():
                assert _fact(body, path) == value, f"{where}: {path}"


# --------------------------------------------------------------------------- request conformance


def _shape(aml: MockAzureAIML, name: str) -> list[tuple[str, str, tuple[str, ...], int]]:
    """The fake's calls as the recorded exchanges name them."""
    shapes = []
    container = aml.store.default_datastore().container
    for call in aml.calls:
        path = call.path
        if "/workspaces/" in path and "/providers/" in path:
            target = path.split("/workspaces/", 1)[1].split("/", 1)
            resource = target[1] if len(target) > 1 else ""
            resource = re.sub(rf"^models/{re.escape(name)}(?=/|$)", "models/{name}", resource)
        else:
            blob = path.removeprefix(f"/{container}/")
            resource = "blob:" + re.sub(
                r"^(LocalUpload|az-ml-artifacts)/[^/]+/", r"\1/{hash}/", blob
            )
        query = tuple(sorted(k for k in call.query if k != "api-version" and k not in SAS))
        shapes.append((call.method, resource, query, call.status))
    return shapes


def _recorded(
    scenario: Scenario, *, models_only: bool
) -> list[tuple[str, str, tuple[str, ...], int]]:
    return [
        (e.method, e.target, tuple(sorted(e.query)), e.status)
        for e in scenario.exchanges
        if not models_only or e.target.startswith("models")
    ]


def test_the_sdk_makes_the_recorded_requests_for_latest(
    aml: MockAzureAIML, workdir: Path, ml_client: Any
) -> None:
    """test_models_get_latest_label, two of its four rounds, from a fresh upload on."""
    (workdir / "model.pkl").write_text("hello world")
    for version in ("1", "2"):
        ml_client.models.create_or_update(Model(name=NAME, version=version, path="model.pkl"))
        assert ml_client.models.get(NAME, label="latest").version == version
    assert _shape(aml, NAME) == _recorded(LATEST_LABEL, models_only=False)


def test_the_sdk_makes_the_recorded_requests_for_archive_and_restore(
    aml: MockAzureAIML, workdir: Path, ml_client: Any
) -> None:
    (workdir / "model.pkl").write_text("hello world")
    for version in ("1", "2"):
        ml_client.models.create_or_update(Model(name=NAME, version=version, path="model.pkl"))

    def active() -> list[str]:
        listed = ml_client.models.list(name=NAME, list_view_type=ListViewType.ACTIVE_ONLY)
        return [m.version for m in listed]

    assert "1" in active()
    ml_client.models.archive(name=NAME, version="1")
    assert "1" not in active()
    ml_client.models.restore(name=NAME, version="1")
    assert "1" in active()
    models = [s for s in _shape(aml, NAME) if s[1].startswith("models")]
    assert models == _recorded(ARCHIVE_RESTORE, models_only=True)
    archive_put = [c.body for c in aml.calls if c.method == "PUT" and c.path.endswith("/1")][1]
    assert "stage" not in archive_put["properties"]  # the SDK drops it: the trap it makes


def test_the_sdk_makes_the_recorded_requests_for_a_staged_mlflow_model(
    aml: MockAzureAIML, workdir: Path, ml_client: Any
) -> None:
    folder = workdir / "lightgbm_mlflow_model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    body = MODEL_WITH_STAGE.exchanges[1].request
    assert body is not None
    fields = body["properties"]
    flavors = {name: flavor["data"] for name, flavor in fields["flavors"].items()}  # yml's form
    model = Model(
        name=NAME, version="3", path=str(folder), type="mlflow_model", stage="Production",
        description=fields["description"], tags=fields["tags"], flavors=flavors,
    )  # fmt: skip
    created = ml_client.models.create_or_update(model)
    assert (created.stage, created.version) == ("Production", "3")
    assert ml_client.models.get(NAME, "3").description == fields["description"]
    assert [m.version for m in ml_client.models.list(name=NAME, stage="Production")] == ["3"]
    models = [s for s in _shape(aml, NAME) if s[1].startswith("models")]
    assert models == _recorded(MODEL_WITH_STAGE, models_only=True)
    put = next(c.body for c in aml.calls if c.method == "PUT" and "/models/" in c.path)
    assert sorted(put["properties"]) == sorted(fields)  # the same request body, key for key
    assert json.dumps(put["properties"]["flavors"], sort_keys=True) == json.dumps(
        fields["flavors"], sort_keys=True
    )
