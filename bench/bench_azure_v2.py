"""8b. The Azure ML v2 path, beside the v1 rows of bench_azure.py: the register step as a node
of a v2 pipeline job runs it, in a fresh process, for three decisions in a row on one
workspace (the first model, a win, a loss).

The bench holds a `mock_azure_ai_ml()` session (the real azure-ai-ml answered by the local
store, and the job's MLflow endpoint). Each decision gets a pipeline job shaped as Azure ML
makes one: a parent run, a `train` child that logged `accuracy` with MLflow, and a `register`
child, whose name is the step's `AZUREML_RUN_ID`/`MLFLOW_RUN_ID`. The step process
(_azure_v2_child.py) gets a v2 job's environment and the fakes armed as `champion mock --`
arms a node's processes, so azure.ai.ml is imported only if the step itself imports it.

Rows: REST round trips per decision (MLClient's, counted in the step's process by the fake's
transport; MLflow's, counted here where the endpoint runs), the step's wall time from spawn to
exit, and whether it imported azure.ai.ml.
"""

from __future__ import annotations

import json
from collections import Counter

from _common import BENCH, OUR_PYTHON, Row, Stats, child_env, progress, run_child

LIMITS = {"win": 8}  # the target: round trips (MLClient + MLflow) per win
SCENARIOS = (("first model", "0.9"), ("win", "0.95"), ("loss", "0.93"))
#: What any v2 step pays before its first line: the SDK and MLflow, imported in a fresh process.
SDK_IMPORT = "from azure.ai.ml import MLClient\nimport mlflow\n"


def run(ctx) -> None:
    from champion.local.mock_v2 import mock_azure_ai_ml
    from champion.local.mock_v2.pipeline_run import NODE_ENV
    from champion.mock import child_environment

    root = ctx.work / "azure-v2"
    root.mkdir(parents=True, exist_ok=True)
    model_dir = root / "model"
    model_dir.mkdir(exist_ok=True)
    model_dir.joinpath("model.pkl").write_bytes(ctx.fixtures.model_file.read_bytes())
    found: dict[str, dict] = {}
    with mock_azure_ai_ml(root / "ws") as aml:
        from mlflow.tracking import MlflowClient

        uri = aml.tracking_uri
        assert uri is not None
        client = MlflowClient(uri)
        experiment = client.create_experiment("bench-v2")
        server = aml._tracking
        assert server is not None
        answer = server.answer
        mlflow_calls: list[str] = []

        def counted(method, path, query, body):  # type: ignore[no-untyped-def]
            mlflow_calls.append(f"{method} {path}")
            return answer(method, path, query, body)

        def decide(label: str, accuracy: str) -> dict:
            parent = client.create_run(experiment, run_name="pipeline")
            link = {"mlflow.parentRunId": parent.info.run_id}
            train = client.create_run(experiment, run_name="train", tags=link)
            client.log_metric(train.info.run_id, "accuracy", float(accuracy))
            register = client.create_run(experiment, run_name="register", tags=link)
            run_id = register.info.run_id
            env = child_environment(
                root / "ws",
                child_env(
                    AZUREML_RUN_ID=run_id,
                    AZUREML_ROOT_RUN_ID=parent.info.run_id,
                    MLFLOW_RUN_ID=run_id,
                    MLFLOW_TRACKING_URI=uri,
                    AZUREML_ARM_SUBSCRIPTION="sub",
                    AZUREML_ARM_RESOURCEGROUP="rg",
                    AZUREML_ARM_WORKSPACE_NAME="ws",
                    AZURE_ML_INPUT_model=str(model_dir),
                    MLFLOW_DISABLE_TELEMETRY="true",
                    **{NODE_ENV: "1"},
                ),
            )
            out = root / f"{label.replace(' ', '-')}.json"
            server.answer = counted  # type: ignore[method-assign]
            before = len(mlflow_calls)
            try:
                result = run_child(
                    [
                        str(OUR_PYTHON),
                        str(BENCH / "_azure_v2_child.py"),
                        str(out),
                        "--",
                        "--model-name",
                        "iris",
                        "--model-path",
                        str(model_dir),
                        "--training-step-name",
                        "train",
                        "--build-number",
                        f"bench.{label}",
                    ],
                    env=env,
                    cwd=root,
                ).check(f"the v2 register step ({label})")
            finally:
                server.answer = answer  # type: ignore[method-assign]
            data = json.loads(out.read_text())
            if data["exit"] != 0:
                raise RuntimeError(f"{label}: exit {data['exit']}: {result.stderr[-2000:]}")
            data["mlflow_calls"] = mlflow_calls[before:]
            data["total"] = len(data["calls"]) + len(data["mlflow_calls"])
            data["seconds"] = round(result.seconds, 3)
            lines = result.stdout.strip().splitlines()
            data["verdict"] = lines[-1] if lines else ""
            progress(f"azure-v2 {label}: {data['total']} round trips ({data['verdict'][:60]})")
            return data

        for label, accuracy in SCENARIOS:
            found[label] = decide(label, accuracy)
        # the step's wall time, again on a loss and on a win (each a new pipeline job)
        reps = ctx.pick(3, 1)
        timed = {"loss": [found["loss"]["seconds"]], "win": [found["win"]["seconds"]]}
        for i in range(reps):
            timed["loss"].append(decide(f"loss-{i}", "0.5")["seconds"])
            timed["win"].append(decide(f"win-{i}", f"{0.96 + i * 0.001:.3f}")["seconds"])
    imports = [
        run_child([str(OUR_PYTHON), "-c", SDK_IMPORT], env=child_env()).check("the SDK import")
        for _ in range(reps + 1)
    ]

    ctx.details["azure_v2"] = found
    for label, _ in SCENARIOS:
        data = found[label]
        mlflow_ops = Counter(data["mlflow_calls"])
        row = Row(
            "azure_v2",
            f"REST round trips per decision (v2): {label}",
            float(data["total"]),
            "calls",
            note=f"MLClient {len(data['calls'])}: "
            + ", ".join(f"{op} {n}" for op, n in sorted(data["by_operation"].items()))
            + f"; MLflow {len(data['mlflow_calls'])}: "
            + ", ".join(f"{op} {n}" for op, n in sorted(mlflow_ops.items())),
        )
        if label in LIMITS:
            row.target = f"<= {LIMITS[label]}"
            row.met = data["total"] <= LIMITS[label]
        ctx.add(row)
    for label in ("win", "loss"):
        stats = Stats.of(timed[label])
        ctx.add(
            Row(
                "azure_v2",
                f"v2 register step cold start, fresh process, spawn to exit: {label}",
                stats.median_ms,
                "ms",
                note=f"median of {len(timed[label])}, under the v2 fake; azure.ai.ml imported: "
                + ("yes" if found[label]["azure_ai_ml_imported"] else "no"),
            )
        )
    ctx.add(
        Row(
            "azure_v2",
            "baseline: a fresh process importing azure.ai.ml's MLClient and mlflow",
            Stats.of([r.seconds for r in imports]).median_ms,
            "ms",
            note="what any v2 step pays before it decides anything",
        )
    )
