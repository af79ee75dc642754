"""Which Python distribution a registered model's framework names, and the version of it that is
installed: the fact the gate stores with a version (`framework_version`) and `champion models
package` pins in the deployment's environment.

Why one home: the register step used to fill in the installed scikit-learn version itself, while
`champion register` and `register_file_if_better` stored none, so a scikit-learn model
registered outside a pipeline could not be packaged with the version it was trained with. The
gate now asks here for every registration, and the package reads the same table back.

This module imports nothing of champion's; `importlib.metadata` is imported when a version is
asked for (a registration that wins), never at import.
"""

from __future__ import annotations

import functools
from typing import Final

__all__ = ["DISTRIBUTIONS", "distribution", "framework_version", "installed_version"]

DISTRIBUTIONS: Final = {"ScikitLearn": "scikit-learn"}
"""The Azure ML SDK's framework names (`Model.Framework`) champion can name a distribution for."""


def distribution(framework: str | None) -> str | None:
    """The distribution of `framework` (`ScikitLearn` -> `scikit-learn`), or None."""
    return DISTRIBUTIONS.get(framework or "")


@functools.cache
def installed_version(name: str) -> str | None:
    """The installed version of the distribution `name`, or None when it is not installed.

    Read once per process: importlib.metadata scans every `sys.path` entry and parses the
    METADATA file (about 1 ms), and a process that registers many versions (a notebook, the
    bench's 10,000) would pay it per registration for a version that does not change under it."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def framework_version(framework: str, given: str | None) -> str | None:
    """The framework version to store with a new version: the one given, else the installed
    version of the framework's distribution (the process that registers is the one that
    trained, or shares its environment); None for a framework without a known distribution."""
    if given:
        return given
    name = distribution(framework)
    return installed_version(name) if name else None
