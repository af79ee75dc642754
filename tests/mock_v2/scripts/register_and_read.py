"""A user's script, written only against azure-ai-ml: register a folder model twice, read it
back by version and by label, list, archive, list again, download. Prints what it saw as JSON.

Usage: python register_and_read.py MODEL_DIR DOWNLOAD_DIR
"""

import json
import sys

from azure.ai.ml import MLClient
from azure.ai.ml.constants import AssetTypes, ListViewType
from azure.ai.ml.entities import Model
from azure.identity import DefaultAzureCredential


def main(model_dir: str, download_dir: str) -> None:
    ml_client = MLClient(DefaultAzureCredential(), "subscription", "resource-group", "workspace")
    first = ml_client.models.create_or_update(
        Model(
            name="iris",
            path=model_dir,
            type=AssetTypes.CUSTOM_MODEL,
            tags={"accuracy": 0.93},
            properties={"accuracy": "0.93"},
        )
    )
    second = ml_client.models.create_or_update(
        Model(
            name="iris",
            path=model_dir,
            type=AssetTypes.CUSTOM_MODEL,
            tags={"accuracy": 0.95},
            properties={"accuracy": "0.95"},
        )
    )
    by_version = ml_client.models.get("iris", version="1")
    latest = ml_client.models.get("iris", label="latest")
    listed = [m.version for m in ml_client.models.list("iris")]
    ml_client.models.archive("iris", version="1")
    listed_after_archive = [m.version for m in ml_client.models.list("iris")]
    listed_all = [m.version for m in ml_client.models.list("iris", list_view_type=ListViewType.ALL)]
    ml_client.models.download("iris", version="1", download_path=download_dir)
    print(
        json.dumps(
            {
                "registered": [first.version, second.version],
                "by_version": {
                    "version": by_version.version,
                    "tags": by_version.tags,
                    "properties": by_version.properties,
                },
                "latest": latest.version,
                "listed": listed,
                "listed_after_archive": listed_after_archive,
                "listed_all": listed_all,
                "archived_stage": ml_client.models.get("iris", version="1").stage,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
