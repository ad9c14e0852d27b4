"""Tour step: idempotency keys - cache-hit and first-execution cost per store (the
bench's idempotency case), and a race."""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

from ..idempotency import IdempotencyManager
from . import Row, Show, timed

NAME = "idempotency"
ORDER = 80
COMPONENT = "idempotency"


SHOW = [
    Show("first execution (memory)", "sysprims memory store", "naive dict manager (memory)",
         "memory: first execution", lambda r, b: "thread-safe claim"),
    Show("cache hit (memory)", "sysprims memory store", "naive dict manager (memory)", "memory: cache hit"),
    Show("first execution (SQLite)", "sysprims SQLite store", "floor: one SQLite INSERT transaction per call",
         "sqlite: first execution", lambda r, b: "durable; against the floor of one INSERT transaction"),
    Show("cache hit (SQLite)", "sysprims SQLite store", None, "sqlite: cache hit"),
]


def extra(size: int, rng: np.random.Generator) -> list[Row]:
    """8 threads retry one payment at once: one charge, one answer."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = IdempotencyManager(store=os.path.join(tmp, "idem.db"))
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
