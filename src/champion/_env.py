"""Every environment variable champion reads, with its default and why: the one place.

Why one place: a variable named in four modules drifts (one reads `""` as unset, another as a
value) and nobody can list what a step depends on. Every read in the library goes through a
function here; `make lint` (`tools/check_env_reads.py`) refuses `os.environ` anywhere else in
`src/champion/` except the CLI and the step modules' `main()`. Writing a variable for a child
process is fine anywhere: that is configuration handed on, not read.

Unset and empty are the same for every variable (a CI system often exports `NAME=`).

Variable (default): who reads it, and why.

- `CHAMPION_WORKSPACE` (the nearest `.champion/`): the local workspace folder; the local runner
  sets it for each step.
- `CHAMPION_RUN_ID` (none: offline): the step's run in that workspace, as Azure ML's runtime
  sets `AZUREML_RUN_ID`.
- `CHAMPION_BACKEND` (chosen by `AZUREML_RUN_ID`, then `MLFLOW_RUN_ID`): `local`, `azureml`,
  `azureml-v2` or `mlflow`, the registry and run `champion.context` builds; `--backend` sets it.
- `AZUREML_RUN_ID` (none): set by Azure ML's job runtime; its presence means the azureml backend,
  or azureml-v2 inside a v2 job (below).
- `AZUREML_ROOT_RUN_ID` (none): set by Azure ML's job runtime in a pipeline's node: the pipeline
  job's name (Azure's own model-monitoring components tag "the pipeline run" through it). The
  v2 backend reads the pipeline run by it and checks that the step is one of its children,
  which saves reading the step's own run first.
- `AZUREML_ARM_SUBSCRIPTION`, `AZUREML_ARM_RESOURCEGROUP`, `AZUREML_ARM_WORKSPACE_NAME` (none): the
  workspace a job runs in, as Azure ML's runtime sets them; the v2 backend builds its `MLClient`
  from them (with `DEFAULT_IDENTITY_CLIENT_ID`, the compute's managed identity, when set).
- `AZURE_ML_INPUT_<name>`, `AZURE_ML_OUTPUT_<name>` (none): a v2 command job's inputs and outputs.
  With `AZUREML_RUN_ID` and `MLFLOW_TRACKING_URI`, any of them means a v2 job: the azureml-v2
  backend (a v1 step gets `AZUREML_DATAREFERENCE_<name>` instead).
- `MLFLOW_TRACKING_URI` (none: the mlflow backend refuses to guess), `MLFLOW_REGISTRY_URI` (the
  tracking URI): MLflow's own names for its server (`http://127.0.0.1:5000`) or database
  (`sqlite:///mlflow.db`); read here and handed to `MlflowClient` explicitly.
- `MLFLOW_RUN_ID` (none): MLflow's active run; the mlflow pipeline runner sets it for each step,
  and without `AZUREML_RUN_ID` its presence means the mlflow backend.
- `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (set to 0 for MLflow's client unless given): MLflow's own
  retry loop (7 retries, minutes of backoff) would nest inside ours; ours is the one loop.
- `MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR` (set to false for MLflow's client unless given): with
  tqdm installed (azure-ai-ml brings it) every artifact download drew bars on stderr, around
  the one line a refusal or failure prints and through an Azure DevOps log.
- `CHAMPION_RETRY_ATTEMPTS` (5), `CHAMPION_RETRY_BASE_SECONDS` (0.5): attempts per remote call
  on a transient failure, and the first backoff (doubled per attempt, capped, full jitter).
- `CHAMPION_CRASH_AT`, `CHAMPION_PAUSE_AT` (none): tests only, SIGKILL / SIGSTOP the process at
  a named failpoint (`champion._failpoints`).
- `CHAMPION_MOCK_FAULTS` (none): service faults `sdk_shim` injects into `mock_azureml()`.
- `AZUREML_DATAREFERENCE_<name>` (none): where Azure ML (mount mode) puts a data reference.
- `AZUREML_DATASET_ENVIRONMENT_VARS` (none): the `name:mode` pairs of a step's dataset inputs.
- `AZUREML_DATASET_FILE_OUTPUTS` (none): the `;`-separated names of a step's dataset outputs
  (`OutputFileDatasetConfig`), each also a variable holding its path; set by the local runner,
  read by the SDK's `run.output_datasets`.
- `CHAMPION_MOCK` (none): set by `champion mock --` (and for the steps of a submitted pipeline):
  the Python processes started with it activate the fakes of the real SDKs against
  `CHAMPION_WORKSPACE` when they first import them (`champion.mock`).
- `CHAMPION_MOCK_V2_NODE` (none): set to `1` in the processes of a node of a v2 pipeline the
  v2 fake runs locally; the v2 fake started there serves no MLflow endpoint of its own (the
  node's `MLFLOW_TRACKING_URI` is its pipeline's).
- `CHAMPION_STEP_TIMEOUT` (none: no limit): seconds a step of a pipeline submitted through the
  SDK may run when its run configuration sets no `max_run_duration_seconds`; read by the
  local runner of submitted pipelines, set by `champion mock --step-timeout`.
- `BUILD_BUILDNUMBER` (none): the Azure DevOps build number, stored on a registered version.
- `TF_BUILD` (not `True`): `True` under an Azure DevOps agent: set output variables, break `##`.
- `PYTHONPATH` (none): extended, not replaced, for the step processes the runner and kit start.
- `AZUREML_MODEL_DIR` (none): in a scoring process, the deployed model's folder (Azure ML sets
  it; so does `champion serve`); the default scoring script loads the model from it.
- `AML_APP_ROOT` (none: the working directory): where a scoring container keeps its app;
  `Model.get_model_path` looks under `<it>/azureml-models/`, as the SDK does, and
  `champion serve` sets it for the server it starts.
"""

