"""ShardedDatabase on memory and SQLite stores; resharding is complete and safe."""

from __future__ import annotations

import numpy as np
import pytest

from sysprims.errors import BackendError, InvalidParameterError, KeyTypeError, SerializationError
from sysprims.sharding import (
    ConsistentHashRing,
    HashBasedSharding,
    JumpHashSharding,
    RangeBasedSharding,
    ShardedDatabase,
)


def _db(backend, tmp_path, n, strategy):
    if backend == "sqlite":
        return ShardedDatabase(n, strategy, backend="sqlite", path=tmp_path)
    return ShardedDatabase(n, strategy)


def _fill(db, n=600):
    data = {f"user_{i}": {"id": i, "tags": [i % 7]} for i in range(n)}
    data.update({i: f"int-{i}" for i in range(-20, 20)})
    data[b"raw\x00key"] = b"\x00\x01"
    for k, v in data.items():
        db.put(k, v)
    return data


def _check_placed(db, data):
    """Every key is readable, lives in exactly the shard the strategy names, once."""
    assert sum(db.get_shard_stats()) == len(data)
    for k, v in data.items():
        assert db.get(k) == v
        sid = db.strategy.get_shard(k)
        assert k in db.shards[sid]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_reshard_moves_only_changed_keys(backend, tmp_path):
    db = _db(backend, tmp_path, 8, JumpHashSharding(6))
    data = _fill(db)
    old = {k: db.strategy.get_shard(k) for k in data}
    new = JumpHashSharding(7)
    expected_moves = sum(old[k] != new.get_shard(k) for k in data)
    report = db.reshard(new)
    assert report.total == len(data) and report.moved == expected_moves
    assert 0 < report.moved_fraction < 0.3  # ~1/7 for jump hash
    _check_placed(db, data)
    # a second run is a no-op
    assert db.reshard(new).moved == 0


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_interrupted_reshard_rerun_completes(backend, tmp_path, monkeypatch):
    db = _db(backend, tmp_path, 4, HashBasedSharding(4))
    data = _fill(db)
    new = HashBasedSharding(6)
    real_move = ShardedDatabase._move_batch
    calls = {"n": 0}

    def flaky(self, src, dst, keys):
        calls["n"] += 1
        if calls["n"] == 5:
            # crash between the copy and the delete: copies exist in both shards
            self.shards[dst].update({k: self.shards[src][k] for k in keys}) if backend == "memory" else \
                self.shards[dst].put_raw(self.shards[src].items_for(keys))
            raise RuntimeError("power cut")
        return real_move(self, src, dst, keys)

    monkeypatch.setattr(ShardedDatabase, "_move_batch", flaky)
    with pytest.raises(RuntimeError, match="power cut"):
        db.reshard(new, num_shards=6)
    monkeypatch.setattr(ShardedDatabase, "_move_batch", real_move)
    # mid-way: everything still readable, writes go to the new placement
    for k, v in data.items():
        assert db.get(k) == v
    db.put("user_1", "updated")
    data["user_1"] = "updated"
    assert db.get("user_1") == "updated"
    if backend == "sqlite":
        # a new process reopens the folder with the new strategy and reruns
        db.close()
        db = ShardedDatabase(6, new, backend="sqlite", path=tmp_path)
    db.reshard(new)
    assert db.strategy is new
    _check_placed(db, data)


def test_sqlite_persists_across_reopen(tmp_path):
    ring = ConsistentHashRing(["a", "b", "c"])
    db = ShardedDatabase(3, ring, backend="sqlite", path=tmp_path)
    data = _fill(db, 200)
    stats = db.get_shard_stats()
    db.close()
    again = ShardedDatabase(3, ring, backend="sqlite", path=tmp_path)
    assert again.get_shard_stats() == stats
    _check_placed(again, data)
    assert again.get("missing") is None
    with pytest.raises(KeyTypeError):
        again.put(2**63, 1)
    assert "ShardedDatabase" in repr(again) and "sqlite" in again._repr_html_()
    again.close()


def test_ring_add_node_reshard(tmp_path):
    ring = ConsistentHashRing(4)
    db = ShardedDatabase(5, ring)
    data = _fill(db)
    bigger = ConsistentHashRing(4)
    bigger.add_node(4)
    report = db.reshard(bigger)
    # only keys that the new node takes over move, and all of them go to shard 4
    assert report.moved == db.get_shard_stats()[4]
    _check_placed(db, data)


def test_database_validation(tmp_path):
    with pytest.raises(InvalidParameterError, match="shard ids"):
        ShardedDatabase(3, HashBasedSharding(4))
    with pytest.raises(InvalidParameterError):
        ShardedDatabase(0, HashBasedSharding(1))
    with pytest.raises(InvalidParameterError):
        ShardedDatabase(2, "hash")
    with pytest.raises(InvalidParameterError, match="path"):
        ShardedDatabase(2, HashBasedSharding(2), backend="sqlite")
    with pytest.raises(BackendError):
        ShardedDatabase(2, HashBasedSharding(2), backend="sqlite", path=tmp_path / "nope")
    with pytest.raises(InvalidParameterError):
        ShardedDatabase(2, HashBasedSharding(2), backend="postgres")
    db = ShardedDatabase(4, HashBasedSharding(4))
    with pytest.raises(InvalidParameterError, match="shard ids"):
        db.reshard(HashBasedSharding(5))
    db.reshard(HashBasedSharding(5), num_shards=5)
    assert len(db.shards) == 5
    r = ShardedDatabase(2, RangeBasedSharding([(0, 10, 0), (10, 20, 1)]))
    r.put("5", "x")
    assert r.get("5") == "x" and np.sum(r.get_shard_stats()) == 1


