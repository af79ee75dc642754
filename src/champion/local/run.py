"""`Run` of the local workspace: the members of `azureml.core.Run` that step code uses.

Why a full fake and not the SDK's `_OfflineRun`: the offline run only prints, and has no `parent`,
`get_tags` or `register_model`, so a register step cannot be exercised with it. This class keeps
the SDK's names, signatures, caching (`tags` is the cached copy, `get_tags()` reads again),
conversions (`str()` of tag values) and exceptions, over the shared store.

`Experiment` is here too: an experiment hands out runs and a run names its experiment. The run is
made of parts: status, tags and properties (`_run_updates.py`), metrics (`_run_metrics.py`) and
files (`_run_files.py`); identity, lookups, children and registration are here.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from champion import _env
from champion.local import _sdk, _traps
from champion.local._default_workspace import open_default_workspace
from champion.local._run_files import RunFiles
from champion.local._run_filters import matches, query_filter
from champion.local._run_lineage import input_dataset_entries
from champion.local._run_metrics import RunMetrics
from champion.local._run_updates import RunUpdates
from champion.local.dataset import Dataset
from champion.local.model import Model
from champion.local.store import RUN_ORIGIN, RunRecord
from champion.names import PIPELINE_RUN_TYPE

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

RUN_ID_ENV = _env.RUN_ID
DATASET_INPUTS_ENV = _env.DATASET_INPUTS


class Experiment:
    """A named group of runs; created on first use, as `Experiment(ws, name)` does over REST."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        _skip_name_validation: bool = False,
        _id: str | None = None,
        _archived_time: str | None = None,
        _create_in_cloud: bool = True,
        _experiment_dto: Any = None,
        **kwargs: Any,
    ) -> None:
        if not _skip_name_validation:
            _sdk.validate_experiment_name(name)
        self._workspace = workspace
        self._name = name
        self._id = _id or workspace._store.get_or_create_experiment(name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def id(self) -> str:
        return self._id

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @property
    def workspace_object(self) -> Workspace:
        return self._workspace

    @property
    def archived_time(self) -> None:
        return None

    def start_logging(self, *args: Any, **kwargs: Any) -> Run:
        """Start an interactive run. `display_name=` and `run_id=` are honoured; the SDK's
        snapshot arguments are accepted and ignored (there is no snapshot service locally)."""
        record = self._workspace._store.create_run(
            self._name,
            run_id=kwargs.get("run_id"),
            display_name=kwargs.get("display_name"),
            run_type=kwargs.get("_run_type"),
        )
        return Run(self, record.run_id, _record=record)

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> Iterator[Run]:
        """Runs newest first; top-level only unless `include_children`. The filters are the
        service's (the SDK sends them as a query), checked when called, as the SDK builds the
        query then: a list raises ValueError, dict values compare as strings."""
        tags = query_filter("tags", tags)
        properties = query_filter("properties", properties)
        type = query_filter("type", type)
        records = self._workspace._store.list_runs(self._name)
        return (
            Run(self, record.run_id, _record=record)
            for record in records
            if (record.parent_id is None or include_children)
            and matches(record, tags=tags, properties=properties, type=type, status=None)
        )

    def __repr__(self) -> str:
        return f"Experiment(Name: {self._name}, Workspace: {self._workspace.name})"

    def __getattr__(self, name: str) -> Any:
        raise _sdk.missing_member("Experiment", name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Experiment)
            and other._name == self._name
            and other._workspace == self._workspace
        )

    def __hash__(self) -> int:
        return hash((self._name, self._workspace))


