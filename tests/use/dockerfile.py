"""A Dockerfile read as Docker reads the instructions a package uses, and its image's files laid
out under a folder: how the tests check a package's Dockerfile without Docker.

`parse` turns the file into instructions (continuation lines joined, JSON-form arguments
decoded). `Image` follows them the way `docker build` would for the files (COPY into a folder
standing for `/`, ENV, WORKDIR, USER) and says how `docker run` would start the container (CMD,
HEALTHCHECK): the test then runs that command with a virtualenv standing for the image's
Python. An instruction it does not know fails the test rather than being skipped.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Instruction:
    keyword: str
    text: str

    @property
    def words(self) -> list[str]:
        """The arguments: a JSON array as its strings, else split as a shell would."""
        if self.text.startswith("["):
            return list(json.loads(self.text))
        return shlex.split(self.text)


def parse(text: str) -> list[Instruction]:
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, rest = whole.partition(" ")
        found.append(Instruction(keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


@dataclass
class Image:
    """What building the Dockerfile in `context` gives, its files under `root`."""

    context: Path
    root: Path
    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    users: list[str] = field(default_factory=list)
    exposed: list[int] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    installs: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, context: Path, root: Path) -> Image:
        image = cls(context, root)
        for step in parse((context / "Dockerfile").read_text()):
            getattr(image, f"_{step.keyword.lower()}")(step)
        return image

    def host(self, container_path: str) -> Path:
        """Where the image's `container_path` is under `root`."""
        return self.root / PurePosixPath(container_path).relative_to("/")

    def _from(self, step: Instruction) -> None:
        self.base = step.text

    def _env(self, step: Instruction) -> None:
        for word in step.words:
            key, _, value = word.partition("=")
            self.env[key] = value

    def _workdir(self, step: Instruction) -> None:
        self.workdir = step.text
        self.host(step.text).mkdir(parents=True, exist_ok=True)

    def _run(self, step: Instruction) -> None:
        words = step.words
        if words[0] == "useradd":
            self.users.append(words[-1])
        elif words[:2] == ["pip", "install"]:
            self.installs.append(step.text)
        else:
            raise AssertionError(f"RUN {step.text}: not a step these tests know")

    def _copy(self, step: Instruction) -> None:
        source, target = step.words
        assert not source.startswith("/") and ".." not in source, source
        self.copies.append((source, target))
        origin = self.context / source
        assert origin.exists(), f"COPY {source}: not in the build context"
        if origin.is_dir():
            shutil.copytree(origin, self.host(target), dirs_exist_ok=True)
        else:
            destination = self.host(target)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)

    def _user(self, step: Instruction) -> None:
        self.user = step.text

    def _expose(self, step: Instruction) -> None:
        self.exposed.extend(int(word) for word in step.words)

    def _healthcheck(self, step: Instruction) -> None:
        _, _, command = step.text.partition("CMD ")
        assert command, "HEALTHCHECK without CMD"
        self.healthcheck = Instruction("CMD", command.strip()).words

    def _cmd(self, step: Instruction) -> None:
        assert step.text.startswith("["), "CMD in shell form: signals would not reach the server"
        self.cmd = step.words

    def in_image(self, container_path: str) -> bool:
        """Whether some COPY put `container_path` into the image."""
        path = PurePosixPath(container_path)
        for source, target in self.copies:
            if (self.context / source).is_dir():
                if path.is_relative_to(target):
                    relative = path.relative_to(target)
                    if (self.context / source / relative).is_file():
                        return True
            elif PurePosixPath(target) == path:
                return True
        return False
