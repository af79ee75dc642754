"""One retry loop per remote call, never nested: a registration whose answer was lost is found
by the run's id, not repeated, and that check is an attempt of the same loop."""

from __future__ import annotations

import pytest
import requests

from champion.errors import InfrastructureError
from champion.registry import NewVersion
from champion.registry.sdk import SdkRegistry
from champion.registry.sdk_run import SdkRun


class Timeouts:
    """A call that times out `times` times, then answers `result`; counts every call."""

    def __init__(self, times: int, result: object = None) -> None:
        self.left, self.result, self.calls = times, result, 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise requests.exceptions.ReadTimeout("the service did not answer")
        return self.result


class Version:
    name, version, properties, tags, run_id = "iris", 7, {}, {}, "pipeline-run"


class ParentRun:
    id = "pipeline-run"

    def __init__(self, register_model: Timeouts) -> None:
        self.register_model = register_model


class ModelClass:
    list = Timeouts(0, [])


def new_version(run: SdkRun) -> NewVersion:
    return NewVersion("iris", "outputs/iris", run, {"accuracy": "0.9"}, {}, "d")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("CHAMPION_RETRY_ATTEMPTS", "5")


def test_a_lost_registration_is_found_not_repeated():
    register = Timeouts(1, Version())
    ModelClass.list = Timeouts(0, [Version()])  # the service had committed it
    registry = SdkRegistry(object(), ModelClass, None)
    assert registry.register(new_version(SdkRun(ParentRun(register)))) == 7
    assert (register.calls, ModelClass.list.calls) == (1, 1)


def test_a_failing_check_is_an_attempt_of_the_same_loop():
    """5 attempts in all: the registration once, then four checks that time out. A check with
    its own loop inside would make it 1 + 4 x 5 calls before the step gave up."""
    register = Timeouts(99, Version())
    ModelClass.list = Timeouts(99, [])
    registry = SdkRegistry(object(), ModelClass, None)
    with pytest.raises(InfrastructureError, match="registering iris failed after 5 attempts"):
        registry.register(new_version(SdkRun(ParentRun(register))))
    assert (register.calls, ModelClass.list.calls) == (1, 4)
