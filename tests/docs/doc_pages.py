"""The documentation's pages and their code blocks, read the way the docs tests run them.

A page is `README.md` or a Markdown file under `docs/`. A fenced block may be preceded, on the
line right above it, by a directive: `<!-- docs: exit N -->`, `<!-- docs: run by TEST -->` or
`<!-- docs: skip REASON -->` (docs/development.md says what each means).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUN = ("sh", "bash", "python")
"""The languages whose blocks are run; others (toml, yaml, text, no language) are not."""

_FENCE = re.compile(r"^```([\w+-]*)[^\n`]*$")
_DIRECTIVE = re.compile(r"^<!-- docs: (.*?) -->$")
_FILE = re.compile(r"^# ([\w][\w./-]*\.\w+)$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    directive: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def file(self) -> str | None:
        """The path a block whose first line is `# PATH` is written to (a step, a test, a
        policy file), else None."""
        first = self.text.split("\n", 1)[0]
        found = _FILE.match(first)
        return found.group(1) if found else None

    @property
    def runs(self) -> bool:
        return self.lang in RUN and self.file is None


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of `page`, in order, with the directive above it."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{page.relative_to(ROOT)}:{i + 1}: a code block never closed"
        above = _DIRECTIVE.match(lines[i - 1]) if i > 0 else None
        text = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Block(page, i + 1, opening.group(1), text, above and above.group(1)))
        i = end + 1
    return found


def directives(page: Path) -> list[tuple[int, str]]:
    """Every directive of `page` with its line, whether or not a block follows it."""
    return [
        (n, found.group(1))
        for n, line in enumerate(page.read_text().splitlines(), start=1)
        if (found := _DIRECTIVE.match(line))
    ]


def run_by(test: str, page: Path) -> list[Block]:
    """The blocks of `page` whose directive says `test` runs them."""
    return [b for b in blocks(page) if b.directive == f"run by tests/docs/{test}"]


def commands(block: Block) -> list[str]:
    """A shell block's command lines: comments and blank lines dropped, a trailing comment cut."""
    found = []
    for line in block.text.splitlines():
        command = re.split(r"\s+#", line, maxsplit=1)[0].strip()
        if command and not command.startswith("#"):
            found.append(command)
    return found
