"""How the suite runs fast, loaded by tests/conftest.py (`pytest_plugins`): which tests form the
fast set, the check that keeps them fast, and what keeps the full run cheap under pytest-xdist.

The fast set (`make test-fast`, `pytest -m fast`) is the edit-test loop: every test under one
of `FAST_PATHS` (the pure decision code, the two faces' contract, the local workspace and the
registry backends, all in this process), minus any test marked `process` and any that asks
for a fixture in `SERVER_FIXTURES`. A test lands there by where its file is, so a new test in
those folders is fast unless it says otherwise. What makes it a promise rather than a habit:
while a fast test runs (setup, call, teardown), starting a process (`subprocess`, `os.system`,
`fork`, `exec`, `posix_spawn`) or opening a network socket is refused through an audit hook,
and the test fails saying to mark it `@pytest.mark.process`. That holds in every run, not only
`-m fast`, so the fast set cannot slowly fill with process tests nobody notices.

Under xdist (`make test` runs `-n auto --dist loadgroup`): a test that uses the session's real
`mlflow server` joins the xdist group "mlflow-server", so one worker starts it (~20 s) instead
of each (a test on the PostgreSQL cluster and the mlflow server on it: the group
"mlflow-postgres"); a test that uses a module-scoped fixture joins its module's group, so the
fixture is built once, not once per worker. Without xdist these marks change nothing.

Every process a test starts imports champion afresh. The environment may forbid writing
bytecode (`PYTHONDONTWRITEBYTECODE`, set on some CI images and sandboxes), and then each of
the suite's ~2,000 processes compiled champion's 30,000 lines again: about a third of a
register step's start. `pytest_configure` compiles the package once, where Python itself would
have put the cache, so those processes read it; an unwritable install is left alone.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
import types
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent

FAST_PATHS = (
    "unit",
    "contract",
    "local",
    "registry",
    "mock",
    "gate/test_gate_in_process.py",
    "gate/test_gate_scenarios.py",
    "pipeline/test_spec.py",
)
"""Folders and files (relative to tests/) whose tests are fast unless marked `process`."""

SERVER_FIXTURES = frozenset({"mlflow_server", "postgres", "mlflow_pg_server"})
"""Fixtures that start a server process: a test asking for one is never fast."""
POSTGRES_FIXTURES = frozenset({"postgres", "mlflow_pg_server"})
"""The session's PostgreSQL cluster (and the mlflow server on it): one xdist group, one start."""

