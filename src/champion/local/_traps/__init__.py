"""The SDK's silent traps: calls Azure ML accepts and answers with something other than what
they read like, detected so the local workspace can say so.

Why: `Model(ws, name, tags={"build_number": "20190809.2"})` reads like "the version built by
20190809.2", but the SDK iterates the dict's keys and Azure ML returns the latest version that has
*any* `build_number` tag. The local workspace must return exactly that (it is a faithful fake);
a test on a laptop is where such a call should be caught, before it picks the wrong model in
production. So both faces (the `champion.local` classes, and the real SDK under
`mock_azureml()`) keep Azure's answer AND emit `AzureMLTrapWarning`, naming the call, what Azure
does with it, and the form that does what the caller meant.

The traps, each a `check_*` function called by the face at the point the SDK reads the
arguments (the local classes call them directly; under the mock, `sdk_observers()` wraps the
SDK's public entry points, looks at the arguments and the result, and changes nothing):

- `Model(...)` lookups and `Model.list(...)`: a dict or str where the SDK expects a list of
  `'key'` / `['key', 'value']` items (values ignored, or a str iterated per character); a `,`
  in a key or value, or `=` in a key (the SDK joins the filters unescaped); filters ignored
  because `id=` or `version=` is given.
- `run.get_children(tags=..., properties=...)`: a list (or anything but a str or dict) matches
  no child; a dict value that is not a str never equals a run's tag (stored as str).
- `run.log(name, value)`: a value the SDK does not convert is stored as its `repr` string.
- `Run.get_context()` returning an offline run inside a local pipeline step whose process lost
  the step's run variables.
- A pipeline step with `allow_reuse=True` that is, or feeds, a register step.

Each is warned once per call site (the first frame outside `champion.local` and `azureml`), with
the warnings module's own semantics: shown once per location under the default action, reset
whenever the warning filters change (each pytest test, `catch_warnings`), every time under
"always", and raised under "error" (`pytest -W error::champion.local.AzureMLTrapWarning`).

One module per family: `models.py`, `runs.py` (children, metrics, the run context) and
`pipelines.py`; `warning.py` is how a trap is warned, `observers.py` watches the real SDK. The
traps of SDK v2 (azure-ai-ml) are in `champion.local.mock_v2.traps`, which may import it.
Importing this package does not import azureml.
"""

from __future__ import annotations

from champion.local._traps.models import check_model_list, check_model_lookup
from champion.local._traps.observers import sdk_observers
from champion.local._traps.pipelines import check_pipeline_spec, check_plan, is_register_step
from champion.local._traps.runs import (
    STEP_MARKER,
    check_children_filter,
    check_metric_value,
    check_offline_context,
    mark_step_workdir,
)
from champion.local._traps.warning import PYTEST_FILTER, AzureMLTrapWarning, raise_on_traps

__all__ = [
    "PYTEST_FILTER",
    "STEP_MARKER",
    "AzureMLTrapWarning",
    "check_children_filter",
    "check_metric_value",
    "check_model_list",
    "check_model_lookup",
    "check_offline_context",
    "check_pipeline_spec",
    "check_plan",
    "is_register_step",
    "mark_step_workdir",
    "raise_on_traps",
    "sdk_observers",
]
