"""What to say when a name has no champion: there is no such model, or the model has no live
version, or (MLflow) no version holds the champion's alias.

Why one home: `champion serve irs`, `convert-onnx` and the score step each said "model 'irs'
has no champion yet: no version is registered" for a name that was never registered, so a typo
read like an empty model. Each asks `registry.champion(name)` and, on None, raises the error this
module builds; the registry's own versions and decisions tell the cases apart, on the failure
path only (nothing is read while a champion is found).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from champion.errors import InputError
from champion.registry import Registry

__all__ = ["no_champion"]


def no_champion(
    registry: Registry,
    name: str,
    *,
    names: Iterable[str] = (),
    field: str = "name",
    unknown: str = "'champion models list' shows the names",
) -> InputError:
    """The error for `name` when `registry.champion(name)` is None. `names` are the registry's
    model names where listing them is cheap (close ones are suggested); `unknown` says what to
    do about a name the registry has never had."""
    versions = registry.versions(name)
    if versions:
        why = (
            f"model {name!r} has {len(versions)} version(s) but no champion "
            f"({registry.champion_rule} is none of them); pass --version"
        )
    elif registry.decisions(name):
        why = f"model {name!r} has no champion: every version of it was deleted; register one"
    else:
        close = difflib.get_close_matches(name, sorted(set(names)), n=3)
        guess = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        why = f"there is no model {name!r}{guess}; {unknown}"
    return InputError(why, field=field, value=name)
