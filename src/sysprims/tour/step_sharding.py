"""Tour step: batch shard routing (the bench's sharding case), and how many keys move."""

from __future__ import annotations

import numpy as np

from . import Row, Show, timed

NAME = "sharding"
ORDER = 70
COMPONENT = "sharding"

SHOW = [
    Show("route str keys", "sysprims hash_mod(64)", "naive md5 hash_mod loop", "HashBasedSharding.get_shards(str)"),
    Show("route str keys", "sysprims jump(64)", "mmh3 hash_mod loop", "JumpHashSharding.get_shards(str)"),
    Show("route int64 keys", "sysprims ring(1000 nodes x 160)", None, "ConsistentHashRing.get_shards(int64)"),
]


def extra(size: int, rng: np.random.Generator) -> list[Row]:
    from ..sharding import HashBasedSharding, JumpHashSharding, movement_report

    sample = rng.integers(0, 2**62, size=min(size, 200_000), dtype=np.int64)
    hm_move = movement_report(HashBasedSharding(16), HashBasedSharding(17), sample).moved_fraction
    t, rep = timed(lambda: movement_report(JumpHashSharding(16), JumpHashSharding(17), sample))
    return [Row(NAME, "movement_report 16->17 shards", sample.size, t,
                f"jump moves {rep.moved_fraction:.1%} (ideal {1 / 17:.1%}), hash-mod {hm_move:.1%}")]
