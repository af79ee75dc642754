"""`UnmockedServiceCall`: what both faces of the local workspace raise for a call only Azure can
answer (compute, images, deployments, Key Vault, Resource Manager) or the local workspace does
not implement.

Why its own module: the local classes raise it (`_sdk.missing_member`) and the mock raises it, so
it sits below both. Its public home is `champion.local.mock`, as its `__module__` says.
"""

from __future__ import annotations

import inspect
import threading


class UnmockedServiceCall(BaseException):
    """Raised when, inside a mock, the SDK asks for something only Azure can do (compute, image
    builds, deployments, Key Vault, Resource Manager) or the local workspace does not answer.

    The message names the SDK member the code called (found on the call stack, e.g.
    `Environment.build`), why it needs Azure, and the operation that was refused.

    Why `BaseException`, like `KeyboardInterrupt`, `SystemExit` and pytest's own outcome
    exceptions: step code written for Azure often wraps SDK calls in a bare `except Exception:`
    (the seed's register step does), which would swallow an ordinary error and carry on with
    None, so a test would pass against a mock that never did the work. A `BaseException` goes
    through those handlers and still stops the test; `pytest.raises(UnmockedServiceCall)` and
    `except UnmockedServiceCall` catch it. For code that catches even `BaseException`, each
    distinct refusal is also logged once as a warning (logger `champion.local.mock`)."""

    __module__ = "champion.local.mock"  # its public home, as tracebacks name it

    def __init__(self, detail: str, *, member: str | None = None) -> None:
        self.member = member or sdk_member()
        self.reason = _why_azure(self.member, detail)
        self.detail = detail
        message = f"{self.member} needs Azure: {self.reason} ({detail})"
        super().__init__(message)
        self.message = message
        with _warned_lock:
            if message not in _warned:
                _warned.add(message)
                _log(message)


_warned: set[str] = set()
_warned_lock = threading.Lock()

#: Why a family of SDK members cannot run locally, by a word in its name; the first match wins.
_NEEDS_AZURE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Environment.build", "Environment.get_image", "Image", "build"),
     "container images are built by the workspace's Azure Container Registry"),
    (("deploy", "Webservice", "webservices", "Aks", "Aci", "package", "profile", "InferenceConfig"),
     "deployments run on Azure Kubernetes Service or Container Instances"),
    (("Schedule",),
     "a Schedule starts runs from Azure ML's scheduler, which runs only on Azure (locally, "
     "submit the pipeline itself: Experiment.submit, PublishedPipeline.submit)"),
    (("Keyvault", "keyvault", "get_secret", "set_secret"),
     "secrets live in the workspace's Azure Key Vault"),
    (("Compute", "compute"),
     "compute targets are Azure machines; run pipelines locally with `champion run`"),
    (("submit", "ScriptRun", "Estimator", "JobOperations.create", "JobOperations.begin"),
     "jobs are scheduled on Azure compute; run steps locally with `champion run`"),
    (("Environment",),
     "environments are kept by the Azure ML environment service and its image registry"),
    (("mount",), "mounting needs FUSE and Azure storage; use download()"),
    (("Workspace.", "get_details", "sync_keys", "list_keys", "private_endpoint"),
     "workspace settings are Azure Resource Manager resources"),
    (("Endpoint", "endpoint"),
     "endpoints and their deployments run on Azure compute; serve a model with `champion serve`"),
)  # fmt: skip


def _why_azure(member: str, detail: str) -> str:
    for words, reason in _NEEDS_AZURE:
        if any(word in member for word in words):
            return reason
    return "the local workspace does not implement this service operation"


#: The SDKs whose frames name the member a user called: v1 (`azureml`) and v2 (`azure.ai.ml`).
_SDK_MODULES = ("azureml", "azure.ai.ml")


def sdk_member() -> str:
    """The SDK member the user's code called, from the call stack: the outermost frame in an
    `azureml` or `azure.ai.ml` module whose qualified name is public (`Environment.build`,
    `ModelOperations.create_or_update`), else the innermost such frame, else "the Azure ML
    service"."""
    frame = inspect.currentframe()
    outermost_public: str | None = None
    innermost: str | None = None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if any(module == m or module.startswith(m + ".") for m in _SDK_MODULES):
            name = frame.f_code.co_qualname
            innermost = innermost or name
            parts = name.split(".")
            if "<locals>" not in name and not any(
                p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts
            ):
                outermost_public = name
        frame = frame.f_back
    if outermost_public is None and innermost is not None:
        innermost = innermost.split(".<locals>", 1)[0]  # a pager's inner function: its method
    return outermost_public or innermost or "the Azure ML service"


def _log(message: str) -> None:
    """Each distinct refusal is logged once, as logger `champion.local.mock`, for code that
    catches even `BaseException`. `logging` is imported here, on the refusal, so that the local
    classes (which import this module) do not load it on their happy path."""
    import logging

    logging.getLogger("champion.local.mock").warning("%s", message)
