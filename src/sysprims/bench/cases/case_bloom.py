"""Bloom filters: sysprims against rbloom, pybloomfiltermmap3, fastbloom-rs,
pyprobables, a Python ``set`` and a naive md5 Bloom filter, same keys, same run.

The registry of this component: :func:`data` generates the keys, ``CONTENDERS``
declares every contender once (adapter, call shape, check); ``sysprims bench``,
``benchmarks/bench_bloom.py`` and the tour's Bloom step all use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import py_container_bytes
from ..naive import NaiveBloomFilter
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

NAME = "bloom"
TITLE = "Bloom filter (1% target false-positive rate)"
ORDER = 10
REQUIRES = ("sysprims.bloom",)
FPR = 0.01
ADD, CONTAINS = "add (list of str)", "contains (half present)"


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """``n`` keys to add and ``n`` other keys (never added) for the negatives."""
    return {"n": n, "keys": str_keys(n, "user", 1, seed), "negatives": str_keys(n, "anon", 3, seed)}


def queries(d: dict[str, Any]) -> list[str]:
    """``n`` queries: the first half added keys, the rest never added."""
    m = d["n"]
    return d["keys"][: m // 2] + d["negatives"][: m - m // 2]


@dataclass(frozen=True)
class Filter:
    """How to drive one Bloom filter library: make(n, p), batch/single add and
    contains (None where the library has no such call), size in bytes."""

    name: str
    library: str
    peer: str | None
    make: Callable[[Any, int, float], Any]
    add_batch: Callable[[Any, list], Any] | None
    add_one: Callable[[Any], Callable[[Any], Any]] | None  # f -> bound per-key add
    contains_batch: Callable[[Any, list], Any] | None
    contains_one: Callable[[Any], Callable[[Any], bool]]  # f -> bound per-key contains
    nbytes: Callable[[Any], int]
    size: str = "n"  # pure-Python libraries run on the "slow" sample


def _sysprims(blocked: bool) -> Callable[[Any, int, float], Any]:
    def make(_mod, n, p):
        from ...bloom import BloomFilter

        return BloomFilter.for_capacity(n, p, blocked=blocked)

    return make


FILTERS = [
    Filter("sysprims", "sysprims", None, _sysprims(False), lambda f, ks: f.add_many(ks), lambda f: f.add,
           lambda f, ks: f.contains_many(ks), lambda f: f.contains, lambda f: f.nbytes),
    Filter("sysprims blocked", "sysprims", None, _sysprims(True), lambda f, ks: f.add_many(ks), None,
           lambda f, ks: f.contains_many(ks), lambda f: f.contains, lambda f: f.nbytes),
    Filter("rbloom", "rbloom", "rbloom", lambda m, n, p: m.Bloom(n, p), lambda f, ks: f.update(ks), lambda f: f.add,
           None, lambda f: f.__contains__, lambda f: f.size_in_bits // 8),
    Filter("pybloomfiltermmap3", "pybloomfiltermmap3", "pybloomfilter", lambda m, n, p: m.BloomFilter(n, p),
           lambda f, ks: f.update(ks), None, None, lambda f: f.__contains__, lambda f: f.num_bits // 8),
    Filter("fastbloom-rs", "fastbloom-rs", "fastbloom_rs", lambda m, n, p: m.BloomFilter(n, p),
           lambda f, ks: f.add_str_batch(ks), None, lambda f, ks: f.contains_str_batch(ks), lambda f: f.contains,
           lambda f: len(f.get_bytes())),
    Filter("pyprobables", "pyprobables", "probables",
           lambda m, n, p: m.BloomFilter(est_elements=n, false_positive_rate=p), None, lambda f: f.add, None,
           lambda f: f.check, lambda f: f.bloom_length, size="slow"),
    # the textbook sizing: 10 bits and 7 md5 probes per key for about 1%
    Filter("naive md5 Bloom", NAIVE, None, lambda m, n, p: NaiveBloomFilter(10 * n, 7), None, lambda f: f.add, None,
           lambda f: f.contains, lambda f: py_container_bytes(f.cells), size="slow"),
]


def _fill(flt: Filter, f: Any, keys: list) -> Any:
    return feed(f, keys, flt.add_batch, flt.add_one)


def _check_add(flt: Filter) -> Callable[[Any, Any, dict], dict[str, float]]:
    def check(f, _state, d):
        probe = flt.contains_one(f)
        missing = sum(not probe(k) for k in d["keys"][:2_000])
        assert missing == 0, f"{flt.name}: {missing} added keys not found"
        return {"false_negatives": float(missing)}

    return check


def _check_contains(flt: Filter) -> Callable[[Any, Any, dict], dict[str, float]]:
    def check(hits, state, d):
        f, m = state[0], d["n"]
        hits = [bool(h) for h in hits]
        assert all(hits[: m // 2]), f"{flt.name}: a false negative"
        probe = flt.contains_one(f)
        neg = d["negatives"][m // 2 :] if m >= 20_000 else d["negatives"]
        return {"fpr": sum(bool(probe(k)) for k in neg) / max(len(neg), 1)}

    return check


_BUILT: dict[tuple[str, int, int], tuple[list, Any]] = {}


def _built(flt: Filter, mod: Any, d: dict) -> Any:
    """A filter of ``flt`` holding ``d["keys"]``, built once per data set (contains
    does not mutate it; the entry keeps the keys alive, so their id is not reused)."""
    key = (flt.name, id(d["keys"]), d["n"])
    if key not in _BUILT:
        _BUILT[key] = (d["keys"], _fill(flt, flt.make(mod, d["n"], FPR), d["keys"]))
    return _BUILT[key][1]


def _contenders() -> list[Contender]:
    out: list[Contender] = []
    for flt in FILTERS:
        slow = flt.size == "slow"
        mem = lambda _s, f, flt=flt: flt.nbytes(f)  # noqa: E731
        if flt.add_batch is not None:
            out.append(Contender(
                ADD, f"{flt.name} {'add_many' if flt.library == 'sysprims' else 'batch add'}", flt.library, BATCH,
                call=lambda f, d, flt=flt: (flt.add_batch(f, d["keys"]), f)[1],
                setup=lambda mod, d, flt=flt: flt.make(mod, d["n"], FPR), peer=flt.peer,
                check=_check_add(flt), memory=mem))
        if flt.add_one is not None:
            def add_loop(f, d, flt=flt):
                add = flt.add_one(f)
                for k in d["keys"]:
                    add(k)
                return f

            out.append(Contender(
                ADD, f"{flt.name} add() loop", flt.library, SINGLE, call=add_loop,
                setup=lambda mod, d, flt=flt: flt.make(mod, d["n"], FPR), peer=flt.peer,
                size="slow" if slow else "loop", check=_check_add(flt), memory=mem))
        if flt.contains_batch is not None:
            out.append(Contender(
                CONTAINS, f"{flt.name} {'contains_many' if flt.library == 'sysprims' else 'batch contains'}",
                flt.library, BATCH, call=lambda st, d, flt=flt: flt.contains_batch(*st),
                setup=lambda mod, d, flt=flt: _with_q(_built(flt, mod, d), d), peer=flt.peer,
                check=_check_contains(flt), memory=lambda st, _o, flt=flt: flt.nbytes(st[0])))
        out.append(Contender(
            CONTAINS, f"{flt.name} contains loop", flt.library, SINGLE,
            call=lambda st, d, flt=flt: [probe(k) for probe in (flt.contains_one(st[0]),) for k in st[1]],
            setup=lambda mod, d, flt=flt: _with_q(_built(flt, mod, d), d), peer=flt.peer,
            size="slow" if slow else "loop", check=_check_contains(flt),
            memory=lambda st, _o, flt=flt: flt.nbytes(st[0])))
    # exact baselines: a Python set
    out.append(Contender(ADD, "set (exact)", "python", BATCH, call=lambda _s, d: set(d["keys"]),
                         memory=lambda _s, s: py_container_bytes(s, s), note="stores the keys"))
    out.append(Contender(CONTAINS, "set (exact) contains loop", "python", SINGLE,
                         setup=lambda _m, d: _with_q(set(d["keys"]), d),
                         call=lambda st, d: [k in st[0] for k in st[1]], size="loop", note="stores the keys"))
    # floors: reading the keys once, and k random reads of a table of the same size
    out.append(read_keys_floor(ADD))
    out.append(Contender(CONTAINS, "floor: NumPy random gather (k probes per key)", FLOOR, BATCH,
                         setup=_gather_setup, call=lambda st, d: st[0][st[1]],
                         note="k random byte reads per key in a table of the filter's size"))
    return out


def _with_q(f: Any, d: dict) -> tuple[Any, list[str]]:
    return f, queries(d)


def _gather_setup(_mod: Any, d: dict) -> tuple[np.ndarray, np.ndarray]:
    from ...bloom import BloomFilter

    ref = BloomFilter.for_capacity(d["n"], FPR)
    rng = np.random.default_rng(5)
    table = np.zeros(ref.nbytes, dtype=np.uint8)
    return table, rng.integers(0, table.size, size=d["n"] * ref.num_hash_functions)


CONTENDERS = _contenders()


def run(ctx) -> None:
    d = data(ctx.n, ctx.seed)
    measure_all(ctx, CONTENDERS, d)
    _BUILT.clear()
    if ctx.profile.sweep:
        _sweep(ctx, d)


def _sweep(ctx, d) -> None:
    """Measured false-positive rate against memory, for the native batch filters."""
    m = min(d["n"], 100_000)
    ks, neg = d["keys"][:m], d["negatives"][:m]
    for target in (0.1, 0.03, 0.01, 0.003, 0.001):
        for flt in FILTERS:
            if flt.size == "slow" or flt.add_batch is None:
                continue
            try:
                mod = ctx.peer(flt.peer, "sweep", flt.name) if flt.peer else None
                if flt.peer and mod is None:
                    continue
                f = _fill(flt, flt.make(mod, m, target), ks)
                probe = flt.contains_one(f)
                fpr = sum(bool(probe(k)) for k in neg) / m
            except Exception:  # a peer that rejects a target is left out of the plot
                continue
            b = flt.nbytes(f)
            ctx.record_series("bloom_accuracy_memory", contender=flt.name, library=flt.library, target=target, n=m,
                              bytes=int(b), bits_per_key=8.0 * b / m, fpr=fpr)
