"""Concurrent pipelines on one local workspace: real processes, released together by a barrier.

Every child imports what it needs first, reports "ready" by creating a file, and then polls for a
"go" file; the test creates "go" only once all children are ready, so the registrations really
overlap instead of running one after another as the processes happen to start.

What must hold:

- through the local workspace (one SQLite write transaction spans the champion lookup, the
  decision and the registration) racing challengers are serialised: versions are unique and
  contiguous, the version chain only ever improves, and the final champion is the best;
- through the real SDK (no registry lock in Azure ML) races may happen: a gate that finds one
  says so in its record (`race_detected`) and, when the latest version is not the best of the
  racing decisions, registers the best one's files again on top (`race_repaired`), so the
  latest version, Azure ML's champion, is the best.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from champion.local import Experiment, Model, Run, Workspace
from champion.names import REPAIR_OF

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "steps" / "register_model.py"
NAME = "iris"
BARRIER_TIMEOUT = 60.0
CHILD_TIMEOUT = 90.0

# A child: import everything first, say "ready", wait for "go", then do the work.
STEP_CHILD = r"""
import os, sys, time
go, ready, mode, script, *args = sys.argv[1:]
import champion.gate, champion.local, champion.record, champion.context, champion.registry.local
if mode == "sdk" or os.environ.get("WARM_SDK_ERRORS"):  # "no champion" raises the SDK's error
    import azureml.exceptions
if mode == "sdk":
    import azureml.core, champion.local.mock, champion.pipeline.sdk_shim
pause = os.environ.get("PAUSE_BEFORE_REGISTER")
if pause:  # stop between the last champion lookup and the registration, until told to go on
    register = champion.gate._new_version  # called right before Registry.register
    def paused(*a, **k):
        open(os.path.join(pause, "paused"), "w").close()
        end = time.monotonic() + float(os.environ["BARRIER_TIMEOUT"])
        while not os.path.exists(os.path.join(pause, "resume")):
            if time.monotonic() > end:
                sys.exit(98)
            time.sleep(0.005)
        return register(*a, **k)
    champion.gate._new_version = paused
open(ready, "w").close()
deadline = time.monotonic() + float(os.environ["BARRIER_TIMEOUT"])
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit(97)
    time.sleep(0.002)
print(f"barrier: released {time.time():.6f}", file=sys.stderr, flush=True)
if mode == "sdk":
    from champion.pipeline.sdk_shim import main
    sys.exit(main([script, *args]))
import runpy
sys.argv = [script, *args]
sys.path[0] = os.path.dirname(script)
runpy.run_path(script, run_name="__main__")
"""

MODEL_CHILD = r"""
import json, os, sys, time
go, ready, ws_path, name, worker, count = sys.argv[1:]
from champion.local import Model, Workspace
ws = Workspace(ws_path)
open(ready, "w").close()
deadline = time.monotonic() + float(os.environ["BARRIER_TIMEOUT"])
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit(97)
    time.sleep(0.002)
versions = []
for i in range(int(count)):
    model = Model.register(
        ws, "model.pkl", name, tags={"worker": worker, "i": str(i)}, properties={"n": str(i)}
    )
    versions.append(model.version)
