"""8. The Azure path: REST round trips per decision, counted under `mock_azureml()`.

The register step runs in a fresh process with the REAL azureml.core classes, answered by the
local store (_azure_child.py, like `python -m champion.pipeline.sdk_shim`), for three decisions
in a row on one workspace: the first model, a win, a loss. The runs are shaped as Azure ML
pipelines make them (a run of type `azureml.PipelineRun` with `azureml.StepRun` children), so
that the SDK, with azureml-pipeline-core installed, rebuilds them as it would in a real step.
`MockAzureML.calls` records every REST round trip (and blob transfer) by operation name from
the moment the step starts; each is attributed to the line of our code that caused it, so a
count above target says where to cut. No MLflow column: MLflow on SQLite makes no REST calls.
"""

from __future__ import annotations

import json
from collections import Counter

from _common import BENCH, OUR_PYTHON, Row, child_env, progress, run_child

LIMITS = {"win": 10, "loss": 8}  # the targets: round trips per decision
SCENARIOS = (("first model", "0.9"), ("win", "0.95"), ("loss", "0.93"))
STEPS = {"train": {}, "register": {}}


def run(ctx) -> None:
    from champion.local import Workspace
    from champion.testing import make_pipeline_run

    root = ctx.work / "azure"
    ws = Workspace.create(root / "ws")
    model = ctx.fixtures.model_file
    found: dict[str, dict] = {}
    for label, accuracy in SCENARIOS:
        step = make_pipeline_run(ws, {"accuracy": accuracy}, STEPS).steps["register"]
        out = root / f"{label.replace(' ', '-')}.json"
        result = run_child(
            [
                str(OUR_PYTHON),
                str(BENCH / "_azure_child.py"),
                str(root / "ws"),
                step.id,
                str(model),
                str(out),
            ],
            env=child_env(),
            cwd=root,
        ).check(f"the step under mock_azureml ({label})")
        data = json.loads(out.read_text())
        if data["exit"] != 0:
            raise RuntimeError(f"{label}: the step exited {data['exit']}: {result.stderr[-2000:]}")
        data["verdict"] = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        data["seconds"] = round(result.seconds, 3)
        found[label] = data
        progress(f"azure {label}: {data['total']} round trips ({data['verdict'][:60]})")
    ws._store.close()

    ctx.details["azure"] = found
    for label, _ in SCENARIOS:
        data = found[label]
        by_site = Counter(
            f"{site.split(' ')[0]} {op}" for op, site in (x.split(" <- ", 1) for x in data["sites"])
        )
        row = Row(
            "azure",
            f"REST round trips per decision: {label}",
            float(data["total"]),
            "calls",
            note=", ".join(f"{op} {n}" for op, n in sorted(data["by_operation"].items())),
        )
        if label in LIMITS:
            row.target = f"<= {LIMITS[label]}"
            row.met = data["total"] <= LIMITS[label]
            row.note += "; by line: " + ", ".join(f"{site} x{n}" for site, n in by_site.items())
        ctx.add(row)
