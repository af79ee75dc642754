"""`Run` of the local workspace: the members of `azureml.core.Run` that step code uses.

Why a full fake and not the SDK's `_OfflineRun`: the offline run only prints, and has no `parent`,
`get_tags` or `register_model`, so a register step cannot be exercised with it. This class keeps
the SDK's names, signatures, caching (`tags` is the cached copy, `get_tags()` reads again),
conversions (`str()` of tag values) and exceptions, over the shared store.
"""

from __future__ import annotations

import builtins
import io
import os
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.local import _sdk, _traps
from champion.local.store import (
    RUN_ORIGIN,
    ArtifactExists,
    InvalidArtifactPath,
    PropertyConflict,
    RunRecord,
    StagedBlob,
    check_artifact_path,
)
from champion.local.workspace import Experiment, Workspace

if TYPE_CHECKING:
    from champion.local.model import Model

RUN_ID_ENV = "CHAMPION_RUN_ID"
DATASET_INPUTS_ENV = "AZUREML_DATASET_ENVIRONMENT_VARS"


class Run:
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
        run_id = os.environ.get(RUN_ID_ENV)
        if run_id:
            return cls.get(Workspace(), run_id)
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
        record = workspace._store.get_run(run_id)
        if record is None:
            raise _sdk.service_error(f"Run {run_id} was not found", status_code=404)
        experiment = Experiment(workspace, record.experiment, _skip_name_validation=True)
        return _run_class(record)(experiment, run_id, _record=record)

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

    def _refresh(self) -> RunRecord:
        record = self._store.get_run(self.id)
        assert record is not None
        self._record = record
        return record

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        return self._record.run_id

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
            self._parent = Run.get(self._experiment.workspace, self._record.parent_id)
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
        from champion.local.dataset import Dataset

        found: dict[str, Any] = {}
        for pair in os.environ.get(DATASET_INPUTS_ENV, "").split(","):
            parts = [p for p in pair.split(":") if p]
            if len(parts) != 2:
                continue
            name, mode = parts
            value = os.environ.get(name)
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
            "inputDatasets": [],
            "outputDatasets": [],
            "runDefinition": {},
            "logFiles": {},
        }

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

    # ------------------------------------------------------------------ status

    def start(self) -> None:
        self._record = self._store.update_run(self.id, status="Running")

    def complete(self, _set_status: bool = True) -> None:
        if _set_status:
            self._record = self._store.update_run(self.id, status="Completed")

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        if _set_status:
            error = {
                "message": str(error_details) if error_details is not None else None,
                "code": error_code,
            }
            self._record = self._store.update_run(self.id, status="Failed", error=error)

    def cancel(self) -> None:
        self._record = self._store.update_run(self.id, status="Canceled")

    def flush(self, timeout_seconds: int = 300) -> None:
        """Metrics are stored as they are logged; nothing is buffered."""

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
    ) -> dict[str, Any]:
        return self.get_details()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc is None:
            self.complete()
        else:
            self.fail(error_details=exc)

    # ------------------------------------------------------------------ tags and properties

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._record = self._store.update_run(self.id, set_tags=_sdk.wire_str(dict(tags.items())))

    def get_tags(self) -> dict[str, str | None]:
        return dict(self._refresh().tags)

    def remove_tags(self, tags: Sequence[str]) -> None:
        self._record = self._store.update_run(self.id, remove_tags=list(tags))

    def add_properties(self, properties: Mapping[str, Any] | None) -> None:
        if not properties:
            return
        try:
            self._record = self._store.update_run(self.id, add_properties=_sdk.wire_str(properties))
        except PropertyConflict as exc:
            raise _sdk.service_error(
                f"Properties are immutable and cannot be modified: {','.join(exc.keys)}",
                status_code=409,
            ) from None

    def get_properties(self) -> dict[str, str | None]:
        return dict(self._refresh().properties)

    # ------------------------------------------------------------------ metrics

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        if isinstance(value, list | range | types.GeneratorType):
            raise _sdk.user_error("run.log does not support list type. Use run.log_list instead")
        _traps.check_metric_value(name, value)
        self._store.log_metric(self.id, name, _metric_value(value), step)

    def log_list(self, name: str, value: Sequence[Any], description: str = "") -> None:
        for item in value:
            self._store.log_metric(self.id, name, _metric_value(item))

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """One value when logged once, a list when logged more; `recursive` keys by run id."""
        if recursive:
            runs = [self._record, *self._store.list_children(self.id, recursive=True)]
            out = {}
            for record in runs:
                if run_type is not None and record.run_type != run_type:
                    continue
                metrics = _shape_metrics(self._store.get_metrics(record.run_id), name)
                if metrics:
                    out[record.run_id] = metrics
            return out
        return _shape_metrics(self._store.get_metrics(self.id), name)

    # ------------------------------------------------------------------ files

    @property
    def _container(self) -> str:
        return self._record.data_container_id

    def upload_file(
        self, name: str, path_or_stream: str | io.IOBase, datastore_name: str | None = None
    ) -> Any:
        """Upload one artifact under `name`, verbatim. There is no overwrite: an existing name
        is the service's conflict, raised as the SDK's AzureMLAggregatedException."""
        if not isinstance(path_or_stream, str | io.IOBase):
            raise _sdk.user_error(
                f"UnsupportedType: type {type(path_or_stream)} is invalid, supported input "
                "types: file path or file"
            )
        self._refuse_existing([name])
        with self._store.staging() as session:
            staged = session.stage(path_or_stream)  # type: ignore[arg-type]
            return self._add_artifacts([(name, staged.digest, staged.size)], [staged])[0]

    def upload_files(
        self,
        names: Sequence[str],
        paths: Sequence[str],
        return_artifacts: bool = False,
        timeout_seconds: int | None = None,
        datastore_name: str | None = None,
    ) -> Any:
        if len(names) != len(paths):
            raise TypeError(
                "names and paths must be lists of equal lengths. "
                f"Names was of length {len(names)} and paths of length {len(paths)}."
            )
        self._refuse_existing(names)
        with self._store.staging() as session:
            staged = [session.stage(path) for path in paths]
            entries = [(n, b.digest, b.size) for n, b in zip(names, staged, strict=True)]
            artifacts = self._add_artifacts(entries, staged)
        return artifacts if return_artifacts else None

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> Any:
        """Each file becomes `name + <its path under path>`, as the SDK names them."""
        if not os.path.isdir(path):
            raise _sdk.user_error(f"Cannot upload path: {path} since it is not a valid directory.")
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
        names = [name + f[len(path) :].replace(os.sep, "/") for f in files]
        return self.upload_files(names, files)

    def _refuse_existing(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                check_artifact_path(name)
            except InvalidArtifactPath as exc:
                raise _sdk.user_error(str(exc)) from None
        existing = [n for n in names if self._store.get_artifact(RUN_ORIGIN, self._container, n)]
        if existing:
            raise _conflict(ArtifactExists(RUN_ORIGIN, self._container, existing))

    def _add_artifacts(
        self, entries: Sequence[tuple[str, str | None, int]], blobs: Sequence[StagedBlob] = ()
    ) -> builtins.list[Any]:
        try:
            return list(self._store.add_artifacts(RUN_ORIGIN, self._container, entries, blobs))
        except ArtifactExists as exc:
            raise _conflict(exc) from None

    def get_file_names(self) -> builtins.list[str]:
        return [a.path for a in self._store.list_artifacts(RUN_ORIGIN, self._container)]

    def download_file(
        self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False
    ) -> None:
        """Default target: basename(name) in the CWD; a folder target gets the basename."""
        artifact = self._store.get_artifact(RUN_ORIGIN, self._container, name)
        if artifact is None:
            raise _sdk.user_error(
                f"Cannot find the artifact '{name}' in container '{self._container}'"
            )
        target = output_file_path or os.path.basename(name)
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(name))
        parent = os.path.dirname(target)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._store.copy_blob(artifact.digest, target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | None = None,
        output_paths: Sequence[str] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: int | None = None,
    ) -> None:
        artifacts = self._store.list_artifacts(RUN_ORIGIN, self._container, prefix)
        base = Path(output_directory or ".")
        for index, artifact in enumerate(artifacts):
            if output_paths is not None:
                target = Path(output_paths[index])
            elif append_prefix or not prefix or output_directory is None:
                target = base / artifact.path
            else:
                target = base / os.path.relpath(artifact.path, prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._store.copy_blob(artifact.digest, target)

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
        from champion.local.model import Model

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
            tags=tags,
            properties=properties,
            description=description,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
            run_id=self.id,
            experiment_name=self._experiment.name,
            datasets=datasets,
            sample_input_dataset=sample_input_dataset,
            sample_output_dataset=sample_output_dataset,
            resource_configuration=resource_configuration,
        )


