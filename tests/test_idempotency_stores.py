"""Every store: the same semantics, exactly-once under thread and process races,
crash recovery, persistence across restarts, cleanup."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sysprims.clock import ManualClock, SystemClock
from sysprims.errors import (
    BackendError,
    IdempotencyKeyMismatch,
    RequestInProgress,
    SerializationError,
)
from sysprims.idempotency import (
    CachedOperationError,
    IdempotencyManager,
    MemoryStore,
    PickleSerializer,
    RedisStore,
    SQLiteStore,
    open_store,
)

STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
SHARED = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]  # stores shared by processes


def store_spec(kind: str, request, tmp_path: Path):
    if kind == "memory":
        return "memory"
    if kind == "sqlite":
        return str(tmp_path / "idem.db")
    return request.getfixturevalue("redis_url")


@pytest.fixture(params=STORES)
def kind(request):
    return request.param


@pytest.fixture
def spec(kind, request, tmp_path):
    return store_spec(kind, request, tmp_path)


def test_open_store_kinds(spec, kind):
    store = open_store(spec)
    assert isinstance(store, {"memory": MemoryStore, "sqlite": SQLiteStore, "redis": RedisStore}[kind])
    store.close()


def test_semantics_on_every_store(spec, clock):
    m = IdempotencyManager(ttl_hours=1, store=spec, clock=clock)
    calls = []

    def op():
        calls.append(1)
        return {"charge": len(calls), "raw": b"\x00\xff", "items": [1, 2.5, None, True, "é"]}

    first = m.execute_result("k", op, fingerprint={"amount": 100})
    again = m.execute_result("k", op, fingerprint={"amount": 100})
    assert not first.replayed and again.replayed
    assert again.result == first.result == {"charge": 1, "raw": b"\x00\xff", "items": [1, 2.5, None, True, "é"]}
    assert again.expires_at is not None and (again.expires_at - again.timestamp).total_seconds() == pytest.approx(3600)
    with pytest.raises(IdempotencyKeyMismatch):
        m.execute("k", op, fingerprint={"amount": 200})
    assert len(calls) == 1
    # in progress
    c = m.claim("busy")
    with pytest.raises(RequestInProgress):
        m.execute("busy", op)
    with pytest.raises(RequestInProgress):
        m.execute("busy", op, wait=2)  # manual clock: the wait passes without real sleeping
    c.complete("done")
    assert m.execute("busy", op) == "done"
    # failure releases
    with pytest.raises(ZeroDivisionError):
        m.execute("fail", lambda: 1 / 0)
    assert m.status("fail") is None
    assert m.execute("fail", lambda: "retried") == "retried"
    # cached errors replay
    with pytest.raises(ZeroDivisionError):
        m.execute("cached", lambda: 1 / 0, cache_errors=True)
    with pytest.raises(CachedOperationError, match="ZeroDivisionError"):
        m.execute("cached", op)
    # TTL per call, expiry, cleanup
    m.execute("short", lambda: 1, ttl=10)
    assert set(m.cache) == {"k", "busy", "fail", "short"}
    clock.advance(10)
    assert m.get("short") is None
    assert m.execute("short", lambda: 2, ttl=10) == 2
    clock.advance(3600)
    assert m.get("k") is None and m.status("cached") is None
    assert m.cleanup_expired() == 5
    assert len(m) == 0 and m.cleanup_expired() == 0
    assert len(calls) == 1
    m.close()


def test_keys_with_special_characters_do_not_collide(spec, clock):
    m = IdempotencyManager(store=spec, clock=clock)
    keys = ["a{b}", "a(b)", "a%7Bb%7D", "a%b", "*", "?", "[x]", "é 🙂", "x" * 255]
    for i, k in enumerate(keys):
        assert m.execute(k, lambda i=i: i) == i
    for i, k in enumerate(keys):
        assert m.execute(k, lambda: -1) == i
    assert sorted(m.cache) == sorted(keys)
    m.clear()
    assert len(m) == 0


def test_unserialisable_result_releases_key(kind, spec, clock):
    m = IdempotencyManager(store=spec, clock=clock)
    if kind == "memory":
        assert m.execute("k", lambda: {1, 2}) == {1, 2}  # objects kept as they are
        return
    with pytest.raises(SerializationError):
        m.execute("k", lambda: {1, 2})
    assert m.status("k") is None
    p = IdempotencyManager(store=spec, clock=clock, serializer=PickleSerializer())
    assert p.execute("k", lambda: {1, 2}) == {1, 2}
    assert p.execute("k", lambda: None) == {1, 2}


def test_persistent_store_survives_a_new_manager(kind, spec, clock):
    if kind == "memory":
        pytest.skip("in-memory records live and die with their store")
    m1 = IdempotencyManager(store=spec, clock=clock)
    m1.execute("k", lambda: {"charge_id": "ch_1"})
    m1.close()
    m2 = IdempotencyManager(store=spec, clock=clock)
    assert m2.execute("k", lambda: {"charge_id": "ch_2"}) == {"charge_id": "ch_1"}


def test_sqlite_scoped_tables_and_urls(tmp_path, clock):
    path = tmp_path / "x.db"
    a = IdempotencyManager(store=SQLiteStore(path, table="svc_a"), clock=clock)
    b = IdempotencyManager(store=SQLiteStore(f"sqlite:///{path}", table="svc_b"), clock=clock)
    a.execute("k", lambda: "a")
    assert b.execute("k", lambda: "b") == "b"
    with pytest.raises(Exception, match="SQL identifier"):
        SQLiteStore(path, table="x; DROP TABLE y")
    with pytest.raises(BackendError):
        SQLiteStore(tmp_path / "missing" / "x.db")


@pytest.mark.redis
def test_redis_scopes_and_native_expiry(redis_url, redis_client, clock):
    a = IdempotencyManager(store=RedisStore(redis_url, scope="a"), clock=clock)
    b = IdempotencyManager(store=RedisStore(redis_client, scope="b"), clock=clock)
    a.execute("k", lambda: "a", ttl=100)
    assert b.execute("k", lambda: "b") == "b"
    keys = sorted(k.decode() for k in redis_client.keys("*"))
    assert keys == ["sysprims:v2:idem:{a:k}", "sysprims:v2:idem:{b:k}"]
    pttl = redis_client.pttl("sysprims:v2:idem:{a:k}")
    assert 100_000 < pttl <= 101_000  # native backstop: the TTL plus one second
    a.clear()
    assert b.get("k").result == "b"


@pytest.mark.redis
def test_redis_restart_flushes_scripts_and_data(own_redis, clock):
    m = IdempotencyManager(store=own_redis.url, clock=clock)
    m.execute("k", lambda: 1)
    own_redis.restart()  # state and scripts gone (no persistence configured)
    assert m.execute("k", lambda: 2) == 2  # NOSCRIPT handled, key free again
    own_redis.stop()
    with pytest.raises(BackendError):
        m.execute("z", lambda: 3)


# ---------------------------------------------------------------- races


def race_threads(make_manager, n=8):
    """n threads call execute on one key at once; returns (runs, results, errors)."""
    calls = []
    barrier = threading.Barrier(8)
    results = [None] * 8
    errors = []

    def op():
        calls.append(threading.get_ident())
        time.sleep(0.05)  # hold the claim while the others arrive
        return {"winner": threading.get_ident()}

    def worker(i):
        try:
            m = make_manager()
            barrier.wait()
            results[i] = m.execute("race", op)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return calls, results, errors


def test_threads_race_on_one_key(spec, kind):
    """8 threads, one key: the operation runs once, everyone gets its result.
    Persistent stores: each thread has its own manager and connection."""
    shared = open_store(spec) if kind == "memory" else None

    def make():
        return IdempotencyManager(store=shared or spec, clock=SystemClock(), wait=10, poll_interval=0.005)

    calls, results, errors = race_threads(make)
    assert not errors
    assert len(calls) == 1
    assert all(r == {"winner": calls[0]} for r in results)


class CheckThenRunManager:
    """The naive design: look the key up in a dict, run the operation on a miss, store
    the result. Nothing stops a second caller between the look-up and the store."""

    def __init__(self):
        self.results = {}

    def execute(self, idempotency_key, operation):
        if idempotency_key in self.results:
            return self.results[idempotency_key]
        self.results[idempotency_key] = outcome = operation()
        return outcome


def test_a_check_then_run_manager_double_executes_when_two_callers_overlap():
    """Deterministic: the operation waits on a 2-party barrier, so it only returns once both
    threads are inside it at the same time. The naive manager lets both in (two runs);
    ours (test_threads_race_on_one_key) runs the operation once for the same key."""
    naive = CheckThenRunManager()
    inside = threading.Barrier(2)
    calls, results, errors = [], [None, None], []

    def op():
        calls.append(threading.get_ident())
        inside.wait(10)  # breaks (and fails the test) unless both callers are in here
        return threading.get_ident()

    def worker(i):
        try:
            results[i] = naive.execute("race", op)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(calls) == 2 and set(results) == set(calls)  # each caller got its own run


def _process_worker(spec: str, counter: str, barrier, out) -> None:
    m = IdempotencyManager(store=spec, clock=SystemClock(), wait=20, poll_interval=0.005)

    def op():
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.1)
        return {"winner": os.getpid()}

    barrier.wait(60)  # all four go together
    try:
        out.put(("ok", m.execute("race", op)))
    except Exception as exc:  # pragma: no cover
        out.put(("error", repr(exc)))


@pytest.mark.parametrize("kind", SHARED)
def test_processes_race_on_one_key(kind, request, tmp_path):
    """4 processes, one key: the operation runs once, all get its result."""
    spec = store_spec(kind, request, tmp_path)
    IdempotencyManager(store=spec).clear()  # create the table before the race
    counter = str(tmp_path / "runs.txt")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_process_worker, args=(spec, counter, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    runs = Path(counter).read_text().split()
    assert len(runs) == 1
    assert got == [("ok", {"winner": int(runs[0])})] * 4


CRASH_SCRIPT = """
import sys, time
from pathlib import Path
from sysprims.clock import ManualClock
from sysprims.idempotency import IdempotencyManager
spec, started, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
m = IdempotencyManager(store=spec, clock=ManualClock(now), lock_ttl=30)
def op():
    Path(started).write_text("running")
    time.sleep(60)  # killed here
    return "never"
