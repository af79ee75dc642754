"""How `Run.get_context()` opens the step's workspace without importing `Workspace`.

`Workspace` hands out experiments, runs, models, datastores and datasets (`ws.models`,
`ws.get_run(...)`, `ws.datastores`, `ws.datasets`), so its module imports theirs; everything they
need of a workspace they reach through the one they hold. One of them must open a workspace from
nothing: `Run.get_context()` inside a step opens the default one (`$CHAMPION_WORKSPACE`, else
`./.champion`), as `Workspace()` does. Importing `Workspace` for that would close an import cycle,
so `champion.local.workspace` registers the class here when it is imported (`champion.local`
imports it before any run exists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

_opener: Callable[[], Workspace] | None = None


def set_default_opener(opener: Callable[[], Workspace]) -> None:
    """Called once, by `champion.local.workspace`, with `Workspace` itself."""
    global _opener
    _opener = opener


def open_default_workspace() -> Workspace:
    """`Workspace()`: the workspace `$CHAMPION_WORKSPACE` names, else `./.champion`."""
    if _opener is None:  # champion.local imports champion.local.workspace first
        raise RuntimeError("champion.local.workspace was not imported")
    return _opener()
