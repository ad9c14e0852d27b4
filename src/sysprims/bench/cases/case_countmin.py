"""Count-Min Sketch and top-K: sysprims against bounter, datasketches,
pyprobables, ``collections.Counter`` and a naive md5 Count-Min on the same
Zipf(1.1) stream of string keys (and of int64 ids, against ``np.bincount``),
in the same run.

The registry of this component: :func:`data`, ``CONTENDERS`` (each once, with
its adapter, call shape and check); ``sysprims bench``,
``benchmarks/bench_countmin.py`` and the tour's countmin step use them.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import py_container_bytes
from ..naive import NaiveCountMin
from ..registry import (
    BATCH,
    FLOOR,
    NAIVE,
    SINGLE,
    Contender,
    feed,
    measure_all,
    read_keys_floor,
    str_keys,
)

NAME = "countmin"
TITLE = "Count-Min sketch and top-K (epsilon 0.001, delta 0.01)"
ORDER = 20
REQUIRES = ("sysprims.countmin",)
EPS, DELTA = 0.001, 0.01
WIDTH, DEPTH = 2719, 5  # ceil(e / 0.001), ceil(ln(1 / 0.01))
TOP = 100
UPDATE, QUERY = "update (Zipf stream of str)", "query (distinct keys)"
INTS, TOPK = "update (Zipf stream of int64 ids)", f"top-{TOP} (Zipf stream of str)"


def _zipf_ids(n: int, seed: int, salt: int) -> tuple[np.ndarray, int]:
    d = max(n // 4, 1)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    return np.random.default_rng([seed, salt]).choice(d, size=n, p=p / p.sum()).astype(np.int64), d


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """``n`` items drawn Zipf(1.1) over ``n // 4`` distinct str keys, and ``n``
    int64 ids drawn the same way."""
    ids, d = _zipf_ids(n, seed, 12)
    vocab = str_keys(d, "tag", 11, seed)
    int_ids, _ = _zipf_ids(n, seed, 13)
    return {"n": n, "stream": [vocab[i] for i in ids.tolist()], "ids": int_ids, "id_range": d}


_MEMO: dict[tuple[str, int, int], tuple[list, Any]] = {}


def _memo(what: str, d: dict, make: Callable[[], Any]) -> Any:
    """``make()`` once per data set (the entry keeps the stream alive, so its id is not reused)."""
    key = (what, id(d["stream"]), d["n"])
    if key not in _MEMO:
        _MEMO[key] = (d["stream"], make())
    return _MEMO[key][1]


def truth(d: dict) -> Counter:
    """Exact counts of ``d``'s stream (its distinct keys in first-seen order)."""
    return _memo("truth", d, lambda: Counter(d["stream"]))


def distinct(d: dict) -> list[str]:
    return _memo("distinct", d, lambda: list(truth(d)))


@dataclass(frozen=True)
class Sketch:
    """How to drive one Count-Min library: make(mod), a batch or per-key
    update, a batch or per-key query, size in bytes."""

    name: str
    library: str
    peer: str | None
    make: Callable[[Any], Any]
    update_batch: Callable[[Any, list], Any] | None
    update_one: Callable[[Any], Callable[[Any], Any]] | None
    query_batch: Callable[[Any, list], Any] | None
    query_one: Callable[[Any], Callable[[Any], Any]]
    nbytes: Callable[[Any], int]
    size: str = "n"
    note: str = ""


def _sysprims(_mod):
    from ...countmin import CountMinSketch

    return CountMinSketch.from_error(EPS, DELTA)


SKETCHES = [
    Sketch("sysprims", "sysprims", None, _sysprims, lambda c, ks: c.update_many(ks), None,
           lambda c, ks: c.query_many(ks), lambda c: c.query, lambda c: c.table.nbytes),
    Sketch("bounter (4096 x 5)", "bounter", "bounter", lambda m: m.CountMinSketch(width=4096, depth=DEPTH),
           lambda c, ks: c.update(ks), None, None, lambda c: c.__getitem__, lambda c: c.size(),
           note="needs a power-of-two width"),
    Sketch("datasketches count_min_sketch", "datasketches", "datasketches",
           lambda m: m.count_min_sketch(DEPTH, WIDTH), None, lambda c: c.update, None, lambda c: c.get_estimate,
           lambda c: c.get_serialized_size_bytes(), size="loop"),
    Sketch("pyprobables", "pyprobables", "probables", lambda m: m.CountMinSketch(width=WIDTH, depth=DEPTH), None,
           lambda c: c.add, None, lambda c: c.check, lambda c: WIDTH * DEPTH * 4, size="slow"),
    Sketch("naive md5 Count-Min", NAIVE, None, lambda m: NaiveCountMin(WIDTH, DEPTH), None, lambda c: c.update,
           None, lambda c: c.query, lambda c: sum(py_container_bytes(r) for r in c.rows), size="slow"),
]


