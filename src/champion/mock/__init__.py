"""The launcher: any command, with the real Azure ML SDKs pointed at the local workspace.

    champion mock -- python pipelines/build_pipeline.py --build-number 42
    champion mock -- pytest tests/
    python -m champion.mock pipelines/build_pipeline.py --build-number 42

Why a launcher: a user's own Azure ML code (a pipeline-definition script, a notebook exported
to a script, a test suite) imports the SDK itself and may start more Python processes; none of
it imports champion. `mock_azureml()` patches the SDK inside one process. The launcher makes
every Python process of the command patch itself, the usual way: a folder put first on
`PYTHONPATH` holds a `sitecustomize.py`, which Python imports at start; with `CHAMPION_MOCK`
set it arms an import hook, and the first import of an SDK activates its fake against
`CHAMPION_WORKSPACE` (an absolute path, so a process started in another folder uses the same
workspace). A process that never imports an SDK pays only for the hook. Any `sitecustomize`
that was there before still runs (it is chained).

Which fakes exist is one table, `FAKES`: an SDK module whose first import activates the fake,
the modules the fake needs (it is skipped when one is missing), and the function that activates
it, `activate(workspace) -> stop`. Adding a fake is one entry.

Inside the fakes nothing leaves the machine: `Workspace.from_config()` and `Workspace.get(...)`
return the local workspace whatever `config.json` says, `Run.get_context()` in a step of a
locally run pipeline is that step's run, and a call the local workspace cannot answer raises
`UnmockedServiceCall`. What each fake answers: `docs/how-to/run-azure-ml-scripts-locally.md`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from champion import _env

__all__ = [
    "FAKES",
    "SITE_DIR",
    "Fake",
    "arm",
    "armed",
    "child_environment",
    "disarm",
]

#: The folder put first on `PYTHONPATH`: it holds `sitecustomize.py` and nothing else.
SITE_DIR = Path(__file__).resolve().parent / "_site"

WORKSPACE_ENV = _env.WORKSPACE
MOCK_ENV = _env.MOCK


@dataclass(frozen=True)
class Fake:
    """One fake of a real SDK: `trigger` is the module whose first import activates it,
    `needs` the modules it needs (missing: it is skipped), `activate` the `module:function`
    that starts it on a workspace folder and returns the function that stops it."""

    name: str
    trigger: str
    needs: tuple[str, ...]
    activate: str

    def available(self) -> bool:
        return all(_importable(module) for module in self.needs)


FAKES: tuple[Fake, ...] = (
    Fake(
        name="azureml-core (SDK v1): mock_azureml()",
        trigger="azureml.core",
        needs=("azureml.core",),
        activate="champion.local.mock:activate",
    ),
    Fake(
        name="azure-ai-ml (SDK v2): mock_azure_ai_ml()",
        trigger="azure.ai.ml",
        needs=("azure.ai.ml", "champion.local.mock_v2"),
        activate="champion.local.mock_v2:activate",
    ),
)


def child_environment(
    workspace: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`env` (default: this process's) for a process that must run under the fakes: the
    launcher's folder first on `PYTHONPATH`, `CHAMPION_MOCK` set, `CHAMPION_WORKSPACE` the
    absolute `workspace`."""
    result = dict(_env.inherited() if env is None else env)
    site = str(SITE_DIR)
    rest = [p for p in result.get("PYTHONPATH", "").split(os.pathsep) if p and p != site]
    result["PYTHONPATH"] = os.pathsep.join([site, *rest])
    result[MOCK_ENV] = "1"
    result[WORKSPACE_ENV] = os.path.abspath(os.fspath(workspace))
    return result


# --------------------------------------------------------------------------- the import hook

_lock = threading.RLock()
_hook: _ActivateOnImport | None = None
_stops: list[Callable[[], None]] = []
_previous_excepthook: Callable[..., Any] | None = None


