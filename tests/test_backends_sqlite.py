"""The shared SQLite helper: URLs, WAL, and many connections opening one new file at once."""

from __future__ import annotations

import threading

import pytest

from sysprims.backends.sqlite import connect, path_from_url
from sysprims.errors import BackendError, InvalidParameterError


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
