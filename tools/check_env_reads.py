"""Two layer rules import-linter cannot see, checked on the source by `make lint`.

1. The environment is read only in `src/champion/_env.py` (its one home, with defaults and
   why), the CLI, and the packaged step modules' `main()` (the process's edge). Anywhere else an
   `os.environ` / `os.getenv` read is an error: a variable read in four modules drifts into four
   meanings. Setting a variable for a child process (`os.environ[name] = value`) is allowed.
2. Nothing outside `src/champion/local/` touches a local workspace's store (`._store`): the
   store is the local service's inside; the layers above use `champion.local.access`.

Usage: python tools/check_env_reads.py [ROOT]   (default: src/champion next to this folder)
Exit 0 when clean, 1 with one line per finding (file:line: what, and what to do).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ENV_HOME = "_env.py"
ENV_EDGES = ("cli.py", "cli/")  # the command line is the process's edge
STEP_MODULES = "steps/"  # ... and so is a packaged step's main()
STORE_OWNER = "local/"


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("environ", "environb", "getenv", "getenvb")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


class _Finder(ast.NodeVisitor):
    def __init__(self, relative: str) -> None:
        self.relative = relative
        self.functions: list[str] = []
        self.writes: set[int] = set()
        self.findings: list[tuple[int, str]] = []

    def env_allowed(self) -> bool:
        if self.relative == ENV_HOME or self.relative.startswith(ENV_EDGES):
            return True
        return self.relative.startswith(STEP_MODULES) and "main" in self.functions

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del) and _is_os_environ(node.value):
            self.writes.add(id(node.value))  # setting a variable for a child: not a read
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_os_environ(node) and id(node) not in self.writes and not self.env_allowed():
            self.findings.append(
                (
                    node.lineno,
                    f"reads the environment (os.{node.attr}); add the variable to "
                    "champion._env (name, default, why) and call it from there",
                )
            )
        if node.attr == "_store" and not self.relative.startswith(STORE_OWNER):
            self.findings.append(
                (
                    node.lineno,
                    "touches a local workspace's store (._store); use champion.local.access",
                )
            )
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        names = {alias.name for alias in node.names}
        if node.module == "os" and names & {"environ", "environb", "getenv", "getenvb"}:
            if not self.env_allowed():
                self.findings.append(
                    (node.lineno, "imports os.environ/getenv; read it through champion._env")
                )
        self.generic_visit(node)


def check(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        finder = _Finder(relative)
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        problems += [f"{path}:{line}: {what}" for line, what in finder.findings]
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "src/champion"
    problems = check(root)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} layer rule(s) broken (see tools/check_env_reads.py)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
