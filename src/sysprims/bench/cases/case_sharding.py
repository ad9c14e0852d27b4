"""Sharding: batch routing per strategy against per-key Python routing (a
naive md5 hash-mod, an mmh3 hash-mod loop, an mmh3 + bisect ring), same keys,
same run.

The registry of this component (:func:`data`, ``CONTENDERS``), used by
``sysprims bench``, ``benchmarks/bench_sharding.py`` and the tour.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from ..naive import md5_shard
from ..registry import (
    BATCH,
    FLOOR,
    NAIVE,
    SINGLE,
    Contender,
    measure_all,
    read_keys_floor,
    str_keys,
)

NAME = "sharding"
TITLE = "Sharding (route keys to shards)"
ORDER = 70
REQUIRES = ("sysprims.sharding",)
STR, INT = "route str keys", "route int64 keys"


def data(n: int, seed: int = 42) -> dict[str, Any]:
    ints = np.random.default_rng([seed, 2]).integers(0, 2**63 - 1, size=n, dtype=np.int64)
    return {"n": n, "keys": str_keys(n, "user", 1, seed), "ints": ints}


def _strategy(name: str) -> Any:
    """A fresh strategy by its row name."""
    from ...sharding import (
        ConsistentHashRing,
        HashBasedSharding,
        JumpHashSharding,
        RendezvousSharding,
    )

    return {
        "hash_mod(64)": lambda: HashBasedSharding(64),
        "jump(64)": lambda: JumpHashSharding(64),
        "ring(1000 nodes x 160)": lambda: ConsistentHashRing(1000, vnodes=160),
        "rendezvous(16)": lambda: RendezvousSharding(16),
    }[name]()


STRATEGIES = ("hash_mod(64)", "jump(64)", "ring(1000 nodes x 160)", "rendezvous(16)")


def _grown(name: str) -> Any:
    """The same strategy with one more shard (a ring gains one node)."""
    from ...sharding import HashBasedSharding, JumpHashSharding

    if name.startswith("ring"):
        t = _strategy(name)
        t.add_node(1000)
        return t
    return HashBasedSharding(65) if name.startswith("hash_mod") else JumpHashSharding(65)


def _movement(name: str) -> Any:
    """Share of keys that change shard when one shard is added (ideal: 1 / (shards + 1))."""
    if name.startswith("rendezvous"):
        return None

    def check(_out, s, d):
        from ...sharding import movement_report

        shards = 1000 if name.startswith("ring") else 64
        moved = movement_report(s, _grown(name), d["ints"][:1_000_000]).moved_fraction
        return {"moved_on_add": float(moved), "ideal_moved": 1.0 / (shards + 1)}

    return check


def _same_as_scalar(out, s, d, field="keys") -> dict[str, float]:
    sample = d[field][:200]
    assert np.asarray(out)[:200].tolist() == [s.get_shard(k) for k in sample], "get_shards differs from get_shard"
    return {}


def _both(name: str) -> Any:
    move = _movement(name)

    def check(out, s, d):
        _same_as_scalar(out, s, d)
        return move(out, s, d) if move else {}

    return check


def _ring_points(_mod, _d):
    ring = _strategy("ring(1000 nodes x 160)")
    return ring._points.tolist(), ring._owners.tolist(), ring


def _bisect_route(state, d):
    import mmh3

    points, owners, _ = state
    h, size = mmh3.hash64, len(points)
    out = []
    for k in d["keys"]:
        i = bisect.bisect_left(points, h(k, 0, signed=False)[0])
        out.append(owners[i if i < size else 0])
    return out


def _agrees_with(name: str) -> Any:
    def check(out, state, d):
        ref = _strategy(name).get_shards(d["keys"][:200]).tolist()
        assert list(out[:200]) == ref, f"differs from sysprims {name}"
        return {}

    return check


def _contenders() -> list[Contender]:
    out = []
    for case, field in ((STR, "keys"), (INT, "ints")):
        for name in STRATEGIES:
            out.append(Contender(case, f"sysprims {name}", "sysprims", BATCH,
                                 setup=lambda _m, _d, name=name: _strategy(name),
                                 call=lambda s, d, field=field: s.get_shards(d[field]),
                                 check=_both(name) if field == "keys" else _movement(name)))
    out += [
        Contender(STR, "naive md5 hash_mod loop", NAIVE, SINGLE, size="slow",
                  call=lambda _s, d: [md5_shard(k, 64) for k in d["keys"]]),
        Contender(STR, "mmh3 hash_mod loop", "mmh3", SINGLE, peer="mmh3", size="loop", setup=lambda m, d: m.hash64,
                  call=lambda h, d: [h(k, 0, signed=False)[0] % 64 for k in d["keys"]],
                  check=_agrees_with("hash_mod(64)")),
        Contender(STR, "mmh3 + bisect ring loop", "mmh3", SINGLE, peer="mmh3", size="slow", setup=_ring_points,
                  call=_bisect_route, check=_agrees_with("ring(1000 nodes x 160)")),
        read_keys_floor(STR),
        Contender(INT, "floor: np.remainder(ids, 64)", FLOOR, BATCH, call=lambda _s, d: np.remainder(d["ints"], 64),
                  note="each int64 read once and mapped to one of 64 shards, unhashed"),
    ]
    return out


CONTENDERS = _contenders()


def run(ctx) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