class Run(RunUpdates, RunMetrics, RunFiles):
    """A run in a local workspace; construct it as the SDK does, `Run(experiment, run_id)`."""

    def __init__(
        self, experiment: Experiment, run_id: str, outputs: Any = None, **kwargs: Any
    ) -> None:
        self._experiment = experiment
        self._store = experiment.workspace._store
        record = kwargs.get("_record") or self._store.get_run(run_id)
        if record is None:
            raise _sdk.service_error(f"Run {run_id} was not found", status_code=404)
        self._record: RunRecord = record
        self._parent: Run | None = None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def get_context(
        cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any
    ) -> Any:
        """The run a local pipeline step is part of: `$CHAMPION_RUN_ID` in `$CHAMPION_WORKSPACE`,
        the way Azure ML's runtime names the run through AZUREML_* variables.

        Outside a step the SDK returns its `_OfflineRun` (or raises with allow_offline=False);
        so does this, so code that handles "offline" keeps working unchanged."""
        run_id = _env.run_id()
        if run_id:
            return cls.get(open_default_workspace(), run_id)
        if not allow_offline:
            raise _sdk.run_environment_error()
        from azureml.core.run import _OfflineRun

        offline = _OfflineRun(**kwargs)
        _traps.check_offline_context(offline)
        return offline

    @classmethod
    def get_submitted_run(cls, **kwargs: Any) -> Run:
        return cls.get_context(allow_offline=False, **kwargs)  # type: ignore[no-any-return]

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        return _get(workspace, run_id)

    @staticmethod
    def list(
        experiment: Experiment,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        status: str | None = None,
        include_children: bool = False,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        status = query_filter("status", status)
        runs = experiment.get_runs(
            type=type, tags=tags, properties=properties, include_children=include_children
        )
        return (run for run in runs if status is None or run.get_status() == status)

    def _wrap(self, record: RunRecord) -> Run:
        return _run_class(record)(self._experiment, record.run_id, _record=record)

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str | None:
        """DEPRECATED in the SDK, kept: a pipeline step run's name is the step's name."""
        return self._record.name

    @property
    def display_name(self) -> str | None:
        return self._record.display_name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._record = self._store.update_run(self.id, display_name=value)

    @property
    def type(self) -> str | None:
        return self._record.run_type or self._record.properties.get("azureml.runsource")

    @property
    def number(self) -> int:
        return self._record.run_number

    @property
    def status(self) -> str:
        return self._record.status

    @property
    def description(self) -> str | None:
        return None

    @property
    def experiment(self) -> Experiment:
        return self._experiment

    @property
    def parent(self) -> Run | None:
        """The parent run, looked up once and cached, as the SDK does; None at the top."""
        if self._parent is None and self._record.parent_id is not None:
            # a step run and its pipeline run share their experiment: no second lookup of it
            self._parent = _get(
                self._experiment.workspace, self._record.parent_id, known=self._experiment
            )
        return self._parent

    @property
    def tags(self) -> dict[str, str | None]:
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str | None]:
        return dict(self._record.properties)

    def get_status(self) -> str:
        return self._refresh().status

    @property
    def input_datasets(self) -> dict[str, Any]:
        """The datasets a step was given (`dataset.as_named_input(name)`), read from the
        environment as the SDK reads it: `AZUREML_DATASET_ENVIRONMENT_VARS` lists `name:mode`
        pairs, and `$name` holds the saved dataset id (direct mode: the dataset object is
        returned) or the folder the data was delivered to (download or mount: the path)."""
        found: dict[str, Any] = {}
        for pair in _env.dataset_inputs().split(","):
            parts = [p for p in pair.split(":") if p]
            if len(parts) != 2:
                continue
            name, mode = parts
            value = _env.get(name)
            if value and mode.lower() == "direct":
                found[name] = Dataset.get_by_id(self._experiment.workspace, value)
            else:
                found[name] = value
        return found

    def get_details(self) -> dict[str, Any]:
        r = self._refresh()
        return {
            "runId": r.run_id,
            "target": "local",
            "status": r.status,
            "startTimeUtc": r.start_utc,
            "endTimeUtc": r.end_utc,
            "properties": r.properties,
            "tags": r.tags,
            "inputDatasets": self._input_datasets(r.properties),
            "outputDatasets": [],
            "runDefinition": {},
            "logFiles": {},
            # the service's ErrorResponse shape, as the SDK's details carry it
            **({"error": r.error if "error" in r.error else {"error": r.error}} if r.error else {}),
        }

    def _input_datasets(self, properties: Mapping[str, str | None]) -> builtins.list[Any]:
        """The SDK's `get_details()["inputDatasets"]`: each dataset the run was given, and how."""
        ws = self._experiment.workspace
        return [
            {
                "dataset": Dataset.get_by_id(ws, entry["identifier"]["savedId"]),
                "consumptionDetails": {
                    "type": entry.get("consumptionType"),
                    **(entry.get("inputDetails") or {}),
                },
            }
            for entry in input_dataset_entries(properties)
        ]

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
    ) -> dict[str, Any]:
        return self.get_details()

    def __repr__(self) -> str:
        return (
            f"Run(Experiment: {self._experiment.name},\nId: {self.id},\nType: {self.type},\n"
            f"Status: {self.status})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id and other._store is self._store

    def __getattr__(self, name: str) -> Any:
        raise _sdk.missing_member("Run", name)

    def __hash__(self) -> int:
        return hash(self.id)

    # ------------------------------------------------------------------ children

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: Any = None
    ) -> Run:
        # the SDK chains names (`RunHistoryFacade.chain_names`): "<parent name>><name>"
        chained = f"{self.name or ''}>{name or ''}"
        record = self._store.create_run(
            self._experiment.name,
            run_id=run_id,
            parent_id=self.id,
            name=chained,
            display_name=chained,
        )
        return self._wrap(record)

    def get_children(
        self,
        recursive: bool = False,
        tags: Any = None,
        properties: Any = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """A generator, newest first, filtered with the SDK's client-side rules. The filters
        are checked for traps at the call, as the SDK reads them there."""
        _traps.check_children_filter(tags=tags, properties=properties)
        return (
            self._wrap(record)
            for record in self._store.list_children(self.id, recursive=recursive)
            if matches(record, tags=tags, properties=properties, type=type, status=status)
        )

    # ------------------------------------------------------------------ models

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        datasets: Any = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        **kwargs: Any,
    ) -> Model:
        """Register a file or a folder this run uploaded; the model links back to the run.

        `model_path` names one artifact or a folder prefix (whole segments: `outputs/model`
        matches `outputs/model/...`, never `outputs/model2`); None means `model_name`."""
        return self._register(
            model_name,
            model_path,
            expand=True,
            tags=tags,
            properties=properties,
            description=description,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
            datasets=datasets,
            sample_input_dataset=sample_input_dataset,
            sample_output_dataset=sample_output_dataset,
            resource_configuration=resource_configuration,
        )

    def _register(
        self, model_name: str, model_path: str | None, *, expand: bool, **registration: Any
    ) -> Model:
        """`register_model`; `expand` False returns the version without looking up its run
        (`champion.local.access.register_from_run`: the gate needs only the number)."""
        _sdk.validate_model_name(model_name)
        path = os.path.normpath(model_path if model_path is not None else model_name)
        path = path.replace(os.sep, "/")
        if not self._store.list_artifacts(RUN_ORIGIN, self._container, path):
            raise _sdk.model_path_not_found(
                f"Could not locate the provided model_path {path} in the set of files uploaded "
                f"to the run: {self.get_file_names()!s}\n"
                "                See https://aka.ms/run-logging for more details."
            )
        return Model._register_asset(
            self._experiment.workspace,
            model_name,
            prefixes=[f"{RUN_ORIGIN}/{self._container}/{path}"],
            run_id=self.id,
            experiment_name=self._experiment.name,
            expand=expand,
            **registration,
        )


class PipelineRun(Run):
    """A pipeline's parent run. The SDK rehydrates runs of type `azureml.PipelineRun` into its
    `PipelineRun`, whose step lookup Azure-written code uses (`find_step_run`)."""

    def find_step_run(self, name: str) -> builtins.list[Run]:
        """Every step run with that step name (a list: names need not be unique)."""
        return [child for child in self.get_children() if child.name == name]

    def get_steps(self) -> Iterator[Run]:
        return self.get_children()


def _get(workspace: Workspace, run_id: str, known: Experiment | None = None) -> Run:
    """`Run.get`; `known`, an experiment already at hand, is used when the run is in it."""
    record = workspace._store.get_run(run_id)
    if record is None:
        raise _sdk.service_error(f"Run {run_id} was not found", status_code=404)
    if known is not None and known.name == record.experiment:
        experiment = known
    else:
        experiment = Experiment(workspace, record.experiment, _skip_name_validation=True)
    return _run_class(record)(experiment, run_id, _record=record)


def _run_class(record: RunRecord) -> type[Run]:
    return PipelineRun if record.run_type == PIPELINE_RUN_TYPE else Run