class PipelineRun(Run):
    """A pipeline's parent run. The SDK rehydrates runs of type `azureml.PipelineRun` into its
    `PipelineRun`, whose step lookup Azure-written code uses (`find_step_run`)."""

    def find_step_run(self, name: str) -> builtins.list[Run]:
        """Every step run with that step name (a list: names need not be unique)."""
        return [child for child in self.get_children() if child.name == name]

    def get_steps(self) -> Iterator[Run]:
        return self.get_children()


PIPELINE_RUN_TYPE = "azureml.PipelineRun"


def _run_class(record: RunRecord) -> type[Run]:
    return PipelineRun if record.run_type == PIPELINE_RUN_TYPE else Run


# ---------------------------------------------------------------------- helpers


def matches(
    record: RunRecord, *, tags: Any, properties: Any, type: str | None, status: str | None
) -> bool:
    """The SDK's client-side child filter: a str means "key present", a dict means "these
    items are a subset", any other type (a list, say) matches nothing."""
    return (
        _kv_match(record.tags, tags)
        and _kv_match(record.properties, properties)
        and (type is None or record.run_type == type)
        and (status is None or record.status == status)
    )


_QUERY_FIELDS = {
    "tags": "run tags",
    "properties": "run properties",
    "type": "run type",
    "status": "run status",
}


