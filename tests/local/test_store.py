"""The local workspace's storage promises: durable SQLite settings, a guarded schema, blobs that
are stored once, verified on read and never half-written, and version numbers never reused."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import stat
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from champion.errors import WorkspaceStoreError
from champion.local import Experiment, Model, Run, Workspace
from champion.local.store import CHUNK, DB_NAME, SCHEMA_VERSION, Store

PAYLOAD = b"a pickled model, more or less\n" * 512
MiB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def _close(ws: Workspace) -> Path:
    """Close the workspace's store (as a finished process would) and return its database."""
    ws._store.close()
    return ws.path / DB_NAME


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def _blob_files(ws: Workspace) -> list[Path]:
    return sorted(p for p in (ws.path / "blobs").rglob("*") if p.is_file())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _foreign_sqlite_db(folder: Path) -> Path:
    """Another application's SQLite file, in SQLite's default (rollback journal) mode."""
    folder.mkdir()
    db = folder / DB_NAME
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
        conn.commit()
    return db


class _Zeros(io.RawIOBase):
    """`size` zero bytes, produced on demand so the test itself holds no large buffer."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


class _BrokenStream(io.RawIOBase):
    """Yields `good` chunks, then fails like a dropped network mount."""

    def __init__(self, good: int = 1) -> None:
        self.calls = 0
        self.good = good

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.calls > self.good:
            raise OSError("connection reset while reading the model")
        return b"x" * CHUNK


# --------------------------------------------------------------------------- SQLite settings


def test_the_connection_uses_wal_full_sync_and_a_busy_timeout(ws: Workspace) -> None:
    conn = ws._store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5_000
    # WAL is a property of the file: every other process opening it uses WAL too.
    with closing(sqlite3.connect(ws.path / DB_NAME)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_transaction_holds_the_write_lock_from_its_first_statement(ws: Workspace) -> None:
    """BEGIN IMMEDIATE: the read that decides a write (the next version) cannot go stale,
    because no other process may start writing until this transaction ends."""
    with closing(sqlite3.connect(ws.path / DB_NAME, timeout=0, isolation_level=None)) as other:
        with ws._store.transaction():
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")


def test_the_schema_version_is_stored(ws: Workspace) -> None:
    db = _close(ws)
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert row == (str(SCHEMA_VERSION),)


# --------------------------------------------------------------------------- refusing to open


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        ("UPDATE meta SET value='99' WHERE key='schema_version'", "'99'"),
        ("DELETE FROM meta WHERE key='schema_version'", "None"),
    ],
    ids=["version-99", "version-missing"],
)
def test_an_unknown_schema_version_is_refused_and_the_file_left_alone(
    ws: Workspace, in_tmp: Path, edit: str, shown: str
) -> None:
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    Model.register(ws, "model.pkl", "m")
    db = _close(ws)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(edit)
        conn.commit()
    before = _snapshot(db)

    with pytest.raises(WorkspaceStoreError) as info:
        Workspace(ws.path)

    assert f"schema version {shown}" in str(info.value)
    assert str(db) in str(info.value)
    assert info.value.field == "schema_version"
    assert _snapshot(db) == before
    with pytest.raises(WorkspaceStoreError):  # refused again, not recreated by the first try
        Workspace(ws.path)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM models").fetchone() == (1,)


def test_a_garbage_database_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    db = folder / DB_NAME
    db.write_bytes(b"this is not a database\n" * 512)
    before = _snapshot(db)

    with pytest.raises(WorkspaceStoreError, match="cannot be read") as info:
        Workspace(folder)

    assert str(db) in str(info.value)
    assert _snapshot(db) == before


def test_a_sqlite_database_without_a_schema_version_is_refused(tmp_path: Path) -> None:
    _foreign_sqlite_db(tmp_path / "ws")
    with pytest.raises(WorkspaceStoreError, match="not a champion workspace"):
        Workspace(tmp_path / "ws")


def test_a_foreign_sqlite_database_is_left_untouched(tmp_path: Path) -> None:
    db = _foreign_sqlite_db(tmp_path / "ws")
    before = _snapshot(db)
    with pytest.raises(WorkspaceStoreError):
        Workspace(tmp_path / "ws")
    assert _snapshot(db) == before


def test_blobs_without_a_database_are_refused(ws: Workspace, in_tmp: Path) -> None:
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    Model.register(ws, "model.pkl", "m")
    db = _close(ws)
    for leftover in ws.path.glob(DB_NAME + "*"):
        leftover.unlink()

    with pytest.raises(WorkspaceStoreError, match=f"has blobs but no registry in {DB_NAME}"):
        Workspace(ws.path)

    assert not db.exists()
    assert len(_blob_files(ws)) == 1


def test_an_emptied_database_beside_blobs_is_refused(ws: Workspace, in_tmp: Path) -> None:
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    Model.register(ws, "model.pkl", "m")
    db = _close(ws)
    for leftover in ws.path.glob(DB_NAME + "-*"):
        leftover.unlink()
    db.write_bytes(b"")  # e.g. a failed copy or restore

    with pytest.raises(WorkspaceStoreError):
        Workspace(ws.path)


# --------------------------------------------------------------------------- blobs


def test_identical_content_is_stored_once(ws: Workspace, in_tmp: Path) -> None:
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    experiment = Experiment(ws, "dedup")
    for _ in range(2):
        run = experiment.start_logging()
        run.upload_file("outputs/model.pkl", "model.pkl")
        run.register_model("from-run", model_path="outputs/model.pkl")
    for _ in range(20):
        Model.register(ws, "model.pkl", "m")

    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert _blob_files(ws) == [ws.path / "blobs" / "sha256" / digest[:2] / digest]
    assert _blob_files(ws)[0].read_bytes() == PAYLOAD
    assert Model(ws, "m").version == 20


def _model_and_run(ws: Workspace) -> tuple[Model, Run]:
    """A run that uploaded PAYLOAD as outputs/model.pkl and registered it."""
    run = Experiment(ws, "exp").start_logging()
    run.upload_file("outputs/model.pkl", io.BytesIO(PAYLOAD))
    return run.register_model("m", model_path="outputs/model.pkl"), run


def _corrupt(blob: Path) -> None:
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(blob, 0o600)
    blob.write_bytes(bytes(data))


DOWNLOADS: dict[str, Callable[[Model, Run, Path], object]] = {
    "Model.download": lambda model, run, out: model.download(str(out)),
    "Run.download_file": lambda model, run, out: run.download_file(
        "outputs/model.pkl", str(out / "model.pkl")
    ),
    "Run.download_files": lambda model, run, out: run.download_files(
        prefix="outputs", output_directory=str(out)
    ),
}
DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupt": (_corrupt, "is corrupt"),
    "missing": (Path.unlink, "is missing"),
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("download", DOWNLOADS)
def test_a_damaged_blob_fails_the_download_and_writes_no_file(
    ws: Workspace, in_tmp: Path, download: str, damage: str
) -> None:
    model, run = _model_and_run(ws)
    (blob,) = _blob_files(ws)
    harm, message = DAMAGE[damage]
    harm(blob)
    out = in_tmp / "out"
    out.mkdir()

    with pytest.raises(WorkspaceStoreError, match=message) as info:
        DOWNLOADS[download](model, run, out)

    assert info.value.value == hashlib.sha256(PAYLOAD).hexdigest()
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_failed_overwrite_keeps_the_previous_file(ws: Workspace, in_tmp: Path) -> None:
    model, _ = _model_and_run(ws)
    out = in_tmp / "out"
    out.mkdir()
    (out / "model.pkl").write_bytes(b"yesterday's champion")
    _corrupt(_blob_files(ws)[0])

    with pytest.raises(WorkspaceStoreError):
        model.download(str(out), exist_ok=True)

    assert (out / "model.pkl").read_bytes() == b"yesterday's champion"


def test_read_blob_returns_the_bytes_and_refuses_a_corrupt_blob(ws: Workspace) -> None:
    store = ws._store
    digest, size = store.put_blob(io.BytesIO(PAYLOAD))
    assert (store.read_blob(digest), size) == (PAYLOAD, len(PAYLOAD))
    _corrupt(store.blob_path(digest))
    with pytest.raises(WorkspaceStoreError, match="corrupt"):
        store.read_blob(digest)


def test_read_blob_reports_a_missing_blob_as_a_store_error(ws: Workspace) -> None:
    digest, _ = ws._store.put_blob(io.BytesIO(PAYLOAD))
    ws._store.blob_path(digest).unlink()
    with pytest.raises(WorkspaceStoreError, match="missing"):
        ws._store.read_blob(digest)


def test_tmp_is_empty_after_a_successful_put_blob(ws: Workspace) -> None:
    digest, size = ws._store.put_blob(io.BytesIO(PAYLOAD))
    assert list((ws.path / "tmp").iterdir()) == []
    assert ws._store.blob_path(digest).read_bytes() == PAYLOAD
    assert size == len(PAYLOAD)


def test_a_stream_failing_mid_way_leaves_no_temp_file_blob_or_artifact(ws: Workspace) -> None:
    run = Experiment(ws, "exp").start_logging()
    stream = _BrokenStream()

    with pytest.raises(OSError, match="connection reset"):
        run.upload_file("outputs/model.pkl", stream)

    assert stream.calls == 2  # the failure really came after data had been written
    assert list((ws.path / "tmp").iterdir()) == []
    assert _blob_files(ws) == []
    assert run.get_file_names() == []
    run.upload_file("outputs/model.pkl", io.BytesIO(PAYLOAD))  # the name is still free
    assert run.get_file_names() == ["outputs/model.pkl"]


def test_a_large_stream_failing_while_it_is_copied_leaves_nothing(ws: Workspace) -> None:
    """Past the first few MiB the bytes are read and written by another thread: its failure
    is the upload's, with no temp file, blob or artifact left."""
    run = Experiment(ws, "exp").start_logging()
    stream = _BrokenStream(good=12)

    with pytest.raises(OSError, match="connection reset"):
        run.upload_file("outputs/model.pkl", stream)

    assert stream.calls == 13
    assert list((ws.path / "tmp").iterdir()) == []
    assert _blob_files(ws) == []
    assert run.get_file_names() == []


