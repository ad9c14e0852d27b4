"""Trending, contextual suggestions and stream dedup: the issue's goals, measured
against their baselines in the same run.

* ``TrendingTopK.update_many`` against ``TopK.update_many`` (same Zipf(1.1) stream,
  same width x depth, same number of candidates), int and str keys;
* burst recall: a Zipf stream with injected bursts; a burst counts as reported
  when its key is in ``trending(20)`` at some bucket end within one window of its start;
* ``ContextualAutocomplete.suggest`` (user history + region weights) against
  the plain ``Autocomplete.suggest`` on the same prefixes;
* ``sysprims bloom dedup`` against reading the key column with pyarrow alone, and
  its peak memory (a fresh process per input size).

    python benchmarks/bench_trending.py --events 10000000       # the full figures
    pytest benchmarks/bench_trending.py                          # smoke run, small sizes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sysprims.autocomplete import Autocomplete, ContextualAutocomplete
from sysprims.countmin import TopK, TrendingTopK

WIDTH, DEPTH, K = 2719, 5, 20  # epsilon 0.001, delta 0.01, as bench_countmin


def zipf_events(n, seconds, seed=1, vocab=1_000_000):
    rng = np.random.default_rng(seed)
    keys = (rng.zipf(1.1, n) % vocab).astype(np.int64)
    ts = np.sort(rng.uniform(0, seconds, n))
    return keys, ts


def _best(fn, reps):
    times = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return float(np.median(times)), float(min(times))


def update_speed(n, reps=5):
    keys, ts = zipf_events(n, n / 5000)
    skeys = [f"user:{k:015d}" for k in keys[: n // 4].tolist()]
    out = {}
    for name, ks, tt in (("int", keys, ts), ("str", skeys, ts[: len(skeys)])):
        m = len(ks)
        top = _best(lambda ks=ks: TopK(K, WIDTH, DEPTH).update_many(ks), reps)
        trend = _best(
            lambda ks=ks, tt=tt: TrendingTopK(K, WIDTH, DEPTH, interval=1.0, window=10, history=120, candidates=2 * K)
            .update_many(ks, tt),
            reps,
        )  # fmt: skip
        out[name] = {
            "events": m,
            "topk_ns": top[0] / m * 1e9,
            "trending_ns": trend[0] / m * 1e9,
            "trending_speed_vs_topk": top[0] / trend[0],
        }
    return out


def burst_recall(n, bursts=20, seed=3):
    """Zipf stream at 5,000 events/s; each burst: a fresh key at 0.5% of the traffic for 30 s."""
    rate, interval, window, history = 5000.0, 1.0, 10, 120
    seconds = n / rate
    keys, ts = zipf_events(n, seconds, seed)
    rng = np.random.default_rng(seed + 1)
    starts = np.sort(rng.uniform(history, seconds - 60, bursts))
    for b, s in enumerate(starts):
        sel = np.flatnonzero((ts >= s) & (ts < s + 30) & (rng.random(n) < 0.005))
        keys[sel] = 10_000_000 + b
    tr = TrendingTopK(K, WIDTH, DEPTH, interval=interval, window=window, history=history)
    before = tr.nbytes()
    found = {}
    ends = np.searchsorted(ts, np.arange(1, int(seconds) + 1) * interval)
    lo = 0
    t0 = time.perf_counter()
    for sec, hi in enumerate(ends.tolist()):
        tr.update_many(keys[lo:hi], ts[lo:hi])
        lo = hi
        now = (sec + 1) * interval
        for row in tr.trending(K):
            if row.key >= 10_000_000 and row.key not in found:
                found[row.key] = now
    elapsed = time.perf_counter() - t0
    delays = [found.get(10_000_000 + b, np.inf) - s for b, s in enumerate(starts)]
    within = sum(d <= window * interval + interval for d in delays)  # checks happen at bucket ends
    return {
        "events": n,
        "bursts": bursts,
        "reported_within_one_window": within,
        "share": within / bursts,
        "median_delay_s": float(np.median([d for d in delays if np.isfinite(d)])) if found else None,
        "nbytes_before": before,
        "nbytes_after": tr.nbytes(),
        "candidates": len(tr),
        "seconds_with_a_query_per_second": elapsed,
    }


def suggest_speed(words=200_000, queries=20_000, seed=5):
    """Plain against boosted suggest (k=10) by prefix length, with a user history of
    200 queries alone, and with a region profile of 5,000 weighted words besides."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(letters[rng.integers(0, 26, rng.integers(3, 12))]) for _ in range(words)]
    freq = rng.zipf(1.3, words).astype(float)
    index = Autocomplete.from_words(vocab, freq)
    ctx = ContextualAutocomplete(index, user_weight=5.0, region_weight=0.5)
    ctx.add_history("ann", rng.choice(vocab, 200).tolist())
    ctx.set_region("eu", dict(zip(rng.choice(vocab, 5000).tolist(), rng.uniform(0, 50, 5000).tolist(), strict=False)))
    out = {}
    for length in (1, 2, 3):
        prefixes = [w[:length] for w in rng.choice(vocab, queries).tolist()]
        plain = _best(lambda ps=prefixes: [index.suggest(p, 10) for p in ps], 3)[0]
        user = _best(lambda ps=prefixes: [ctx.suggest(p, 10, user="ann") for p in ps], 3)[0]
        both = _best(lambda ps=prefixes: [ctx.suggest(p, 10, user="ann", region="eu") for p in ps], 3)[0]
        out[f"prefix_len_{length}"] = {
            "plain_us": plain / queries * 1e6,
            "user_over_plain": user / plain,
            "user_and_region_over_plain": both / plain,
        }
    return out


