"""Shared pieces of the benchmarks: timing statistics, child processes with their peak RSS,
the machine description, progress lines and the result rows that become the table and the JSON."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUR_PYTHON = Path(sys.executable)
STEP_SCRIPT = ROOT / "steps" / "register_model.py"
MIB = 1024 * 1024

_T0 = time.perf_counter()


# --------------------------------------------------------------------------- progress


def progress(message: str) -> None:
    """One line on stderr with the elapsed time, so a long run shows where it is."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass
class Stats:
    """Seconds in, milliseconds out (rounded for the table; the JSON keeps 4 decimals)."""

    n: int
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        return cls(
            n=len(ms),
            median_ms=round(median(ms), 4),
            p95_ms=round(percentile(ms, 95), 4),
            min_ms=round(min(ms), 4),
            max_ms=round(max(ms), 4),
        )


def growth(seconds: Sequence[float], share: float = 0.10) -> dict[str, float]:
    """Median of the first and of the last `share` of a sequence of timings, and their ratio."""
    k = max(1, int(len(seconds) * share))
    first, last = median(seconds[:k]) * 1000, median(seconds[-k:]) * 1000
    return {
        "first10_median_ms": round(first, 4),
        "last10_median_ms": round(last, 4),
        "last_over_first": round(last / first, 3) if first else float("nan"),
    }


def timed(func: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        func()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


# --------------------------------------------------------------------------- child processes


@dataclass
class ChildResult:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_mib: float  # peak RSS of the child (ru_maxrss from wait4), i.e. its VmHWM

    def check(self, what: str) -> ChildResult:
        if self.returncode != 0:
            raise RuntimeError(
                f"{what} exited {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n"
                f"--- stderr\n{self.stderr[-3000:]}"
            )
        return self


def run_child(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> ChildResult:
    """Run a process to completion; wall time from spawn to reap, and its own peak RSS.

    os.wait4 gives the rusage of exactly this child (RUSAGE_CHILDREN would accumulate)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = _communicate(proc, timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return ChildResult(time.perf_counter() - start, proc.returncode, out, err, _last_rss(proc))


_RSS: dict[int, float] = {}


def _communicate(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    # Read the pipes to EOF (the child closes them when it exits), then reap with wait4 so that
    # the rusage is this child's alone.
    import threading

    chunks: dict[str, list[str]] = {"out": [], "err": []}

    def pump(stream: Any, key: str) -> None:
        for line in stream:
            chunks[key].append(line)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.0005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    _RSS[proc.pid] = usage.ru_maxrss / 1024  # KiB on Linux
    return "".join(chunks["out"]), "".join(chunks["err"])


def _last_rss(proc: subprocess.Popen[str]) -> float:
    return round(_RSS.pop(proc.pid, float("nan")), 1)


def child_env(**extra: str | None) -> dict[str, str]:
    """A clean environment for child steps: no inherited run context, bytecode caching ON.

    This sandbox sets PYTHONDONTWRITEBYTECODE=1, which would make every fresh process recompile
    the package; a deployed step has its .pyc files, so the children write theirs to a cache
    folder under the bench work directory (PYTHONPYCACHEPREFIX), never into src/."""
    env = dict(os.environ)
    for key in (
        "CHAMPION_WORKSPACE",
        "CHAMPION_RUN_ID",
        "CHAMPION_BACKEND",
        "CHAMPION_MOCK_FAULTS",
        "AZUREML_RUN_ID",
        "TF_BUILD",
        "PYTHONDONTWRITEBYTECODE",
        "BUILD_BUILDNUMBER",
    ):
        env.pop(key, None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache_prefix())
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


_PYCACHE: Path | None = None


def set_pycache_prefix(path: Path) -> None:
    global _PYCACHE
    _PYCACHE = path


def pycache_prefix() -> Path:
    """Set by run.py to a folder in its work directory; otherwise one in the temp folder, so
    that no stray cache appears in the source tree."""
    if _PYCACHE is not None:
        return _PYCACHE
    import tempfile

    return Path(tempfile.gettempdir()) / "champion-bench-pycache"


def vm_hwm_mib() -> float:
    """This process's peak RSS so far (VmHWM), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_vm_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under `path` (st_blocks, like `du`), not apparent sizes."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


# --------------------------------------------------------------------------- the machine


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_total = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_total = f"{int(line.split()[1]) / MIB:.1f} GiB"
                    break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem_total,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "commit": commit or "unknown",
    }


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the table: our figure, the peer's (same unit) when measured, the ratio
    ours/theirs, and the target it is held to, if any."""

    family: str
    name: str
    ours: float | None
    unit: str
    theirs: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.theirs in (None, 0):
            return None
        return self.ours / self.theirs  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("ours", "theirs"):
            if isinstance(data[key], float):
                data[key] = round(data[key], 4)
        data["ratio_ours_over_theirs"] = None if self.ratio is None else round(self.ratio, 4)
        return data


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in ("count", "versions", "blobs", "errors", "duplicates", "calls") or (
        float(value).is_integer() and abs(value) >= 100
    ):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_table(rows: Iterable[Row], peer: str | None) -> str:
    rows = list(rows)
    if peer is None and any(r.theirs is not None for r in rows):
        peer = "mlflow"  # families that measure MLflow in our venv (mlflow, team) show it anyway
    headers = ["benchmark", "ours", "unit"]
    if peer:
        headers += [peer, "ours/" + peer]
    headers += ["target", "met"]
    body = []
    for r in rows:
        cells = [f"{r.family}: {r.name}", fmt(r.ours, r.unit), r.unit]
        if peer:
            ratio = r.ratio
            cells += [fmt(r.theirs, r.unit), "-" if ratio is None else f"{ratio:.3g}"]
        met = {True: "MET", False: "NOT MET", None: ""}[r.met]
        cells += [r.target, met]
        body.append(cells)
    widths = [
        max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(headers)
    ]
    numeric = {1, 3, 4} if peer else {1}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    last_family = None
    for r, cells in zip(rows, body, strict=True):
        if last_family is not None and r.family != last_family:
            out.append("")
        last_family = r.family
        out.append(line(cells))
    return "\n".join(out)


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


# ---------------------------------------------------------------------- racing writers


def release(procs: list[subprocess.Popen[str]], barrier: Path, timeout: float = 300) -> float:
    """Wait until every writer is ready (or has died), then let them all go at once."""
    deadline = time.monotonic() + timeout
    while len(list(barrier.glob("ready-*"))) < len(procs):
        if any(p.poll() is not None for p in procs):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("writers did not get ready in time")
        time.sleep(0.005)
    start = time.time()
    tmp = barrier / "go.tmp"
    tmp.write_text(repr(start))
    os.replace(tmp, barrier / "go")
    return start


def collect(
    procs: list[subprocess.Popen[str]], timeout: float = 900
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each writer's JSON report (its last line starting with `{`), and one line for each
    writer that failed."""
    reports, problems = [], []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        line = next((x for x in reversed(out.splitlines()) if x.startswith("{")), None)
        if p.returncode != 0 or line is None:
            problems.append(f"writer exited {p.returncode}: {err.strip()[-300:]}")
            continue
        reports.append(json.loads(line))
    return reports, problems
