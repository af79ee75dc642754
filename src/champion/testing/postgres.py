"""A real PostgreSQL server for tests: a throw-away cluster in a temp folder, on a free loopback
port, run as an unprivileged user, and always stopped.

    from champion.testing.mlflow import mlflow_server
    from champion.testing.postgres import postgres_server

    with postgres_server() as pg:                            # initdb + postgres, ~3 s
        uri = pg.create_database("mlflow")                   # postgresql+psycopg2://champion@...
        with mlflow_server(tmp_path / "mlflow", backend_store_uri=uri) as server:
            ...                                              # MLFLOW_TRACKING_URI=server.url

Why a real server: a team's MLflow tracking server runs on PostgreSQL, not SQLite, and what
matters under concurrent gates (row locks, READ COMMITTED, unique-key violations retried by
MLflow's store) is PostgreSQL's own behaviour, which no SQLite file reproduces.

How: the Debian package's server binaries (`initdb`, `postgres`, `pg_ctl`, `pg_isready`,
`createdb`; found on PATH or under /usr/lib/postgresql/<major>/bin). PostgreSQL refuses to run
as root, and CI runs as root: there the cluster's folder is created in the system temp folder
(a pytest `tmp_path` is private to root) and handed to `nobody`, and every server process runs
as that user. The server is started directly (not through `pg_ctl start`), in a process group
of its own, so stopping is an immediate shutdown (SIGQUIT, as `pg_ctl stop -m immediate`) and,
should that fail, a SIGKILL of the whole group: a failed test leaves no server behind.
Authentication is `trust` on 127.0.0.1 only; the cluster is deleted at the end.

`durable=False` (the default for tests) turns fsync off: the data is thrown away anyway. The
bench keeps it on, as a real server has it.

Importing this module imports nothing beyond the standard library.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from champion import _env

__all__ = ["PostgresMissing", "PostgresServer", "find_binaries", "postgres_server"]

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SUPERUSER = "champion"
UNPRIVILEGED = "nobody"
"""The user the server runs as when this process is root (PostgreSQL refuses root)."""
INSTALL_HINT = (
    "install PostgreSQL's server (Debian/Ubuntu: 'apt-get install -y postgresql'; "
    "tools/install_postgresql.sh does it, and .ci/run calls it)"
)


class PostgresMissing(RuntimeError):
    """PostgreSQL's server binaries are not installed on this machine."""


def find_binaries() -> Path:
    """The folder holding `initdb`, `postgres` and `pg_ctl`: the one `initdb` on PATH resolves
    to, else the newest /usr/lib/postgresql/<major>/bin (Debian keeps them off PATH)."""
    found = shutil.which("initdb")
    if found is not None:
        folder = Path(found).resolve().parent
        if (folder / "postgres").exists() and (folder / "pg_ctl").exists():
            return folder
    majors = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if majors:
        return majors[-1].parent
    raise PostgresMissing(
        f"PostgreSQL's initdb was not found on PATH or in /usr/lib; {INSTALL_HINT}"
    )


@dataclass
class PostgresServer:
    """A running PostgreSQL server on 127.0.0.1: its port, its data folder, its binaries."""

    port: int
    folder: Path
    binaries: Path
    process: subprocess.Popen[bytes]
    uid: int | None
    """The user the server runs as (None: this process's own)."""

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for `database` through psycopg2 (the `[team]` extra's driver;
        SQLAlchemy 2.1's bare `postgresql://` means psycopg 3), trust authentication."""
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the empty database `name`; returns its URL."""
        _run(
            [
                str(self.binaries / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                name,
            ],
            uid=self.uid,
            cwd=self.folder,
        )
        return self.url(name)

    def stop(self) -> None:
        """An immediate shutdown (SIGQUIT to the postmaster: what `pg_ctl stop -m immediate`
        sends, without starting a process, so a session fixture may stop it in any test's
        teardown); then, if anything of it is left, SIGKILL its whole process group."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGQUIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_S)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # a backend that outlived its postmaster


@contextlib.contextmanager
def postgres_server(*, durable: bool = False, attempts: int = 3) -> Iterator[PostgresServer]:
    """Create a cluster in a new temp folder, start its server on a free loopback port, wait
    until it accepts connections, yield it; stop it and delete the folder at the end, also when
    the block raises. `attempts`: how many ports to try (another process may take the free port
    between the probe and the server's bind)."""
    from champion.testing.mlflow import free_port

    binaries = find_binaries()
    uid = _unprivileged_uid()
    folder = Path(tempfile.mkdtemp(prefix="champion-pg-"))
    try:
        if uid is not None:
            os.chown(folder, uid, -1)
        options = ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        _run(
            [str(binaries / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER, *options],
            uid=uid,
            cwd=folder,
            timeout=120,
        )
        for attempt in range(attempts):
            server = _start(binaries, folder, free_port(), uid, durable=durable)
            try:
                _wait_ready(server)
            except _PortTaken:
                server.stop()
                if attempt + 1 == attempts:
                    raise
                continue
            except BaseException:
                server.stop()
                raise
            try:
                yield server
            finally:
                server.stop()
            return
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _PortTaken(RuntimeError):
    pass


def _start(
    binaries: Path, folder: Path, port: int, uid: int | None, *, durable: bool
) -> PostgresServer:
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "",  # TCP only: no socket file in a shared folder
        "max_connections": "200",
        "shared_buffers": "32MB",
    }
    if not durable:
        settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    command = [str(binaries / "postgres"), "-D", str(folder / "data")]
    for key, value in settings.items():
        command += ["-c", f"{key}={value}"]
    log = open(folder / "server.log", "ab")  # handed to the child, closed below
    try:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            env=_server_env(),
            start_new_session=True,  # its own process group: killed whole in stop()
            user=uid,
            group=_group(uid),
            extra_groups=None if uid is None else [],
        )
    finally:
        log.close()
    return PostgresServer(port, folder, binaries, process, uid)


def _wait_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    probe = [str(server.binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(server.port)]
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            if "Address already in use" in tail:
                raise _PortTaken(tail)
            raise RuntimeError(f"postgres exited ({server.process.returncode}):\n{tail}")
        answer = subprocess.run(probe, capture_output=True, timeout=30, check=False)
        if answer.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"postgres on port {server.port} not ready after {START_TIMEOUT_S} s")


def _unprivileged_uid() -> int | None:
    """`nobody`'s uid when this process is root (PostgreSQL refuses root), else None."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(UNPRIVILEGED).pw_uid


def _group(uid: int | None) -> int | None:
    return None if uid is None else pwd.getpwuid(uid).pw_gid


def _server_env() -> dict[str, str]:
    """The server's environment: this one's, with a locale every machine has and no HOME of
    root's (the server's user cannot read it)."""
    env = {**_env.inherited(), "LC_ALL": "C", "LANG": "C"}
    env.pop("PGDATA", None)
    env["HOME"] = "/tmp"
    return env


def _run(
    command: list[str], *, uid: int | None, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    answer = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_server_env(),
        timeout=timeout,
        check=False,
        user=uid,
        group=_group(uid),
        extra_groups=None if uid is None else [],
    )
    if answer.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({answer.returncode}): "
            f"{(answer.stderr or answer.stdout).strip()[-2000:]}"
        )
    return answer
