"""MLflow inside the mock: the real MLflow client talks to the local endpoint, which answers from
the workspace store and refuses what Azure ML's MLflow server refuses, so a search that works
here works there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from champion.local import Run, Workspace
from champion.local.mock_v2 import MockAzureAIML

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def test_runs_logged_through_mlflow_are_runs_of_the_workspace(
    aml: MockAzureAIML, ws_path: Path, ml_client: Any
) -> None:
    mlflow.set_experiment("training")
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("accuracy", 0.9)
            mlflow.log_param("C", "1.0")
    local_child = Run.get(Workspace(ws_path), child.info.run_id)
    assert local_child.get_metrics() == {"accuracy": 0.9}
    assert local_child.parent.id == parent.info.run_id
    assert local_child.experiment.name == "training"
    children = list(ml_client.jobs.list(parent_job_name=parent.info.run_id))
    assert [(c.name, c.display_name) for c in children] == [(child.info.run_id, "child")]
    assert mlflow.get_run(child.info.run_id).info.status == "FINISHED"


def test_a_param_cannot_change_as_in_mlflow_and_azure(aml: MockAzureAIML) -> None:
    with mlflow.start_run():
        mlflow.log_param("C", "1.0")
        with pytest.raises(MlflowException, match="Changing param values is not allowed"):
            mlflow.log_param("C", "2.0")


def test_search_runs_by_tag_and_metric_with_and(aml: MockAzureAIML) -> None:
    mlflow.set_experiment("search")
    for accuracy, model in ((0.8, "svc"), (0.9, "svc"), (0.95, "tree")):
        with mlflow.start_run():
            mlflow.log_metric("accuracy", accuracy)
            mlflow.set_tag("model", model)
    found = mlflow.search_runs(
        experiment_names=["search"],
        filter_string="tags.model = 'svc' AND metrics.accuracy > 0.85",
        output_format="list",
    )
    assert [r.data.metrics["accuracy"] for r in found] == [0.9]


@pytest.mark.parametrize(
    ("filter_string", "order_by", "refusal"),
    [
        ("tags.model = 'svc' OR tags.model = 'tree'", None, "do not support OR"),
        ("tags.model != 'svc'", None, "not supported for tags"),
        ("tags.model LIKE 'sv%'", None, "LIKE is not supported"),
        ("", ["metrics.accuracy DESC"], "Ordering by metrics is not supported"),
    ],
)
def test_what_azures_mlflow_refuses_is_refused(
    aml: MockAzureAIML, filter_string: str, order_by: list[str] | None, refusal: str
) -> None:
    mlflow.set_experiment("search")
    with pytest.raises(MlflowException, match=refusal):
        mlflow.search_runs(
            experiment_names=["search"], filter_string=filter_string, order_by=order_by
        )


def test_search_registered_models_with_mlflow_3s_prompt_filter_is_refused_as_on_azure(
    aml: MockAzureAIML,
) -> None:
    """Azure/azure-sdk-for-python#42155: MLflow 3 adds `tag.mlflow.prompt.is_prompt != 'true'`."""
    with pytest.raises(MlflowException, match="not supported"):
        MlflowClient().search_registered_models()


def test_an_endpoint_it_does_not_serve_says_so(aml: MockAzureAIML) -> None:
    """MLflow 3's logged models: Azure answers 404 too (Azure/azure-sdk-for-python#44896)."""
    with pytest.raises(
        MlflowException, match=r"does not serve POST /api/2\.0/mlflow/logged-models"
    ):
        MlflowClient().search_logged_models(experiment_ids=["0"])
