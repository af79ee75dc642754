"""The exceptions champion raises, and what a step script should exit with for each.

Callers must never parse messages to decide what to do, so every class carries two class
attributes: ``code``, a stable machine-readable string that goes into the decision record and
logs, and ``exit_code``, the process exit status a step script returns for it. Messages are for
people: each names the field and the offending value and says how to fix it.

The exit codes split the tree by who has to act: ``2`` the user (fix an input, a tag, a policy),
``3`` the operator (the workspace or service failed; retrying may help), ``1`` nobody (the build
asked for a rejection to be an error).

Our exception hierarchy::

    * ChampionError                     code=champion_error       exit 3
      + InputError                      code=input_invalid        exit 2
        - MetricError                   code=metric_invalid
        - PolicyError                   code=policy_invalid
        - ModelPathError                code=model_path_invalid
        - UnscoredChampionError         code=champion_unscored
        - ChampionUnknownError          code=champion_unknown
        - ConflictError                 code=conflict
        - TestDataError                 code=test_data_differs
        - NotAWorkspaceError            code=not_a_workspace
        - PermissionDeniedError         code=permission_denied
      + InfrastructureError             code=infrastructure       exit 3
        - WorkspaceStoreError           code=workspace_store
        - RegisteredThenFailedError     code=failed_after_registering
      + RejectedError                   code=rejected             exit 1
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shlex
from collections.abc import Iterator
from typing import ClassVar

__all__ = [
    "ChampionError",
    "ChampionUnknownError",
    "ConflictError",
    "InfrastructureError",
    "InputError",
    "MetricError",
    "ModelPathError",
    "NotAWorkspaceError",
    "PermissionDeniedError",
    "PolicyError",
    "RegisteredThenFailedError",
    "RejectedError",
    "TestDataError",
    "UnscoredChampionError",
    "WorkspaceStoreError",
    "from_environment",
    "naming",
]


class ChampionError(Exception):
    """Base of every champion error, so a step can catch ours and let real bugs surface."""

    code: ClassVar[str] = "champion_error"
    exit_code: ClassVar[int] = 3

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the decision record; the value is a repr so any object fits."""
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "value": None if self.value is None else repr(self.value),
        }


class InputError(ChampionError):
    """Raised for bad input from the user, a tag or a property: the user must fix it, not retry."""

    code: ClassVar[str] = "input_invalid"
    exit_code: ClassVar[int] = 2


class MetricError(InputError):
    """Raised when a metric is missing, not a finite number or out of range: never default to 0."""

    code: ClassVar[str] = "metric_invalid"


class PolicyError(InputError):
    """Raised for an inconsistent policy, so a typo cannot silently loosen the gate."""

    code: ClassVar[str] = "policy_invalid"


class ModelPathError(InputError):
    """Raised when the model artifact path is missing, empty or not allowed: nothing to register."""

    code: ClassVar[str] = "model_path_invalid"


class UnscoredChampionError(InputError):
    """Raised when the champion has no usable metric; failing closed beats replacing it blindly."""

    code: ClassVar[str] = "champion_unscored"


class ChampionUnknownError(InputError):
    """Raised when a model has versions but the registry names none of them the champion (on
    MLflow: no version holds the alias, e.g. after its holder was deleted). Never "no
    champion": that would let any challenger in as the first."""

    code: ClassVar[str] = "champion_unknown"


class ConflictError(InputError):
    """Raised when two sources disagree (e.g. same artifact name, other digest): a human decides."""

    code: ClassVar[str] = "conflict"


class TestDataError(InputError):
    """Raised when the champion's metrics were measured on other test data than the
    challenger's: the numbers are not comparable, so nothing is decided or registered."""

    __test__ = False  # not a pytest test class, whatever its name says
    code: ClassVar[str] = "test_data_differs"


class NotAWorkspaceError(InputError):
    """Raised when a path that should hold a local workspace does not: a mistyped path must never
    become a fresh, empty registry in which every challenger is 'first'."""

    code: ClassVar[str] = "not_a_workspace"

    def __init__(self, path: str | os.PathLike[str], detail: str = "") -> None:
        shown = str(path)
        super().__init__(
            f"not a champion workspace: {shown}{detail}; create one with "
            f"'champion init {shlex.quote(shown)}'",
            field="workspace",
            value=shown,
        )


class PermissionDeniedError(InputError):
    """Raised when the user may not read or write a path a command needs (its owner or its
    mode): theirs to change or to work around with a copy, and never reported as damage."""

    code: ClassVar[str] = "permission_denied"


class InfrastructureError(ChampionError):
    """Raised when the workspace, registry or service fails; distinct so callers may retry it."""

    code: ClassVar[str] = "infrastructure"
    exit_code: ClassVar[int] = 3


class WorkspaceStoreError(InfrastructureError):
    """Raised when the local workspace's files are unusable, so corruption is never read as data."""

    code: ClassVar[str] = "workspace_store"


class RegisteredThenFailedError(InfrastructureError):
    """Raised when a call failed after a version was registered and made the champion: the
    registry has changed, so the message says how it stands, and `version` names the version
    (the gate still records the decision that registered it)."""

    code: ClassVar[str] = "failed_after_registering"

    def __init__(
        self, message: str, *, version: int, field: str | None = None, value: object = None
    ) -> None:
        super().__init__(message, field=field, value=value)
        self.version = version