def arm(fakes: Sequence[Fake] = FAKES) -> None:
    """Activate each fake at the first import of its SDK in this process (at once for an SDK
    already imported), and end the process with one line and exit status 3 when a call that
    needs Azure is not caught (`UnmockedServiceCall`). Idempotent."""
    global _hook
    with _lock:
        if _hook is None:
            _hook = _ActivateOnImport(fakes)
            sys.meta_path.insert(0, _hook)
            _install_excepthook()
        for trigger in [t for t in _hook.pending if t in sys.modules]:
            for fake in _hook.pending.pop(trigger):
                _activate(fake)


def disarm() -> None:
    """No fake activates on import any more in this process (fakes already active stay): for
    a process that starts its own, such as the step shim."""
    global _hook, _previous_excepthook
    with _lock:
        if _hook is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(_hook)
            _hook = None
        if _previous_excepthook is not None:
            sys.excepthook = _previous_excepthook
            _previous_excepthook = None


def armed() -> bool:
    return _hook is not None


class _ActivateOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a trigger module it asks the other finders, and wraps the
    loader so that the fake activates right after the module has been executed."""

    def __init__(self, fakes: Sequence[Fake]) -> None:
        self.pending: dict[str, list[Fake]] = {}
        for fake in fakes:
            self.pending.setdefault(fake.trigger, []).append(fake)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending:
            return None
        with _lock:
            fakes = self.pending.pop(fullname, None)
            if fakes is None:
                return None
            spec = None
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            if spec is None or spec.loader is None:
                return spec
            spec.loader = _ActivatingLoader(spec.loader, fakes)
            return spec


class _ActivatingLoader(importlib.abc.Loader):
    """The module's own loader, which then activates the fakes it triggers."""

    def __init__(self, loader: importlib.abc.Loader, fakes: Sequence[Fake]) -> None:
        self._loader = loader
        self._fakes = tuple(fakes)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for fake in self._fakes:
            _activate(fake)

    def __getattr__(self, name: str) -> Any:  # get_data, get_resource_reader, ...
        return getattr(self._loader, name)


def _activate(fake: Fake) -> None:
    """Start `fake` on `$CHAMPION_WORKSPACE`; a fake whose modules are missing is skipped. A
    workspace the fake cannot open ends the process with the CLI's one line and exit code:
    the command must not go on against Azure, or against nothing."""
    if not fake.available():
        return
    workspace = _env.workspace() or os.path.join(os.getcwd(), _env.DEFAULT_WORKSPACE_FOLDER)
    module_name, _, function = fake.activate.partition(":")
    from champion.errors import ChampionError

    try:
        start = getattr(importlib.import_module(module_name), function)
        _stops.append(start(workspace))
    except ChampionError as exc:
        sys.stderr.write(f"champion: error [{exc.code}]: {exc.message}\n")
        raise SystemExit(exc.exit_code) from None


def _install_excepthook() -> None:
    """An uncaught `UnmockedServiceCall` ends the process as the step shim ends a step: one
    line naming the script's line and the SDK member, exit status 3 (the script asked for
    Azure, which this machine cannot be). Anything else goes to the previous hook."""
    global _previous_excepthook
    previous = _previous_excepthook = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if type(value).__name__ != "UnmockedServiceCall":
            previous(kind, value, tb)
            return
        from champion.mock._script import UNMOCKED_EXIT_CODE, _call_site

        main = getattr(sys.modules.get("__main__"), "__file__", None) or ""
        sys.stderr.write(f"champion mock: {_call_site(value, main)}{value}\n")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(Exception):
            import atexit

            atexit._run_exitfuncs()
        os._exit(UNMOCKED_EXIT_CODE)

    sys.excepthook = hook


def _importable(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


# --------------------------------------------------------------------------- sitecustomize


def chain_sitecustomize() -> None:
    """Run the `sitecustomize` the launcher's own one shadows (a virtualenv's, a
    distribution's), as Python would have run it."""
    site = str(SITE_DIR)
    later = [p for p in sys.path if p and os.path.abspath(p) != site]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", later)
    if spec is None or spec.loader is None or spec.origin == str(SITE_DIR / "sitecustomize.py"):
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def from_environment() -> None:
    """What the launcher's `sitecustomize` does at every interpreter start: arm the fakes when
    `CHAMPION_MOCK` asks for them, then chain to the shadowed `sitecustomize`."""
    if _env.mock():
        arm()
    chain_sitecustomize()
