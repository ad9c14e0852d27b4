"""Bloom filters: sysprims against rbloom, pybloomfiltermmap3, fastbloom-rs,
pyprobables, a Python ``set`` and the seed's BloomFilter, same keys, same run."""

from __future__ import annotations

from ..core import py_container_bytes
from ..seed_baselines import SeedBloomFilter

NAME = "bloom"
TITLE = "Bloom filter (1% target false-positive rate)"
ORDER = 10
REQUIRES = ("sysprims.bloom",)
FPR = 0.01


def _fpr(contains_many, negatives) -> dict[str, float]:
    hits = contains_many(negatives)
    return {"fpr": float(sum(bool(h) for h in hits)) / len(negatives)}


def _contenders(ctx, case):
    """(name, library, make(n, p), add(f, keys), contains_many(f, keys), nbytes(f), kind):
    kind "batch" (batch add and contains), "loop" (batch add, Python loop for
    contains) or "slow" (pure Python: both on the ``n_slow`` sample)."""
    from ...bloom import BloomFilter

    out = [
        ("sysprims add_many/contains_many", "sysprims", lambda n, p: BloomFilter.for_capacity(n, p),
         lambda f, ks: f.add_many(ks), lambda f, ks: f.contains_many(ks), lambda f: f.nbytes, "batch"),
        ("sysprims blocked", "sysprims", lambda n, p: BloomFilter.for_capacity(n, p, blocked=True),
         lambda f, ks: f.add_many(ks), lambda f, ks: f.contains_many(ks), lambda f: f.nbytes, "batch"),
    ]
    rbloom = ctx.peer("rbloom", case)
    if rbloom is not None:
        out.append(("rbloom", "rbloom", lambda n, p: rbloom.Bloom(n, p), lambda f, ks: f.update(ks),
                    lambda f, ks: [k in f for k in ks], lambda f: f.size_in_bits // 8, "loop"))
    pbf = ctx.peer("pybloomfilter", case, "pybloomfiltermmap3")
    if pbf is not None:
        out.append(("pybloomfiltermmap3", "pybloomfiltermmap3", lambda n, p: pbf.BloomFilter(n, p),
                    lambda f, ks: f.update(ks), lambda f, ks: [k in f for k in ks],
                    lambda f: f.num_bits // 8, "loop"))
    fbr = ctx.peer("fastbloom_rs", case, "fastbloom-rs")
    if fbr is not None:
        out.append(("fastbloom-rs (batch)", "fastbloom-rs", lambda n, p: fbr.BloomFilter(n, p),
                    lambda f, ks: f.add_str_batch(ks), lambda f, ks: f.contains_str_batch(ks),
                    lambda f: len(f.get_bytes()), "batch"))
    prob = ctx.peer("probables", case, "pyprobables")
    if prob is not None:
        def p_add(f, ks):
            add = f.add
            for k in ks:
                add(k)

        out.append(("pyprobables", "pyprobables",
                    lambda n, p: prob.BloomFilter(est_elements=n, false_positive_rate=p), p_add,
                    lambda f, ks: [f.check(k) for k in ks], lambda f: f.bloom_length, "slow"))
    return out


def run(ctx) -> None:
    n, ns, nl = ctx.n, ctx.n_slow, ctx.n_loop
    keys = ctx.str_keys(n, "user", 1)
    negatives = ctx.str_keys(n, "anon", 3)

    def half(m):  # m queries: half added keys, half never added
        return keys[: m // 2] + negatives[: m - m // 2]

    contenders = _contenders(ctx, "add (list of str)")
    for name, lib, make, add, contains, nbytes, kind in contenders:
        m = ns if kind == "slow" else n
        ks = keys[:m]
        note = ctx.loop_note(m) if kind == "slow" else ""
        r = ctx.measure("add (list of str)", name, lib, lambda f, ks=ks, add=add: (add(f, ks), f)[1], m,
                        setup=lambda make=make, m=m: (make(m, FPR),), memory=lambda f, nbytes=nbytes: nbytes(f),
                        note=note)
        if r.status != "ok":
            continue
        f = make(m, FPR)
        add(f, ks)
        mq = {"slow": ns, "loop": nl}.get(kind, n)
        q, neg = half(mq), negatives[:mq]
        ctx.measure("contains (half present)", name, lib, lambda f=f, q=q, c=contains: c(f, q), len(q),
                    memory=nbytes(f), accuracy=lambda _, f=f, c=contains, neg=neg: _fpr(lambda x: c(f, x), neg),
                    note=ctx.loop_note(mq))

    # plain-Python baselines
    s_case = ("add (list of str)", "contains (half present)")
    ctx.measure(s_case[0], "set (exact)", "python", lambda: set(keys), n,
                memory=lambda s: py_container_bytes(s, keys), note="stores the keys")
    st = set(keys)
    q = half(nl)
    ctx.measure(s_case[1], "set (exact)", "python", lambda: [k in st for k in q], nl,
                memory=py_container_bytes(st, keys), accuracy={"fpr": 0.0}, note=ctx.loop_note(nl))
    ks = keys[:ns]

    def seed_add(f):
        for k in ks:
            f.add(k)
        return f

    # the seed's rule of thumb: size = 10 * items, k = 7 for ~1%
    ctx.measure(s_case[0], "seed BloomFilter", "seed", seed_add, ns, setup=lambda: (SeedBloomFilter(10 * ns, 7),),
                memory=lambda f: py_container_bytes(f.bit_array), note=ctx.loop_note(ns))
    sf = seed_add(SeedBloomFilter(10 * ns, 7))
    q = half(ns)
    ctx.measure(s_case[1], "seed BloomFilter", "seed", lambda: [sf.contains(k) for k in q], ns,
                memory=py_container_bytes(sf.bit_array), note=ctx.loop_note(ns),
                accuracy=lambda _: _fpr(lambda x: [sf.contains(k) for k in x], negatives[:ns]))

    if ctx.profile.sweep:
        _sweep(ctx, keys, negatives, contenders)


def _sweep(ctx, keys, negatives, contenders) -> None:
    """Measured false-positive rate against memory, for the native contenders."""
    m = min(len(keys), 100_000)
    ks, neg = keys[:m], negatives[:m]
    for target in (0.1, 0.03, 0.01, 0.003, 0.001):
        for name, lib, make, add, contains, nbytes, kind in contenders:
            if kind == "slow":
                continue
            try:
                f = make(m, target)
                add(f, ks)
                fpr = _fpr(lambda x, f=f, c=contains: c(f, x), neg)["fpr"]
            except Exception:  # a peer that rejects a target is left out of the plot
                continue
            b = nbytes(f)
            ctx.record_series("bloom_accuracy_memory", contender=name, library=lib, target=target, n=m,
                              bytes=int(b), bits_per_key=8.0 * b / m, fpr=fpr)
