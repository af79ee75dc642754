"""4. Artifact upload of 256 MiB and 1 GiB: throughput against the machine's real bound, measured
on the same file in the same run, and the memory the upload holds.

Ours: `Run.upload_file(name, path)` in a fresh process (_upload_child.py), which streams the
file into a content-addressed blob: this thread reads and hashes (sha256) while a writer thread
writes and starts the write-back, then fsync and rename. Timed around the call alone; memory is
the process's peak RSS during the call minus its RSS just before (VmHWM reset first). The file
is in the page cache for every contender (it was just written). Each rep uses a fresh
workspace, so every upload writes its blob.

The bound is the slower of the two jobs an upload must do: copying the bytes durably
(`cp` then `sync` of the copy) and hashing them (`openssl dgst -sha256`, the same OpenSSL SHA
code as Python's hashlib). coreutils `cp` alone and `sha256sum` (no SHA extensions here: a far
easier bound) are shown for reference. Order rotates every rep. MLflow (--peer):
`MlflowClient.log_artifact` of the same file in a fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from _common import BENCH, MIB, OUR_PYTHON, Row, child_env, median, progress, run_child

RATIO_TARGET = 0.8
FLAT_SLACK_MIB = 8.0


def make_file(path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            fh.write(chunk)
            written += len(chunk)


def measure(ctx, root: Path, size: int, reps: int, peer_db: str | None) -> dict[str, list]:
    """Every contender on one file of `size` bytes, `reps` times, order rotating."""
    label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
    src = root / f"file-{size}"
    progress(f"upload: writing a {label} file")
    make_file(src, size)
    r: dict[str, list] = {
        "ours": [],
        "ours_mem": [],
        "cp": [],
        "cp_sync": [],
        "sha": [],
        "openssl": [],
        "theirs": [],
        "theirs_mem": [],
    }

    def ours() -> None:
        ws = root / "ws"
        out = run_child(
            [str(OUR_PYTHON), str(BENCH / "_upload_child.py"), str(ws), str(src)],
            env=child_env(),
        ).check("upload child")
        data = json.loads(out.stdout)
        r["ours"].append(data["seconds"])
        r["ours_mem"].append(data["peak_mib"] - data["rss_before_mib"])
        shutil.rmtree(ws)

    def cp() -> None:
        dst = root / "copy"
        t0 = time.perf_counter()
        run_child(["cp", str(src), str(dst)]).check("cp")
        r["cp"].append(time.perf_counter() - t0)
        dst.unlink()
        t0 = time.perf_counter()
        run_child(["cp", str(src), str(dst)]).check("cp")
        run_child(["sync", str(dst)]).check("sync")
        r["cp_sync"].append(time.perf_counter() - t0)
        dst.unlink()

    def sha() -> None:
        t0 = time.perf_counter()
        run_child(["sha256sum", str(src)]).check("sha256sum")
        r["sha"].append(time.perf_counter() - t0)

    def openssl() -> None:
        if not shutil.which("openssl"):
            return
        t0 = time.perf_counter()
        run_child(["openssl", "dgst", "-sha256", str(src)]).check("openssl")
        r["openssl"].append(time.perf_counter() - t0)

    def theirs() -> None:
        out = ctx.peer.fresh("upload", peer_db, str(src)).check("MLflow upload")
        data = json.loads(out.stdout.strip().splitlines()[-1])
        r["theirs"].append(data["seconds"])
        r["theirs_mem"].append(data["peak_mib"] - data["rss_before_mib"])
        shutil.rmtree(root / "mlflow" / "mlartifacts", ignore_errors=True)

    contenders = [ours, cp, sha, openssl] + ([theirs] if ctx.peer else [])
    ours()  # warm-up: page cache of the file, the .pyc files
    r["ours"].clear()
    r["ours_mem"].clear()
    for rep in range(reps):
        k = rep % len(contenders)
        for do in contenders[k:] + contenders[:k]:
            do()
        progress(
            f"upload {label}: rep {rep + 1}/{reps}: ours {size / MIB / r['ours'][-1]:.0f} MiB/s,"
            f" cp + sync {size / MIB / r['cp_sync'][-1]:.0f}"
            + (f", openssl {size / MIB / r['openssl'][-1]:.0f}" if r["openssl"] else "")
        )
    src.unlink()
    return r


def run(ctx) -> None:
    root = ctx.work / "upload"
    root.mkdir(parents=True, exist_ok=True)
    sizes = ctx.pick((256 * MIB, 1024 * MIB), (32 * MIB, 128 * MIB))
    reps = ctx.pick(3, 1)
    peer_db = ctx.peer.registry(root / "mlflow", 0, ctx.fixtures.model_file) if ctx.peer else None
    results = {size: measure(ctx, root, size, reps, peer_db) for size in sizes}

    ctx.details["upload"] = {
        "reps": reps,
        "seconds": {str(s): {k: v for k, v in r.items() if v} for s, r in results.items()},
    }
    mems = []
    for size, r in results.items():
        label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
        mib = size / MIB
        ours_t, cp_t, sha_t = median(r["ours"]), median(r["cp"]), median(r["sha"])
        theirs_t = median(r["theirs"]) if r["theirs"] else None
        ctx.add(
            Row(
                "upload",
                f"{label}: Run.upload_file / MLflow log_artifact",
                mib / ours_t,
                "MiB/s",
                theirs=mib / theirs_t if theirs_t else None,
                note=f"cp {mib / cp_t:.0f} MiB/s, sha256sum {mib / sha_t:.0f} MiB/s, cp + sync "
                f"{mib / median(r['cp_sync']):.0f} MiB/s"
                + (
                    f", openssl dgst -sha256 {mib / median(r['openssl']):.0f} MiB/s"
                    if r["openssl"]
                    else ""
                ),
            )
        )
        cp_sync = mib / median(r["cp_sync"])
        hashing = mib / median(r["openssl"]) if r["openssl"] else mib / sha_t
        bound = min(cp_sync, hashing)
        ratio = (mib / ours_t) / bound
        hasher = "openssl" if r["openssl"] else "no openssl: sha256sum"
        easy = (mib / ours_t) / min(mib / cp_t, mib / sha_t)
        ctx.add(
            Row(
                "upload",
                f"{label}: ours / min(cp + sync, openssl dgst -sha256) throughput",
                ratio,
                "x",
                target=f">= {RATIO_TARGET}",
                met=ratio >= RATIO_TARGET,
                note=f"bound {bound:.0f} MiB/s (cp + sync {cp_sync:.0f}, {hasher} {hashing:.0f} "
                f"MiB/s); against min(cp, sha256sum), the old and easier bound: {easy:.2f}x",
            )
        )
        mem = max(r["ours_mem"])
        mems.append(mem)
        ctx.add(
            Row(
                "upload",
                f"{label}: memory held during the upload (peak - before)",
                mem,
                "MiB",
                theirs=max(r["theirs_mem"]) if r["theirs_mem"] else None,
            )
        )
    flat = max(mems) - min(mems) <= FLAT_SLACK_MIB and max(mems) < 64
    ctx.rows[-1].target = f"flat: within {FLAT_SLACK_MIB:g} MiB across sizes"
    ctx.rows[-1].met = flat
