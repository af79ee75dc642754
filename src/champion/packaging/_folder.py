"""The package's output folder: written whole, or not at all.

Why: a build context with half its files (a model without its requirements, a Dockerfile whose
`COPY` names a file that never came) builds an image that fails later and elsewhere. So the
package is written into a hidden folder beside the output and renamed onto it at the end, which
is one step: the output is either absent (or empty) as before, or complete. The output must be
absent or an empty folder, never a link (nothing is written through one) nor a file. Parent
folders the package had to create are removed again when it fails. The package's files are
readable by everyone, as a build context's must be (see `_readable`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from champion.errors import InputError

__all__ = ["staged"]


@contextlib.contextmanager
def staged(output: Path) -> Iterator[Path]:
    """A new empty folder to write the package into; when the block ends without an error it
    becomes `output`. Refuses (InputError, nothing written) an output that is a link, a file or
    a folder that is not empty."""
    output = Path(os.path.abspath(output))
    _refuse_unusable(output)
    created = _make_parents(output.parent)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{output.name}.package-", dir=output.parent))
    except BaseException:
        _remove_folders(created)
        raise
    try:
        yield folder
        _readable(folder)
        try:
            os.rename(folder, output)  # replaces an empty folder, refuses any other
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
            _refuse_unusable(output)  # it changed meanwhile: say how
            raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        _remove_folders(created)
        raise


def _readable(folder: Path) -> None:
    """Folders 0755, files 0644, whatever the umask: Docker's COPY keeps these modes, and the
    image's server runs as a user who owns none of the files and must read every one (under
    umask 077 the model would be root's alone). mkdtemp's own folder is 0700 too."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _refuse_unusable(output: Path) -> None:
    def refuse(what: str) -> InputError:
        return InputError(
            f"--output {output} {what}; nothing was written. Give a new folder, or an empty one",
            field="--output",
            value=str(output),
        )

    if output.is_symlink():
        raise refuse("is a symlink (champion never writes through one)")
    if not output.exists():
        above = output.parent
        while not os.path.lexists(above):
            above = above.parent
        if not above.is_dir():
            raise refuse(f"is inside {above}, which is not a folder")
        return
    if not output.is_dir():
        raise refuse("is not a folder")
    here = Path.cwd()
    if here == output or output in here.parents:  # the rename would leave us in a removed one
        raise refuse("is the current folder or holds it")
    with os.scandir(output) as entries:
        if next(entries, None) is not None:
            raise refuse("is not empty")


def _make_parents(folder: Path) -> list[Path]:
    """`mkdir -p folder`; the folders it made, innermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    made: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            made.insert(0, path)
    except BaseException:
        _remove_folders(made)
        raise
    return made


def _remove_folders(folders: list[Path]) -> None:
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()
