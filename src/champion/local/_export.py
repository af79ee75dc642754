"""Writing a model's files into a user's folder: never through a symlink, all or nothing.

Why apart from the store: these are the file-system rules of a download (folders opened without
following links, relative to open folder descriptors; a hard link that fails on an existing name;
a rename that replaces atomically; undo on failure), which have nothing to do with SQLite. The
store decides what to write and verifies the bytes (`Store.export_files`); this module puts them
in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from champion.errors import InputError


class TargetExists(Exception):
    """A download would replace a file and the caller did not allow it; each face says how to
    allow it in its own words (`exist_ok=True`, `--exist-ok`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} already exists")


DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}


def _lexists(name: str, folder_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def make_dirs(target: Path) -> list[Path]:
    """`mkdir -p target`; the folders it created, outermost first (to remove on failure)."""
    missing = []
    current = target
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created = []
    for folder in reversed(missing):
        folder.mkdir()
        created.append(folder)
    if not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "the download target is not a folder", str(target))
    return created


def _symlink_refused(target: Path, relative: str) -> InputError:
    where = target / relative
    return InputError(
        f"{where} is a symlink; champion never writes through one. Remove it or choose "
        "another target folder.",
        field="target",
        value=str(where),
    )


def preflight(root_fd: int, target: Path, relative: str, exist_ok: bool) -> None:
    """Refuse, before anything is written, what the move would trip over: a symlink anywhere
    on the way, a file where the model has a folder, a folder or (without `exist_ok`) a file
    where it has a file."""
    parts = relative.split("/")
    fd = os.dup(root_fd)
    try:
        for depth, part in enumerate(parts):
            shown = "/".join(parts[: depth + 1])
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            if stat.S_ISLNK(info.st_mode):
                raise _symlink_refused(target, shown)
            if depth == len(parts) - 1:
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(
                        errno.EISDIR, "a folder is where a model file goes", str(target / shown)
                    )
                if not exist_ok:
                    raise TargetExists(str(target / shown))
                return
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectoryError(
                    errno.ENOTDIR, "a file is where the model has a folder", str(target / shown)
                )
            inner = os.open(part, DIR_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def _open_parent(root_fd: int, target: Path, relative: str, made: list[str]) -> int:
    """The folder `relative` goes in, opened without following links, created as needed."""
    parts = relative.split("/")[:-1]
    fd = os.dup(root_fd)
    try:
        for depth, part in enumerate(parts):
            try:
                os.mkdir(part, 0o777, dir_fd=fd)
                made.append("/".join(parts[: depth + 1]))
            except FileExistsError:
                pass
            try:
                inner = os.open(part, DIR_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _symlink_refused(target, "/".join(parts[: depth + 1])) from None
                raise
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def move_into_place(
    root_fd: int, temp_fd: int, target: Path, names: Sequence[str], exist_ok: bool
) -> None:
    """Each verified file from the temp folder to its place: a hard link that fails if the
    name is taken (without `exist_ok`), or a rename over it (with). On failure, what was moved
    is taken back and replaced files are restored from their backups."""
    undo: list[tuple[int, str, str | None]] = []  # (folder fd, name, backup name in temp)
    opened: list[int] = []
    made: list[str] = []
    try:
        for index, relative in enumerate(names):
            folder = _open_parent(root_fd, target, relative, made)
            opened.append(folder)
            leaf, staged = relative.rsplit("/", 1)[-1], str(index)
            if exist_ok:
                backup: str | None = f"{index}.old"
                try:
                    os.link(leaf, f"{index}.old", src_dir_fd=folder, dst_dir_fd=temp_fd,
                            follow_symlinks=False)  # fmt: skip
                except FileNotFoundError:
                    backup = None
                except OSError as exc:  # no hard links here: replace without a backup
                    if exc.errno not in _NO_LINKS:
                        raise
                    backup = None
                os.replace(staged, leaf, src_dir_fd=temp_fd, dst_dir_fd=folder)
            else:
                backup = None
                try:
                    os.link(staged, leaf, src_dir_fd=temp_fd, dst_dir_fd=folder,
                            follow_symlinks=False)  # fmt: skip
                except FileExistsError:
                    raise TargetExists(str(target / relative)) from None
                except OSError as exc:  # no hard links here: check, then rename
                    if exc.errno not in _NO_LINKS:
                        raise
                    if _lexists(leaf, folder):
                        raise TargetExists(str(target / relative)) from None
                    os.replace(staged, leaf, src_dir_fd=temp_fd, dst_dir_fd=folder)
            undo.append((folder, leaf, backup))
            with contextlib.suppress(OSError):
                os.fsync(folder)
    except BaseException:
        for folder, leaf, previous in reversed(undo):
            with contextlib.suppress(OSError):
                if previous is not None:
                    os.replace(previous, leaf, src_dir_fd=temp_fd, dst_dir_fd=folder)
                else:
                    os.unlink(leaf, dir_fd=folder)
        for relative in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(relative, dir_fd=root_fd)
        raise
    finally:
        for folder in opened:
            os.close(folder)