from __future__ import annotations

import os

__all__ = [
    "AML_APP_ROOT",
    "AZUREML_ARM_RESOURCEGROUP",
    "AZUREML_ARM_SUBSCRIPTION",
    "AZUREML_ARM_WORKSPACE_NAME",
    "AZUREML_MODEL_DIR",
    "AZUREML_ROOT_RUN_ID",
    "AZUREML_RUN_ID",
    "BACKEND",
    "BUILD_NUMBER",
    "CRASH_AT",
    "DATASET_FILE_OUTPUTS",
    "DATASET_INPUTS",
    "DATA_REFERENCE_PREFIX",
    "DEFAULT_IDENTITY_CLIENT_ID",
    "DEFAULT_WORKSPACE_FOLDER",
    "DEVOPS_AGENT",
    "MLFLOW_HTTP_RETRIES",
    "MLFLOW_PROGRESS_BARS",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MOCK",
    "MOCK_FAULTS",
    "MOCK_V2_NODE",
    "PAUSE_AT",
    "RETRY_ATTEMPTS",
    "RETRY_BASE_SECONDS",
    "RUN_ID",
    "STEP_TIMEOUT",
    "V2_INPUT_PREFIX",
    "V2_OUTPUT_PREFIX",
    "WORKSPACE",
    "aml_app_root",
    "azureml_arm",
    "azureml_model_dir",
    "azureml_root_run_id",
    "azureml_run_id",
    "backend",
    "build_number",
    "crash_at",
    "data_reference",
    "dataset_inputs",
    "get",
    "identity_client_id",
    "in_v2_job",
    "inherited",
    "mlflow_http_retries",
    "mlflow_progress_bars",
    "mlflow_registry_uri",
    "mlflow_run_id",
    "mlflow_tracking_uri",
    "mock",
    "mock_faults",
    "mock_v2_node",
    "pause_at",
    "pythonpath",
    "retry_attempts",
    "retry_base_seconds",
    "run_id",
    "step_timeout",
    "under_devops_agent",
    "workspace",
]

WORKSPACE = "CHAMPION_WORKSPACE"
RUN_ID = "CHAMPION_RUN_ID"
BACKEND = "CHAMPION_BACKEND"
AZUREML_RUN_ID = "AZUREML_RUN_ID"
AZUREML_ROOT_RUN_ID = "AZUREML_ROOT_RUN_ID"
RETRY_ATTEMPTS = "CHAMPION_RETRY_ATTEMPTS"
RETRY_BASE_SECONDS = "CHAMPION_RETRY_BASE_SECONDS"
CRASH_AT = "CHAMPION_CRASH_AT"
PAUSE_AT = "CHAMPION_PAUSE_AT"
MOCK_FAULTS = "CHAMPION_MOCK_FAULTS"
DATA_REFERENCE_PREFIX = "AZUREML_DATAREFERENCE_"
DATASET_INPUTS = "AZUREML_DATASET_ENVIRONMENT_VARS"
DATASET_FILE_OUTPUTS = "AZUREML_DATASET_FILE_OUTPUTS"
MOCK = "CHAMPION_MOCK"
MOCK_V2_NODE = "CHAMPION_MOCK_V2_NODE"
STEP_TIMEOUT = "CHAMPION_STEP_TIMEOUT"
BUILD_NUMBER = "BUILD_BUILDNUMBER"
DEVOPS_AGENT = "TF_BUILD"
AZUREML_ARM_SUBSCRIPTION = "AZUREML_ARM_SUBSCRIPTION"
AZUREML_ARM_RESOURCEGROUP = "AZUREML_ARM_RESOURCEGROUP"
AZUREML_ARM_WORKSPACE_NAME = "AZUREML_ARM_WORKSPACE_NAME"
DEFAULT_IDENTITY_CLIENT_ID = "DEFAULT_IDENTITY_CLIENT_ID"
V2_INPUT_PREFIX = "AZURE_ML_INPUT_"
V2_OUTPUT_PREFIX = "AZURE_ML_OUTPUT_"
MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
MLFLOW_REGISTRY_URI = "MLFLOW_REGISTRY_URI"
MLFLOW_RUN_ID = "MLFLOW_RUN_ID"
MLFLOW_HTTP_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
MLFLOW_PROGRESS_BARS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
AML_APP_ROOT = "AML_APP_ROOT"
AZUREML_MODEL_DIR = "AZUREML_MODEL_DIR"

