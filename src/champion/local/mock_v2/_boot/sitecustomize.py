"""Imported by every Python process of a v2 pipeline node the local run starts (it is first on
the node's `PYTHONPATH`): starts `mock_azure_ai_ml()` on the workspace the runner names, so an
`MLClient` the node's code builds talks to the local workspace and the network stays closed.
No MLflow endpoint of its own: the node's `MLFLOW_TRACKING_URI` is the session's.

Then, as Python would have, it imports the `sitecustomize` this one hides, if there is one.
"""

from __future__ import annotations


def _start() -> None:
    from champion import _env
    from champion.local.mock_v2.pipeline_run import BOOT_WORKSPACE

    workspace = _env.get(BOOT_WORKSPACE)
    if workspace:
        from champion.local.mock_v2.session import MockAzureAIML

        MockAzureAIML(workspace, mlflow=False).start()  # stopped when the process ends


def _chain() -> None:
    """Import the next `sitecustomize` on the path (a virtualenv's, a launcher's)."""
    import importlib.machinery
    import importlib.util
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    rest = [p for p in sys.path if Path(p or ".").resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None and spec.origin != __file__:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_start()
_chain()
