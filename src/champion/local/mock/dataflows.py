"""Dataflows: a dataset definition as the SDK's dataflow JSON and back, and the one door every
dataflow execution goes through, `azureml.dataprep`'s `_RsLexExecutor._ensure_dataflow` (reading
a tabular dataset, listing or downloading a file dataset, validating one): an
`azureml://.../datastores/<name>/paths/<path>` of this workspace becomes a `file://` path in the
datastore's folder, so dataprep reads local files offline; any other remote path is refused
before the Rust engine could reach the network. The dataset keeps its datastore URIs, as on
Azure: only execution sees the local path. `FileDataset.mount()` (a FUSE mount of Azure storage)
is refused with `UnmockedServiceCall` before the engine could try."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

import yaml  # type: ignore[import-untyped]

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import ClientFamily, Patch
from champion.local.store import FILE, DataPathError, SavedDatasetRecord

AZUREML_URI = re.compile(
    r"azureml://subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/workspaces/"
    r"(?P<ws>[^/]+)/datastores/(?P<ds>[^/]+)/paths/(?P<path>[^\"'\s]*)"
)
_PORTABLE_BASE = re.compile(
    r'(?P<head>GetPortablePath.*?\{\\"r\\": \[\\"Value\\", \\")(?P<base>[^\\"]+)'
    r'(?P<tail>\\"\]\}\]\]\])'  # the last argument: its list, the call and the body close
)
#: The engine's error code for a path it refuses to access ("Validation": the SDK's error
#: handling raises its UserErrorException for it).
PATH_REFUSED = "ScriptExecution.StreamAccess.Validation"
_REMOTE = re.compile(r"\b(?:https?|wasbs?|abfss?|adl|azureml|hdfs|dbfs)://[^\"'\s]*")


class Dataflows(ClientFamily):
    """Translating and localising dataflows for one mock session."""

    def patches(self) -> list[Patch]:
        """The dataprep patches; none without azureml-dataprep (the [pipelines] extra)."""
        patches: list[Patch] = []
        try:
            from azureml.dataprep.api._rslex_executor import _RsLexExecutor
        except ImportError:  # azureml-dataprep comes with the [pipelines] extra
            return patches
        original = vars(_RsLexExecutor)["_ensure_dataflow"]

        def ensure_dataflow(executor: Any, script: Any) -> Any:
            return original(executor, self.localize(script))

        patches.append((_RsLexExecutor, "_ensure_dataflow", ensure_dataflow))
        from azureml.dataprep.api.engineless_dataflow import EnginelessDataflow

        def mount(dataflow: Any, *args: Any, **kwargs: Any) -> Any:
            raise UnmockedServiceCall(
                "mock_azureml: a FUSE mount of Azure storage; the local workspace answers "
                "download() and to_path() instead",
                member="FileDataset.mount",
            )

        patches.append((EnginelessDataflow, "mount", mount))
        patches.append(self._location_patch())
        return patches

    def _location_patch(self) -> tuple[object, str, object]:
        """`FileDatasetFactory.upload_directory` copies with the engine's `Copier` to a
        destination made by `PyLocationInfo.from_uri(azureml://...)`: the same door, for writes.
        The engine's class cannot be patched, so its module name is a stand-in that builds the
        real objects, with this workspace's datastore URIs pointed at their folders."""
        import azureml.dataprep.rslex as rslex
        from azureml.dataprep.api.errorhandlers import DataPrepException

        real = rslex.PyLocationInfo
        service = self

        class PyLocationInfo:
            def __new__(cls, *args: Any, **kwargs: Any) -> Any:
                return real(*args, **kwargs)

            @staticmethod
            def from_uri(uri: str, *args: Any, **kwargs: Any) -> Any:
                for match in AZUREML_URI.finditer(uri):
                    service.store.datastore_folder(match["ds"]).mkdir(parents=True, exist_ok=True)
                try:
                    local = service.localize(uri)
                except DataPrepException as exc:  # before any engine call: the SDK's own error
                    if exc.error_code != PATH_REFUSED:
                        raise
                    from azureml.exceptions import UserErrorException

                    refusal = exc.compliant_message.split("| session_id")[0]
                    raise UserErrorException(refusal) from None
                return real.from_uri(local, *args, **kwargs)

        return (rslex, "PyLocationInfo", PyLocationInfo)

    def dataflow_of(self, saved: SavedDatasetRecord) -> str:
        """The SDK's dataflow JSON for a saved definition: as the SDK sent it, or, for one the
        local classes saved, built by the SDK's own factory over the same datastore paths."""
        if saved.dataflow:
            return saved.dataflow
        from azureml.core import Dataset, Datastore

        workspace = self.backend.workspace
        paths = []
        for entry in saved.definition.get("paths", []):
            if "datastore" in entry:
                paths.append((Datastore.get(workspace, entry["datastore"]), entry["path"]))
            else:
                paths.append(entry["url"])
        if saved.dataset_type == FILE:
            dataset = Dataset.File.from_files(paths, validate=False)
        else:
            read = saved.definition.get("read", {})
            dataset = Dataset.Tabular.from_delimited_files(
                paths,
                validate=False,
                include_path=bool(read.get("include_path")),
                infer_column_types=False,
                separator=read.get("separator", ","),
                header=read.get("header", True),
                encoding=read.get("encoding", "utf8"),
            )
        return str(dataset._dataflow.to_json())

    def definition_from_dataflow(self, dataset_type: str, dataflow: str) -> dict[str, Any]:
        """The face-neutral definition (paths, how to read) of the SDK's dataflow JSON."""
        document = yaml.safe_load(rs_yaml(dataflow)) or {}
        paths: list[dict[str, str]] = []
        for entry in document.get("paths", []):
            uri = next((str(entry[k]) for k in ("pattern", "file", "folder") if k in entry), "")
            match = AZUREML_URI.fullmatch(uri)
            if match:
                paths.append({"datastore": match["ds"], "path": unquote(match["path"])})
            else:
                paths.append({"url": uri})
        definition: dict[str, Any] = {"type": dataset_type, "paths": paths}
        for step in document.get("transformations", []) or []:
            if isinstance(step, dict) and "read_delimited" in step:
                options = step["read_delimited"] or {}
                definition["read"] = {
                    "separator": options.get("delimiter", ","),
                    "header": options.get("header", "all_files_same_headers") != "no_header",
                    "encoding": options.get("encoding", "utf8"),
                    "include_path": bool(options.get("include_path_column", False)),
                    "infer_column_types": options.get("infer_column_types", False),
                }
        return definition

    def localize(self, script: Any) -> Any:
        """A dataflow about to be executed, with this workspace's datastore URIs turned into
        its datastore folders; any other remote location refused (the engine would go out to
        the network, which no mock can stop once it is in native code)."""
        if isinstance(script, str):
            text = script
        elif hasattr(script, "_to_yaml_string"):
            text = script._to_yaml_string()
        elif hasattr(script, "to_yaml_string"):
            text = script.to_yaml_string()
        else:
            return script

        def local(match: re.Match[str]) -> str:
            try:
                folder = self.store.datastore_folder(match["ds"])
            except DataPathError as exc:
                raise UnmockedServiceCall(f"mock_azureml: {exc}") from None
            uri = "file://" + quote(folder.as_posix(), safe="/")
            path = self._checked(match["ds"], unquote(match["path"]))
            # quoted again as dataprep quotes it (`*` and `/` kept: globs still work)
            return f"{uri}/{quote_path(path)}" if path else uri

        def local_base(match: re.Match[str]) -> str:
            # A file's portable path is its path relative to a base that dataprep computed from
            # the datastore URI ("<datastore>/<path>"); the local file's own id is its absolute
            # path, so the base must be the folder's, or every path comes out absolute.
            datastore, _, rest = match["base"].partition("/")
            if self.store.get_datastore(datastore) is None:
                return match.group(0)
            folder = self.store.datastore_folder(datastore)
            path = self._checked(datastore, unquote(rest))
            local_path = (folder / path).as_posix() if path else folder.as_posix()
            return f"{match['head']}{local_path}{match['tail']}"

        rewritten = _PORTABLE_BASE.sub(local_base, AZUREML_URI.sub(local, text))
        remote = _REMOTE.search(rewritten)
        if remote:
            raise UnmockedServiceCall(
                f"mock_azureml: reading {remote.group(0)} needs the network; the local "
                "workspace reads only its own datastores (upload the data to one)"
            )
        return rewritten if rewritten != text or isinstance(script, str) else script

    def _checked(self, datastore: str, path: str) -> str:
        """`path` of `datastore` as the store's rule has it (`Store.datastore_pattern`: the
        same rule, in the same place, as the local classes' reads and every upload), or the
        engine's ExecutionError for a stream it may not access, which the SDK turns into its
        UserErrorException as it does on Azure: dataprep's engine would follow `..` or a link
        anywhere on the machine."""
        try:
            return self.store.datastore_pattern(datastore, path)
        except DataPathError as exc:
            from azureml.dataprep.api.errorhandlers import ExecutionError

            raise ExecutionError(
                None, PATH_REFUSED, error_message=str(exc), compliant_message=str(exc)
            ) from None


def rs_yaml(dataflow: str) -> str:
    """The Rust engine's YAML inside the SDK's dataflow JSON (or the YAML itself)."""
    text = dataflow.strip()
    if not text.startswith("{"):
        return dataflow
    meta = json.loads(text).get("meta") or {}
    return str(meta.get("RsDataflow", ""))


def quote_path(path: str) -> str:
    """A datastore path as dataprep writes it into a URI (`/` and `*` kept)."""
    return quote(path, "/*")
