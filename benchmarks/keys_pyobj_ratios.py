"""Same-run ratios for Python-object keys (issue #22): sysprims against today's
buffer path and the peers, on fresh ~21-byte str keys, interleaved round by round
in one process. The machine is shared, so each call is timed in process CPU
time (``time.process_time``: the waits for a core other processes hold do not
count) and ratios, not absolute times, are what this reports.

    PYTHONPATH=src python benchmarks/keys_pyobj_ratios.py --n 1000000 --rounds 3

Per-key Python loops (mmh3, md5, rbloom ``in``, datasketches, limits) run on the
first ``--loop-cap`` keys and are compared per key.

``--threads T`` adds the ``threads=`` speedups (issue #24 item 5): serial and
threaded calls interleaved, timed in wall-clock time (CPU time would add the
threads up), with the load average printed beside them: on a shared machine a
second thread only helps when a core is free.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

import sysprims
from sysprims import BloomFilter, CountMinSketch, RateLimiter, TopK, murmur3_128
from sysprims.hashing import _hash_batch128
from sysprims.keys import normalize_keys
from sysprims.sharding import HashBasedSharding


def fresh_keys(n: int, seed: int = 1, non_ascii: bool | str = False) -> list[str]:
    """n new str objects of 21 characters (as read from I/O: no cached hash);
    ``non_ascii``: the last one is ``"\xe9"`` (True: a latin-1 str) or the
    character given (``"\u20ac"``: UCS-2, ``"\U0001f600"``: UCS-4)."""
    rng = np.random.default_rng(seed)
    raw = b"".join(b"user:%016d" % v for v in rng.integers(0, 10**16, n).tolist())
    text = raw.decode()
    if non_ascii:
        last = "\xe9" if non_ascii is True else non_ascii
        return [text[i * 21 : i * 21 + 20] + last for i in range(n)]
    return [text[i * 21 : (i + 1) * 21] for i in range(n)]


def zipf_stream(n: int, seed: int = 3) -> list[str]:
    ids = (np.random.default_rng(seed).zipf(1.2, n) - 1) % 1_000_000
    text = "".join(f"item:{i:016d}" for i in ids.tolist())
    return [text[i * 21 : (i + 1) * 21] for i in range(n)]


class Bench:
    """Contenders timed round-robin (CPU time); the best round of each counts."""

    def __init__(self, rounds: int):
        self.rounds = rounds
        self.cases: list[tuple[str, int, Callable[[], Callable[[], object]]]] = []
        self.best: dict[str, float] = {}

    def add(self, name: str, n: int, make: Callable[[], Callable[[], object]]) -> None:
        """``make()`` builds fresh state untimed and returns the timed call."""
        self.cases.append((name, n, make))

    def run(self) -> dict[str, float]:
        for _ in range(self.rounds):
            for name, n, make in self.cases:
                call = make()
                t0 = time.process_time()
                call()
                dt = (time.process_time() - t0) / n * 1e9
                self.best[name] = min(self.best.get(name, float("inf")), dt)
        return self.best


def thread_ratios(keys: list[str], threads: int, rounds: int) -> None:
    """serial / threaded wall time, interleaved round by round (best of each)."""
    import os

    import pyarrow as pa

    from sysprims.sharding import ConsistentHashRing, JumpHashSharding

    n = len(keys)
    arr = pa.array(keys)
    hk = sysprims.hash_keys(keys)
    sh, jump, ring = HashBasedSharding(64), JumpHashSharding(64), ConsistentHashRing(list(range(16)))
    pairs = {
        "murmur3_128(arrow)": lambda t: murmur3_128(arr, threads=t),
        "murmur3_128(list[str]) (serial by design)": lambda t: murmur3_128(keys, threads=t),
        "HashBased get_shards(arrow)": lambda t: sh.get_shards(arr, threads=t),
        "Jump get_shards(arrow)": lambda t: jump.get_shards(arr, threads=t),
        "Ring get_shards(HashedKeys)": lambda t: ring.get_shards(hk, threads=t),
        "HashBased get_shards(list[str])": lambda t: sh.get_shards(keys, threads=t),
    }
    best: dict[tuple[str, int], float] = {}
    for f in pairs.values():
        f(threads)  # compile the threaded kernels outside the timing
    for _ in range(rounds):
        for name, f in pairs.items():
            for t in (1, threads):
                t0 = time.perf_counter()
                f(t)
                dt = time.perf_counter() - t0
                best[name, t] = min(best.get((name, t), float("inf")), dt)
    print(f"threads={threads} vs serial, wall clock, n = {n:,}, load average {os.getloadavg()} on {os.cpu_count()} CPUs:")
    for name in pairs:
        s1, st = best[name, 1] / n * 1e9, best[name, threads] / n * 1e9
        print(f"  {name}: {s1 / st:.2f}x  [{st:.1f} vs {s1:.1f} ns/key]")


def floor_ratios(keys_by_kind: dict[str, list[str]], rounds: int) -> str:
    """The memory floor per kind: a bare read of every object (its header and
    characters summed 8 bytes at a time, in place, each object's first three
    cache lines prefetched 12 keys ahead), in process CPU time, as a ratio to
    the same read of the ASCII keys. A 21-character str is ~70 bytes when
    ASCII and ~160 bytes (three cache lines) when UCS-4."""
    import sys

    import numba

    from sysprims._kernels.pyobj import peek64, prefetch

    @numba.njit(nogil=False)
    def read_all(items: np.ndarray, sizes: np.ndarray) -> int:
        n = items.shape[0]
        total = np.uint64(0)
        for i in range(n):
            if i + 12 < n:
                ahead = items[i + 12]
                prefetch(ahead)
                prefetch(ahead + 64)
                prefetch(ahead + 128)
            p = items[i]
            end = p + sizes[i]
            while p < end:
                total += peek64(p)
                p += 8
        return total

    # the address of each object and its size rounded down to whole words: the
    # list keeps every object alive while the kernel reads it
    addrs = {k: np.array([id(s) for s in v], dtype=np.int64) for k, v in keys_by_kind.items()}
    sizes = {k: np.array([sys.getsizeof(s) & ~7 for s in v], dtype=np.int64) for k, v in keys_by_kind.items()}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for k in keys_by_kind:
            read_all(addrs[k][:10], sizes[k][:10])
            t0 = time.process_time()
            read_all(addrs[k], sizes[k])
            best[k] = min(best.get(k, float("inf")), time.process_time() - t0)
    return "  memory floor (a bare read of each object): " + ", ".join(
        f"{k} {best[k] / best['ASCII']:.2f}x" for k in keys_by_kind if k != "ASCII"
    ) + f" the ASCII read [{best['ASCII'] / len(keys_by_kind['ASCII']) * 1e9:.1f} ns/key]"


def ratelimit_cases(b: Bench, stream: list[str], cap: int) -> Callable[[Callable[..., str]], list[str]]:
    """The rate limiter's rows (issue #22: ``allow_many`` with str keys >= 100x limits'
    FixedWindow loop and >= 5x a plain dict token bucket): ``allow_many`` decides
    every request of ``stream`` (20,000 requests/s, limit 100/s per key); the loops
    run on its first ``min(cap, 200_000)`` requests, each round on fresh copies of
    those strings (no cached ``hash``). Returns the report lines' maker."""
    import limits
    from limits.storage import MemoryStorage

    from sysprims.bench.naive import DictTokenBucket

    n, nrl = len(stream), min(cap, len(stream), 200_000)
    ts = np.sort(np.random.default_rng(5).uniform(0, n / 20_000, n)) + 1.7e9
    tsl = ts[:nrl].tolist()

    def make_batch(algo: str, **params: float) -> Callable[[], Callable[[], object]]:
        def make() -> Callable[[], object]:
            rl = RateLimiter(algo, **params)
            return lambda: rl.allow_many(stream, ts)

        return make

    b.add("RateLimiter allow_many fixed_window", n, make_batch("fixed_window", max_requests=100, window_seconds=1.0))
    b.add("RateLimiter allow_many token_bucket", n, make_batch("token_bucket", capacity=100, refill_rate=100.0))
    item = limits.RateLimitItemPerSecond(100)

    def make_limits():
        hit, ks = limits.strategies.FixedWindowRateLimiter(MemoryStorage()).hit, zipf_stream(nrl)
        return lambda: [hit(item, k) for k in ks]

    def make_dict():
        allow, ks = DictTokenBucket(100, 100.0).allow, zipf_stream(nrl)
        return lambda: list(map(allow, ks, tsl))

    b.add("limits FixedWindow loop", nrl, make_limits)
    b.add("dict token bucket loop", nrl, make_dict)

    def lines(ratio: Callable[..., str]) -> list[str]:
        on = f"  (allow_many on {n:,} requests, loops on {nrl:,})"
        return [ratio("limits FixedWindow loop", "RateLimiter allow_many fixed_window", 100) + on,
                ratio("dict token bucket loop", "RateLimiter allow_many token_bucket", 5) + on]

    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loop-cap", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=0, help="also time threads=T against serial (wall clock)")
    ap.add_argument("--ratelimit-only", action="store_true", help="only the rate limiter's rows")
    args = ap.parse_args()
    if args.ratelimit_only:
        sysprims.warmup()
        rb = Bench(args.rounds)
        rl_only = ratelimit_cases(rb, zipf_stream(args.n), args.loop_cap)
        rr = rb.run()
        print(f"n = {args.n:,}, best of {args.rounds} interleaved rounds, CPU time")
        for line in rl_only(lambda peer, ours, goal: f"  {ours} vs {peer}: {rr[peer] / rr[ours]:.2f}x  "
                            f"[{rr[ours]:.1f} vs {rr[peer]:.1f} ns/key] (goal >= {goal}x)"):
            print(line)
        return
    import bounter
    import datasketches as ds
    import mmh3
    import rbloom

    n, cap = args.n, min(args.n, args.loop_cap)
    keys = fresh_keys(n)
    na = fresh_keys(n, non_ascii=True)
    blobs = [k.encode() for k in keys]
    cached = fresh_keys(n, seed=2)
    for k in cached:
        hash(k)
    stream = zipf_stream(n)
    sysprims.warmup()  # compile or load every kernel before timing
    b = Bench(args.rounds)
    h64 = mmh3.hash64
    b.add("murmur3_128 list[str]", n, lambda: lambda: murmur3_128(keys))
    b.add("today's path list[str]", n, lambda: lambda: _hash_batch128(normalize_keys(keys), 0))
    b.add("mmh3 loop list[str]", cap, lambda: lambda: [h64(k, 0, signed=False) for k in keys[:cap]])
    b.add("murmur3_128 list[bytes]", n, lambda: lambda: murmur3_128(blobs))
    b.add("mmh3 loop list[bytes]", cap, lambda: lambda: [h64(k, 0, signed=False) for k in blobs[:cap]])
    b.add("murmur3_128 non-ASCII list[str]", n, lambda: lambda: murmur3_128(na))
    b.add("today's path non-ASCII", n, lambda: lambda: _hash_batch128(normalize_keys(na), 0))
    na2, na4 = fresh_keys(n, non_ascii="\u20ac"), fresh_keys(n, non_ascii="\U0001f600")
    b.add("murmur3_128 UCS-2 list[str]", n, lambda: lambda: murmur3_128(na2))
    b.add("murmur3_128 UCS-4 list[str]", n, lambda: lambda: murmur3_128(na4))

    b.add("Bloom add_many", n, lambda: (lambda f: lambda: f.add_many(keys))(BloomFilter.for_capacity(n, 0.01)))
    b.add("rbloom update (fresh)", n, lambda: (lambda f, ks: lambda: f.update(ks))(rbloom.Bloom(n, 0.01), fresh_keys(n, seed=9)))
    b.add("rbloom update (cached hashes)", n, lambda: (lambda f: lambda: f.update(cached))(rbloom.Bloom(n, 0.01)))
    full = BloomFilter.for_capacity(n, 0.01)
    full.add_many(keys)
    rb = rbloom.Bloom(n, 0.01)
    rb.update(keys)
    b.add("Bloom contains_many", n, lambda: lambda: full.contains_many(keys))
    b.add("rbloom in-loop (fresh)", cap, lambda: (lambda ks: lambda: [k in rb for k in ks])(fresh_keys(cap, seed=1)))

    b.add("CountMin update_many", n, lambda: (lambda c: lambda: c.update_many(keys))(CountMinSketch(4096, 5)))
    b.add("bounter update", n, lambda: (lambda c, ks: lambda: c.update(ks))(bounter.CountMinSketch(width=4096, depth=5), fresh_keys(n, seed=1)))
    cms = CountMinSketch(4096, 5)
    cms.update_many(keys)
    bt = bounter.CountMinSketch(width=4096, depth=5)
    bt.update(keys)
    b.add("CountMin query_many", n, lambda: lambda: cms.query_many(keys))
    b.add("bounter query loop", cap, lambda: (lambda ks: lambda: [bt[k] for k in ks])(fresh_keys(cap, seed=1)))

    topk_out: dict[str, object] = {}

    def make_topk():
        t = TopK(100, 2719, 5)
        topk_out["t"] = t
        return lambda: t.update_many(stream)

    def make_ds():
        f = ds.frequent_strings_sketch(10)
        topk_out["f"] = f
        upd = f.update
        return lambda: [upd(k) for k in stream[:cap]]

    b.add("TopK update_many", n, make_topk)
    b.add("datasketches frequent loop", cap, make_ds)

    sh = HashBasedSharding(64)
    b.add("get_shards", n, lambda: lambda: sh.get_shards(keys))
    b.add("mmh3 loop shard", cap, lambda: lambda: [h64(k, 0, signed=False)[0] % 64 for k in keys[:cap]])
    md5 = hashlib.md5
    b.add("md5 loop shard (primer)", cap, lambda: lambda: [int(md5(k.encode()).hexdigest(), 16) % 64 for k in keys[:cap]])

    rl_lines = ratelimit_cases(b, stream, cap)

    r = b.run()
    if args.threads > 1:
        thread_ratios(keys, args.threads, args.rounds)
    floor = floor_ratios({"ASCII": keys, "latin-1": na, "UCS-2": na2, "UCS-4": na4}, args.rounds)
    truth = {k for k, _ in Counter(stream).most_common(100)}
    recall = len(truth & {k for k, _ in topk_out["t"].top()}) / 100

    def ratio(peer: str, ours: str, goal: float | None = None) -> str:
        x = r[peer] / r[ours]
        g = f" (goal >= {goal}x: {'met' if x >= goal else 'NOT met'})" if goal else ""
        return f"  {ours} vs {peer}: {x:.2f}x  [{r[ours]:.1f} vs {r[peer]:.1f} ns/key]{g}"

    na_ratio = r["murmur3_128 non-ASCII list[str]"] / r["murmur3_128 list[str]"]
    today_na = r["today's path non-ASCII"] / r["today's path list[str]"]
    print(f"n = {n:,} fresh 21-byte keys, best of {args.rounds} interleaved rounds; loops on {cap:,} keys")
    for line in (
        ratio("today's path list[str]", "murmur3_128 list[str]", 3),
        ratio("mmh3 loop list[str]", "murmur3_128 list[str]", 10),
        ratio("mmh3 loop list[bytes]", "murmur3_128 list[bytes]", 5),
        f"  non-ASCII / ASCII: {na_ratio:.2f}x (goal <= 1.5x); today's path {today_na:.2f}x",
        "  by kind, one non-ASCII character last: latin-1 {:.2f}x, UCS-2 {:.2f}x, UCS-4 {:.2f}x the ASCII key".format(
            na_ratio, *(r[f"murmur3_128 UCS-{w} list[str]"] / r["murmur3_128 list[str]"] for w in (2, 4))
        ),
        floor,
        ratio("rbloom update (fresh)", "Bloom add_many", 2),
        ratio("rbloom update (cached hashes)", "Bloom add_many", 1.2),
        ratio("rbloom in-loop (fresh)", "Bloom contains_many", 2.5),
        ratio("bounter update", "CountMin update_many", 3),
        ratio("bounter query loop", "CountMin query_many", 3),
        ratio("datasketches frequent loop", "TopK update_many", 3) + f"; TopK recall of the true top-100: {recall}",
        ratio("md5 loop shard (primer)", "get_shards", 40),
        ratio("mmh3 loop shard", "get_shards", 5),
        *rl_lines(ratio),
    ):
        print(line)


if __name__ == "__main__":
    main()
