"""Count-Min Sketch and top-K: sysprims against bounter, datasketches,
pyprobables, ``collections.Counter`` and a naive md5 Count-Min on the same
Zipf(1.1) stream of string keys (and of int64 ids, against ``np.bincount``),
in the same run."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..core import py_container_bytes
from ..naive import NaiveCountMin

NAME = "countmin"
TITLE = "Count-Min sketch and top-K (epsilon 0.001, delta 0.01)"
ORDER = 20
REQUIRES = ("sysprims.countmin",)
EPS, DELTA = 0.001, 0.01
WIDTH, DEPTH = 2719, 5  # ceil(e / 0.001), ceil(ln(1 / 0.01))
TOP = 100


def zipf_stream(ctx, n: int, salt: int = 11) -> list[str]:
    """``n`` items drawn Zipf(1.1) over ``max(n // 4, 1)`` distinct keys."""
    d = max(n // 4, 1)
    vocab = ctx.str_keys(d, "tag", salt)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    p /= p.sum()
    ids = ctx.rng(salt + 1).choice(d, size=n, p=p)
    return [vocab[i] for i in ids.tolist()]


def _errors(est, truth_counts: list[int], total: int) -> dict[str, float]:
    err = np.asarray(est, dtype=np.float64) - np.asarray(truth_counts, dtype=np.float64)
    return {"mean_err": float(err.mean()), "max_err_over_N": float(err.max() / max(total, 1)),
            "underestimates": float((err < 0).sum())}


def run(ctx) -> None:
    from ...countmin import CountMinSketch, TopK
    from ...hashing import hash_keys

    n, ns, nl = ctx.n, ctx.n_slow, ctx.n_loop
    stream = zipf_stream(ctx, n)
    truth = Counter(stream)
    distinct = list(truth)
    tcounts = [truth[k] for k in distinct]
    # Python loops over a native per-key call: a prefix of the stream / of the distinct keys
    loop_stream = stream[:nl]
    loop_truth = Counter(loop_stream)
    loop_distinct = list(loop_truth)
    loop_tcounts = [loop_truth[k] for k in loop_distinct]
    dl = distinct[:nl]
    dl_counts = tcounts[:nl]
    slow_stream = stream[:ns]
    slow_truth = Counter(slow_stream)
    slow_distinct = list(slow_truth)
    slow_tcounts = [slow_truth[k] for k in slow_distinct]
    up, qu = "update (Zipf stream of str)", "query (distinct keys)"
    note_slow = f"per-key loop on the first {ns:,} items"

    # ---- sysprims
    def fresh():
        return (CountMinSketch.from_error(EPS, DELTA),)

    def upd(c, ks):
        c.update_many(ks)
        return c

    ctx.measure(up, "sysprims update_many(list)", "sysprims", lambda c: upd(c, stream), n, setup=fresh,
                memory=lambda c: c.table.nbytes)
    hk = hash_keys(stream)
    ctx.measure(up, "sysprims update_many(HashedKeys)", "sysprims", lambda c: upd(c, hk), n, setup=fresh,
                memory=lambda c: c.table.nbytes, note="keys hashed once beforehand")
    cms = upd(CountMinSketch.from_error(EPS, DELTA), stream)
    ctx.measure(qu, "sysprims query_many(list)", "sysprims", lambda: cms.query_many(distinct), len(distinct),
                memory=cms.table.nbytes, accuracy=lambda est: _errors(est, tcounts, n))

    # ---- bounter (power-of-two width)
    bounter = ctx.peer("bounter", up)
    if bounter is not None:
        def b_new():
            return (bounter.CountMinSketch(width=4096, depth=DEPTH),)

        ctx.measure(up, "bounter (4096 x 5)", "bounter", lambda b: (b.update(stream), b)[1], n, setup=b_new,
                    memory=lambda b: b.size(), note="needs a power-of-two width")
        b = b_new()[0]
        b.update(stream)
        ctx.measure(qu, "bounter (4096 x 5)", "bounter", lambda: [b[k] for k in dl], len(dl),
                    memory=b.size(), accuracy=lambda est: _errors(est, dl_counts, n), note=ctx.loop_note(len(dl)),
                    shape="single")

    # ---- datasketches (C++, per-key calls)
    ds = ctx.peer("datasketches", up)
    if ds is not None:
        def d_fill(c):
            u = c.update
            for k in loop_stream:
                u(k)
            return c

        ctx.measure(up, "datasketches count_min_sketch", "datasketches", d_fill, nl,
                    setup=lambda: (ds.count_min_sketch(DEPTH, WIDTH),),
                    memory=lambda c: c.get_serialized_size_bytes(), note=ctx.loop_note(nl), shape="single")
        c = d_fill(ds.count_min_sketch(DEPTH, WIDTH))
        est = c.get_estimate
        ctx.measure(qu, "datasketches count_min_sketch", "datasketches", lambda: [est(k) for k in loop_distinct],
                    len(loop_distinct), memory=c.get_serialized_size_bytes(),
                    accuracy=lambda e: _errors(e, loop_tcounts, nl), note=ctx.loop_note(nl), shape="single")

    # ---- pyprobables (pure Python hashing: sample)
    prob = ctx.peer("probables", up, "pyprobables")
    if prob is not None:
        def p_fill(c):
            a = c.add
            for k in slow_stream:
                a(k)
            return c

        ctx.measure(up, "pyprobables", "pyprobables", p_fill, ns,
                    setup=lambda: (prob.CountMinSketch(width=WIDTH, depth=DEPTH),),
                    memory=WIDTH * DEPTH * 4, note=note_slow, shape="single")
        pc = p_fill(prob.CountMinSketch(width=WIDTH, depth=DEPTH))
        ctx.measure(qu, "pyprobables", "pyprobables", lambda: [pc.check(k) for k in slow_distinct],
                    len(slow_distinct), memory=WIDTH * DEPTH * 4,
                    accuracy=lambda e: _errors(e, slow_tcounts, ns), note=note_slow, shape="single")

    # ---- exact and naive baselines, and the floor (reading the keys once)
    ctx.measure(up, "Counter (exact)", "python", lambda: Counter(stream), n,
                memory=lambda c: py_container_bytes(c, c), note="stores every distinct key")
    ctx.measure(qu, "Counter (exact) lookup loop", "python", lambda: [truth[k] for k in dl], len(dl), note=ctx.loop_note(len(dl)), shape="single",
                memory=py_container_bytes(truth, truth), accuracy={"mean_err": 0.0, "max_err_over_N": 0.0,
                                                                    "underestimates": 0.0})

    def s_fill(c):
        for k in slow_stream:
            c.update(k)
        return c

    ctx.measure(up, "naive md5 Count-Min update loop", "naive", s_fill, ns, setup=lambda: (NaiveCountMin(WIDTH, DEPTH),),
                memory=lambda c: sum(py_container_bytes(row) for row in c.rows), note=note_slow, shape="single")
    sc = s_fill(NaiveCountMin(WIDTH, DEPTH))
    ctx.measure(qu, "naive md5 Count-Min query loop", "naive", lambda: [sc.query(k) for k in slow_distinct],
                len(slow_distinct), accuracy=lambda e: _errors(e, slow_tcounts, ns), note=note_slow, shape="single")
    pa = ctx.peer("pyarrow", up, "floor: read the keys (pyarrow.array)")
    if pa is not None:
        ctx.measure(up, "floor: read the keys (pyarrow.array)", "floor", lambda: pa.array(stream, type=pa.string()),
                    n, warmup=True, note="converts the list of str to Arrow: every key read once")
    _int_ids(ctx, CountMinSketch, n)

    # ---- top-K
    tk = f"top-{TOP} (Zipf stream of str)"
    exact_top = {k for k, _ in truth.most_common(TOP)}

    def recall(found) -> dict[str, float]:
        return {"recall": len(exact_top & set(found)) / len(exact_top)}

    def t_run():
        t = TopK(TOP, WIDTH, DEPTH)
        t.update_many(stream)
        return t

    ctx.measure(tk, "sysprims TopK.update_many", "sysprims", t_run, n,
                memory=lambda t: t.sketch.table.nbytes, accuracy=lambda t: recall([k for k, _ in t.top()]),
                note="memory: the sketch (plus k candidates)")
    if ds is not None:
        loop_top = {k for k, _ in loop_truth.most_common(TOP)}

        def f_run():
            f = ds.frequent_strings_sketch(10)
            u = f.update
            for k in loop_stream:
                u(k)
            return f

        def f_top(f):
            items = f.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
            found = {row[0] for row in sorted(items, key=lambda r: -r[1])[:TOP]}
            return {"recall": len(loop_top & found) / len(loop_top)}

        ctx.measure(tk, "datasketches frequent_items (lg_k=10)", "datasketches", f_run, nl,
                    memory=lambda f: f.get_serialized_size_bytes(), accuracy=f_top,
                    note=ctx.loop_note(nl) + " (recall against that prefix's exact top)" if nl < n else "",
                    shape="single")
    ctx.measure(tk, "Counter.most_common (exact)", "python", lambda: Counter(stream).most_common(TOP), n,
                accuracy=lambda top: recall([k for k, _ in top]))

    if ctx.profile.sweep:
        _sweep(ctx, CountMinSketch, bounter, ds, stream[: min(n, 200_000)])


def _int_ids(ctx, CountMinSketch, n: int) -> None:
    """Counting int64 ids: the sketch against an exact ``np.bincount`` (the floor)."""
    case = "update (Zipf stream of int64 ids)"
    d = max(n // 4, 1)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    ids = ctx.rng(13).choice(d, size=n, p=p / p.sum()).astype(np.int64)
    ctx.measure(case, "sysprims update_many(int64)", "sysprims", lambda c: (c.update_many(ids), c)[1], n,
                setup=lambda: (CountMinSketch.from_error(EPS, DELTA),), memory=lambda c: c.table.nbytes)
    ctx.measure(case, "floor: np.bincount (exact)", "floor", lambda: np.bincount(ids, minlength=d), n, warmup=True,
                memory=lambda c: c.nbytes, note="exact counts of small dense ids: the least work counting can be")
    il = ids.tolist()
    ctx.measure(case, "Counter (exact)", "python", lambda: Counter(il), n, memory=lambda c: py_container_bytes(c, c))


def _sweep(ctx, CountMinSketch, bounter, ds, stream) -> None:
    """Mean overestimate against table bytes for a range of widths (depth 5)."""
    truth = Counter(stream)
    distinct = list(truth)
    tc = np.array([truth[k] for k in distinct], dtype=np.float64)
    for width in (256, 1024, 4096, 16384):
        rows = []
        c = CountMinSketch(width, DEPTH)
        c.update_many(stream)
        rows.append(("sysprims", "sysprims", c.table.nbytes, c.query_many(distinct)))
        if bounter is not None:
            b = bounter.CountMinSketch(width=width, depth=DEPTH)
            b.update(stream)
            rows.append(("bounter", "bounter", b.size(), [b[k] for k in distinct]))
        if ds is not None:
            d = ds.count_min_sketch(DEPTH, width)
            for k in stream:
                d.update(k)
            rows.append(("datasketches", "datasketches", d.get_serialized_size_bytes(),
                         [d.get_estimate(k) for k in distinct]))
        for name, lib, nbytes, est in rows:
            err = np.asarray(est, dtype=np.float64) - tc
            ctx.record_series("countmin_accuracy_memory", contender=name, library=lib, width=width, depth=DEPTH,
                              n=len(stream), bytes=int(nbytes), mean_err=float(err.mean()),
                              mean_err_over_N=float(err.mean() / len(stream)))
