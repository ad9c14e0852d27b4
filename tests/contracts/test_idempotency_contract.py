"""The idempotency-store contract (:class:`sysprims.idempotency.IdempotencyStore`) on every engine."""

from __future__ import annotations

import pytest

from sysprims.errors import SerializationError
from sysprims.idempotency import IdempotencyManager, IdempotencyStore, PickleSerializer

COMPONENT = "idempotency"
T = 1_700_000_000.0



def _payload(store, value: str):
    return value.encode() if store.persistent else value


def test_is_an_idempotency_store(store):
    assert isinstance(store, IdempotencyStore)
    assert list(store.records(T)) == []


def test_one_claim_at_a_time_and_only_the_owner_settles(store):
    assert store.begin("k", "t1", "fp", T, T + 10) == (True, None)
    won, rec = store.begin("k", "t2", "fp", T + 1, T + 11)
    assert not won and rec.state == "running" and rec.fingerprint == "fp"
    assert not store.complete("k", "t2", "done", _payload(store, "x"), T + 1, T + 100)
    assert not store.release("k", "t2")
    assert store.complete("k", "t1", "done", _payload(store, "r"), T + 2, T + 100)
    rec = store.get("k", T + 3)
    assert rec.state == "done" and rec.payload == _payload(store, "r") and rec.completed_at == T + 2
    assert not store.release("k", "t1")  # done: no longer a claim to release
    won, rec = store.begin("k", "t3", "fp", T + 4, T + 14)
    assert not won and rec.state == "done"


def test_an_expired_claim_or_record_frees_the_key(store):
    assert store.begin("k", "t1", None, T, T + 10)[0]
    assert store.begin("k", "t2", None, T + 10, T + 20)[0]  # the first claim expired
    assert not store.complete("k", "t1", "done", _payload(store, "late"), T + 11, T + 100)
    assert store.complete("k", "t2", "done", _payload(store, "on time"), T + 11, T + 50)
    assert store.get("k", T + 49) is not None and store.get("k", T + 50) is None
    assert store.begin("k", "t3", None, T + 50, T + 60)[0]


def test_release_delete_cleanup_clear(store):
    store.begin("a", "ta", None, T, T + 10)
    assert store.release("a", "ta") and store.get("a", T) is None
    for k in ("b", "c", "d"):
        store.begin(k, "t" + k, None, T, T + 10)
    store.complete("d", "td", "done", _payload(store, "x"), T, T + 1000)
    assert store.delete("b") and not store.delete("b")
    assert store.cleanup(T + 10) == 1  # c's claim expired; d lives
    assert [r.key for r in store.records(T + 10)] == ["d"]
    store.clear()
    assert list(store.records(T)) == []


def test_a_crafted_pickle_in_a_record_is_not_unpickled_by_default(engine, spec, tmp_path):
    """Persistent stores hand back bytes; the default serializer is JSON, so a record
    whose payload is a pickle (planted by whoever can write the store) is refused."""
    import pickle

    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    from sysprims.clock import ManualClock

    clock = ManualClock(T)
    m = IdempotencyManager(store=spec, clock=clock)
    if not m.store.persistent:  # objects are kept as they are: nothing is ever decoded
        boom = Boom()
        assert m.store.begin("k", "tok", None, T, T + 1000)[0]
        m.store.complete("k", "tok", "done", boom, T, T + 1000)
        assert m.execute("k", lambda: "never") is boom and not marker.exists()
        return
    claimed, _ = m.store.begin("k", "tok", None, T, T + 1000)
    assert claimed and m.store.complete("k", "tok", "done", pickle.dumps(Boom()), T, T + 1000)
    with pytest.raises(SerializationError):
        m.execute("k", lambda: "never")
    assert not marker.exists()
    m.close()
    opted_in = IdempotencyManager(store=spec, serializer=PickleSerializer(), clock=clock)  # the documented opt-in
    opted_in.execute("k", lambda: "never")
    assert marker.exists()
    opted_in.close()