print("VERSIONS " + json.dumps(versions))
"""


@dataclass
class Challenger:
    parent: Run
    step: Run
    model_dir: Path
    accuracy: str


@dataclass
class Outcome:
    challenger: Challenger
    returncode: int
    stdout: str
    stderr: str


class Workbench:
    """One local workspace with pipeline-shaped runs, as the local runner creates them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ws_path = root / "ws"
        self.ws = Workspace.create(self.ws_path)
        self.exp = Experiment(self.ws, "iris-pipeline")
        self._count = 0

    def close(self) -> None:
        self.ws._store.close()

    def challenger(self, accuracy: str) -> Challenger:
        self._count += 1
        parent = self.exp.start_logging()
        parent.child_run(name="train")
        parent.set_tags({"accuracy": accuracy, "best_model": f"M{self._count}"})
        step = parent.child_run(name="register")
        model_dir = self.root / f"model_{self._count}"
        model_dir.mkdir()
        (model_dir / "model.pkl").write_bytes(f"model {self._count} {accuracy}".encode())
        return Challenger(parent, step, model_dir, accuracy)

    def seed_champion(self, accuracy: str) -> None:
        """Version 1 with the metric property, registered in-process through a parent run."""
        seed = self.challenger(accuracy)
        seed.parent.upload_file(f"outputs/{NAME}/model.pkl", str(seed.model_dir / "model.pkl"))
        seed.parent.register_model(
            NAME, f"outputs/{NAME}", properties={"accuracy": accuracy}, tags={"seed": "1"}
        )

    def env(self, run_id: str) -> dict[str, str]:
        env = {**os.environ, "CHAMPION_WORKSPACE": str(self.ws_path), "CHAMPION_RUN_ID": run_id}
        for key in ("TF_BUILD", "CHAMPION_BACKEND", "CHAMPION_MOCK_FAULTS"):
            env.pop(key, None)
        env["BARRIER_TIMEOUT"] = str(BARRIER_TIMEOUT)
        return env

    def step_command(
        self, ch: Challenger, barrier: Path, index: int, *, real_sdk: bool
    ) -> list[str]:
        """The register step for `ch`, held at `barrier` until its "go" file exists."""
        return [
            sys.executable,
            "-c",
            STEP_CHILD,
            str(barrier / "go"),
            str(barrier / f"ready_{index}"),
            "sdk" if real_sdk else "local",
            str(REGISTER),
            "--model-name",
            NAME,
            "--model-path",
            str(ch.model_dir),
            "--build-number",
            f"b{index}",
        ]

    def start_step(
        self, ch: Challenger, barrier: Path, index: int, *, real_sdk: bool, pause: Path | None
    ) -> subprocess.Popen[str]:
        env = self.env(ch.step.id)
        if pause is not None:
            env["PAUSE_BEFORE_REGISTER"] = str(pause)
        return subprocess.Popen(
            self.step_command(ch, barrier, index, real_sdk=real_sdk),
            env=env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def race_steps(
        self, challengers: Sequence[Challenger], *, real_sdk: bool = False, warm: bool = False
    ) -> list[Outcome]:
        """Run the register step for every challenger at once; return their outcomes."""
        barrier = self.root / f"barrier_{time.monotonic_ns()}"
        barrier.mkdir()
        commands = [
            self.step_command(ch, barrier, i, real_sdk=real_sdk) for i, ch in enumerate(challengers)
        ]
        envs = [
            {**self.env(ch.step.id), **({"WARM_SDK_ERRORS": "1"} if warm else {})}
            for ch in challengers
        ]
        results = run_together(commands, envs, barrier, cwd=self.root)
        return [
            Outcome(ch, code, out, err)
            for ch, (code, out, err) in zip(challengers, results, strict=True)
        ]

    def record(self, run: Run) -> dict[str, Any]:
        target = self.root / f"decision_{run.id}.json"
        Run.get(self.ws, run.id).download_file("outputs/champion_decision.json", str(target))
        return json.loads(target.read_text())

    def chain(self) -> list[Model]:
        """Every live version, oldest first."""
        return sorted(Model.list(self.ws, name=NAME), key=lambda m: m.version)


LAST_RACE: dict[str, float] = {}


def run_together(
    commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]], barrier: Path, *, cwd: Path
) -> list[tuple[int, str, str]]:
    """Start every command, wait until all are ready, release them together, collect.
    `LAST_RACE` keeps how long the start-up and the race itself took, for the report."""
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            list(cmd), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd, env in zip(commands, envs, strict=True)
    ]
    try:
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while len(list(barrier.glob("ready_*"))) < len(procs):
            crashed = [p.args[-1] for p in procs if p.poll() is not None]
            assert not crashed, f"a child exited before the barrier: {crashed}"
            assert time.monotonic() < deadline, "children never all reached the barrier"
            time.sleep(0.01)
        released = time.monotonic()
        (barrier / "go").touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=CHILD_TIMEOUT)
            results.append((proc.returncode, out, err))
        LAST_RACE.update(startup=released - started, race=time.monotonic() - released)
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def timing() -> str:
    return f"start-up {LAST_RACE['startup']:.1f}s, race {LAST_RACE['race']:.1f}s"


