"""1. Step cold start, and 6a. the step's peak RSS.

A fresh process runs steps/register_model.py exactly as the local runner does (CHAMPION_WORKSPACE
and CHAMPION_RUN_ID set), against a model with 1,000 versions, and wins: import, open the
workspace, read the tags, look up the champion, decide, upload, register, record. Timed from
spawn to exit; peak RSS from wait4. Baselines in the same loop: `python -c pass`, the import of
the package alone, and a fresh process that only looks up the champion (`Model(ws, name)`),
which is the like-for-like of MLflow's fresh-process champion lookup. One more run with
`-X importtime` lists every module the step imported: none may be azureml's.
"""

from __future__ import annotations

from _common import (
    OUR_PYTHON,
    STEP_SCRIPT,
    Row,
    Stats,
    child_env,
    median,
    progress,
    run_child,
)
from fixtures import MODEL, Pipeline

VERSIONS = 1000
REFERENCE_MLFLOW_LOOKUP_MS = 3500.0  # the figure, used only when no peer is measured
RSS_LIMIT_MIB = 80.0

LOOKUP = (
    "import sys\n"
    "from champion.local import Model, Workspace\n"
    "m = Model(Workspace(sys.argv[1]), sys.argv[2])\n"
    "print(m.version, m.properties['accuracy'])\n"
)
IMPORT = "import champion.context, champion.gate, champion.local"