def test_a_large_upload_is_streamed_in_bounded_memory(ws: Workspace) -> None:
    size = 64 * MiB
    run = Experiment(ws, "exp").start_logging()
    tracemalloc.start()
    try:
        record = run.upload_file("outputs/big.bin", _Zeros(size))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    expected = hashlib.sha256()
    for _ in range(size // MiB):
        expected.update(bytes(MiB))
    assert (record.digest, record.size) == (expected.hexdigest(), size)
    assert ws._store.blob_path(record.digest).stat().st_size == size
    assert peak < 16 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


def test_workspace_folder_and_files_are_owner_only(ws: Workspace) -> None:
    digest, _ = ws._store.put_blob(io.BytesIO(PAYLOAD))
    assert _mode(ws.path) == 0o700
    assert _mode(ws.path / "tmp") == 0o700
    assert _mode(ws.path / DB_NAME) == 0o600
    assert _mode(ws._store.blob_path(digest)) == 0o600
    for sidecar in ws.path.glob(DB_NAME + "-*"):  # WAL and shared-memory files
        assert _mode(sidecar) == 0o600, sidecar.name


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize("deleted", [[3], [1, 2, 3]], ids=["latest", "all"])
def test_deleted_version_numbers_are_never_reused(
    ws: Workspace, in_tmp: Path, deleted: list[int]
) -> None:
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    assert [Model.register(ws, "model.pkl", "m").version for _ in range(3)] == [1, 2, 3]
    for version in deleted:
        Model(ws, "m", version=version).delete()

    assert Model.register(ws, "model.pkl", "m").version == 4
    _close(ws)
    assert Model.register(Workspace(ws.path), "model.pkl", "m").version == 5


# --------------------------------------------------------------------------- transactions


def _committed_experiments(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY name")]


def test_a_nested_transaction_rolls_back_only_the_inner_block(ws: Workspace) -> None:
    store: Store = ws._store
    with store.transaction():
        store.get_or_create_experiment("outer")
        with pytest.raises(RuntimeError, match="inner"), store.transaction():
            store.get_or_create_experiment("inner")
            raise RuntimeError("inner block failed")
        store.get_or_create_experiment("after")

    assert [name for name, _ in store.list_experiments()] == ["after", "outer"]
    assert _committed_experiments(ws.path / DB_NAME) == ["after", "outer"]


def test_a_failing_outer_transaction_rolls_back_its_savepoints_too(ws: Workspace) -> None:
    store: Store = ws._store
    with pytest.raises(RuntimeError, match="outer"), store.transaction():
        store.get_or_create_experiment("outer")
        with store.transaction():
            store.get_or_create_experiment("inner")
        raise RuntimeError("outer block failed")

    assert store.list_experiments() == []
    store.get_or_create_experiment("later")  # the store is usable again afterwards
    assert _committed_experiments(ws.path / DB_NAME) == ["later"]


@pytest.mark.parametrize("size", [len(PAYLOAD), 5 * MiB], ids=["compared", "replaced"])
def test_storing_known_bytes_repairs_a_rotted_blob_and_keeps_a_sound_one(
    ws: Workspace, size: int
) -> None:
    """Small stored blobs are compared with the fresh copy, large ones replaced by it: either
    way the blob ends up holding the bytes its name promises."""
    data = (PAYLOAD * (size // len(PAYLOAD) + 1))[:size]
    first = Experiment(ws, "exp").start_logging().upload_file("outputs/m.bin", io.BytesIO(data))
    blob = ws._store.blob_path(first.digest)
    sound = blob.stat().st_ino
    Experiment(ws, "exp").start_logging().upload_file("outputs/m.bin", io.BytesIO(data))
    if size <= 4 * MiB:
        assert blob.stat().st_ino == sound  # equal bytes: the stored blob stays as it is
    _corrupt(blob)
    assert blob.stat().st_size == size

    again = Experiment(ws, "exp").start_logging().upload_file("outputs/m.bin", io.BytesIO(data))

    assert again.digest == first.digest
    assert blob.read_bytes() == data
    assert list((ws.path / "tmp").iterdir()) == []


def test_bytes_already_stored_are_not_written_again(
    ws: Workspace, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model registered again (same bytes) costs no temp file and no fsync: the stored blob
    is compared with the new bytes, and stays."""
    (in_tmp / "model.pkl").write_bytes(PAYLOAD)
    Model.register(ws, "model.pkl", "m")
    (blob,) = _blob_files(ws)
    created: list[str] = []
    real_open = os.open

    def watching(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        if flags & os.O_CREAT:
            created.append(os.fspath(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", watching)
    again = Model.register(ws, "model.pkl", "m")
    monkeypatch.undo()

    assert again.version == 2
    stored = (str(ws.path / "tmp"), str(ws.path / "blobs"))
    assert not [p for p in created if p.startswith(stored)], created
    assert _blob_files(ws) == [blob]


# --------------------------------------------------------------------------- small blobs


def _small_record(ws: Workspace) -> tuple[Run, str]:
    from champion.local.access import upload_bytes

    run = Experiment(ws, "exp").start_logging()
    upload_bytes(run, "outputs/champion_decision.json", b'{"outcome": "promoted"}')
    return run, hashlib.sha256(b'{"outcome": "promoted"}').hexdigest()


def test_a_small_record_is_stored_in_the_database_and_reads_back_on_both_faces(
    ws: Workspace, in_tmp: Path
) -> None:
    run, digest = _small_record(ws)

    assert _blob_files(ws) == [] and list((ws.path / "tmp").iterdir()) == []
    assert ws._store.inline_content(digest) == b'{"outcome": "promoted"}'
    assert run.get_file_names() == ["outputs/champion_decision.json"]
    run.download_file("outputs/champion_decision.json", str(in_tmp / "local.json"))
    assert (in_tmp / "local.json").read_bytes() == b'{"outcome": "promoted"}'
    from azureml.core import Run as SdkRun

    from champion.local.mock import mock_azureml

    with mock_azureml(ws.path) as aml:
        SdkRun.get(aml.workspace, run.id).download_file(
            "outputs/champion_decision.json", str(in_tmp / "sdk.json")
        )
    assert (in_tmp / "sdk.json").read_bytes() == b'{"outcome": "promoted"}'
    from champion.local.maintenance import verify

    assert verify(ws._store).healthy


def test_a_small_record_is_not_overwritten_and_a_large_one_becomes_a_file(ws: Workspace) -> None:
    from champion.local.access import upload_bytes
    from champion.local.store import INLINE_MAX

    run, _ = _small_record(ws)
    with pytest.raises(Exception, match="already exists"):
        upload_bytes(run, "outputs/champion_decision.json", b"another verdict")
    large = os.urandom(INLINE_MAX + 1)
    upload_bytes(run, "outputs/large.bin", large)
    (blob,) = _blob_files(ws)
    assert blob.read_bytes() == large


def test_verify_and_download_refuse_a_rotted_small_blob(ws: Workspace, in_tmp: Path) -> None:
    from champion.local.maintenance import verify

    run, digest = _small_record(ws)
    with closing(sqlite3.connect(ws.path / DB_NAME)) as conn, conn:
        conn.execute("UPDATE inline_blobs SET content=? WHERE digest=?", (b"rotten", digest))

    report = verify(ws._store)
    assert any("corrupt" in p and digest in p for p in report.problems), report.problems
    with pytest.raises(WorkspaceStoreError, match="corrupt"):
        run.download_file("outputs/champion_decision.json", str(in_tmp / "record.json"))
    assert not (in_tmp / "record.json").exists()


def test_gc_drops_a_small_blob_no_artifact_names(ws: Workspace) -> None:
    from champion.local.maintenance import gc, verify

    _, kept = _small_record(ws)
    orphan = hashlib.sha256(b"left by hand").hexdigest()
    with closing(sqlite3.connect(ws.path / DB_NAME)) as conn, conn:
        conn.execute("INSERT INTO inline_blobs VALUES (?, ?)", (orphan, b"left by hand"))
    assert any(orphan in w for w in verify(ws._store).warnings)

    report = gc(ws._store, grace_seconds=3600)

    assert report.removed_blobs == [orphan]
    assert ws._store.inline_digests() == {kept}
    assert verify(ws._store).warnings == []


def test_a_digest_computed_before_the_file_changed_is_not_taken_for_its_bytes(
    ws: Workspace, tmp_path: Path
) -> None:
    """Staging takes the digest the gate computed for a file only when the blob of that digest
    holds exactly the bytes it reads: a file rewritten in between is hashed anew, and a file
    whose bytes are stored already is stored under its true digest either way."""
    from champion._digest import sha256_file

    model = tmp_path / "model.pkl"
    model.write_bytes(b"first weights")
    ws._store.put_blob(str(model))
    sha256_file(model)  # the gate inspects the file: its digest is remembered
    model.write_bytes(b"other weights")  # ... and the file changes before it is uploaded

    digest, size = ws._store.put_blob(str(model))

    assert digest == hashlib.sha256(b"other weights").hexdigest()
    assert size == len(b"other weights")
    assert ws._store.read_blob(digest) == b"other weights"
    model.write_bytes(b"first weights")  # back to bytes stored already: the hint now holds
    assert ws._store.put_blob(str(model))[0] == hashlib.sha256(b"first weights").hexdigest()