DEFAULT_WORKSPACE_FOLDER = ".champion"
"""The local workspace's folder when `CHAMPION_WORKSPACE` is unset (found upwards, as git finds
`.git`); also what a snapshot of a step's source folder leaves out."""
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_BASE_SECONDS = 0.5


def get(name: str) -> str | None:
    """Any variable by name, None when unset or empty: for names only known at run time (a
    dataset input's `$name`). Prefer the named functions below."""
    return os.environ.get(name) or None


def workspace() -> str | None:
    """The local workspace folder the runner chose for this process, if any."""
    return get(WORKSPACE)


def run_id() -> str | None:
    """The local run this process belongs to (`Run.get_context()`), if any."""
    return get(RUN_ID)


def backend() -> str | None:
    """The backend named explicitly (`local`, `azureml`, `mlflow`); `champion.context` checks
    the name."""
    return get(BACKEND)


def mlflow_tracking_uri() -> str | None:
    return get(MLFLOW_TRACKING_URI)


def mlflow_registry_uri() -> str | None:
    return get(MLFLOW_REGISTRY_URI)


def mlflow_run_id() -> str | None:
    """MLflow's active run for this process (set by the mlflow pipeline runner), if any."""
    return get(MLFLOW_RUN_ID)


def mlflow_http_retries() -> str | None:
    return get(MLFLOW_HTTP_RETRIES)


def mlflow_progress_bars() -> str | None:
    return get(MLFLOW_PROGRESS_BARS)


def azureml_run_id() -> str | None:
    """Set only inside an Azure ML job: the run the SDK's `Run.get_context()` returns."""
    return get(AZUREML_RUN_ID)


def azureml_root_run_id() -> str | None:
    """Inside a node of an Azure ML pipeline: the pipeline job's name (a hint, checked)."""
    return get(AZUREML_ROOT_RUN_ID)


def azureml_arm() -> tuple[str, str, str] | None:
    """The job's subscription, resource group and workspace, when all three are set."""
    found = (get(AZUREML_ARM_SUBSCRIPTION), get(AZUREML_ARM_RESOURCEGROUP),
             get(AZUREML_ARM_WORKSPACE_NAME))  # fmt: skip
    return (found[0], found[1], found[2]) if all(found) else None  # type: ignore[return-value]


def identity_client_id() -> str | None:
    """The compute's managed identity inside an Azure ML job, if it has one."""
    return get(DEFAULT_IDENTITY_CLIENT_ID)


def in_v2_job() -> bool:
    """Whether this process is a step of an Azure ML v2 job: the run and MLflow's tracking URI
    Azure sets, and at least one `AZURE_ML_INPUT_`/`AZURE_ML_OUTPUT_` variable."""
    if not (azureml_run_id() and mlflow_tracking_uri()):
        return False
    return any(
        name.startswith((V2_INPUT_PREFIX, V2_OUTPUT_PREFIX)) and value
        for name, value in os.environ.items()
    )


def retry_attempts() -> int:
    """At least 1, so a zero or negative setting still makes one attempt."""
    return max(1, int(get(RETRY_ATTEMPTS) or DEFAULT_RETRY_ATTEMPTS))


def retry_base_seconds() -> float:
    return float(get(RETRY_BASE_SECONDS) or DEFAULT_RETRY_BASE_SECONDS)


def crash_at() -> str | None:
    return get(CRASH_AT)


def pause_at() -> str | None:
    return get(PAUSE_AT)


def mock() -> str | None:
    return get(MOCK)


def mock_v2_node() -> bool:
    """Whether this process belongs to a node of a v2 pipeline the v2 fake runs locally."""
    return get(MOCK_V2_NODE) == "1"


def step_timeout() -> str | None:
    return get(STEP_TIMEOUT)


def mock_faults() -> str:
    return get(MOCK_FAULTS) or ""


def data_reference(name: str) -> str | None:
    """Where Azure ML (mount mode) put the data reference `name` for this step."""
    return get(DATA_REFERENCE_PREFIX + name)


def dataset_inputs() -> str:
    return get(DATASET_INPUTS) or ""


def build_number() -> str | None:
    return get(BUILD_NUMBER)


def under_devops_agent() -> bool:
    """Azure DevOps agents export `TF_BUILD=True` (any case)."""
    return (get(DEVOPS_AGENT) or "").lower() == "true"


def azureml_model_dir() -> str | None:
    return get(AZUREML_MODEL_DIR)


def aml_app_root() -> str:
    """The scoring app's root ("" when unset: paths stay relative to the working directory,
    as the SDK's `MODELS_DIR` does)."""
    return get(AML_APP_ROOT) or ""


def pythonpath() -> str | None:
    return get("PYTHONPATH")


def inherited() -> dict[str, str]:
    """A copy of this process's environment, for a child process to start from."""
    return dict(os.environ)
