"""Contract check 37: what `run.log` stores and the shapes `get_metrics` returns, on both faces
(see README.md)."""

from __future__ import annotations

import pytest
from azureml.exceptions import UserErrorException

from .conftest import Target


def test_c37_log_and_get_metrics(target: Target) -> None:
    run = target.new_run()
    run.log("acc", 0.5)
    assert run.get_metrics() == {"acc": 0.5}
    run.log("acc", 0.7)
    assert run.get_metrics() == {"acc": [0.5, 0.7]}
    assert run.get_metrics(name="acc") == {"acc": [0.5, 0.7]}
    assert run.get_metrics(name="zzz") == {}
    with pytest.raises(UserErrorException) as err:
        run.log("x", [1])
    assert "run.log does not support list type" in err.value.message
    assert "x" not in run.get_metrics()