m.execute("crash", op)
"""


@pytest.mark.parametrize("kind", SHARED)
def test_killed_process_leaves_key_claimable_after_lock_expiry(kind, request, tmp_path, clock):
    spec = store_spec(kind, request, tmp_path)
    started = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, spec, str(started), repr(clock.time())])
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert proc.poll() is None, "worker died early"
            assert time.monotonic() < deadline, "worker never started its operation"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    m = IdempotencyManager(store=spec, clock=clock, lock_ttl=30)
    assert m.status("crash") == "running" and m.get("crash") is None  # nothing reported as done
    with pytest.raises(RequestInProgress):
        m.execute("crash", lambda: "retry")
    clock.advance(29.9)
    with pytest.raises(RequestInProgress):
        m.execute("crash", lambda: "retry")
    clock.advance(0.1)  # the dead worker's claim expires
    assert m.execute_result("crash", lambda: "retry").replayed is False
    assert m.execute("crash", lambda: "again") == "retry"


def test_sqlite_store_works_across_fork(tmp_path, clock):
    """A store opened before fork reconnects in the child."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    path = str(tmp_path / "f.db")
    m = IdempotencyManager(store=path, clock=ManualClock(clock.time()))
    m.execute("parent", lambda: 1)
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_child_execute, args=(m,))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    assert m.get("child").result == "from child"


