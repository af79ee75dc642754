"""A user's training step, written only against MLflow, as it runs inside an Azure ML job
(MLFLOW_RUN_ID names the job's run): log a metric twice, a tag and a param."""

import mlflow

with mlflow.start_run():
    mlflow.log_metric("accuracy", 0.91, step=0)
    mlflow.log_metric("accuracy", 0.953, step=1)
    mlflow.set_tag("best_model", "SVC")
    mlflow.log_param("C", 1.0)