def assert_clean(outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        text = (o.stdout + o.stderr).lower()
        assert o.returncode == 0, (o.challenger.accuracy, o.stdout, o.stderr)
        assert "database is locked" not in text and "operationalerror" not in text, o.stderr
        assert "barrier: released" in o.stderr  # it really waited at the barrier


def check_serialised_race(
    bench: Workbench, outcomes: Sequence[Outcome], seeded: str | None
) -> tuple[int, int]:
    """The local workspace's promise: one version per winner, contiguous, only ever better,
    every loser really no better than the champion it saw, the best one last."""
    assert_clean(outcomes)
    records = {o.challenger.parent.id: bench.record(o.challenger.parent) for o in outcomes}
    winners = [r for r in records.values() if r["outcome"] in ("first", "promoted")]
    losers = [r for r in records.values() if r["outcome"] == "rejected"]
    assert len(winners) + len(losers) == len(outcomes), records
    offset = 1 if seeded is not None else 0
    chain = bench.chain()
    versions = [m.version for m in chain]
    assert versions == list(range(1, len(winners) + offset + 1)), (versions, records)
    accuracies = [Decimal(m.properties["accuracy"]) for m in chain]
    assert all(a < b for a, b in itertools.pairwise(accuracies)), accuracies
    best = max(Decimal(o.challenger.accuracy) for o in outcomes)
    if seeded is not None:
        best = max(best, Decimal(seeded))
    assert accuracies[-1] == best
    assert Decimal(Model(bench.ws, NAME).properties["accuracy"]) == best
    by_version = {m.version: m for m in chain}
    for run_id, record in records.items():
        assert record["race_detected"] is False, record  # the lock leaves nothing to detect
        if record["outcome"] == "rejected":
            assert record["registered_version"] is None
            assert Decimal(record["challenger"]) <= Decimal(record["champion"]), record
        else:
            model = by_version[record["registered_version"]]  # none lost: it is in the chain
            assert model.run_id == run_id
            assert model.properties["accuracy"] == record["challenger"]
            expected_previous = record["registered_version"] - 1 or None
            assert record["champion_version"] == expected_previous, record
    return len(winners), len(losers)


# ---------------------------------------------------------------------- a. the step, no champion


@pytest.mark.slow
def test_racing_register_steps_register_a_monotonic_contiguous_chain(tmp_path):
    bench = Workbench(tmp_path)
    try:
        accuracies = [f"0.8{i}" for i in range(8)]
        random.Random(8).shuffle(accuracies)
        challengers = [bench.challenger(a) for a in accuracies]
        outcomes = bench.race_steps(challengers, warm=True)  # all race for "first"

        winners, losers = check_serialised_race(bench, outcomes, seeded=None)
        assert sum("champion: first as iris:1" in o.stdout for o in outcomes) == 1
        print(
            f"\n[a] 8 step processes, {winners} registered, {losers} rejected, 0 lost, {timing()}"
        )
    finally:
        bench.close()


# ---------------------------------------------------------------------- b. Model.register


@pytest.mark.slow
def test_concurrent_model_register_hands_out_every_version_once(tmp_path):
    bench = Workbench(tmp_path)
    try:
        (tmp_path / "model.pkl").write_bytes(b"the same model bytes for everyone")
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        workers, per_worker = 8, 5
        commands = [
            [
                sys.executable,
                "-c",
                MODEL_CHILD,
                str(barrier / "go"),
                str(barrier / f"ready_{w}"),
                str(bench.ws_path),
                NAME,
                str(w),
                str(per_worker),
            ]
            for w in range(workers)
        ]
        envs = [bench.env("unused") for _ in range(workers)]
        results = run_together(commands, envs, barrier, cwd=tmp_path)

        handed_out: list[int] = []
        for code, out, err in results:
            assert code == 0, err
            assert "database is locked" not in (out + err).lower(), err
            line = next(x for x in out.splitlines() if x.startswith("VERSIONS "))
            mine = json.loads(line.removeprefix("VERSIONS "))
            assert mine == sorted(mine) and len(mine) == per_worker  # each call got its own
            handed_out += mine
        total = workers * per_worker
        assert sorted(handed_out) == list(range(1, total + 1))
        chain = bench.chain()
        assert [m.version for m in chain] == list(range(1, total + 1))
        # none lost, none duplicated: every (worker, call) is exactly one version
        keys = {(m.tags["worker"], m.tags["i"]) for m in chain}
        assert keys == {(str(w), str(i)) for w in range(workers) for i in range(per_worker)}
        assert Model(bench.ws, NAME).version == total
        print(
            f"\n[b] {workers} processes x {per_worker} = {total} registrations, 0 lost, {timing()}"
        )
    finally:
        bench.close()


# ---------------------------------------------------------------------- c. against a champion


@pytest.mark.slow
def test_racing_challengers_against_a_champion_always_leave_the_best(tmp_path):
    accuracies = ["0.3", "0.45", "0.49", "0.55", "0.58", "0.6", "0.65", "0.7"]
    trials, totals, races = 3, {"registered": 0, "rejected": 0}, []
    for trial in range(trials):
        bench = Workbench(tmp_path / f"trial_{trial}")
        try:
            bench.seed_champion("0.5")
            order = list(accuracies)
            random.Random(trial).shuffle(order)
            outcomes = bench.race_steps([bench.challenger(a) for a in order])
            races.append(LAST_RACE["race"])
            winners, losers = check_serialised_race(bench, outcomes, seeded="0.5")
            for o in outcomes:  # below the champion can never win, whatever the order
                if Decimal(o.challenger.accuracy) < Decimal("0.5"):
                    assert bench.record(o.challenger.parent)["outcome"] == "rejected"
            assert Model(bench.ws, NAME).properties["accuracy"] == "0.7"
            totals["registered"] += winners
            totals["rejected"] += losers
        finally:
            bench.close()
    print(
        f"\n[c] {trials} trials x 8 step processes = {trials * 8} challengers, "
        f"{totals['registered']} registered, {totals['rejected']} rejected, 0 lost, "
        f"best always last, races {', '.join(f'{r:.1f}s' for r in races)}"
    )


# ---------------------------------------------------------------------- d. the real SDK


@pytest.mark.slow
def test_racing_steps_through_the_real_sdk_end_on_the_best(tmp_path):
    bench = Workbench(tmp_path)
    try:
        bench.seed_champion("0.5")
        order = ["0.6", "0.7", "0.8", "0.9"]
        random.Random(4).shuffle(order)
        challengers = [bench.challenger(a) for a in order]
        outcomes = bench.race_steps(challengers, real_sdk=True)
        assert_clean(outcomes)

        records = {o.challenger.parent.id: bench.record(o.challenger.parent) for o in outcomes}
        registered = {
            r["registered_version"]: r for r in records.values() if r["registered_version"]
        }
        chain = bench.chain()
        copies = [m for m in chain if m.properties.get("champion.outcome") == "race_repaired"]
        decided = [m for m in chain if m not in copies]
        assert [m.version for m in decided][1:] == sorted(registered)  # each registration once
        for model in decided[1:]:
            record = registered[model.version]
            assert model.run_id == record["parent_run_id"]
            assert model.properties["accuracy"] == record["challenger"]
        for copy in copies:  # a repair holds a decided version's files and numbers
            origin = next(m for m in decided if m.version == int(copy.properties[REPAIR_OF]))
            assert copy.properties["accuracy"] == origin.properties["accuracy"]
            assert copy.properties["artifact_sha256"] == origin.properties["artifact_sha256"]
        assert chain[-1].properties["accuracy"] == "0.9"  # the latest version is the best
        for record in records.values():
            if record["outcome"] == "rejected":
                assert Decimal(record["challenger"]) <= Decimal(record["champion"]), record
        flagged = sum(r["race_detected"] for r in records.values())
        print(
            f"\n[d] 4 real-SDK step processes, {len(registered)} registered, "
            f"{len(records) - len(registered)} rejected, {len(copies)} repair copies, "
            f"{flagged} flagged races, the best last, {timing()}"
        )
    finally:
        bench.close()


# ---------------------------------------------------------------------- forced interleavings


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"exited {proc.returncode} before {path.name}: {out}{err}")
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def finish(proc: subprocess.Popen[str], ch: Challenger) -> Outcome:
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Outcome(ch, proc.returncode, out, err)