def _child_execute(m: IdempotencyManager) -> None:
    assert m.execute("parent", lambda: 2) == 1
    m.execute("child", lambda: "from child")


def _stored(store) -> int:
    """Records physically held by a store, expired ones included."""
    if isinstance(store, MemoryStore):
        return len(store._data)
    if isinstance(store, SQLiteStore):
        return store.count()
    return len(store._scan())


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_expired_records_go_away_without_cleanup_calls(kind, request, tmp_path, clock):
    """Nobody calls cleanup_expired() (the service never did): as time passes on the
    manager's clock and requests keep coming, expired records are removed; nothing
    that is still live is."""
    m = IdempotencyManager(store=store_spec(kind, request, tmp_path), clock=clock, ttl=60)
    for i in range(500):
        m.execute(f"short-{i}", lambda i=i: i)
    for i in range(50):
        m.execute(f"long-{i}", lambda i=i: i, ttl=10_000)
    with pytest.raises(ZeroDivisionError):
        m.execute("failed", lambda: 1 / 0, cache_errors=True)
    m.claim("crashed")  # a worker died holding this claim (lock_ttl 60 s)
    assert _stored(m.store) == 552
    clock.advance(3600)
    for i in range(200):  # traffic goes on; nobody calls cleanup_expired()
        m.execute(f"new-{i}", lambda i=i: i)
    assert _stored(m.store) == 50 + 200
    assert all(m.get(f"long-{i}").result == i for i in range(50))
    assert all(m.get(f"new-{i}").result == i for i in range(200))
    assert m.cleanup_expired() == 0


@pytest.mark.redis
def test_every_redis_record_carries_a_native_ttl(redis_url, redis_client, clock):
    m = IdempotencyManager(store=redis_url, clock=clock, ttl=60, lock_ttl=30)
    m.execute("done", lambda: 1)
    with pytest.raises(ZeroDivisionError):
        m.execute("error", lambda: 1 / 0, cache_errors=True)
    m.claim("running")
    keys = redis_client.keys("*")
    assert len(keys) == 3
    ttls = sorted(redis_client.pttl(k) for k in keys)
    assert 0 < ttls[0] <= 31_000 and all(60_000 < t <= 61_000 for t in ttls[1:])


