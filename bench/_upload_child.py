"""Upload one file as a run artifact in a fresh process and report time and memory.

    python bench/_upload_child.py WORKSPACE FILE

Prints JSON: seconds for `Run.upload_file` alone (the process start and imports are not part of
an upload), this process's RSS just before the upload and its peak RSS (VmHWM) after it, with
the peak reset first, so `peak - before` is what the upload itself held in memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import reset_vm_hwm, vm_hwm_mib


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ws_path, file = Path(sys.argv[1]), Path(sys.argv[2])
    from champion.local import Experiment, Workspace

    ws = Workspace.create(ws_path, exist_ok=True)
    run = Experiment(ws, "upload").start_logging()
    reset = reset_vm_hwm()
    before = rss_mib()
    start = time.perf_counter()
    run.upload_file("outputs/model/model.bin", str(file))
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_mib": round(before, 1),
                "peak_mib": round(vm_hwm_mib(), 1),
                "peak_was_reset": reset,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