def query_filter(field: str, value: Any) -> Any:
    """A filter of `Experiment.get_runs` / `Run.list`, which the SDK turns into a service query
    (`_odata/runs.py`) as it is called: a str is kept; a tags/properties dict is compared as the
    service compares it, each value as its string (`{'n': 1}` matches '1'); anything else raises
    the SDK's ValueError. Unlike `get_children`'s client-side filter, nothing matches silently."""
    if value is None or isinstance(value, str):
        return value
    if field in ("tags", "properties") and isinstance(value, dict):
        return {k: None if v is None else str(v) for k, v in value.items()}
    raise ValueError(f"Unknown filter type for {_QUERY_FIELDS[field]}: {builtins.type(value)}")


def _kv_match(values: Mapping[str, Any], wanted: Any) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in values
    if isinstance(wanted, dict):
        return all(k in values and values[k] == v for k, v in wanted.items())
    return False


def _metric_value(value: Any) -> Any:
    """The SDK's `Metric.get_converted_value` (`_sdk.metric_kept`): plain values kept, small
    numpy scalars turned into Python ones, anything else (an IntEnum, a tuple, np.int64) stored
    as its repr, so np.int64(5) is 'np.int64(5)'."""
    if value is None or type(value) in (int, float, str, bool):
        return value
    if _sdk.metric_kept(value):
        return value.item()
    return repr(value)


def _shape_metrics(metrics: Mapping[str, list[Any]], name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in metrics.items():
        if name is not None and key != name:
            continue
        kept = [v for v in values if v is not None]
        if not kept:
            continue
        out[key] = kept[0] if len(values) == 1 else values
    return out


def _conflict(exc: ArtifactExists) -> Exception:
    return _sdk.aggregated_error(
        [
            f"UserError: Resource Conflict: ArtifactId {exc.origin}/{exc.container}/{path} already "
            "exists."
            for path in exc.paths
        ]
    )
