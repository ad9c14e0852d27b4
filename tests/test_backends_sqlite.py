"""The shared SQLite helper: URLs, WAL, and many connections opening one new file at once."""

from __future__ import annotations

import threading

import pytest

from sysprims.backends.sqlite import connect, path_from_url
from sysprims.errors import BackendError, InvalidParameterError
from sysprims.idempotency import IdempotencyManager
from sysprims.shortener import URLShortener


def test_path_from_url():
    assert path_from_url("sqlite:///links.db") == "links.db"
    assert path_from_url("sqlite:////tmp/links.db") == "/tmp/links.db"
    assert path_from_url("sqlite://:memory:") == ":memory:"
    assert path_from_url("plain/path.db") == "plain/path.db"
    with pytest.raises(InvalidParameterError, match="sqlite:///path.db"):
        path_from_url("sqlite://relative.db")


def test_wal_and_missing_folder(tmp_path):
    conn = connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with pytest.raises(BackendError, match="does not exist"):
        connect(tmp_path / "missing" / "a.db")


def test_many_threads_opening_a_new_database_together(tmp_path):
    # Switching a new file to WAL can fail at once with "database is locked"
    # (SQLite skips its busy handler there); connect() must retry, not raise.
    for trial in range(60):
        path = tmp_path / f"race{trial}.db"
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def open_and_write(path=path, barrier=barrier, errors=errors) -> None:
            barrier.wait()
            try:
                conn = connect(path)
                conn.execute("CREATE TABLE IF NOT EXISTS t (a)")
                conn.close()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_and_write) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[0]


def _db(tmp_path, name="s.db"):
    from sysprims.backends.sqlite import SQLiteDB

    return SQLiteDB(tmp_path / name, setup=lambda conn: conn.execute("CREATE TABLE IF NOT EXISTS t (k PRIMARY KEY, v)"))


def test_transactions_commit_or_roll_back_whole(tmp_path):
    db = _db(tmp_path)
    db.tx(lambda conn: conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")]))

    def half_then_fail(conn):
        conn.execute("INSERT INTO t VALUES (3, 'c')")
        conn.execute("INSERT INTO t VALUES (1, 'dup')")  # primary key: IntegrityError

    with pytest.raises(BackendError, match=r"s\.db failed: UNIQUE"):
        db.tx(half_then_fail)
    with pytest.raises(KeyError):  # any exception rolls back, and is not rewrapped
        db.tx(lambda conn: (conn.execute("INSERT INTO t VALUES (4, 'd')"), {}["boom"]))
    assert db.query("SELECT k FROM t ORDER BY k") == [(1,), (2,)]
    with pytest.raises(BackendError, match="no such table"):
        db.query("SELECT * FROM nope")
    db.close()
    with pytest.raises(BackendError, match="closed"):
        db.query("SELECT 1")


def test_identifiers_are_checked():
    from sysprims.backends.sqlite import check_identifier

    assert check_identifier("table", "links_2") == "links_2"
    for bad in ("", "1a", "a-b", "a;DROP TABLE x", "é", "x" * 64, None):
        with pytest.raises(InvalidParameterError, match="SQL identifier"):
            check_identifier("table", bad)


@pytest.mark.parametrize(
    "build",
    [lambda p: URLShortener(p), lambda p: IdempotencyManager(store=p)],
    ids=["shortener", "idempotency"],
)
def test_a_file_that_is_not_a_database_raises_backend_error(tmp_path, build):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(BackendError, match="junk.db"):
        build(str(path))


def test_a_shard_folder_with_a_junk_file_raises_backend_error(tmp_path):
    from sysprims.sharding import HashBasedSharding, ShardedDatabase

    (tmp_path / "shard_00000.sqlite").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(BackendError, match="shard_00000.sqlite"):
        ShardedDatabase(1, HashBasedSharding(1), store=str(tmp_path))


def test_a_child_process_after_fork_gets_its_own_connection(tmp_path):
    import multiprocessing as mp

    db = _db(tmp_path)
    db.execute("INSERT INTO t VALUES (1, 'parent')")
    parent_conn = db.connection()
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def child():
        conn = db.connection()
        db.execute("INSERT INTO t VALUES (2, 'child')")
        q.put((conn is not parent_conn, db.query("SELECT COUNT(*) FROM t")[0][0]))

    p = ctx.Process(target=child)
    p.start()
    got = q.get(timeout=60)
    p.join(60)
    assert got == (True, 2) and p.exitcode == 0
    assert db.connection() is parent_conn and db.query("SELECT v FROM t ORDER BY k") == [("parent",), ("child",)]
    db.close()
