"""Tour step: batch shard routing against the textbook per-key md5 loop."""

from __future__ import annotations

import hashlib

import numpy as np

from ..sharding import ConsistentHashRing, HashBasedSharding, JumpHashSharding, movement_report
from . import Row, timed

NAME = "sharding"
ORDER = 70


def run(size: int, rng: np.random.Generator) -> list[Row]:
    ids = rng.integers(0, 2**62, size=size, dtype=np.int64)
    n_str = min(size, 50_000)  # the md5 baseline is a Python loop: sample it
    words = [f"user:{i:015d}" for i in ids[:n_str].tolist()]

    def seed_md5():
        return [int(hashlib.md5(w.encode()).hexdigest(), 16) % 64 for w in words]

    md5_s, _ = timed(seed_md5)
    md5_per_key = md5_s / n_str
    rows = []
    hm = HashBasedSharding(64)
    t, got = timed(lambda: hm.get_shards(words), repeat=2)
    ok = got[:500].tolist() == [hm.get_shard(w) for w in words[:500]]
    rows.append(Row(NAME, "HashBasedSharding.get_shards(str)", n_str, t, "= get_shard loop" if ok else "MISMATCH", md5_per_key * n_str, "textbook md5 loop"))
    for label, strat in (
        ("HashBasedSharding(64)", hm),
        ("JumpHashSharding(64)", JumpHashSharding(64)),
        ("ConsistentHashRing(1000x160)", ConsistentHashRing(1000, vnodes=160)),
    ):
        strat.get_shards(ids[:8])
        t, _ = timed(lambda s=strat: s.get_shards(ids), repeat=2)  # type: ignore[misc]
        rows.append(Row(NAME, f"{label}.get_shards(int64)", size, t, f"{size / t / 1e6:.1f}M keys/s", md5_per_key * size, "textbook md5 loop"))
    sample = ids[: min(size, 200_000)]
    hm_move = movement_report(HashBasedSharding(16), HashBasedSharding(17), sample).moved_fraction
    j_move = movement_report(JumpHashSharding(16), JumpHashSharding(17), sample).moved_fraction
    t, _ = timed(lambda: movement_report(JumpHashSharding(16), JumpHashSharding(17), sample))
    rows.append(Row(NAME, "movement_report 16->17 shards", sample.size, t, f"jump moves {j_move:.1%}, hash-mod {hm_move:.1%}"))
    return rows
