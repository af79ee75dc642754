"""The MLflow client is importable, or one line says how to install it.

Why a module of its own, imported first by the package: every way to MLflow (the CLI's models
commands, `champion register`, the pipeline runner, the steps through `champion.context`) comes
through `champion.registry.mlflow`, so this is the one place that turns a missing `[mlflow]`
extra into an InfrastructureError (exit 3) naming the extra, as the `[plot]` and `[serve]`
extras say theirs, instead of a ModuleNotFoundError deep in a command.
"""

from __future__ import annotations

from champion._extras import missing_message
from champion.errors import InfrastructureError

try:
    import mlflow  # noqa: F401
except ImportError as exc:
    raise InfrastructureError(
        missing_message("mlflow", detail=str(exc)), field="backend", value="mlflow"
    ) from None
