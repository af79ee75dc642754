"""Run the register step once as a node of a v2 pipeline job runs it, and report what it cost:
the REST round trips its `MLClient` made (by operation) and whether it imported azure.ai.ml.

    python bench/_azure_v2_child.py OUT_JSON -- ARGS...     # ARGS: the register step's

The environment is a v2 job's (`AZUREML_RUN_ID`, `MLFLOW_TRACKING_URI` of the bench's own
`mock_azure_ai_ml()` session, `AZURE_ML_INPUT_model`, `AZUREML_ARM_*`), and the fakes are armed
as `champion mock --` arms them in a node: the v2 fake starts at the first import of azure.ai.ml,
and never when the step does not import it. The MLflow round trips are counted by the bench,
where the endpoint runs.
"""

from __future__ import annotations

import collections
import json
import runpy
import sys
from pathlib import Path


def main() -> int:
    out, separator, *args = sys.argv[1:]
    assert separator == "--"
    from champion.mock import arm

    arm()
    status = 0
    sys.argv = ["champion.steps.register", *args]
    try:
        runpy.run_module("champion.steps.register", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    imported = "azure.ai.ml" in sys.modules
    calls: list[str] = []
    if imported:
        from champion.local.mock_v2.session import active_session

        session = active_session()
        calls = [call.operation for call in session.calls] if session is not None else []
    Path(out).write_text(
        json.dumps(
            {
                "exit": status,
                "azure_ai_ml_imported": imported,
                "calls": calls,
                "by_operation": dict(collections.Counter(calls)),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
