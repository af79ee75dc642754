"""The `champion` console script as a user runs it, with no CHAMPION_* variable of the
developer's leaking in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHAMPION = str(Path(sys.executable).parent / "champion")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env.pop("TF_BUILD", None)
    return {**env, **extra}