def run(ctx) -> None:
    root = ctx.work / "cold"
    ws = ctx.fixtures.workspace(VERSIONS, root / "ws")
    model = ctx.fixtures.model_file
    pipe = Pipeline(ws)
    reps = ctx.pick(15, 3)
    peer_reps = ctx.pick(5, 2) if ctx.peer else 0
    counter = iter(range(10**6))

    def ours_step() -> tuple[float, float]:
        i = next(counter)
        step = pipe.new_run(f"{0.7 + i * 1e-4:.6f}")
        env = child_env(CHAMPION_WORKSPACE=str(ws), CHAMPION_RUN_ID=step.id)
        cmd = [
            str(OUR_PYTHON),
            str(STEP_SCRIPT),
            "--model-name",
            MODEL,
            "--model-path",
            str(model),
            "--build-number",
            f"cold.{i}",
        ]
        result = run_child(cmd, env=env, cwd=root).check("the register step")
        if "promoted" not in result.stdout:
            raise RuntimeError(f"expected a win, got: {result.stdout}")
        return result.seconds, result.maxrss_mib

    def ours_lookup() -> float:
        cmd = [str(OUR_PYTHON), "-c", LOOKUP, str(ws), MODEL]
        return run_child(cmd, env=child_env(), cwd=root).check("lookup").seconds

    def ours_import() -> float:
        cmd = [str(OUR_PYTHON), "-c", IMPORT]
        return run_child(cmd, env=child_env(), cwd=root).check("import").seconds

    def python_start() -> float:
        return run_child([str(OUR_PYTHON), "-c", "pass"], env=child_env()).check("python").seconds

    peer_db = None
    if ctx.peer:
        progress(f"cold: MLflow registry with {VERSIONS:,} versions")
        peer_db = ctx.peer.registry(root / "mlflow", VERSIONS, model)

    def theirs_step() -> tuple[float, float]:
        i = next(counter)
        pid = ctx.peer.call("new_run", db=peer_db, accuracy=f"{0.7 + i * 1e-4:.6f}")["run_id"]
        result = ctx.peer.fresh("fresh-step", peer_db, pid, str(model), f"cold.{i}")
        result.check("MLflow fresh-step")
        return result.seconds, result.maxrss_mib

    def theirs_lookup() -> tuple[float, float]:
        result = ctx.peer.fresh("fresh-lookup", peer_db).check("MLflow fresh-lookup")
        return result.seconds, result.maxrss_mib

    def theirs_import() -> float:
        return ctx.peer.fresh("import-only").check("import mlflow").seconds

    # warm-up: page cache, .pyc files (written under the work folder), SQLite files
    ours_step(), ours_lookup(), ours_import()
    if ctx.peer:
        theirs_lookup(), theirs_import()

    ours: dict[str, list[float]] = {"step": [], "rss": [], "lookup": [], "import": [], "py": []}
    theirs: dict[str, list[float]] = {"step": [], "rss": [], "lookup": [], "lrss": [], "import": []}
    for rep in range(reps):

        def do_ours() -> None:
            seconds, rss = ours_step()
            ours["step"].append(seconds)
            ours["rss"].append(rss)
            ours["lookup"].append(ours_lookup())
            ours["import"].append(ours_import())
            ours["py"].append(python_start())

        def do_theirs() -> None:
            seconds, rss = theirs_step()
            theirs["step"].append(seconds)
            theirs["rss"].append(rss)
            seconds, rss = theirs_lookup()
            theirs["lookup"].append(seconds)
            theirs["lrss"].append(rss)
            theirs["import"].append(theirs_import())

        order = [do_ours] + ([do_theirs] if rep < peer_reps else [])
        for do in order if rep % 2 == 0 else reversed(order):
            do()
        progress(
            f"cold: rep {rep + 1}/{reps}: step {ours['step'][-1] * 1000:.0f} ms"
            + (f", mlflow step {theirs['step'][-1]:.2f} s" if rep < peer_reps else "")
        )

    # which modules does the happy path import?
    step = pipe.new_run("0.999")
    env = child_env(CHAMPION_WORKSPACE=str(ws), CHAMPION_RUN_ID=step.id)
    traced = run_child(
        [
            str(OUR_PYTHON),
            "-X",
            "importtime",
            str(STEP_SCRIPT),
            "--model-name",
            MODEL,
            "--model-path",
            str(model),
        ],
        env=env,
        cwd=root,
    ).check("the register step with -X importtime")
    modules = [
        line.split("|")[-1].strip()
        for line in traced.stderr.splitlines()
        if line.startswith("import time:") and "|" in line and "cumulative" not in line
    ]
    azureml = sorted({m for m in modules if m.split(".")[0] == "azureml"})
    slowest = sorted(
        (
            (int(line.split("|")[0].split(":")[1]), line.split("|")[-1].strip())
            for line in traced.stderr.splitlines()
            if line.startswith("import time:") and "cumulative" not in line
        ),
        reverse=True,
    )[:10]
    heavy = sorted({m.split(".")[0] for m in modules} & {"sklearn", "pandas", "numpy", "joblib"})
    pipe.close()

    # the first model of a name: the lookup's ModelNotFound path
    first: list[float] = []
    first_rss: list[float] = []
    first_azureml: list[str] = []
    for i in range(ctx.pick(5, 2)):
        empty = Pipeline(root / f"empty-{i}")
        step = empty.new_run("0.9")
        empty.close()
        env = child_env(CHAMPION_WORKSPACE=str(root / f"empty-{i}"), CHAMPION_RUN_ID=step.id)
        cmd = [
            str(OUR_PYTHON),
            "-X",
            "importtime",
            str(STEP_SCRIPT),
            "--model-name",
            MODEL,
            "--model-path",
            str(model),
        ]
        if i > 0:  # time without -X importtime; the first run lists the imports
            cmd.remove("-X"), cmd.remove("importtime")
        result = run_child(cmd, env=env, cwd=root).check("the register step, first model")
        if "first" not in result.stdout:
            raise RuntimeError(f"expected a first registration, got: {result.stdout}")
        if i == 0:
            first_azureml = sorted(
                {
                    line.split("|")[-1].strip()
                    for line in result.stderr.splitlines()
                    if line.startswith("import time:")
                    and line.split("|")[-1].strip().split(".")[0] == "azureml"
                }
            )
        else:
            first.append(result.seconds)
            first_rss.append(result.maxrss_mib)

    step_ms = median(ours["step"]) * 1000
    lookup_ref = median(theirs["lookup"]) * 1000 if theirs["lookup"] else None
    reference = lookup_ref if lookup_ref is not None else REFERENCE_MLFLOW_LOOKUP_MS
    speedup = reference / step_ms
    ctx.details["cold"] = {
        "versions": VERSIONS,
        "reps": reps,
        "peer_reps": peer_reps,
        "ours": {
            "step": vars(Stats.of(ours["step"])),
            "lookup": vars(Stats.of(ours["lookup"])),
            "import": vars(Stats.of(ours["import"])),
            "python_startup": vars(Stats.of(ours["py"])),
            "step_peak_rss_mib": ours["rss"],
        },
        "theirs": {
            k: (vars(Stats.of(v)) if k in ("step", "lookup", "import") else v)
            for k, v in theirs.items()
            if v
        },
        "modules_imported_by_step": len(modules),
        "azureml_modules": azureml,
        "heavy_modules": heavy,
        "slowest_imports_self_us": [[us, name] for us, name in slowest],
    }
    ctx.add(
        Row(
            "cold start",
            f"register step, fresh process, {VERSIONS:,} versions, a win",
            step_ms,
            "ms",
            theirs=median(theirs["step"]) * 1000 if theirs["step"] else None,
            target=">=10x faster than MLflow's fresh-process champion lookup",
            met=speedup >= 10,
            note=f"{speedup:.1f}x faster than MLflow's fresh-process champion lookup "
            f"({reference:.0f} ms"
            + (")" if lookup_ref is not None else ", the issue's figure: run PEER=mlflow)")
            + f"; p95 {Stats.of(ours['step']).p95_ms:.0f} ms",
        )
    )
    ctx.add(
        Row(
            "cold start",
            "champion lookup only, fresh process (Model(ws, name) / alias)",
            median(ours["lookup"]) * 1000,
            "ms",
            theirs=lookup_ref,
        )
    )
    ctx.add(
        Row(
            "cold start",
            "import (champion.gate+local / mlflow)",
            median(ours["import"]) * 1000,
            "ms",
            theirs=median(theirs["import"]) * 1000 if theirs["import"] else None,
        )
    )
    ctx.add(Row("cold start", "python -c pass (baseline)", median(ours["py"]) * 1000, "ms"))
    ctx.add(
        Row(
            "cold start",
            "azureml modules imported by the step (happy path)",
            float(len(azureml)),
            "count",
            target="0 (no azureml.core import)",
            met=not azureml,
            note=(
                f"{len(modules)} modules imported; "
                + (f"azureml: {', '.join(azureml[:5])}" if azureml else "no azureml")
                + (f"; heavy: {', '.join(heavy)}" if heavy else "")
            ),
        )
    )
    core = [m for m in first_azureml if m.startswith("azureml.core")]
    ctx.add(
        Row(
            "cold start",
            "register step, fresh process, first model (empty registry)",
            median(first) * 1000,
            "ms",
            note=f"imports {len(first_azureml)} azureml modules"
            + (f" ({', '.join(core[:3])}...)" if core else " (azureml.core not among them)")
            + ": ModelNotFound is raised as the SDK's WebserviceException"
            + f"; peak RSS {max(first_rss):.0f} MiB"
            if first_azureml
            else f"no azureml import; peak RSS {max(first_rss):.0f} MiB",
        )
    )
    ctx.details["cold"]["first_model"] = {
        "step": vars(Stats.of(first)),
        "azureml_modules": len(first_azureml),
        "azureml_core_modules": core,
        "peak_rss_mib": first_rss,
    }
    peak = max(ours["rss"])
    ctx.add(
        Row(
            "cold start",
            "register step peak RSS (max over runs)",
            peak,
            "MiB",
            theirs=max(theirs["rss"]) if theirs["rss"] else None,
            target=f"< {RSS_LIMIT_MIB:.0f} MiB",
            met=peak < RSS_LIMIT_MIB,
        )
    )
