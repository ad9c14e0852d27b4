"""Idempotency keys: the cost of a cache hit and of a first execution per
store (memory, SQLite, Redis), one call at a time, against a naive in-memory
dict manager (no maintained Python peer library exists), with floors: one
SQLite INSERT transaction per call, one Redis round trip (PING).

The registry of this component: :func:`data` and ``CONTENDERS`` (each once,
with its adapter, call shape and check); ``sysprims bench``,
``benchmarks/bench_idempotency.py`` and the tour's idempotency step use them.
The Redis rows need ``data["redis_url"]`` (a running server): the
pytest-benchmark file provides one, ``sysprims bench`` lists them as skipped.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

from ..naive import NaiveIdempotency
from ..registry import FLOOR, NAIVE, SINGLE, Contender, measure_all

NAME = "idempotency"
TITLE = "Idempotency keys (per call)"
ORDER = 90
REQUIRES = ("sysprims.idempotency",)
HIT, FIRST, FP = "cache hit", "first execution", "cache hit with a 44-byte body fingerprint"


def case(kind: str, store: str) -> str:
    """One case per operation and store (``"first execution (SQLite)"``): a
    store is compared with the baseline and the floor of its own kind."""
    return f"{kind} ({store})"

RESULT = {"charge_id": "ch_0123456789abcdef", "amount": 100.0, "status": "succeeded"}
BODY = b'{"amount": 100, "customer": "customer_123"}'
CALLS = 20_000  # calls per timed run at most (memory stores); durable stores run fewer
DURABLE_CALLS = 2_000
_SCOPES = itertools.count()


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """``n`` calls; ``redis_url`` is filled in by a caller that runs a server."""
    return {"n": n, "redis_url": None}


class Manager:
    """A manager under test and how many times its operation ran."""

    def __init__(self, mgr: Any, folder: Any = None):
        self.mgr, self.folder, self.runs = mgr, folder, 0

    def op(self) -> dict[str, Any]:
        self.runs += 1
        return RESULT

    def close(self) -> None:
        if hasattr(self.mgr, "close"):
            self.mgr.close()
        if self.folder is not None:
            self.folder.cleanup()


def _memory(_d: dict[str, Any]) -> Manager:
    from ...idempotency import IdempotencyManager

    return Manager(IdempotencyManager())


def _sqlite(_d: dict[str, Any]) -> Manager:
    from ...idempotency import IdempotencyManager, SQLiteStore

    folder = tempfile.TemporaryDirectory(prefix="sysprims-bench-idem-")
    return Manager(IdempotencyManager(store=SQLiteStore(Path(folder.name) / "idem.db")), folder)


def _redis(d: dict[str, Any]) -> Manager:
    from ...idempotency import IdempotencyManager, RedisStore

    return Manager(IdempotencyManager(store=RedisStore(d["redis_url"], scope=f"bench{next(_SCOPES)}")))


def _naive(_d: dict[str, Any]) -> Manager:
    return Manager(NaiveIdempotency())


STORES = [  # (label, library, store kind, make, calls at most, needs)
    ("sysprims memory store", "sysprims", "memory", _memory, CALLS, ()),
    ("sysprims SQLite store", "sysprims", "SQLite", _sqlite, DURABLE_CALLS, ()),
    ("sysprims Redis store", "sysprims", "Redis", _redis, DURABLE_CALLS, ("redis_url",)),
    ("naive dict manager (memory)", NAIVE, "memory", _naive, CALLS, ()),
]


def _stored(make: Any, fingerprint: bool = False) -> Any:
    def setup(_mod: Any, d: dict[str, Any]) -> Manager:
        m = make(d)
        if fingerprint:
            m.mgr.execute("hit-key", m.op, fingerprint=BODY)
        else:
            m.mgr.execute("hit-key", m.op)
        return m

    return setup


def _hits(m: Manager, d: dict[str, Any]) -> list[Any]:
    ex, op = m.mgr.execute, m.op
    return [ex("hit-key", op) for _ in range(d["n"])]


def _fp_hits(m: Manager, d: dict[str, Any]) -> list[Any]:
    ex, op = m.mgr.execute, m.op
    return [ex("hit-key", op, fingerprint=BODY) for _ in range(d["n"])]


def _firsts(m: Manager, d: dict[str, Any]) -> list[Any]:
    ex, op = m.mgr.execute, m.op
    return [ex(f"k{i}", op) for i in range(d["n"])]


def _check_hits(out: list[Any], m: Manager, d: dict[str, Any]) -> dict[str, float]:
    assert m.runs == 1, f"the operation ran {m.runs - 1} more times on cache hits"
    assert all(r == RESULT for r in out), "a cache hit returned another result"
    return {"operation_runs": float(m.runs - 1)}


def _check_firsts(out: list[Any], m: Manager, d: dict[str, Any]) -> dict[str, float]:
    assert m.runs == d["n"], f"the operation ran {m.runs} times for {d['n']} fresh keys"
    replay = m.mgr.execute("k0", lambda: None)  # a replay returns the stored result, never runs again
    assert replay == RESULT, "a replayed key did not return its stored result"
    return {"replayed_result_equal": 1.0}


def _insert_floor(_mod: Any, _d: dict[str, Any]) -> Any:
    from ...backends.sqlite import connect

    folder = tempfile.TemporaryDirectory(prefix="sysprims-bench-idem-")
    conn = connect(Path(folder.name) / "floor.db")  # the store's WAL / synchronous=NORMAL settings
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
    return conn, folder


def _inserts(st: Any, d: dict[str, Any]) -> int:
    conn = st[0]
    for i in range(d["n"]):  # one transaction per call, as a first execution needs
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (f"k{i}", b"result"))
    return d["n"]


def _close_conn(st: Any) -> None:
    st[0].close()
    st[1].cleanup()


def _ping_setup(_mod: Any, d: dict[str, Any]) -> Any:
    import redis

    return redis.Redis.from_url(d["redis_url"])


def _contenders() -> list[Contender]:
    out = []
    for label, lib, kind, make, calls, needs in STORES:
        note = "a redis-server: benchmarks/bench_idempotency.py starts one" if needs else ""
        common: dict[str, Any] = {"size": calls, "needs": needs, "teardown": Manager.close, "note": note}
        out.append(Contender(case(HIT, kind), label, lib, SINGLE, setup=_stored(make), call=_hits, check=_check_hits,
                             **common))
        out.append(Contender(case(FIRST, kind), label, lib, SINGLE, setup=lambda _m, d, make=make: make(d), call=_firsts,
                             check=_check_firsts, **common))
        if lib == "sysprims":
            out.append(Contender(case(FP, kind), label, lib, SINGLE, setup=_stored(make, True), call=_fp_hits,
                                 check=_check_hits, **common))
    out.append(Contender(case(FIRST, "SQLite"), "floor: one SQLite INSERT transaction per call", FLOOR, SINGLE, size=DURABLE_CALLS,
                         setup=_insert_floor, call=_inserts, teardown=_close_conn,
                         note="the same WAL / synchronous=NORMAL settings, no claim or result encoding"))
    out.append(Contender(case(HIT, "Redis"), "floor: one Redis round trip (PING)", FLOOR, SINGLE, size=DURABLE_CALLS,
                         peer="redis", needs=("redis_url",), setup=_ping_setup,
                         call=lambda c, d: [c.ping() for _ in range(d["n"])], teardown=lambda c: c.close(),
                         note="a Redis hit costs one round trip, a first execution two; needs a redis-server"))
    return out


CONTENDERS = _contenders()


def run(ctx) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
