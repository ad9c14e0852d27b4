"""Sharding: batch routing per strategy against per-key Python routing (the
naive md5 hash-mod, an mmh3 hash-mod loop, a bisect ring), same keys, same run."""

from __future__ import annotations

import bisect

from ..naive import md5_shard

NAME = "sharding"
TITLE = "Sharding (route keys to shards)"
ORDER = 70
REQUIRES = ("sysprims.sharding",)


def run(ctx) -> None:
    from ...sharding import (
        ConsistentHashRing,
        HashBasedSharding,
        JumpHashSharding,
        RendezvousSharding,
        movement_report,
    )

    n, ns = ctx.n, ctx.n_slow
    keys = ctx.str_keys(n)
    ints = ctx.int_keys(n)
    strategies = {
        "hash_mod(64)": (lambda m: HashBasedSharding(m), 64),
        "jump(64)": (lambda m: JumpHashSharding(m), 64),
        "ring(1000 nodes x 160)": (lambda m: ConsistentHashRing(m, vnodes=160), 1000),
        "rendezvous(16)": (lambda m: RendezvousSharding(m), 16),
    }
    mkeys = ints[: min(n, 1_000_000)]
    for case, data in (("route str keys", keys), ("route int64 keys", ints)):
        for name, (make, shards) in strategies.items():
            s = make(shards)
            acc = None
            if name.startswith(("hash_mod", "jump", "ring")):
                # share of keys that move when one shard is added (ideal: 1 / (shards + 1))
                def acc(_, make=make, shards=shards, s=s, name=name):
                    if name.startswith("ring"):
                        t = make(shards)
                        t.add_node(shards)
                    else:
                        t = make(shards + 1)
                    return {"moved_on_add": float(movement_report(s, t, mkeys).moved_fraction),
                            "ideal_moved": 1.0 / (shards + 1)}
            ctx.measure(case, f"sysprims {name}", "sysprims", lambda s=s, d=data: s.get_shards(d), len(data),
                        accuracy=acc)
    case = "route str keys"
    ctx.measure(case, "naive md5 hash_mod loop", "naive", lambda: [md5_shard(k, 64) for k in keys[:ns]], ns,
                note=f"per-key loop on {ns:,} keys", shape="single")
    mmh3 = ctx.peer("mmh3", case, "mmh3 hash_mod loop")
    if mmh3 is not None:
        h = mmh3.hash64
        nl = ctx.n_loop
        ctx.measure(case, "mmh3 hash_mod loop", "mmh3", lambda: [h(k, 0, signed=False)[0] % 64 for k in keys[:nl]],
                    nl, note=ctx.loop_note(nl), shape="single")
        ring = ConsistentHashRing(1000, vnodes=160)
        points, owners = ring._points.tolist(), ring._owners.tolist()
        size = len(points)

        def route():
            out = []
            for k in keys[:ns]:
                i = bisect.bisect_left(points, h(k, 0, signed=False)[0])
                out.append(owners[i if i < size else 0])
            return out

        ctx.measure(case, "mmh3 + bisect ring loop", "mmh3", route, ns, note=f"per-key loop on {ns:,} keys",
                    shape="single")
