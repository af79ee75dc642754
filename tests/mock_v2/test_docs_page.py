"""docs/how-to/azure-ml-v2-offline.md, done as a user does it: its example test files are copied
out of the page (so the page and this test cannot drift apart) into a fresh project folder, and
`pytest` runs there as a separate process with nothing but the installed champion and its
plugin; and the page's table names every operation the fake serves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "how-to" / "azure-ml-v2-offline.md"


def page_files() -> dict[str, str]:
    """Each ```python block whose first line is `# <path>`, by that path."""
    files = {}
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S):
        first, _, _ = block.partition("\n")
        if re.fullmatch(r"# [\w/]+\.py", first):
            files[first[2:]] = block
    return files


def test_the_pages_examples_pass_in_a_fresh_project(tmp_path: Path) -> None:
    files = page_files()
    assert sorted(files) == ["test_mlflow_v2.py", "test_registry_v2.py"]
    project = tmp_path / "my-project"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "AZUREML_", "PYTEST_", "MLFLOW_")) and k != "TF_BUILD"
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout


def test_the_page_names_every_resource_the_fake_serves() -> None:
    from champion.local.mock_v2.blobs import BlobRoutes
    from champion.local.mock_v2.jobs import JobRoutes
    from champion.local.mock_v2.models import ModelRoutes
    from champion.local.mock_v2.workspace import WorkspaceRoutes

    text = PAGE.read_text()
    families = {
        "ModelVersions": "versions list", "ModelContainers": "containers list",
        "Datastores": "listSecrets", "Workspaces": "workspace GET", "Discovery": "discovery",
        "Jobs": "job GET", "Runs": "run-history", "Blob": "blob", "Container": "blob list",
    }  # fmt: skip
    routes = [
        *ModelRoutes(None).routes(),  # type: ignore[arg-type]
        *WorkspaceRoutes(None, lambda: None).routes(),  # type: ignore[arg-type]
        *JobRoutes(None).routes(),  # type: ignore[arg-type]
        *BlobRoutes(None).routes(),  # type: ignore[arg-type]
    ]
    for found in routes:
        family = found.operation.split(".")[0]
        assert families[family] in text, found.operation
