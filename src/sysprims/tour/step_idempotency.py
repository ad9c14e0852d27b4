"""Tour step: idempotency keys - cache-hit and first-execution cost per store, and a race."""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import datetime, timedelta

import numpy as np

from ..idempotency import IdempotencyManager
from . import Row, timed

NAME = "idempotency"
ORDER = 80


class _SeedManager:
    """The textbook in-memory manager without its prints (the baseline)."""

    def __init__(self) -> None:
        self.cache: dict = {}
        self.ttl = timedelta(hours=24)

    def execute(self, key, operation):
        if key in self.cache:
            ts, result = self.cache[key]
            if datetime.now() - ts < self.ttl:
                return result
        result = operation()
        self.cache[key] = (datetime.now(), result)
        return result


def run(size: int, rng: np.random.Generator) -> list[Row]:
    n_mem = int(min(size, 50_000))
    n_db = int(min(size, 2_000))
    keys = [f"req-{int(i):016x}" for i in rng.integers(0, 2**62, size=n_mem)]
    result = {"charge_id": "ch_0123456789abcdef", "amount": 100.0, "status": "succeeded"}

    def op():
        return result

    rows = []
    seed = _SeedManager()
    mem = IdempotencyManager()
    seed_first, _ = timed(lambda: [seed.execute(k, op) for k in keys])
    first, _ = timed(lambda: [mem.execute(k, op) for k in keys])
    rows.append(Row(NAME, "memory: first execution", n_mem, first, "thread-safe claim", seed_first, "textbook manager"))
    seed_hit, _ = timed(lambda: [seed.execute(k, op) for k in keys], repeat=2)
    hit, _ = timed(lambda: [mem.execute(k, op) for k in keys], repeat=2)
    rows.append(Row(NAME, "memory: cache hit", n_mem, hit, "", seed_hit, "textbook manager"))

    with tempfile.TemporaryDirectory() as tmp:
        db = IdempotencyManager(store=os.path.join(tmp, "idem.db"))
        t, _ = timed(lambda: [db.execute(k, op) for k in keys[:n_db]])
        rows.append(Row(NAME, "sqlite: first execution", n_db, t, f"{n_db / t:,.0f}/s, durable"))
        t, _ = timed(lambda: [db.execute(k, op) for k in keys[:n_db]])
        rows.append(Row(NAME, "sqlite: cache hit", n_db, t, f"{n_db / t:,.0f}/s"))

        # 8 threads retry one payment at once: one charge, one answer
        runs = []
        barrier = threading.Barrier(8)
        answers = []

        def charge():
            runs.append(1)
            threading.Event().wait(0.02)  # the charge takes a moment
            return {"charge_id": "ch_race"}

        def client():
            barrier.wait()
            answers.append(db.execute("retry-storm", charge, wait=5))

        def storm():
            threads = [threading.Thread(target=client) for _ in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()

        t, _ = timed(storm)
        ok = len(runs) == 1 and len(answers) == 8 and all(a == answers[0] for a in answers)
        rows.append(Row(NAME, "sqlite: 8 threads race on one key", 8, t,
                        f"{len(runs)} charge(s), {len(answers)} same answers" if ok else f"FAILED: {len(runs)} charges"))
        db.close()
    return rows
