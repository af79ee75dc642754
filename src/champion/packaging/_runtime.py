"""What the packaged entry script runs on: the part of champion it imports, copied beside it, and
the distributions to pin, each with where its version comes from.

Why copy champion's modules instead of installing champion: the deployment's environment is made
from `requirements.txt` alone, and champion (with azureml-core behind it) is neither on an
inference image nor needed there. The entry script is `champion serve`'s own
(`serving/score_sklearn.py`), so a package answers exactly as `champion serve` does; what it
imports of champion (`scoring`, `errors`, `_env` today) is found by reading the imports of the
script and of every champion module it reaches, including imports inside functions, so a new
import in `champion.scoring` travels into the package without anyone updating a list. The
third-party modules met on the way become pins, at the versions installed here.

Where each pin's version comes from:
- the framework's distribution (scikit-learn): the version stored on the model
  (`framework_version`), i.e. what it was trained with;
- what a pickle of that framework is made of (numpy, scipy) and what the entry script imports
  (joblib, pandas, Azure ML's inference server): the versions installed here, where champion
  loads and scores the model. That is honest only when this environment has the model's
  framework version too, so a mismatch is refused rather than pinned into a guess.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import champion
from champion import _frameworks
from champion.errors import InfrastructureError, InputError

__all__ = ["COMPANIONS", "Pin", "Runtime", "entry_runtime", "pins_for"]

ROOT = Path(champion.__file__).resolve().parent
COMPANIONS: dict[str, tuple[str, ...]] = {"scikit-learn": ("numpy", "scipy")}
"""What a model of each framework distribution is made of when pickled: pinned with it."""

FROM_MODEL = "model"
FROM_HERE = "environment"


@dataclass(frozen=True)
class Pin:
    """One line of requirements.txt: `name==version`, and where the version was read."""

    name: str
    version: str
    source: str

    @property
    def line(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Runtime:
    """The entry script, champion's modules it imports (`champion/x.py` -> source file) and the
    top-level third-party modules they import."""

    entry_script: Path
    modules: dict[str, Path]
    imports: frozenset[str]


def entry_runtime(entry_script: Path) -> Runtime:
    """Everything `entry_script` imports of champion, followed module by module."""
    modules: dict[str, Path] = {}
    imports: set[str] = set()
    todo = [entry_script]
    while todo:
        source = todo.pop()
        for module, attribute in _imported(source):
            top = module.split(".")[0]
            if top != "champion":
                if top not in sys.stdlib_module_names and top != "__future__":
                    imports.add(top)
                continue
            for file in _files_of(source, module, attribute):
                relative = file.relative_to(ROOT.parent).as_posix()
                if relative not in modules:
                    modules[relative] = file
                    todo.append(file)
    return Runtime(entry_script, dict(sorted(modules.items())), frozenset(imports))


def _imported(source: Path) -> Iterator[tuple[str, str | None]]:
    """`(module, name)` for every absolute import in `source`, at any depth, except under
    TYPE_CHECKING: `import a.b` is `("a.b", None)`, `from a import b` is `("a", "b")` (b may be
    a module or a name in a)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                raise RuntimeError(f"{source}: a relative import cannot be followed")
            module = node.module
            yield from ((module, alias.name) for alias in node.names)


def _files_of(source: Path, module: str, name: str | None) -> list[Path]:
    """The files of champion's modules one import needs copied. A package's `__init__` is not
    among them (the package writes an empty one), so a name taken from one is refused."""
    file = _module_file(module)
    sub = _module_file(f"{module}.{name}") if name else None
    if file is None or (name and sub is None and file.name == "__init__.py"):
        shown = f"from {module} import {name}" if name else f"import {module}"
        raise RuntimeError(f"{source}: '{shown}' names no module of champion to copy")
    return [f for f in (file, sub) if f is not None and f.name != "__init__.py"]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _module_file(name: str) -> Path | None:
    """The source file of champion's module `name`, or None when no such module exists."""
    parts = name.split(".")[1:]
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def pins_for(
    model_id: str, framework: str | None, trained_with: str | None, runtime: Runtime
) -> list[Pin]:
    """The pins of a package of `model_id`: its framework's distribution at the version it was
    trained with, then its companions and the entry script's imports at the versions installed
    here. Refuses a framework champion cannot pin (InputError), and an environment whose
    framework version is not the model's (InputError: the other pins would be a guess)."""
    name = _frameworks.distribution(framework)
    if name is None:
        raise InputError(
            f"{model_id} is registered with framework {framework or 'none'}; champion can pin "
            f"the environment of {', '.join(sorted(_frameworks.DISTRIBUTIONS))} models only "
            "(register a scikit-learn model with --model-framework ScikitLearn)",
            field="framework",
            value=framework,
        )
    if not trained_with:
        raise InputError(
            f"{model_id} is a {framework} model registered without its {name} version "
            "(framework_version), so the version it was trained with cannot be pinned; "
            f"register it again (the register step and 'champion register --model-framework "
            f"{framework}' store the installed {name} version)",
            field="framework_version",
            value=None,
        )
    here = _frameworks.installed_version(name)
    if here != trained_with:
        raise InputError(
            f"{model_id} was trained with {name} {trained_with}, and this environment has "
            f"{here or 'no ' + name}: the package pins numpy, pandas and the rest at the "
            f"versions installed here, which are known to work with {here} only; package it "
            f"from an environment with {name}=={trained_with} "
            f"(pip install '{name}=={trained_with}')",
            field="framework_version",
            value=trained_with,
        )
    pins = [Pin(name, trained_with, FROM_MODEL)]
    others = set(COMPANIONS.get(name, ())) | {_distribution_of(m) for m in runtime.imports}
    for other in sorted(others - {name}):
        version = _frameworks.installed_version(other)
        if version is None:
            raise _not_installed(other)
        pins.append(Pin(other, version, FROM_HERE))
    return pins


def _distribution_of(module: str) -> str:
    """The installed distribution that provides the top-level `module`: the one of the same
    name when it holds the module (a direct lookup), else the one the index of every installed
    distribution names (slower: it reads them all)."""
    from importlib import metadata

    try:
        same = metadata.distribution(module)
    except metadata.PackageNotFoundError:
        same = None
    if same is not None and any(f.parts[0] in (module, f"{module}.py") for f in same.files or ()):
        return str(same.metadata["Name"])
    found = metadata.packages_distributions().get(module)
    if not found:
        raise _not_installed(module)
    return found[0]


def _not_installed(what: str) -> InfrastructureError:
    return InfrastructureError(
        f"the packaged entry script needs {what}, which is not installed here, so its version "
        "cannot be pinned; install champion's [serve] extra (pip install 'champion[serve]'), "
        "which brings everything the entry script imports",
        field="environment",
        value=what,
    )