def test_memory_sweep_never_drops_a_live_record_and_drains_within_a_lifetime(clock):
    import random

    rnd = random.Random(3)
    m = IdempotencyManager(store="memory", clock=clock)
    expiry: dict[str, float] = {}
    for _ in range(3000):
        k = f"k{rnd.randrange(1500)}"  # rewrites included
        ttl = rnd.choice([0.5, 3, 7, 20, 100])
        if m.status(k) is None:
            m.execute(k, lambda: 1, ttl=ttl)
            expiry[k] = clock.time() + ttl
        clock.advance(rnd.random() * 0.2)
        now = clock.time()
        live = {k for k, e in expiry.items() if e > now}
        assert live <= set(m.store._data)  # nothing live was removed
    for i in range(2000):  # 250 s later, with writes going on: every old record is gone
        clock.advance(0.125)
        m.execute(f"later-{i}", lambda: 1, ttl=1)
    assert not set(expiry) & set(m.store._data)


# ------------------------------------------------------------------ isolation of scopes in Redis

_NASTY = ["{", "}", ":", "%", "/", "\\", "*", "?", "[", "]", "(", ")", "\n", "\r", " ", "\x00", "é", "🙂",
          "%7B", "%7D", "%3A", "%25", "%u", "a", "b", "7"]


def _adversarial(rng, n: int, max_parts: int = 10) -> list[str]:
    out = {"".join(rng.choices(_NASTY, k=rng.randrange(1, max_parts))) for _ in range(n)}
    return sorted(out)


def test_redis_record_keys_are_injective_over_scope_and_key():
    """(scope, key) -> Redis key is one-to-one: 100k adversarial pairs, escape
    characters included, give 100k distinct keys, each with one Cluster hash tag."""
    import random

    rng = random.Random(11)
    scopes = ["tenant", "tenant/evil", "A", "A/B", "A:B", "A{B}", "A(B)", *_adversarial(rng, 450)]
    keys = ["evil/charge-1", "charge-1", *_adversarial(rng, 250)]
    seen: dict[str, tuple[str, str]] = {}
    for scope in scopes:
        store = RedisStore("redis://127.0.0.1:9/0", scope=scope)  # builds keys without connecting
        for k in keys:
            rk = store._key(k)
            assert seen.setdefault(rk, (scope, k)) == (scope, k), f"{(scope, k)} and {seen[rk]} share {rk!r}"
            tag = rk[rk.index("{") + 1 : rk.index("}")]
            assert rk.endswith("}") and rk.index("}") == len(rk) - 1 and "{" not in tag
            assert store._unkey(rk) == k
            assert rk.startswith(store._prefix)
    assert len(seen) >= 100_000


@pytest.mark.redis
def test_redis_scopes_never_share_or_clear_each_others_records(redis_url, clock):
    def mgr(scope):
        return IdempotencyManager(store=RedisStore(redis_url, scope=scope), clock=clock)

    tenant, evil = mgr("tenant"), mgr("tenant/evil")
    assert tenant.execute("evil/charge-1", lambda: "tenant's charge") == "tenant's charge"
    assert evil.execute("charge-1", lambda: "evil's own charge") == "evil's own charge"
    a, ab, acolon = mgr("A"), mgr("A/B"), mgr("A:B")
    for m, v in ((a, "a"), (ab, "ab"), (acolon, "a:b")):
        m.execute("k", lambda v=v: v)
    a.clear()
    assert a.get("k") is None
    assert ab.get("k").result == "ab" and acolon.get("k").result == "a:b"
    assert sorted(ab.cache) == ["k"] and len(a) == 0


@pytest.mark.redis
def test_records_of_the_0_1_layout_are_not_read(redis_url, redis_client, clock):
    """Decided and documented: idempotency records live at most their TTL, and 0.1's
    key layout could not tell nested scopes apart, so 0.2 does not read them."""
    m = IdempotencyManager(store=redis_url, clock=clock)
    m.execute("k", lambda: "first")
    (new,) = redis_client.keys("*")
    redis_client.rename(new, "sysprims:idem:{default/k}")  # where 0.1 kept this record
    assert m.get("k") is None and len(m) == 0
    assert m.execute("k", lambda: "second") == "second"
    assert redis_client.exists("sysprims:idem:{default/k}")  # left alone: its own TTL removes it
    assert redis_client.pttl("sysprims:idem:{default/k}") > 0


def test_memory_sweep_still_works_after_an_explicit_cleanup(clock):
    m = IdempotencyManager(store="memory", clock=clock, ttl=10)
    for i in range(100):
        m.execute(f"a{i}", lambda: 1)
    clock.advance(5)
    assert m.cleanup_expired() == 0  # nothing expired yet: the 100 records stay queued
    clock.advance(10)
    for i in range(50):
        m.execute(f"b{i}", lambda: 1)
    assert sorted(m.store._data) == sorted(f"b{i}" for i in range(50))
