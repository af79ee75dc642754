"""Gates that really race: `champion register` processes released together by a barrier, round
after round, and the check that after each round the champion holds the best value so far.

Each child imports the CLI first, says "ready" by creating a file, then waits for a "go" file
(bounded), so the registrations overlap instead of following each other as the processes
happen to start. Under `mock_azureml()` the child runs inside `champion.pipeline.sdk_shim`, so
the real `azureml.core` classes answer from the local workspace in that process.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

BARRIER_TIMEOUT = 120.0
CHILD_TIMEOUT = 600.0

CHILD = Path(__file__).with_name("race_child.py")


@dataclass
class Ran:
    value: str
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "MLFLOW_", "AZUREML_"))
    }
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "CHAMPION_RETRY_BASE_SECONDS": "0.05"})
    env.update(extra)
    return env


def register_together(
    root: Path,
    values: Sequence[str],
    argv: Callable[[str], list[str]],
    env: Mapping[str, str],
    *,
    under_mock: bool = False,
) -> list[Ran]:
    """Start one `champion register` per value (its command line from `argv`), release them
    together, and collect what each said."""
    barrier = root / f"barrier-{time.monotonic_ns()}"
    barrier.mkdir(parents=True)
    procs = []
    for index, value in enumerate(values):
        command = [sys.executable]
        if under_mock:
            command += ["-m", "champion.pipeline.sdk_shim"]
        command += [str(CHILD), str(barrier / "go"), str(barrier / f"ready_{index}")]
        command += ["register", *argv(value)]
        procs.append(
            subprocess.Popen(
                command,
                env=dict(env),
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while len(list(barrier.glob("ready_*"))) < len(procs):
            dead = [p for p in procs if p.poll() is not None]
            assert not dead, [p.communicate() for p in dead]
            assert time.monotonic() < deadline, "the processes never all reached the barrier"
            time.sleep(0.02)
        (barrier / "go").touch()
        said = [proc.communicate(timeout=CHILD_TIMEOUT) for proc in procs]
        return [
            Ran(value, proc.returncode, out, err)
            for value, proc, (out, err) in zip(values, procs, said, strict=True)
        ]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def rounds(
    root: Path,
    argv: Callable[[str], list[str]],
    env: Mapping[str, str],
    champion_value: Callable[[], str | None],
    *,
    writers: int = 8,
    count: int = 4,
    seed: int = 28,
    under_mock: bool = False,
) -> list[str]:
    """`count` rounds of `writers` racing `champion register`s with random values: every process
    exits 0, and after each round `champion_value()` (the champion as the registry holds it) is
    the best value decided so far. Returns a line per round, for the report."""
    rng = random.Random(seed)
    best: Decimal | None = None
    lines = []
    for number in range(count):
        # random, and each round above the last: every writer of a round beats the champion
        # it reads, so all of them register and race (the hard case), not one or two
        low = 100 + number * (800 // count)
        values = [f"0.{rng.randint(low, low + 800 // count - 1)}" for _ in range(writers)]
        started = time.monotonic()
        ran = register_together(root, values, argv, env, under_mock=under_mock)
        for one in ran:
            assert one.code == 0, (number, one.code, one.value, one.out[-2000:], one.err[-2000:])
        best = max([Decimal(v) for v in values] + ([best] if best is not None else []))
        holder = champion_value()
        assert holder is not None and Decimal(holder) == best, (number, values, holder, best)
        races = sum("race detected" in one.out for one in ran)
        lines.append(
            f"round {number + 1}: {writers} writers {values}, champion {holder} (the best so "
            f"far), {races} saw a race, {time.monotonic() - started:.0f}s"
        )
    return lines
