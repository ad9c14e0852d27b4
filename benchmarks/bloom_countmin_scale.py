"""Bloom, Count-Min and TopK at 1M, 10M and 100M keys (issue #24): sysprims and
its peers (rbloom, bounter, datasketches) on the same keys in one process, with
the machine's floors for the same sizes.

    PYTHONPATH=src python benchmarks/bloom_countmin_scale.py --n 1000000 10000000
    PYTHONPATH=src python benchmarks/bloom_countmin_scale.py --n 100000000 --only bloom

Keys are fresh 21-byte ASCII strings in a pyarrow string array (the peers get
the same strings as a Python list, built untimed) and, for the Bloom filter,
int64 keys as ``HashedKeys``. The machine is shared, so every call is timed in
process CPU time, contenders are interleaved round by round and the best round
counts; ratios, not absolute times, are the result. At 100M keys the keys are
made and fed in 10M-key chunks (the peers are skipped: a 100M-element list of
str does not fit next to the filters). Floors: reading the key column from an
in-memory Parquet file with pyarrow, and a NumPy random gather of one uint64
word per key over an array the size of the filter. The threaded read paths
(``threads=``) have their own benchmark, ``benchmarks/threads_scale.py``.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sysprims import BloomFilter, CountMinSketch, TopK
from sysprims.hashing import hash_keys

CHUNK = 10_000_000


def arrow_keys(n: int, seed: int, prefix: bytes = b"user:") -> pa.Array:
    """n distinct-with-high-probability 21-byte keys as a pyarrow string array."""
    rng = np.random.default_rng(seed)
    digits = 21 - len(prefix)
    vals = rng.integers(0, 10**digits, n, dtype=np.int64)
    chars = np.empty((n, 21), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    for col in range(digits - 1, -1, -1):
        chars[:, len(prefix) + col] = 48 + vals % 10
        vals //= 10
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32 if 21 * n < 2**31 else np.int64)
    typ = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.reshape(-1))])


def zipf_arrow(n: int, seed: int = 3) -> pa.Array:
    """A Zipf(1.2) stream over a million 21-byte item names."""
    ids = (np.random.default_rng(seed).zipf(1.2, n) - 1) % 1_000_000
    names = arrow_keys(1_000_000, 77, b"item:")
    return names.take(pa.array(ids))


class Bench:
    """Contenders timed round-robin in CPU time; the best round of each counts."""

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
                t = time.process_time()
                call()
                t = time.process_time() - t
                self.best[name] = min(self.best.get(name, float("inf")), t / n * 1e9)
        return self.best


def floors(b: Bench, arr: pa.Array, nwords: int) -> None:
    n = len(arr)
    sink = io.BytesIO()
    pq.write_table(pa.table({"key": arr}), sink)
    blob = sink.getvalue()
    b.add("floor: pyarrow Parquet column read", n, lambda: lambda: pq.read_table(pa.BufferReader(blob)))
    words = np.zeros(nwords, dtype=np.uint64)
    idx = np.random.default_rng(0).integers(0, nwords, n)
    b.add("floor: numpy random gather (1 word/key)", n, lambda: lambda: words[idx].sum())


def bloom_cases(b: Bench, n: int, peers: bool) -> None:
    keys = arrow_keys(n, 1)
    other = arrow_keys(n, 2)  # half of the queries are absent keys
    queries = pa.concat_arrays([keys.slice(0, n // 2), other.slice(0, n - n // 2)])
    hk = hash_keys(np.arange(n, dtype=np.int64), 0)
    hq = hash_keys(np.arange(n // 2, n + n // 2, dtype=np.int64), 0)
    for layout in ("standard", "blocked", "split_block"):
        def build(layout=layout):
            bf = BloomFilter.for_capacity(n, 0.01, layout=layout)
            return lambda: bf.add_many(keys)

        full = BloomFilter.for_capacity(n, 0.01, layout=layout)
        full.add_many(keys)
        b.add(f"Bloom {layout} add_many (Arrow)", n, build)
        b.add(f"Bloom {layout} contains_many (Arrow)", n, lambda f=full: lambda: f.contains_many(queries))
        hfull = BloomFilter.for_capacity(n, 0.01, layout=layout)
        hfull.add_many(hk)
        b.add(f"Bloom {layout} add_many (HashedKeys)", n,
              lambda layout=layout: (lambda f: lambda: f.add_many(hk))(BloomFilter.for_capacity(n, 0.01, layout=layout)))
        b.add(f"Bloom {layout} contains_many (HashedKeys)", n, lambda f=hfull: lambda: f.contains_many(hq))
    if peers:
        import rbloom

        klist, qlist = keys.to_pylist(), queries.to_pylist()
        b.add("rbloom update (list)", n, lambda: (lambda f: lambda: f.update(klist))(rbloom.Bloom(n, 0.01)))
        rb = rbloom.Bloom(n, 0.01)
        rb.update(klist)
        b.add("rbloom in-loop (list)", n, lambda: lambda: [k in rb for k in qlist])
    floors(b, keys, -(-BloomFilter.for_capacity(n, 0.01).size // 64))


def bloom_chunked(n: int) -> dict[str, float]:
    """100M keys in 10M-key chunks: each layout built, then queried, CPU time per key."""
    out: dict[str, float] = {}
    for layout in ("standard", "split_block", "blocked"):
        bf = BloomFilter.for_capacity(n, 0.01, layout=layout)
        t_add = t_q = 0.0
        hits = 0
        for c in range(n // CHUNK):
            keys = arrow_keys(CHUNK, 100 + c)
            t = time.process_time()
            bf.add_many(keys)
            t_add += time.process_time() - t
        for c in range(n // CHUNK):
            keys = arrow_keys(CHUNK, 100 + c) if c % 2 == 0 else arrow_keys(CHUNK, 900 + c)
            t = time.process_time()
            hits += int(bf.contains_many(keys).sum())
            t_q += time.process_time() - t
        absent = n // CHUNK // 2 * CHUNK
        fpr = (hits - (n - absent)) / absent
        out[f"Bloom {layout} add_many (Arrow)"] = t_add / n * 1e9
        out[f"Bloom {layout} contains_many (Arrow)"] = t_q / n * 1e9
        out[f"Bloom {layout} measured FPR (target 0.01)"] = fpr
        del bf
    return out


def countmin_cases(b: Bench, n: int, peers: bool, recall: dict) -> None:
    stream = zipf_arrow(n)
    b.add("CountMin update_many (Arrow Zipf)", n, lambda: (lambda c: lambda: c.update_many(stream))(CountMinSketch(4096, 5)))
    # bounter's CountMinSketch is a conservative-update sketch (32-bit cells, plus a
    # HyperLogLog it feeds on every update): the like-for-like sysprims setting
    b.add("CountMin update_many conservative (Arrow Zipf)", n,
          lambda: (lambda c: lambda: c.update_many(stream))(CountMinSketch(4096, 5, conservative=True)))
    cms = CountMinSketch(4096, 5)
    cms.update_many(stream)
    b.add("CountMin query_many (Arrow Zipf)", n, lambda: lambda: cms.query_many(stream))
    tk_holder: dict = {}

    def make_topk():
        t = tk_holder["t"] = TopK(100, 2719, 5)
        return lambda: t.update_many(stream)

    b.add("TopK update_many (Arrow Zipf)", n, make_topk)
    if peers:
        import bounter
        import datasketches as ds

        slist = stream.to_pylist()
        b.add("TopK update_many (list[str] Zipf)", n, lambda: (lambda t: lambda: t.update_many(slist))(TopK(100, 2719, 5)))
        b.add("bounter update (list)", n, lambda: (lambda c: lambda: c.update(slist))(bounter.CountMinSketch(width=4096, depth=5)))
        bt = bounter.CountMinSketch(width=4096, depth=5)
        bt.update(slist)
        b.add("bounter query loop (list)", n, lambda: lambda: [bt[k] for k in slist])

        def make_ds():
            f = ds.frequent_strings_sketch(10)
            upd = f.update
            return lambda: [upd(k) for k in slist]

        b.add("datasketches frequent loop (list)", n, make_ds)
        true = [k for k, _ in Counter(slist).most_common(100)]
        recall["true"] = true
    recall["tk"] = tk_holder



RATIOS = [
    ("rbloom update (list)", "Bloom standard add_many (Arrow)", 4.0),
    ("rbloom update (list)", "Bloom split_block add_many (Arrow)", 4.0),
    ("rbloom in-loop (list)", "Bloom standard contains_many (Arrow)", 5.0),
    ("rbloom in-loop (list)", "Bloom split_block contains_many (Arrow)", 5.0),
    ("Bloom standard add_many (Arrow)", "Bloom split_block add_many (Arrow)", 1.5),
    ("Bloom standard contains_many (Arrow)", "Bloom split_block contains_many (Arrow)", 1.5),
    ("Bloom standard add_many (HashedKeys)", "Bloom split_block add_many (HashedKeys)", 1.5),
    ("bounter update (list)", "CountMin update_many (Arrow Zipf)", 6.0),
    ("bounter update (list)", "CountMin update_many conservative (Arrow Zipf)", 6.0),
    ("bounter query loop (list)", "CountMin query_many (Arrow Zipf)", 5.0),
    ("datasketches frequent loop (list)", "TopK update_many (Arrow Zipf)", 3.0),
    ("datasketches frequent loop (list)", "TopK update_many (list[str] Zipf)", 3.0),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=["bloom", "countmin"], default=None)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    for n in args.n:
        print(f"== n = {n:,} (ns/key, process CPU time, best of {args.rounds}; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
        if n > CHUNK:
            for name, v in bloom_chunked(n).items():
                print(f"  {name:55s} {v:10.4g}")
            continue
        b = Bench(args.rounds)
        recall: dict = {}
        if args.only in (None, "bloom"):
            bloom_cases(b, n, not args.no_peers)
        if args.only in (None, "countmin"):
            countmin_cases(b, n, not args.no_peers, recall)
        best = b.run()
        for name, v in best.items():
            print(f"  {name:55s} {v:8.1f}")
        for slow, fast, goal in RATIOS:
            if slow in best and fast in best:
                r = best[slow] / best[fast]
                print(f"  {fast} vs {slow}: {r:.2f}x (goal {goal}x){'' if r >= goal else '  NOT MET'}")
        if "true" in recall and "t" in recall["tk"]:
            top = {k for k, _ in recall["tk"]["t"].top(100)}
            print(f"  TopK recall of the true top-100: {len(top & set(recall['true'])) / 100:.2f}")


if __name__ == "__main__":
    main()
