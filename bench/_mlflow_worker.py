"""The MLflow side of the benchmarks. Runs ONLY in bench/.peer-venv (never in the project's
venv): `peer_mlflow.py` starts it as a subprocess. Standard library + mlflow.

The register flow here is the same decision our step makes, written the way an MLflow user
would, on MLflow's tracking + model registry over SQLite with a local file artifact root:

    read the pipeline run's tags and its child runs' tags   get_run + search_runs(parentRunId)
    earlier registration by this run?                       search_model_versions(name, run_id)
    champion                                                get_model_version_by_alias(champion)
    upload the model to the pipeline run                    log_artifact
    a win: register with the metric and metadata as tags    create_model_version(tags=...)
           and move the champion alias                      set_registered_model_alias
    record the decision on the run                          log_text + set_tag x2

Modes:
    serve                         JSON commands on stdin, one "@@RESULT {json}" line per answer
    import-only                   `import mlflow`, nothing else (a fresh-process import time)
    fresh-lookup DB               a fresh process that looks up the champion and prints its metric
    fresh-step DB PARENT MODEL    a fresh process running the whole flow once
    concurrent DB MODEL FLOWS BARRIER WORKER [NAME]  one of N concurrent writers (like
                                  _gate_worker.py); DB may be a tracking server's URL
    upload DB FILE                log_artifact of FILE in a fresh process; time and peak RSS
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
import traceback
import uuid
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
logging.disable(logging.WARNING)

NAME = "iris"
ALIAS = "champion"
EXPERIMENT = "iris-pipeline"


def accuracy_of(version: int) -> str:  # the same numbers as bench/fixtures.py
    return f"{0.5 + version * 1e-5:.6f}"


def build_number_of(version: int) -> str:
    return f"2025.{version}"


# --------------------------------------------------------------------------- the client


class Registry:
    name = NAME

    def __init__(self, db: str, name: str = NAME) -> None:
        from mlflow import MlflowClient

        self.name = name
        if db.startswith(("http://", "https://")):  # a tracking server (bench_team: PostgreSQL)
            self.db, self.uri, self.artifacts = "", db, ""
            self.client = MlflowClient(tracking_uri=db, registry_uri=db)
            found = self.client.get_experiment_by_name(EXPERIMENT)
            if found is None:
                try:
                    self.exp_id = self.client.create_experiment(EXPERIMENT)
                except Exception:  # created concurrently by another writer
                    self.exp_id = self.client.get_experiment_by_name(EXPERIMENT).experiment_id
            else:
                self.exp_id = found.experiment_id
            return
        self.db = os.path.abspath(db)
        self.uri = "sqlite:///" + self.db
        self.artifacts = os.path.join(os.path.dirname(self.db), "mlartifacts")
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is not None and found.artifact_location != "file://" + self.artifacts:
            # a registry copied from the session's empty template: give it its own artifacts
            conn = sqlite3.connect(self.db, timeout=60)
            with conn:
                conn.execute(
                    "UPDATE experiments SET artifact_location=? WHERE name=?",
                    ("file://" + self.artifacts, EXPERIMENT),
                )
            conn.close()
            found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is None:
            try:
                self.exp_id = self.client.create_experiment(
                    EXPERIMENT, artifact_location="file://" + self.artifacts
                )
            except Exception:  # created concurrently by another writer
                self.exp_id = self.client.get_experiment_by_name(EXPERIMENT).experiment_id
        else:
            self.exp_id = found.experiment_id

    # ------------------------------------------------------------------ pipeline runs

    def new_run(self, accuracy: str) -> str:
        """A pipeline run tagged by its training step, with the `train` child run."""
        parent = self.client.create_run(self.exp_id, run_name="pipeline")
        pid = parent.info.run_id
        self.client.create_run(self.exp_id, run_name="train", tags={"mlflow.parentRunId": pid})
        self.client.set_tag(pid, "accuracy", accuracy)
        self.client.set_tag(pid, "best_model", "SVC")
        return pid

    # ------------------------------------------------------------------ the flow

    def champion(self) -> tuple[int, float] | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(self.name, ALIAS)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return int(mv.version), float(mv.tags["accuracy"])

    def register_if_better(self, parent_id: str, model_file: str, build: str) -> dict:
        c = self.client
        run = c.get_run(parent_id)
        tags = dict(run.data.tags)
        children = c.search_runs([self.exp_id], f"tags.mlflow.parentRunId = '{parent_id}'")
        child_tags = [dict(ch.data.tags) for ch in children if ch.info.run_name == "train"]
        raw = tags.get("accuracy") or next(
            (t["accuracy"] for t in child_tags if "accuracy" in t), None
        )
        challenger = float(raw)
        model_type = tags.get("best_model") or tags.get("model_type")
        earlier = c.search_model_versions(f"name='{self.name}' and run_id='{parent_id}'")
        if earlier:
            return {"outcome": "already_registered", "version": int(earlier[0].version)}
        champ = self.champion()
        promote = champ is None or challenger > champ[1]
        c.log_artifact(parent_id, model_file, f"outputs/{self.name}")
        version = None
        if promote:
            outcome = "first" if champ is None else "promoted"
            if champ is None:
                try:
                    c.create_registered_model(self.name)
                except Exception as exc:
                    if "already exists" not in str(exc):
                        raise
            mv = c.create_model_version(
                self.name,
                f"{run.info.artifact_uri}/outputs/{self.name}",
                run_id=parent_id,
                tags={
                    "accuracy": raw,
                    "model_type": model_type or "",
                    "build_number": build,
                    "champion.outcome": outcome,
                    "champion.previous_version": str(champ[0]) if champ else "",
                    "champion.previous_metric": str(champ[1]) if champ else "",
                    "champion.policy": '{"direction": "higher", "metric": "accuracy"}',
                    "champion.parent_run_id": parent_id,
                },
                description=f"accuracy={raw} from pipeline run {parent_id}",
            )
            version = int(mv.version)
            c.set_registered_model_alias(self.name, ALIAS, version)
        else:
            outcome = "rejected"
        record = {"outcome": outcome, "registered_version": version, "challenger": raw}
        c.log_text(parent_id, json.dumps(record), "outputs/champion_decision.json")
        c.set_tag(parent_id, "champion.outcome", outcome)
        if version is not None:
            c.set_tag(parent_id, "champion.version", str(version))
        return {"outcome": outcome, "version": version}

    # ------------------------------------------------------------------ populate

    def populate(self, versions: int, model_file: str, seed_api: int = 3) -> dict:
        """Register the first `seed_api` versions through the API, then clone the last one's
        rows with SQL (runs + their tags, the train child runs, model_versions and their tags,
        the alias) up to `versions`. Artifact files are not cloned: lookups never read them."""
        start = time.perf_counter()
        have = self._count()
        for v in range(have + 1, min(versions, seed_api) + 1):
            self.register_if_better(self.new_run(accuracy_of(v)), model_file, build_number_of(v))
        have = self._count()
        if versions > have:
            self._clone(have, versions)
        return {"versions": self._count(), "seconds": time.perf_counter() - start}

    def _count(self) -> int:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(
                "SELECT count(*) FROM model_versions WHERE name=?", (NAME,)
            ).fetchone()[0]
        finally:
            conn.close()

    def _clone(self, template: int, upto: int) -> None:
        conn = sqlite3.connect(self.db, timeout=60)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE")
            mv = conn.execute(
                "SELECT * FROM model_versions WHERE name=? AND version=?", (NAME, template)
            ).fetchone()
            mv_tags = conn.execute(
                "SELECT * FROM model_version_tags WHERE name=? AND version=?", (NAME, template)
            ).fetchall()
            parent = mv["run_id"]
            family = [parent] + [
                r[0]
                for r in conn.execute(
                    "SELECT run_uuid FROM tags WHERE key='mlflow.parentRunId' AND value=?",
                    (parent,),
                )
            ]
            runs = {
                rid: conn.execute("SELECT * FROM runs WHERE run_uuid=?", (rid,)).fetchone()
                for rid in family
            }
            run_tags = {
                rid: conn.execute("SELECT * FROM tags WHERE run_uuid=?", (rid,)).fetchall()
                for rid in family
            }
            now = int(time.time() * 1000)
            for v in range(template + 1, upto + 1):
                ids = {rid: uuid.uuid4().hex for rid in family}

                def sub(value, ids=ids):
                    if isinstance(value, str):
                        for old, new in ids.items():
                            value = value.replace(old, new)
                    return value

                for rid in family:
                    row = {k: sub(runs[rid][k]) for k in runs[rid].keys()}
                    _insert(conn, "runs", row)
                    for tag in run_tags[rid]:
                        row = {k: sub(tag[k]) for k in tag.keys()}
                        if rid == parent and row["key"] == "accuracy":
                            row["value"] = accuracy_of(v)
                        _insert(conn, "tags", row)
                row = {k: sub(mv[k]) for k in mv.keys()}
                row.update(version=v, creation_time=now + v, last_updated_time=now + v)
                _insert(conn, "model_versions", row)
                for tag in mv_tags:
                    row = {k: sub(tag[k]) for k in tag.keys()}
                    row["version"] = v
                    if row["key"] == "accuracy":
                        row["value"] = accuracy_of(v)
                    elif row["key"] == "build_number":
                        row["value"] = build_number_of(v)
                    _insert(conn, "model_version_tags", row)
            conn.execute(
                "UPDATE registered_model_aliases SET version=? WHERE name=? AND alias=?",
                (upto, NAME, ALIAS),
            )
            conn.execute(
                "UPDATE registered_models SET last_updated_time=? WHERE name=?", (now + upto, NAME)
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    # ------------------------------------------------------------------ measurements

    def gate(self, n: int, model_file: str, accuracy_from: float, build_from: int) -> dict:
        setup, flow, outcomes = [], [], []
        for i in range(n):
            t0 = time.perf_counter()
            pid = self.new_run(f"{accuracy_from + i * 1e-6:.6f}")
            t1 = time.perf_counter()
            result = self.register_if_better(pid, model_file, str(build_from + i))
            t2 = time.perf_counter()
            setup.append(t1 - t0)
            flow.append(t2 - t1)
            outcomes.append(result["outcome"])
        return {"setup": setup, "flow": flow, "outcomes": outcomes}

    def lookups(self, reps: int, version: int, build: str) -> dict:
        c = self.client
        ops = {
            "latest": lambda: c.get_latest_versions(NAME),
            "alias": lambda: c.get_model_version_by_alias(NAME, ALIAS),
            "version": lambda: c.get_model_version(NAME, str(version)),
            "tag_with_name": lambda: c.search_model_versions(
                f"name='{NAME}' and tags.build_number='{build}'"
            ),
            "tag_without_name": lambda: c.search_model_versions(f"tags.build_number='{build}'"),
        }
        checks = {
            "version": lambda r: int(r.version) == version,
            "tag_with_name": lambda r: len(r) == 1,
            "tag_without_name": lambda r: len(r) == 1,
        }
        out: dict[str, list[float]] = {k: [] for k in ops}
        for key, op in ops.items():
            result = op()  # warm-up, and a check that it finds what it should
            if key in checks and not checks[key](result):
                raise RuntimeError(f"{key} returned {result!r}")
        for key, op in ops.items():  # each operation in its own warm block, as ours
            op()
            for _ in range(reps):
                t0 = time.perf_counter()
                op()
                out[key].append(time.perf_counter() - t0)
        return out

    def audit(self) -> dict:
        """Versions, which parent run each came from, their accuracy, and the alias."""
        conn = sqlite3.connect(self.db, timeout=60)
        try:
            rows = conn.execute(
                "SELECT v.version, v.run_id, t.value FROM model_versions v LEFT JOIN "
                "model_version_tags t ON t.name=v.name AND t.version=v.version AND "
                "t.key='accuracy' WHERE v.name=? ORDER BY v.version",
                (NAME,),
            ).fetchall()
            alias = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE name=? AND alias=?",
                (NAME, ALIAS),
            ).fetchone()
        finally:
            conn.close()
        return {
            "versions": [[v, r, a] for v, r, a in rows],
            "alias": alias[0] if alias else None,
        }


def wait_for_go(barrier: str, worker: str) -> float:
    """Say ready (a file), then wait for the `go` file; return the start time it holds."""
    with open(os.path.join(barrier, f"ready-{worker}"), "w") as fh:
        fh.write("ready")
    go = os.path.join(barrier, "go")
    while True:
        try:
            with open(go) as fh:
                text = fh.read().strip()
            if text:
                return float(text)
        except FileNotFoundError:
            pass
        time.sleep(0.0005)


def _insert(conn: sqlite3.Connection, table: str, row: dict) -> None:
    cols = list(row)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [row[k] for k in cols],
    )


def _du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def _vm_hwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- modes


def serve() -> int:
    registries: dict[str, Registry] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            op = cmd.pop("op")
            if op == "quit":
                break
            db = cmd.pop("db", None)
            if db is not None and db not in registries:
                registries[db] = Registry(db)
            reg = registries.get(db) if db is not None else None
            if op == "open":
                result = {"experiment_id": reg.exp_id}
            elif op == "new_run":
                result = {"run_id": reg.new_run(cmd["accuracy"])}
            elif op == "populate":
                result = reg.populate(cmd["versions"], cmd["model"])
            elif op == "gate":
                result = reg.gate(cmd["n"], cmd["model"], cmd["accuracy_from"], cmd["build_from"])
            elif op == "lookups":
                result = reg.lookups(cmd["reps"], cmd["version"], cmd["build"])
            elif op == "audit":
                result = reg.audit()
            elif op == "disk":
                result = {
                    "artifacts_bytes": _du(reg.artifacts),
                    "db_bytes": _du(os.path.dirname(reg.db)) - _du(reg.artifacts),
                    "model_files": sum(
                        1
                        for _, _, files in os.walk(reg.artifacts)
                        for f in files
                        if f == "model.pkl"
                    ),
                }
            elif op == "close":
                registries.pop(db, None)
                result = {}
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"ok": True, "result": result}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write("@@RESULT " + json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "serve":
        return serve()
    if mode == "import-only":
        import mlflow  # noqa: F401

        return 0
    if mode == "fresh-lookup":
        reg = Registry(argv[1])
        version, metric = reg.champion()
        print(f"champion {NAME}:{version} accuracy {metric}")
        return 0
    if mode == "fresh-step":
        reg = Registry(argv[1])
        result = reg.register_if_better(argv[2], argv[3], argv[4] if len(argv) > 4 else "0")
        print(json.dumps(result))
        return 0
    if mode == "concurrent":
        db, model, flows, barrier, worker = argv[1], argv[2], int(argv[3]), argv[4], argv[5]
        reg = Registry(db, *argv[6:7])  # a model name of its own (bench_team's trials)
        start_at = wait_for_go(barrier, worker)
        begin = time.time()
        results = []
        for i in range(flows):
            accuracy = f"{0.6 + (time.time() - start_at) / 1000:.9f}"
            entry = {"accuracy": accuracy}
            t0 = time.perf_counter()
            try:
                pid = reg.new_run(accuracy)
                entry["parent"] = pid
                entry.update(reg.register_if_better(pid, model, f"w{worker}.{i}"))
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            entry["seconds"] = time.perf_counter() - t0
            results.append(entry)
        print(json.dumps({"worker": worker, "begin": begin, "end": time.time(), "flows": results}))
        return 0
    if mode == "upload":
        reg = Registry(argv[1])
        run_id = reg.client.create_run(reg.exp_id).info.run_id
        with open("/proc/self/status") as fh:
            before = next(int(x.split()[1]) / 1024 for x in fh if x.startswith("VmRSS:"))
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        t0 = time.perf_counter()
        reg.client.log_artifact(run_id, argv[2], "outputs/model")
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "rss_before_mib": before, "peak_mib": _vm_hwm_mib()}))
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
