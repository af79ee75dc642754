"""Runs many `champion` command lines in one process, each bounded in time, and writes what
each did: its exit code, its stderr, and whether it escaped (`crash`: an exception out of
`main`; `hang`: still running at the bound). One process for hundreds of command lines keeps
the fuzz test to seconds; the test itself runs this file as a child, so nothing it does
touches pytest's process.

Usage: python cli_fuzz_driver.py CASES.json RESULTS.json SECONDS
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback
from typing import Any


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in champion eats it."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang


def run_case(argv: list[str], cwd: str, seconds: int) -> dict[str, Any]:
    from champion.cli import main

    out, err = io.StringIO(), io.StringIO()
    result: dict[str, Any] = {"argv": argv, "code": None, "crash": None, "hang": False}
    os.chdir(cwd)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result["code"] = main(argv)
    except Hang:
        result["hang"] = True
    except BaseException:  # an exception out of main is a traceback for the user
        result["crash"] = traceback.format_exc()
    finally:
        signal.alarm(0)
    result["stderr"] = err.getvalue()[-4000:]
    result["stdout_tail"] = out.getvalue()[-400:]
    return result


def main() -> int:
    cases_path, results_path, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGALRM, _alarm)
    with open(cases_path, encoding="utf-8") as file:
        cases = json.load(file)
    results = [run_case(case["argv"], case["cwd"], seconds) for case in cases]
    with open(results_path, "w", encoding="utf-8") as file:
        json.dump(results, file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