class RejectedError(ChampionError):
    """Raised only for callers that asked a rejection to fail the build; by default it exits 0."""

    code: ClassVar[str] = "rejected"
    exit_code: ClassVar[int] = 1


# errno -> (who acts: 2 the user, 3 the machine; what to do). Anything else is the machine's.
_OS_ADVICE: dict[int, tuple[int, str]] = {
    errno.ENOSPC: (3, "the disk is full; free space there and retry"),
    errno.EDQUOT: (3, "the disk quota is exhausted; free space there and retry"),
    errno.EROFS: (3, "the file system is read-only; use a writable location"),
    errno.EIO: (3, "the disk reported an I/O error; check the disk, then run 'champion verify'"),
    errno.EACCES: (2, "permission denied; choose a location you may write to, or fix its mode"),
    errno.EPERM: (2, "operation not permitted; choose a location you may write to"),
    errno.EEXIST: (2, "it already exists; remove it or choose another path"),
    errno.ENOTDIR: (2, "a part of this path is a file, not a folder; choose a folder"),
    errno.EISDIR: (2, "it is a folder where a file was expected; choose another path"),
    errno.ENOENT: (2, "it does not exist; check the path"),
    errno.ENAMETOOLONG: (2, "the path is too long; choose a shorter one"),
    errno.ELOOP: (2, "it is a symlink; champion never writes through one"),
}


_OPERATION = "champion_operation"  # the attribute `naming` sets on an OSError


@contextlib.contextmanager
def naming(path: str | os.PathLike[str] | None, operation: str) -> Iterator[None]:
    """Name the file and what champion was doing with it in any OS error raised inside.

    Why: the OS names no file when a write to an open file fails (ENOSPC from write() or
    fsync(), EIO on close), and its name for an open() is that of a temp file the user never
    asked for; `from_environment` then has nothing to say but the errno. `operation` is a
    phrase the path completes ("staging a blob at", "writing the datastore file"); the
    innermost `naming` wins (so a reader inside a writer's block claims its own errors; with
    `path` None it names only what it was doing), a file the OS did name is kept, and an
    OSError that carries no errno (a message raised by Python code) is left as it is."""
    try:
        yield
    except OSError as exc:
        if exc.errno is not None and getattr(exc, _OPERATION, None) is None:
            if exc.filename is None and path is not None:
                exc.filename = os.fspath(path)
            setattr(exc, _OPERATION, operation)
        raise


def from_environment(exc: BaseException) -> ChampionError | None:
    """The one clear error for an OS or SQLite failure, or a missing extra, that reached a
    command's edge.

    Why here: the CLI and the step must turn the same `OSError` into the same line and exit code
    (2 when the user named a bad path, 3 when the machine failed), never a traceback. The line
    names the path and, where `naming` said it, what champion was doing; for an OSError no one
    named, the file being written when it was raised. Returns None for anything else, which the
    caller lets surface as the bug it is."""
    if isinstance(exc, ChampionError):
        return exc
    if isinstance(exc, OSError):
        code, advice = _OS_ADVICE.get(exc.errno or -1, (3, "the operating system refused"))
        operation = getattr(exc, _OPERATION, None)
        where = exc.filename if exc.filename is not None else _written_file(exc)
        if where is not None and operation is None and exc.filename is None:
            operation = "writing"
        if where is None:
            where = _raised_where(exc)
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        text = exc.strerror or str(exc)
        cls = InputError if code == 2 else InfrastructureError
        said = f"{operation} {where}" if operation else str(where)
        return cls(f"{said}: {text}; {advice}", field="path", value=str(where))
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return _missing_extra(exc)
    if type(exc).__module__ == "sqlite3" and isinstance(exc, Exception):
        return WorkspaceStoreError(
            f"the workspace database failed: {exc}; run 'champion verify' and restore the "
            "workspace from a copy if it reports damage",
            field="workspace",
            value=None,
        )
    return None


def _missing_extra(exc: ModuleNotFoundError) -> ChampionError | None:
    """A module of an optional extra that champion itself imported and did not find (mlflow for
    `--backend mlflow`): the installation lacks a part (exit 3), and the line says how to add
    it. Anything else (a user's script missing a package, a broken core install) stays as it
    is."""
    from champion import _extras

    extra = _extras.extra_of(exc.name or "")
    if extra is None or not _extras.imported_by_champion(exc.__traceback__):
        return None
    message = _extras.missing_message(extra, detail=f"no module named {exc.name!r}")
    return InfrastructureError(message, field="extra", value=extra)


def _written_file(exc: BaseException) -> str | None:
    """The file a failed write went to, when the OS did not name it: the innermost frame of the
    traceback holding a file object open for writing (a `with open(...)` block, pandas' own
    handle), whose name is the path it was opened with."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            name, mode = getattr(value, "name", None), getattr(value, "mode", None)
            if (
                isinstance(value, io.IOBase)
                and isinstance(name, str)
                and isinstance(mode, str)
                and any(flag in mode for flag in "wax+")
            ):
                return name
    return None


def _raised_where(exc: BaseException) -> str:
    """For an OSError about no file at all (a socket, a pipe): where in champion it came from."""
    tb = exc.__traceback__
    where = "champion"
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith("champion"):
            where = f"{module}.{tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return f"(no file named by the OS; in {where})"
