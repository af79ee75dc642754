"""The data a pipeline step reads and is given: folders between steps, datastore paths,
datasets and pipeline parameters. The leaves of `champion.pipeline.spec`, which re-exports them.

Why apart: the spec's checks and its graph (`champion.pipeline._graph`) need these types at run
time (`isinstance`), and the spec's own classes need the checks; the leaves below both keep the
modules free of import cycles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from champion import _env
from champion.errors import InputError
from champion.names import EXPERIMENT_NAME

ParameterValue = str | int | float | bool
"""The default-value types the SDK's PipelineParameter accepts (DataPath/datasets aside)."""


# PipelineData rejects any name where `re.search(r"\W", name)` matches; the same test, so the same
# names pass. A name becomes part of an environment variable, AZUREML_DATAREFERENCE_<name>.
_DATA_REFERENCE_NAME = re.compile(r"\w+")


# Experiment names (azureml.core.Experiment): no `.`, unlike model names.
_EXPERIMENT_NAME = EXPERIMENT_NAME


DATA_REFERENCE_ENV_PREFIX = _env.DATA_REFERENCE_PREFIX


@dataclass(frozen=True)
class DataReference:
    """A folder passed between steps, as `PipelineData(name)`: one step lists it in `outputs`
    and writes into it, later steps list it in `inputs` and read it.

    The name is checked at construction, as PipelineData does, so a typo fails where it is made.
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(
                "PipelineData name cannot be empty", field="DataReference.name", value=self.name
            )
        if not _DATA_REFERENCE_NAME.fullmatch(self.name):
            raise InputError(
                f"PipelineData name: [{self.name}] is not a valid, as it may contain only "
                "letters, digits, and underscores.",
                field="DataReference.name",
                value=self.name,
            )

    @property
    def env_var(self) -> str:
        """Where Azure ML (mount mode) also puts the folder's path in a step's environment."""
        return DATA_REFERENCE_ENV_PREFIX + self.name

    def __str__(self) -> str:
        # What str(PipelineData(name)) gives, the placeholder Azure replaces in argv.
        return "$" + self.env_var


@dataclass(frozen=True)
class DatastoreInput:
    """A file or folder in a datastore that a step reads, as the SDK's `DataReference(datastore,
    data_reference_name=name, path_on_datastore=path, mode=mode)`: its path arrives in argv and
    in `AZUREML_DATAREFERENCE_<name>`. `mount` gives the data where it lives (read it, do not
    write it); `download` gives a copy in the step's own folder."""

    name: str
    path: str = ""
    datastore: str = "workspaceblobstore"
    mode: str = "mount"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _DATA_REFERENCE_NAME.fullmatch(self.name):
            raise InputError(
                f"datastore input name {self.name!r} may contain only letters, digits and "
                "underscores (it becomes an environment variable)",
                field="DatastoreInput.name",
                value=self.name,
            )
        if self.mode not in ("mount", "download"):
            raise InputError(
                f"Invalid mode {self.mode}. A datastore input is read: use mount or download",
                field="DatastoreInput.mode",
                value=self.mode,
            )

    @property
    def env_var(self) -> str:
        return DATA_REFERENCE_ENV_PREFIX + self.name

    def __str__(self) -> str:
        return "$" + self.env_var


@dataclass(frozen=True)
class DatasetInput:
    """A registered dataset a step consumes, as `dataset.as_named_input(name)`: `direct` gives
    the dataset itself (`run.input_datasets[name]`; its saved id in argv and `$name`),
    `download`/`mount` (file datasets) a folder holding its files."""

    name: str
    dataset: str
    version: str = "latest"
    mode: str = "direct"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z_]\w*", self.name):
            raise InputError(
                f"dataset input name {self.name!r} may contain only letters, digits and "
                "underscores, not starting with a digit (it becomes an environment variable)",
                field="DatasetInput.name",
                value=self.name,
            )
        if self.mode not in ("direct", "download", "mount"):
            raise InputError(
                f"Invalid mode '{self.mode}'. Mode can only be mount, download or direct",
                field="DatasetInput.mode",
                value=self.mode,
            )

    def __str__(self) -> str:
        return f"DatasetConsumptionConfig:{self.name}"


@dataclass(frozen=True)
class PipelineParameter:
    """A value chosen per pipeline run (e.g. the build number), with a default.

    Values given at run time are strings (they arrive in argv); the default keeps its type
    because the SDK records int/float/bool parameters with their type on the published pipeline.
    """

    name: str
    default: ParameterValue

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise InputError(
                f"pipeline parameter name {self.name!r} must be a non-empty string without "
                "surrounding whitespace",
                field="PipelineParameter.name",
                value=self.name,
            )
        if not isinstance(self.default, str | int | float | bool):
            raise InputError(
                f"Default value is of unsupported type: {type(self.default).__name__} "
                f"(pipeline parameter {self.name}); use str, int, float or bool",
                field="PipelineParameter.default",
                value=self.default,
            )

    @property
    def default_text(self) -> str:
        """The default as it appears in argv."""
        return str(self.default)