_PEAK = "int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) / 1024"
_DEDUP = f"""
import sys, time
from sysprims.cli import main
main(["bloom", "dedup", sys.argv[4], "-c", "user", "-o", sys.argv[2]])  # warm: imports, kernels
out = ["-o", sys.argv[2]] if sys.argv[5] == "write" else []
t = time.perf_counter()
assert main(["bloom", "dedup", sys.argv[1], "-c", "user", "--capacity", sys.argv[3], *out]) == 0
print(time.perf_counter() - t, {_PEAK})
"""
_READ = f"""
import sys, time
import pyarrow.parquet as pq
pq.ParquetFile(sys.argv[1]).metadata
t = time.perf_counter()
n = sum(b.num_rows for b in pq.ParquetFile(sys.argv[1], pre_buffer=False).iter_batches(batch_size=1 << 20, columns=["user"]))
print(time.perf_counter() - t, {_PEAK})
"""


def dedup_speed(sizes=(1_000_000, 4_000_000)):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            rng = np.random.default_rng(n)
            users = pa.array([f"user-{v:09d}" for v in (rng.zipf(1.2, n) % (n // 2)).tolist()])
            path = Path(d) / f"ev{n}.parquet"
            pq.write_table(pa.table({"user": users, "amount": rng.integers(0, 1000, n)}), path, row_group_size=1 << 20)
            small = Path(d) / "small.parquet"
            pq.write_table(pa.table({"user": users[:1000], "amount": np.arange(1000)}), small)
            read = subprocess.run([sys.executable, "-c", _READ, str(path)], capture_output=True, text=True, env=env, check=True)
            rt, rm = map(float, read.stdout.split()[-2:])
            row = {"rows": n, "read_key_column_s": rt, "read_peak_mib": rm}
            for mode in ("summary", "write"):  # summary reads the key column; write, every column
                dd = subprocess.run([sys.executable, "-c", _DEDUP, str(path), str(Path(d) / "o.parquet"),
                                     str(max(sizes)), str(small), mode],
                                    capture_output=True, text=True, env=env, check=True)  # fmt: skip
                dt, dm = map(float, dd.stdout.split()[-2:])
                row[f"dedup_{mode}_s"] = dt
                row[f"dedup_{mode}_speed_vs_read"] = rt / dt
                row[f"dedup_{mode}_peak_mib"] = dm
            out.append(row)
    return out


# ------------------------------------------------------------------ pytest smoke


def test_update_speed_smoke():
    r = update_speed(40_000, reps=1)
    assert r["int"]["events"] == 40_000 and r["str"]["trending_ns"] > 0


def test_burst_recall_smoke():
    r = burst_recall(1_200_000, bursts=3)
    assert r["nbytes_before"] == r["nbytes_after"] and r["candidates"] <= 4 * K
    assert r["reported_within_one_window"] == 3


def test_suggest_speed_smoke():
    assert suggest_speed(words=5_000, queries=300)["prefix_len_1"]["plain_us"] > 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--update-events", type=int, default=2_000_000)
    ap.add_argument("--parts", default="update,suggest,bursts,dedup")
    args = ap.parse_args()
    parts = args.parts.split(",")
    print("machine:", os.uname().nodename, os.cpu_count(), "cpus; load", os.getloadavg(), time.strftime("%Y-%m-%d %H:%M"))
    if "update" in parts:
        print(json.dumps({"update": update_speed(args.update_events)}, indent=1), flush=True)
    if "suggest" in parts:
        print(json.dumps({"suggest": suggest_speed()}, indent=1), flush=True)
    if "bursts" in parts:
        print(json.dumps({"bursts": burst_recall(args.events)}, indent=1, default=float), flush=True)
    if "dedup" in parts:
        print(json.dumps({"dedup": dedup_speed()}, indent=1), flush=True)
    print("peak rss of this process (MiB):", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
