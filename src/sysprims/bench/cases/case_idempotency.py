"""Idempotency keys: a cache hit and a first execution per store, against a
naive in-memory dict manager (no maintained Python peer library exists)."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from ..naive import NaiveIdempotency

NAME = "idempotency"
TITLE = "Idempotency keys (per call)"
ORDER = 90
REQUIRES = ("sysprims.idempotency",)
RESULT = {"charge_id": "ch_0123456789abcdef", "amount": 100.0, "status": "succeeded"}


def _op():
    return RESULT


def run(ctx) -> None:
    from ...idempotency import IdempotencyManager, SQLiteStore

    m = min(ctx.n_slow, 20_000)
    folder = Path(tempfile.mkdtemp(prefix="sysprims-bench-idem-"))
    try:
        managers = [("sysprims memory store", "sysprims", lambda: IdempotencyManager(), m),
                    ("sysprims SQLite store", "sysprims",
                     lambda: IdempotencyManager(store=SQLiteStore(folder / f"i{next(ids)}.db")), max(m // 10, 50)),
                    ("naive dict manager (memory)", "naive", lambda: NaiveIdempotency(), m)]
        ids = itertools.count()
        for name, lib, make, k in managers:
            mgr = make()
            mgr.execute("hit-key", _op)
            ex = mgr.execute
            ctx.measure("cache hit", name, lib, lambda ex=ex, k=k: [ex("hit-key", _op) for _ in range(k)], k,
                        shape="single")
            counter = itertools.count()

            def first(ex=ex, k=k, counter=counter):
                base = f"k{next(counter)}-"
                return [ex(f"{base}{i}", _op) for i in range(k)]

            ctx.measure("first execution", name, lib, first, k,
                        accuracy=lambda _, ex=ex: {"replayed_result_equal": float(ex("k0-0", lambda: None) == RESULT)},
                        shape="single")
            if hasattr(mgr, "close"):
                mgr.close()
        reason = "not run by sysprims bench (needs a redis-server); see benchmarks/bench_idempotency.py"
        ctx.skip("cache hit", "sysprims Redis store", "sysprims", reason, shape="single")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
