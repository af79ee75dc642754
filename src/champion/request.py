"""What the register step was asked to do (`RegisterRequest`), and the checks that refuse a
request before anything is read or written.

Why a module of its own: the step script, `champion register`, the bench and every backend's
tests build a request, and the gate (`champion.gate`), the judge and the backends read it; kept
beside the flow, every reader of a request had to import the flow. The checks live here, with
the fields they check, so each entry point refuses a bad name or a malformed `--test-data` the
same way, before the first call to a registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from champion._validation import validate_model_name
from champion.decision import Policy
from champion.registry import BackendOptions

__all__ = ["RegisterRequest", "RescoreRequest", "check_request"]


@dataclass(frozen=True)
class RescoreRequest:
    """`--rescore-champion --test-data SPEC [--label-column NAME]`: score the champion and the
    challenger on the same data and decide on those numbers. Loads pickles: opt-in only."""

    test_data: str
    label_column: str | None = None


@dataclass(frozen=True)
class RegisterRequest:
    """What the register step was asked to do; built by the step script from its arguments."""

    model_name: str
    model_path: Path
    policy: Policy
    training_step_name: str | None = "train"
    build_number: str | None = None
    model_framework: str = "Custom"
    model_framework_version: str | None = None
    description: str | None = None
    dry_run: bool = False
    rescore: RescoreRequest | None = None
    champion_alias: str | None = None
    """MLflow: the alias naming the champion (None: `champion`); refused by other backends."""
    stage: str | None = None
    """MLflow: also transition a winner to this stage (deprecated by MLflow since 2.9)."""
    metrics_file: Path | None = None
    """The training step's metrics as a JSON object (`champion._metrics_file`): the first
    source of the challenger's numbers, checked against its run's tags and logged metrics."""

    @property
    def backend_options(self) -> BackendOptions:
        return BackendOptions(champion_alias=self.champion_alias, stage=self.stage)


def check_request(request: RegisterRequest) -> None:
    """Refuse a request whose model name or `--test-data` is malformed (InputError), before
    anything is read or written."""
    validate_model_name(request.model_name)
    if request.rescore is not None:
        from champion.rescore import parse_spec

        parse_spec(request.rescore.test_data)
