"""What Azure ML's real service answered to azure-ai-ml's own e2e tests, as facts.

Source: Microsoft's public test-assets repository, Azure/azure-sdk-assets,
`python/sdk/ml/azure-ai-ml/tests/recordings/model/e2etests/test_model.pyTestModel<test>.json`
(recorded with azure-ai-ml 1.32.0 at commit 0f205ad0ccc3172a5f53d86f21c9f2a79da41099, and 1.26.0
for the archive test at 05fad9973b33624c3fd8e89000bcd3387185b6e4), driving the tests of
Azure/azure-sdk-for-python `sdk/ml/azure-ai-ml/tests/model/e2etests/test_model.py`. No license
file was found in that repository, so the recordings are not copied here: each exchange keeps
only what a contract needs (method, resource, query keys, status, the recorded request body of
a write, and the facts of the answer), read from the recording and written down by hand.

Names are the recordings' sanitized ones: `{name}` is the test's random model name,
`{hash}` the upload folder `00000000000000000000000000000000` (the sanitizer zeroes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPOSITORY = "Azure/azure-sdk-assets"
RECORDINGS = "python/sdk/ml/azure-ai-ml/tests/recordings/model/e2etests/test_model.pyTestModel"
HASH = "00000000000000000000000000000000"
UPLOADED = f"azureml://subscriptions/00000000-0000-0000-0000-000000000/resourcegroups/00000/workspaces/00000/datastores/workspaceblobstore/paths/LocalUpload/{HASH}"
VERSION_KEYS = [
    "description", "tags", "properties", "isArchived", "isAnonymous", "autoDeleteSetting",
    "flavors", "modelType", "modelUri", "jobName", "provisioningState", "stage",
    "intellectualProperty",
]  # fmt: skip
CONTAINER_KEYS = [
    "description", "tags", "properties", "isArchived", "latestVersion", "nextVersion",
    "provisioningState",
]  # fmt: skip
NOT_FOUND = {"error.code": "UserError", "error.message": "The specified resource was not found.",
             "error.details.0.code": "ModelNotFound"}  # fmt: skip
LATEST = ("$orderBy", "$top")
ACTIVE = ("listViewType",)


@dataclass(frozen=True)
class Exchange:
    """One recorded round trip. `target` is the resource under the workspace
    (`models/{name}/versions/1`, `datastores/workspaceblobstore`) or, for storage, `blob:` and
    the blob's name in the default container; `query` the query keys other than api-version
    and a SAS token's; `answer` facts of the recorded answer by dotted path (`keys:<path>` is
    the sorted list of keys there)."""

    method: str
    target: str
    query: tuple[str, ...]
    status: int
    request: dict[str, Any] | None = None
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    test: str
    sdk: str
    #: Datastore files the recorded workspace already held, with their blob metadata.
    uploaded: dict[str, tuple[bytes, dict[str, str]]]
    exchanges: list[Exchange]
    #: Scenarios whose exchanges made the state this one was recorded in.
    given: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return f"{REPOSITORY}/{RECORDINGS}{self.test}.json"


def _put(version: str, status: int, **body: Any) -> Exchange:
    request = {"properties": {"properties": {}, "tags": {}, "isAnonymous": False,
                              "isArchived": False, "modelType": "custom_model",
                              "modelUri": f"{UPLOADED}/model.pkl", **body}}  # fmt: skip
    stage = "Archived" if body.get("isArchived") else "Development"
    return Exchange(
        "PUT", f"models/{{name}}/versions/{version}", (), status, request,
        {"name": version, "keys:properties": sorted(VERSION_KEYS), "properties.stage": stage,
         "properties.isArchived": bool(body.get("isArchived")), "properties.jobName": None},
    )  # fmt: skip


def _get(version: str, stage: str) -> Exchange:
    return Exchange(
        "GET", f"models/{{name}}/versions/{version}", (), 200, None, {"properties.stage": stage}
    )


def _list(query: tuple[str, ...], names: list[str]) -> Exchange:
    return Exchange("GET", "models/{name}/versions", query, 200, None, {"value.*.name": names})


_UPLOAD = [
    Exchange("GET", "datastores/workspaceblobstore", (), 200, None,
             {"properties.datastoreType": "AzureBlob", "properties.isDefault": True,
              "properties.credentials.credentialsType": "AccountKey"}),
    Exchange("POST", "datastores/workspaceblobstore/listSecrets", (), 200,
             {"expirableSecret": True, "expireAfterHours": 1}, {"secretsType": "Sas"}),
]  # fmt: skip

LATEST_LABEL = Scenario(
    test="test_models_get_latest_label",
    sdk="1.32.0",
    uploaded={},
    exchanges=[
        Exchange("GET", "models/{name}/versions", LATEST, 404, None, NOT_FOUND),
        *_UPLOAD,
        Exchange("HEAD", "blob:LocalUpload/{hash}/model.pkl", (), 404),
        Exchange("PUT", "blob:LocalUpload/{hash}/model.pkl", (), 201),
        Exchange("PUT", "blob:LocalUpload/{hash}/model.pkl", ("comp",), 200),
        _put("1", 201),
        _list(LATEST, ["1"]),
        _list(LATEST, ["1"]),
        *_UPLOAD,
        Exchange("HEAD", "blob:LocalUpload/{hash}/model.pkl", (), 200),
        Exchange("HEAD", "blob:az-ml-artifacts/{hash}/model.pkl", (), 404),
        _put("2", 201),
        _list(LATEST, ["2"]),
    ],
)

ARCHIVE_RESTORE = Scenario(
    test="test_model_archive_restore_version",
    sdk="1.26.0",
    uploaded={f"LocalUpload/{HASH}/model.pkl": (b"hello world", {"upload_status": "completed"})},
    exchanges=[
        Exchange("GET", "models/{name}/versions", LATEST, 404, None, NOT_FOUND),
        _put("1", 201),
        _list(LATEST, ["1"]),
        _put("2", 201),
        _list(ACTIVE, ["2", "1"]),
        _get("1", "Development"),
        _put("1", 200, isArchived=True, flavors={}),  # the SDK sends the version back, no stage
        _list(ACTIVE, ["2"]),
        _get("1", "Archived"),
        _put("1", 200, flavors={}),
        _list(ACTIVE, ["2", "1"]),
    ],
)  # fmt: skip

_MLFLOW_BODY = {
    "description": "this is my test model with stage",
    "properties": {},
    "tags": {"foo": "bar", "abc": "123"},
    "isAnonymous": False,
    "isArchived": False,
    "flavors": {"sklearn": {"data": {"sklearn_version": "0.23.2"}},
                "python_function": {"data": {"loader_module": "office.plrmodel",
                                             "python_version": "3.8.5"}}},
    "modelType": "mlflow_model",
    "modelUri": f"{UPLOADED}/lightgbm_mlflow_model",
    "stage": "Production",
}  # fmt: skip

MODEL_WITH_STAGE = Scenario(
    test="test_crud_model_with_stage",
    sdk="1.32.0",
    uploaded={f"LocalUpload/{HASH}/lightgbm_mlflow_model/MLmodel": (b"flavors: {}\n", {})},
    exchanges=[
        Exchange("GET", "models/{name}/versions", LATEST, 404, None, NOT_FOUND),
        Exchange("PUT", "models/{name}/versions/3", (), 201, {"properties": _MLFLOW_BODY},
                 {"name": "3", "properties.stage": "Production",
                  "properties.modelType": "mlflow_model", "properties.tags.foo": "bar",
                  "keys:properties.flavors": ["python_function", "sklearn"],
                  "properties.flavors.sklearn.data.sklearn_version": "0.23.2"}),
        Exchange("GET", "models/{name}/versions/3", (), 200, None,
                 {"properties.stage": "Production",
                  "properties.description": "this is my test model with stage"}),
        Exchange("GET", "models/{name}/versions", ("listViewType", "stage"), 200, None,
                 {"value.*.name": ["3"]}),
    ],
)  # fmt: skip

LIST_NO_NAME = Scenario(
    test="test_list_no_name",
    sdk="1.32.0",
    uploaded=MODEL_WITH_STAGE.uploaded,
    given=("test_crud_model_with_stage",),
    exchanges=[
        Exchange("GET", "models", ("listViewType",), 200, None,
                 {"keys:value.0.properties": sorted(CONTAINER_KEYS), "value.0.properties.tags": {},
                  "value.0.properties.latestVersion": "3", "value.0.properties.nextVersion": "4"}),
    ],
)  # fmt: skip

SCENARIOS = {s.test: s for s in (LATEST_LABEL, ARCHIVE_RESTORE, MODEL_WITH_STAGE, LIST_NO_NAME)}