_PROCESS_EVENTS = frozenset(
    "subprocess.Popen os.system os.exec os.posix_spawn os.spawn os.fork os.forkpty".split()
)
_ALLOWED_STARTERS = {
    "azureml._base_sdk_common.tracking.git_tracking_info_provider": "the real azureml.core asks "
    "`git` for the working tree's commit each time it starts a run (its tracking info); a few "
    "milliseconds, no Python, and part of the SDK the contract holds the fake to",
}
"""Modules whose process starts a fast test may make, and why."""
# Traffic, not a bound address: urllib3 probes for IPv6 at import by binding ('::1', 0), so a
# fast test that happened to import it first in its worker failed on a bind that sends nothing.
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto"})
_NETWORK_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class ProcessInFastTest(RuntimeError):
    """A fast test started a process or opened a network socket."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="run only the fast set (tests/suite_rules.py), collecting only its folders: "
        "what `make test-fast` runs",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fast: in the fast set (applied by path in tests/suite_rules.py; do not set by hand)",
    )
    config.addinivalue_line(
        "markers",
        "process: starts a process or a server, so it is not in the fast set even where its "
        "folder is",
    )
    # The azureml SDK asks `platform.processor()`, which runs `uname -p` once per process and
    # caches it: asked here, no test starts that process by touching the SDK first.
    platform.processor()
    config.addinivalue_line(
        "markers",
        "mlflow_server: uses the session's real mlflow server (automatic for a test that names "
        "the fixture; by hand where it is asked for through request.getfixturevalue)",
    )
    if not hasattr(config, "workerinput"):  # once, in the process that runs or leads the run
        _compile_champion()
    sys.addaudithook(_audit)


def _compile_champion() -> None:
    import champion

    package = Path(champion.__file__).parent
    with contextlib.suppress(OSError):
        compileall.compile_dir(package, quiet=2, workers=1)


def _relative(path: Path) -> str | None:
    try:
        return path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return None


def _in_fast_paths(path: Path) -> bool:
    relative = _relative(path)
    return relative is not None and any(
        relative == p or relative.startswith(p + "/") for p in FAST_PATHS
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With --fast, other folders and files are not even imported (their imports cost seconds)."""
    if not config.getoption("fast"):
        return None
    relative = _relative(collection_path)
    if relative is None or relative == "." or _in_fast_paths(collection_path):
        return None
    if collection_path.is_dir() and any(p.startswith(relative + "/") for p in FAST_PATHS):
        return None  # a folder on the way to a fast file
    return True


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    xdist = config.pluginmanager.hasplugin("xdist")
    slow: list[pytest.Item] = []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        marks = {mark.name for mark in item.iter_markers()}
        server = bool(names & SERVER_FIXTURES) or "mlflow_server" in marks
        if _in_fast_paths(item.path) and not server and not marks & {"process", "slow"}:
            item.add_marker(pytest.mark.fast)
        elif config.getoption("fast"):
            slow.append(item)
        if xdist:
            group = _xdist_group(item, server, postgres=bool(names & POSTGRES_FIXTURES))
            if group is not None and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(group))
    if slow:
        config.hook.pytest_deselected(items=slow)
        dropped = set(slow)
        items[:] = [item for item in items if item not in dropped]


def _xdist_group(item: pytest.Item, server: bool, *, postgres: bool = False) -> str | None:
    if postgres:
        return "mlflow-postgres"
    if server:
        return "mlflow-server"
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for definitions in info.name2fixturedefs.values():
        if any(d.scope in ("module", "class", "package") for d in definitions):
            return f"module:{item.nodeid.split('::', 1)[0]}"
    return None


# ---------------------------------------------------------------------- xdist groups
#
# pytest-xdist 3.8's own `--dist loadgroup` tells the controller a test's group by appending
# "@group" to the nodeid a worker reports; pytest 9.2 no longer lets a plugin change a nodeid,
# so the groups are silently dropped (pytest-xdist#1386) and every worker started its own
# mlflow server. Here the workers write each grouped test's group to a file the controller
# named, and `--dist loadgroup` gets a scheduler that reads it: xdist's LoadScope scheduling,
# the scope of a test being its group (or the test itself). Groups go out largest first.

_GROUPS_INPUT = "suite_rules_groups"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_GROUPS_INPUT] = str(_groups_folder(node.config))


def _groups_folder(config: pytest.Config) -> Path:
    folder: Path | None = getattr(config, "_suite_rules_groups", None)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="suite-rules-groups-"))
        config._suite_rules_groups = folder  # type: ignore[attr-defined]
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


def pytest_collection_finish(session: pytest.Session) -> None:
    """In a worker: write {nodeid: group} for the grouped tests, under the ids it reports."""
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is None or _GROUPS_INPUT not in workerinput:
        return
    groups = {}
    for item in session.items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        if names:
            groups[item.nodeid] = "group:" + "_".join(names)
    target = Path(workerinput[_GROUPS_INPUT]) / f"{workerinput['workerid']}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(groups))
    os.replace(partial, target)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    folder = _groups_folder(config)

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        groups: dict[str, str] = {}  # noqa: RUF012

        def schedule(self) -> None:
            if self.collection is None:  # the first call: every worker has collected
                self.groups = {}
                for written in sorted(folder.glob("*.json")):
                    self.groups.update(json.loads(written.read_text()))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