def _fill(sk: Sketch, c: Any, stream: list) -> Any:
    return feed(c, stream, sk.update_batch, sk.update_one)


def errors(est: Any, d: dict) -> dict[str, float]:
    """Overestimates of ``est`` (one per distinct key of ``d``) against exact counts;
    a Count-Min sketch never underestimates (the check fails if one does)."""
    t = truth(d)
    exact = np.fromiter((t[k] for k in distinct(d)), dtype=np.float64, count=len(t))
    err = np.asarray(est, dtype=np.float64) - exact
    under = float((err < 0).sum())
    assert under == 0, f"{under:.0f} underestimates"
    return {"mean_err": float(err.mean()), "max_err_over_N": float(err.max() / max(d["n"], 1)),
            "underestimates": under}


def _check_update(sk: Sketch) -> Callable[[Any, Any, dict], dict[str, float]]:
    def check(c, _state, d):
        q = sk.query_one(c)
        return errors([q(k) for k in distinct(d)], d)

    return check


def _built(sk: Sketch, mod: Any, d: dict) -> Any:
    return _memo(f"built:{sk.name}", d, lambda: _fill(sk, sk.make(mod), d["stream"]))


def recall(found: Any, d: dict) -> dict[str, float]:
    top = {k for k, _ in truth(d).most_common(TOP)}
    return {"recall": len(top & set(found)) / len(top)}


def _ds_top(f: Any, ds: Any) -> list[str]:
    items = f.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
    return [row[0] for row in sorted(items, key=lambda r: -r[1])[:TOP]]


def _topk(_mod, _d):
    from ...countmin import TopK

    return TopK(TOP, WIDTH, DEPTH)


