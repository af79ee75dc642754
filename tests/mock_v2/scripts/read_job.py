"""A user's script, written only against azure-ai-ml and MLflow: read a pipeline job, its child
jobs, and each child's MLflow metrics and tags by the child's name. Prints JSON.

Usage: python read_job.py JOB_NAME
"""

import json
import sys

import mlflow
from azure.ai.ml import MLClient
from azure.identity import ManagedIdentityCredential


def main(job_name: str) -> None:
    ml_client = MLClient(ManagedIdentityCredential(), "subscription", "resource-group", "workspace")
    job = ml_client.jobs.get(job_name)
    children = list(ml_client.jobs.list(parent_job_name=job_name))
    out = {
        "job": {"name": job.name, "type": job.type, "status": job.status, "tags": job.tags},
        "children": {},
    }
    for child in children:
        run = mlflow.get_run(child.name)
        out["children"][child.display_name] = {
            "name": child.name,
            "status": child.status,
            "metrics": run.data.metrics,
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
