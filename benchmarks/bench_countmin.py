"""Count-Min Sketch and top-K: sysprims vs bounter, datasketches, pyprobables and
``collections.Counter`` on the same Zipf(1.1) stream of string keys, in the same run.

Sketches use epsilon 0.001, delta 0.01 (width 2719, depth 5); bounter needs a
power-of-two width, so it gets 4096 x 5. pyprobables is ~100x slower than the
rest, so it runs on the first 20,000 items and is reported per item.

    pytest benchmarks/bench_countmin.py --benchmark-only --benchmark-columns=median,ops -q -s

With ``-s``, the module prints ns/item and the ratios against the issue's goals.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from peers import peer
from sysprims import hash_keys
from sysprims.countmin import CountMinSketch, TopK

EPS, DELTA = 0.001, 0.01
TOP = 100
SLOW_PEER_ITEMS = 20_000
RESULTS: dict[str, float] = {}  # name -> ns per item


@pytest.fixture(scope="module")
def stream(n_keys) -> list[str]:
    """5 x n_keys items drawn Zipf(1.1) over n_keys distinct string keys."""
    rng = np.random.default_rng(11)
    p = 1.0 / np.arange(1, n_keys + 1) ** 1.1
    p /= p.sum()
    ids = rng.choice(n_keys, size=5 * n_keys, p=p)
    return [f"user:{i:015d}" for i in ids.tolist()]


@pytest.fixture(scope="module")
def arrow_stream(stream):
    pa = pytest.importorskip("pyarrow")
    return pa.array(stream, type=pa.string())


@pytest.fixture(scope="module")
def distinct(stream) -> list[str]:
    return list(dict.fromkeys(stream))


def _record(benchmark, name: str, n: int) -> None:
    benchmark.extra_info["items"] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        ns = stats.stats.median / n * 1e9
        benchmark.extra_info["ns_per_item"] = round(ns, 1)
        RESULTS[name] = ns


def _run(benchmark, func, setup=None):
    if setup is None:
        return benchmark.pedantic(func, rounds=3, iterations=1, warmup_rounds=1)
    return benchmark.pedantic(func, setup=setup, rounds=3, iterations=1, warmup_rounds=1)


# -------------------------------------------------------------------- update


@pytest.mark.benchmark(group="countmin-update")
def test_update_sysprims_list(benchmark, stream):
    cms = CountMinSketch.from_error(EPS, DELTA)
    _run(benchmark, lambda: cms.update_many(stream))
    _record(benchmark, "update sysprims list[str]", len(stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_sysprims_arrow(benchmark, arrow_stream):
    cms = CountMinSketch.from_error(EPS, DELTA)
    _run(benchmark, lambda: cms.update_many(arrow_stream))
    _record(benchmark, "update sysprims arrow", len(arrow_stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_sysprims_hashed(benchmark, stream):
    cms = CountMinSketch.from_error(EPS, DELTA)
    hashed = hash_keys(stream)
    _run(benchmark, lambda: cms.update_many(hashed))
    _record(benchmark, "update sysprims HashedKeys", len(stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_sysprims_conservative(benchmark, arrow_stream):
    cms = CountMinSketch.from_error(EPS, DELTA, conservative=True)
    _run(benchmark, lambda: cms.update_many(arrow_stream))
    _record(benchmark, "update sysprims conservative arrow", len(arrow_stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_bounter(benchmark, stream):
    bounter = peer("bounter")
    b = bounter.CountMinSketch(width=4096, depth=5)
    _run(benchmark, lambda: b.update(stream))
    _record(benchmark, "update bounter", len(stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_datasketches(benchmark, stream):
    ds = peer("datasketches")
    c = ds.count_min_sketch(5, 2719)
    upd = c.update

    def run():
        for key in stream:
            upd(key)

    _run(benchmark, run)
    _record(benchmark, "update datasketches", len(stream))


@pytest.mark.benchmark(group="countmin-update")
def test_update_pyprobables(benchmark, stream):
    probables = peer("probables")
    c = probables.CountMinSketch(width=2719, depth=5)
    part = stream[:SLOW_PEER_ITEMS]

    def run():
        for key in part:
            c.add(key)

    _run(benchmark, run)
    _record(benchmark, "update pyprobables", len(part))


@pytest.mark.benchmark(group="countmin-update")
def test_update_counter(benchmark, stream):
    c = Counter()
    _run(benchmark, lambda: c.update(stream))
    _record(benchmark, "update Counter (exact)", len(stream))


# --------------------------------------------------------------------- query


@pytest.fixture(scope="module")
def filled(stream):
    cms = CountMinSketch.from_error(EPS, DELTA)
    cms.update_many(stream)
    return cms


@pytest.mark.benchmark(group="countmin-query")
def test_query_sysprims_list(benchmark, filled, distinct):
    _run(benchmark, lambda: filled.query_many(distinct))
    _record(benchmark, "query sysprims list[str]", len(distinct))


@pytest.mark.benchmark(group="countmin-query")
def test_query_sysprims_arrow(benchmark, filled, distinct):
    pa = pytest.importorskip("pyarrow")
    arr = pa.array(distinct, type=pa.string())
    _run(benchmark, lambda: filled.query_many(arr))
    _record(benchmark, "query sysprims arrow", len(distinct))


@pytest.mark.benchmark(group="countmin-query")
def test_query_sysprims_hashed(benchmark, filled, distinct):
    hashed = hash_keys(distinct)
    _run(benchmark, lambda: filled.query_many(hashed))
    _record(benchmark, "query sysprims HashedKeys", len(distinct))


@pytest.mark.benchmark(group="countmin-query")
def test_query_bounter(benchmark, stream, distinct):
    bounter = peer("bounter")
    b = bounter.CountMinSketch(width=4096, depth=5)
    b.update(stream)
    _run(benchmark, lambda: [b[k] for k in distinct])
    _record(benchmark, "query bounter", len(distinct))


@pytest.mark.benchmark(group="countmin-query")
def test_query_datasketches(benchmark, stream, distinct):
    ds = peer("datasketches")
    c = ds.count_min_sketch(5, 2719)
    for key in stream:
        c.update(key)
    est = c.get_estimate
    _run(benchmark, lambda: [est(k) for k in distinct])
    _record(benchmark, "query datasketches", len(distinct))


@pytest.mark.benchmark(group="countmin-query")
def test_query_pyprobables(benchmark, stream, distinct):
    probables = peer("probables")
    c = probables.CountMinSketch(width=2719, depth=5)
    for key in stream[:SLOW_PEER_ITEMS]:
        c.add(key)
    part = distinct[:SLOW_PEER_ITEMS]
    _run(benchmark, lambda: [c.check(k) for k in part])
    _record(benchmark, "query pyprobables", len(part))


@pytest.mark.benchmark(group="countmin-query")
def test_query_counter(benchmark, stream, distinct):
    c = Counter(stream)
    _run(benchmark, lambda: [c[k] for k in distinct])
    _record(benchmark, "query Counter (exact)", len(distinct))


# --------------------------------------------------------------------- top-K


def _recall(found, stream) -> float:
    truth = {k for k, _ in Counter(stream).most_common(TOP)}
    return len(truth & set(found)) / len(truth)


@pytest.mark.benchmark(group="countmin-topk")
def test_topk_sysprims_list(benchmark, stream):
    def run():
        t = TopK(TOP, 2719, 5)
        t.update_many(stream)
        return t

    t = _run(benchmark, run)
    benchmark.extra_info["recall"] = _recall([k for k, _ in t.top()], stream)
    RESULTS["recall sysprims"] = benchmark.extra_info["recall"]
    _record(benchmark, "topk sysprims list[str]", len(stream))


@pytest.mark.benchmark(group="countmin-topk")
def test_topk_sysprims_arrow(benchmark, stream, arrow_stream):
    def run():
        t = TopK(TOP, 2719, 5)
        t.update_many(arrow_stream)
        return t

    t = _run(benchmark, run)
    benchmark.extra_info["recall"] = _recall([k for k, _ in t.top()], stream)
    _record(benchmark, "topk sysprims arrow", len(stream))


@pytest.mark.benchmark(group="countmin-topk")
def test_topk_datasketches(benchmark, stream):
    ds = peer("datasketches")

    def run():
        f = ds.frequent_strings_sketch(10)
        upd = f.update
        for key in stream:
            upd(key)
        return f

    f = _run(benchmark, run)
    items = f.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
    found = [row[0] for row in sorted(items, key=lambda r: -r[1])[:TOP]]
    benchmark.extra_info["recall"] = _recall(found, stream)
    RESULTS["recall datasketches"] = benchmark.extra_info["recall"]
    _record(benchmark, "topk datasketches lg_max_k=10", len(stream))


@pytest.mark.benchmark(group="countmin-topk")
def test_topk_counter(benchmark, stream):
    _run(benchmark, lambda: Counter(stream).most_common(TOP))
    _record(benchmark, "topk Counter.most_common (exact)", len(stream))


# -------------------------------------------------------------------- report


@pytest.fixture(scope="module", autouse=True)
def _print_ratios():
    """After the module: print ns/item and the issue's ratios (run with -s to see
    them; nothing is printed when benchmarks are disabled)."""
    yield
    if RESULTS:
        _report(RESULTS)


def _report(r: dict[str, float]) -> None:
    print("\nCount-Min / top-K, ns per item (median):")
    for name, ns in sorted(r.items()):
        if not name.startswith("recall"):
            print(f"  {name:40s} {ns:10.1f}")

    def ratio(peer_name, ours):
        if peer_name in r and ours in r:
            print(f"  {ours} vs {peer_name}: {r[peer_name] / r[ours]:.1f}x faster")

    ratio("update bounter", "update sysprims list[str]")  # goal >= 2.5x
    ratio("update bounter", "update sysprims arrow")  # goal >= 5x
    ratio("update bounter", "update sysprims HashedKeys")  # goal >= 5x
    peers_q = [n for n in ("query bounter", "query datasketches", "query pyprobables") if n in r]
    if peers_q:
        fastest = min(peers_q, key=r.get)
        for ours in ("query sysprims list[str]", "query sysprims arrow", "query sysprims HashedKeys"):
            ratio(fastest, ours)  # goal >= 3x
    ratio("topk datasketches lg_max_k=10", "topk sysprims list[str]")  # goal >= 5x
    ratio("topk datasketches lg_max_k=10", "topk sysprims arrow")
    print(f"  recall: sysprims {r.get('recall sysprims')}, datasketches {r.get('recall datasketches')}")