def _contenders() -> list[Contender]:
    out: list[Contender] = []
    for sk in SKETCHES:
        mem = lambda c, _o, sk=sk: sk.nbytes(c)  # noqa: E731
        new = lambda mod, d, sk=sk: sk.make(mod)  # noqa: E731
        if sk.update_batch is not None:
            out.append(Contender(UPDATE, f"{sk.name} {'update_many(list)' if sk.library == 'sysprims' else 'update'}",
                                 sk.library, BATCH, setup=new, peer=sk.peer, memory=mem, note=sk.note,
                                 call=lambda c, d, sk=sk: (sk.update_batch(c, d["stream"]), c)[1],
                                 check=_check_update(sk)))
        else:
            out.append(Contender(UPDATE, f"{sk.name} update loop", sk.library, SINGLE, setup=new, peer=sk.peer,
                                 call=lambda c, d, sk=sk: _fill(sk, c, d["stream"]), size=sk.size,
                                 check=_check_update(sk), memory=mem))
        built = lambda mod, d, sk=sk: (_built(sk, mod, d), distinct(d))  # noqa: E731
        qmem = lambda st, _o, sk=sk: sk.nbytes(st[0])  # noqa: E731
        count = lambda d: len(distinct(d))  # noqa: E731
        if sk.query_batch is not None:
            out.append(Contender(QUERY, f"{sk.name} query_many(list)", sk.library, BATCH, setup=built, peer=sk.peer,
                                 call=lambda st, d, sk=sk: sk.query_batch(*st), count=count,
                                 check=lambda est, _s, d: errors(est, d), memory=qmem))
        out.append(Contender(QUERY, f"{sk.name} query loop", sk.library, SINGLE, setup=built, peer=sk.peer,
                             call=lambda st, d, sk=sk: [q(k) for q in (sk.query_one(st[0]),) for k in st[1]],
                             count=count, size=sk.size if sk.size != "n" else "loop",
                             check=lambda est, _s, d: errors(est, d), memory=qmem))

    def hashed(_mod, _d):
        from ...hashing import hash_keys

        return _sysprims(None), hash_keys(_d["stream"])

    out.append(Contender(UPDATE, "sysprims update_many(HashedKeys)", "sysprims", BATCH, setup=hashed,
                         call=lambda st, d: (st[0].update_many(st[1]), st[0])[1], note="keys hashed once beforehand",
                         check=_check_update(SKETCHES[0]), memory=lambda st, _o: st[0].table.nbytes))
    out.append(Contender(UPDATE, "Counter (exact)", "python", BATCH, call=lambda _s, d: Counter(d["stream"]),
                         memory=lambda _s, c: py_container_bytes(c, c), note="stores every distinct key"))
    out.append(Contender(QUERY, "Counter (exact) lookup loop", "python", SINGLE, size="loop",
                         setup=lambda _m, d: (truth(d), distinct(d)), call=lambda st, d: [st[0][k] for k in st[1]],
                         count=lambda d: len(distinct(d))))
    out.append(read_keys_floor(UPDATE, "stream"))
    # ---- int64 ids: the sketch against an exact np.bincount (the floor of counting)
    out.append(Contender(INTS, "sysprims update_many(int64)", "sysprims", BATCH, setup=lambda _m, d: _sysprims(None),
                         call=lambda c, d: (c.update_many(d["ids"]), c)[1], memory=lambda c, _o: c.table.nbytes))
    out.append(Contender(INTS, "floor: np.bincount (exact)", FLOOR, BATCH,
                         call=lambda _s, d: np.bincount(d["ids"], minlength=d["id_range"]),
                         memory=lambda _s, c: c.nbytes,
                         note="exact counts of small dense ids: the least work counting can be"))
    out.append(Contender(INTS, "Counter (exact)", "python", BATCH, setup=lambda _m, d: d["ids"].tolist(),
                         call=lambda il, d: Counter(il), memory=lambda _s, c: py_container_bytes(c, c)))
    # ---- top-K
    out.append(Contender(TOPK, "sysprims TopK.update_many", "sysprims", BATCH, setup=_topk,
                         call=lambda t, d: (t.update_many(d["stream"]), t)[1],
                         memory=lambda t, _o: t.sketch.table.nbytes, note="memory: the sketch (plus k candidates)",
                         check=lambda t, _s, d: recall([k for k, _ in t.top()], d)))

    def fi_loop(state, d):
        f, ds = state
        up = f.update
        for k in d["stream"]:
            up(k)
        return _ds_top(f, ds)

    out.append(Contender(TOPK, "datasketches frequent_items (lg_k=10) loop", "datasketches", SINGLE,
                         peer="datasketches", setup=lambda ds, d: (ds.frequent_strings_sketch(10), ds), call=fi_loop,
                         size="loop", memory=lambda st, _o: st[0].get_serialized_size_bytes(),
                         check=lambda found, _s, d: recall(found, d), note="recall against its own prefix's exact top"))
    out.append(Contender(TOPK, "Counter.most_common (exact)", "python", BATCH,
                         call=lambda _s, d: Counter(d["stream"]).most_common(TOP),
                         check=lambda top, _s, d: recall([k for k, _ in top], d)))
    return out


CONTENDERS = _contenders()


def run(ctx) -> None:
    d = data(ctx.n, ctx.seed)
    measure_all(ctx, CONTENDERS, d)
    _MEMO.clear()
    if ctx.profile.sweep:
        _sweep(ctx, d["stream"][: min(ctx.n, 200_000)])


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # its rows already say it is missing
        return None


def _sweep(ctx, stream) -> None:
    """Mean overestimate against table bytes for a range of widths (depth 5)."""
    from ...countmin import CountMinSketch

    exact = Counter(stream)
    keys = list(exact)
    tc = np.array([exact[k] for k in keys], dtype=np.float64)
    bounter, ds = _optional("bounter"), _optional("datasketches")
    for width in (256, 1024, 4096, 16384):
        rows: list[tuple[str, str, int, Any]] = []
        c = CountMinSketch(width, DEPTH)
        c.update_many(stream)
        rows.append(("sysprims", "sysprims", c.table.nbytes, c.query_many(keys)))
        if bounter is not None:
            b = bounter.CountMinSketch(width=width, depth=DEPTH)
            b.update(stream)
            rows.append(("bounter", "bounter", b.size(), [b[k] for k in keys]))
        if ds is not None:
            s = ds.count_min_sketch(DEPTH, width)
            for k in stream:
                s.update(k)
            rows.append(("datasketches", "datasketches", s.get_serialized_size_bytes(),
                         [s.get_estimate(k) for k in keys]))
        for name, lib, nbytes, est in rows:
            err = np.asarray(est, dtype=np.float64) - tc
            ctx.record_series("countmin_accuracy_memory", contender=name, library=lib, width=width, depth=DEPTH,
                              n=len(stream), bytes=int(nbytes), mean_err=float(err.mean()),
                              mean_err_over_N=float(err.mean() / len(stream)))