_KILL_BETWEEN_COPY_AND_DELETE = r"""
import os, signal, sys
from sysprims.sharding import HashBasedSharding, ShardedDatabase
from sysprims.sharding.database import SqliteShard

calls = {"n": 0}
real_put_raw = SqliteShard.put_raw

def put_raw(self, rows):
    real_put_raw(self, rows)  # committed: the batch now lives in both shards
    calls["n"] += 1
    if calls["n"] == 3:  # killed before the third batch is deleted from its source
        os.kill(os.getpid(), signal.SIGKILL)

SqliteShard.put_raw = put_raw
db = ShardedDatabase(4, HashBasedSharding(4), backend="sqlite", path=sys.argv[1])
db.reshard(HashBasedSharding(6), num_shards=6)
"""


def test_killed_reshard_rerun_keeps_newer_writes(tmp_path):
    """The documented recovery (reopen with the new strategy, keep serving, rerun
    ``reshard``) never copies a stale source row over a write made after the kill."""
    import signal
    import subprocess
    import sys

    old, new = HashBasedSharding(4), HashBasedSharding(6)
    db = ShardedDatabase(4, old, backend="sqlite", path=tmp_path)
    data = _fill(db)
    db.close()
    proc = subprocess.run([sys.executable, "-c", _KILL_BETWEEN_COPY_AND_DELETE, str(tmp_path)], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    db = ShardedDatabase(6, new, backend="sqlite", path=tmp_path)
    moving = [k for k in data if old.get_shard(k) != new.get_shard(k)]
    stale = [k for k in moving if k in db.shards[old.get_shard(k)]]  # still in the old shard
    doubled = [k for k in stale if k in db.shards[new.get_shard(k)]]  # copied, not deleted
    assert doubled and len(stale) > len(doubled)  # killed mid-way, as intended
    for k in data:  # the service goes on writing, to the new placement
        data[k] = ("after the kill", k)
        db.put(k, data[k])
    db.reshard(new)
    reverted = [k for k in data if db.get(k) != data[k]]
    assert reverted == []
    _check_placed(db, data)
    db.close()


def _write_v01_shards(tmp_path, rows_of):
    import sqlite3

    for sid, rows in rows_of.items():
        conn = sqlite3.connect(tmp_path / f"shard_{sid:05d}.sqlite")
        conn.execute("CREATE TABLE kv (k PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        conn.executemany("INSERT INTO kv VALUES (?, ?)", rows)
        conn.commit()
        conn.close()


def test_sqlite_shard_written_without_versions_reads_with_pickle_opt_in(tmp_path):
    """A shard file from sysprims 0.1 (no version column, pickled values) is refused by
    default with a message saying what to do; opened with allow_pickle=True it reads,
    its rows count as older than any new write when a reshard copies them, and
    rewrite_safe() converts it so that it opens without the opt-in."""
    import pickle

    old, new = HashBasedSharding(2), HashBasedSharding(3)
    keys = [f"k{i}" for i in range(60)]
    _write_v01_shards(tmp_path, {sid: [(k, pickle.dumps(("v1", k))) for k in keys if old.get_shard(k) == sid]
                                 for sid in range(2)})
    db = ShardedDatabase(2, old, store=str(tmp_path))
    with pytest.raises(SerializationError, match="allow_pickle=True"):
        db.get("k0")
    db.close()
    db = ShardedDatabase(2, old, store=f"sqlite:///{tmp_path}", allow_pickle=True)
    assert all(db.get(k) == ("v1", k) for k in keys)
    db.put("k0", "v2")
    db.reshard(new, num_shards=3)
    expected = {k: ("v2" if k == "k0" else ("v1", k)) for k in keys}
    _check_placed(db, expected)
    assert db.rewrite_safe() == len(keys) - 1
    db.close()
    with ShardedDatabase(3, new, store=str(tmp_path)) as db:
        _check_placed(db, expected)


class _Boom:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this creates the marker file


def test_crafted_pickle_in_a_shard_file_is_not_executed(tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    folder = tmp_path / "db"
    folder.mkdir()
    ring = HashBasedSharding(1)
    _write_v01_shards(folder, {0: [("k", pickle.dumps(_Boom(marker)))]})
    db = ShardedDatabase(1, ring, store=str(folder))
    with pytest.raises(SerializationError):
        db.get("k")
    with pytest.raises(SerializationError):
        db.shards[0]["k"]
    db.close()
    assert not marker.exists()


def test_sqlite_shard_values_keep_their_types_without_pickle(tmp_path):
    values = {"t": ("a", 1, b"\x00"), "d": {1: "int key", (1, 2): [3.5, None]}, "n": 2**70, "tag": {"$t": [1]},
              "f": float("inf"), "b": True}
    with ShardedDatabase(2, HashBasedSharding(2), store=str(tmp_path)) as db:
        for k, v in values.items():
            db.put(k, v)
    with ShardedDatabase(2, HashBasedSharding(2), store=str(tmp_path)) as db:
        for k, v in values.items():
            got = db.get(k)
            assert got == v and type(got) is type(v), k
        with pytest.raises(SerializationError, match="allow_pickle"):
            db.put("x", {1, 2})  # a set has no safe encoding
    with ShardedDatabase(2, HashBasedSharding(2), store=str(tmp_path), allow_pickle=True) as db:
        db.put("x", {1, 2})
        assert db.get("x") == {1, 2}


@pytest.mark.parametrize("spec", ["postgres://x", "redis://127.0.0.1:1/0", 42])
def test_sharded_database_refuses_other_stores(tmp_path, spec):
    with pytest.raises(InvalidParameterError, match="store"):
        ShardedDatabase(2, HashBasedSharding(2), store=spec)