@pytest.mark.slow
def test_real_sdk_repairs_a_worse_version_registered_after_a_better_one(tmp_path):
    """The race made certain: challenger A (0.6) has re-read the champion (v1, 0.5) and decided
    to promote; before it registers, challenger B (0.9) runs to the end and becomes v2. A then
    registers v3, worse than v2: Azure ML has no lock to stop it. A's race check weighs both
    decisions (each made against v1) and registers v2's files again as v4 (`race_repaired`),
    so the latest version, Azure ML's champion, is the best; A's record says so."""
    bench = Workbench(tmp_path)
    try:
        bench.seed_champion("0.5")
        slow, fast = bench.challenger("0.6"), bench.challenger("0.9")
        gates = tmp_path / "gates"
        gates.mkdir()
        (gates / "go").touch()
        a = bench.start_step(slow, gates, 0, real_sdk=True, pause=gates)
        wait_for(gates / "paused", a)
        b = finish(bench.start_step(fast, gates, 1, real_sdk=True, pause=None), fast)
        assert b.returncode == 0, b.stderr
        assert "promoted as iris:2" in b.stdout
        (gates / "resume").touch()
        late = finish(a, slow)

        assert_clean([b, late])
        assert "promoted as iris:3" in late.stdout and "the champion is v2" in late.stdout
        chain = bench.chain()
        assert [(m.version, m.properties["accuracy"]) for m in chain] == [
            (1, "0.5"),
            (2, "0.9"),
            (3, "0.6"),
            (4, "0.9"),
        ]
        copy = chain[-1]
        assert copy.properties["champion.outcome"] == "race_repaired"
        assert (
            copy.properties[REPAIR_OF] == "2"
            and copy.properties["champion.previous_version"] == "3"
        )
        assert Model(bench.ws, NAME).version == 4
        record = bench.record(slow.parent)
        assert record["race_detected"] is True and record["registered_version"] == 3
        assert record["champion_version"] == 1  # what it compared against, stated honestly
        assert record["race"]["best"] == 2
        assert record["race"]["repairs"] == [{"registered": 4, "copy_of": 2, "displaced": 3}]
        assert Run.get(bench.ws, slow.parent.id).get_tags()["champion.race_detected"] == "True"
        assert bench.record(fast.parent)["race_detected"] is False
        repair_run = Run.get(bench.ws, copy.run_id)
        assert repair_run.experiment.name == "champion-race-repair"
        repaired = bench.record(repair_run)
        assert repaired["outcome"] == "race_repaired" and repaired["registered_version"] == 4
        print("\n[d'] real SDK, forced interleaving: 2 processes, 2 registered, 1 race repaired")
    finally:
        bench.close()


