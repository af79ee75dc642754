"""A `champion` command held at a barrier: `python race_child.py GO READY ARGS...` imports the
CLI, creates READY, waits (bounded) for GO to exist, then runs `champion ARGS...` and exits
with its status. Run under `python -m champion.pipeline.sdk_shim` for `mock_azureml()`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import champion.cli
import champion.gate

go, ready, *argv = sys.argv[1:]
Path(ready).touch()
deadline = time.monotonic() + 120
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit(97)
    time.sleep(0.005)
sys.exit(champion.cli.main(argv))