# ---------------------------------------------------------------------- third-party costs


def _cheap_sdk_bookkeeping() -> None:
    """Two costs of the real azureml SDK, in this process, that tell a test nothing: applied
    once each module is loaded (the first test to load it pays), never undone.

    - dataprep's telemetry calls `inspect.stack()` for every dataset operation only to put
      three "file, line, function" lines in a log record; `inspect.stack()` reads each frame's
      source and scans all of `sys.modules` per frame, ~0.2 s a call in a pytest process that
      holds thousands of modules (a quarter of the fast set's time). The same lines are taken
      from the frames directly.
    - the SDK's upload queue polls its worker threads every 0.25 s (`TaskQueue.flush`), so each
      `Model.register` under `mock_azureml()` slept once though the mock answers at once.
      Polling every 5 ms keeps the same loop and the same results.
    """
    logs = sys.modules.get("azureml.dataprep.api._loggerfactory")
    if logs is not None and not getattr(logs._LoggerFactory.get_stack, "_suite_rules", False):
        logs._LoggerFactory.get_stack = staticmethod(_dataprep_stack(logs.STACK_FMT))
    queue = sys.modules.get("azureml._common.async_utils.task_queue")
    if queue is not None and not isinstance(queue.time, types.SimpleNamespace):
        queue.time = types.SimpleNamespace(
            time=time.time, sleep=lambda seconds: time.sleep(min(seconds, 0.005))
        )


def _dataprep_stack(line_format: str) -> Any:
    def get_stack(limit: int = 3, start: int = 1) -> str | None:
        """dataprep's `_LoggerFactory.get_stack(limit, start)`, line for line."""
        try:
            frame: types.FrameType | None = sys._getframe(start + 2)
        except ValueError:
            return None
        lines = []
        while frame is not None and (not limit or len(lines) < limit):
            file = frame.f_code.co_filename
            parts = file.rsplit("\\", 4)
            parts = parts if len(parts) > 1 else file.rsplit("/", 4)
            lines.append(line_format % ("|".join(parts[-3:]), frame.f_lineno, frame.f_code.co_name))
            frame = frame.f_back
        return "\n".join(lines)

    get_stack._suite_rules = True  # type: ignore[attr-defined]
    return get_stack


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup() -> None:
    _cheap_sdk_bookkeeping()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call() -> None:
    _cheap_sdk_bookkeeping()


# ---------------------------------------------------------------------- the fast set's check


class _Watch:
    item: pytest.Item | None = None
    seen: list[str] = []  # noqa: RUF012 (one watch per process)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    item = _Watch.item
    if item is None:
        return
    if event in _PROCESS_EVENTS:
        if _started_by_allowed():
            return
        what = f"started a process ({event}: {_short(args)})"
    elif event in _SOCKET_EVENTS and getattr(args[0], "family", None) in _NETWORK_FAMILIES:
        what = f"opened a network socket ({event} {args[1]!r})"
    else:
        return
    message = (
        f"{item.nodeid} is a fast test (its file is under FAST_PATHS in tests/suite_rules.py) "
        f"but it {what}: do the work in this process, or mark the test @pytest.mark.process "
        "(then only the full suite runs it)"
    )
    _Watch.seen.append(message)
    raise ProcessInFastTest(message)


def _started_by_allowed() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") in _ALLOWED_STARTERS:
            return True
        frame = frame.f_back
    return False


def _short(args: tuple[Any, ...]) -> str:
    text = " ".join(map(str, args[:2]))
    return text if len(text) <= 120 else text[:117] + "..."


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    _Watch.item = item if item.get_closest_marker("fast") is not None else None
    _Watch.seen = []
    try:
        yield
    finally:
        _Watch.item = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, Any, None]:
    """A refusal the test caught and swallowed still fails it."""
    outcome = yield
    report = outcome.get_result()
    if _Watch.seen and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n".join(_Watch.seen)
    _Watch.seen = []