@pytest.mark.slow
def test_local_lock_makes_a_late_challenger_wait_and_compare_with_the_new_champion(tmp_path):
    """The same interleaving on the local workspace: A pauses while holding the registry lock,
    so B cannot register (nor even upload) until A has committed, and then compares with A."""
    bench = Workbench(tmp_path)
    try:
        bench.seed_champion("0.5")
        slow, fast = bench.challenger("0.6"), bench.challenger("0.9")
        gates = tmp_path / "gates"
        gates.mkdir()
        (gates / "go").touch()
        a = bench.start_step(slow, gates, 0, real_sdk=False, pause=gates)
        wait_for(gates / "paused", a)
        b_proc = bench.start_step(fast, gates, 1, real_sdk=False, pause=None)
        wait_for(gates / "ready_1", b_proc)
        time.sleep(1.5)
        assert b_proc.poll() is None, "B finished while A held the registry lock"
        (gates / "resume").touch()
        late, b = finish(a, slow), finish(b_proc, fast)

        assert_clean([late, b])
        assert "promoted as iris:2" in late.stdout and "race detected" not in late.stdout
        assert "promoted as iris:3" in b.stdout
        chain = bench.chain()
        assert [(m.version, m.properties["accuracy"]) for m in chain] == [
            (1, "0.5"),
            (2, "0.6"),
            (3, "0.9"),
        ]
        record = bench.record(fast.parent)
        assert (record["champion_version"], record["champion"]) == (2, "0.6")
        assert record["race_detected"] is False
        print("\n[a'] local lock, forced interleaving: 2 processes, B waited, 2 registered")
    finally:
        bench.close()
