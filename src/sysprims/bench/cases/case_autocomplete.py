"""Autocomplete: sysprims against marisa-trie, pygtrie, a sorted list + bisect
and a naive list-node trie; top-10 by frequency for prefixes of 1-4 characters.

The registry of this component (:func:`data`, ``SUGGESTERS``, ``CONTENDERS``),
used by ``sysprims bench``, ``benchmarks/bench_autocomplete.py`` and the tour."""

from __future__ import annotations

import heapq
import importlib
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..naive import NaiveTrie
from ..registry import BATCH, NAIVE, SINGLE, Contender, measure_all

NAME = "autocomplete"
TITLE = "Autocomplete (top 10 by frequency)"
ORDER = 60
REQUIRES = ("sysprims.autocomplete",)
LIMIT = 10


def vocabulary(n: int, seed: int = 42) -> tuple[list[str], np.ndarray]:
    """The top ``n`` English words from wordfreq, or synthetic Zipf words."""
    try:
        import wordfreq

        words = wordfreq.top_n_list("en", n, wordlist="best")
        d = wordfreq.get_frequency_dict("en", "best")
        return words, np.array([d[w] for w in words])
    except ImportError:
        rng = np.random.default_rng([seed, 11])
        letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
        p = 1.0 / np.arange(1, 27)
        p /= p.sum()
        made: set[str] = set()
        while len(made) < n:
            for ln in rng.integers(2, 12, size=n).tolist():
                made.add("".join(rng.choice(letters, size=ln, p=p)))
        out = sorted(made)[:n]
        return out, 1.0 / (rng.permutation(n) + 1.0)


def data(n_words: int, n_queries: int, seed: int = 42) -> dict[str, Any]:
    """``n_queries`` prefixes of 1-4 characters of words drawn by frequency from a
    vocabulary of ``n_words`` (kept in ``vocab``, so slicing the queries keeps it)."""
    words, freqs = vocabulary(n_words, seed)
    rng = np.random.default_rng([seed, 3])
    picks = rng.choice(len(words), size=n_queries, p=freqs / freqs.sum())
    lens = rng.integers(1, 5, size=n_queries)
    queries = [words[i][:ln] for i, ln in zip(picks.tolist(), lens.tolist(), strict=True)]
    return {"n": n_queries, "queries": queries, "vocab": {"words": words, "freqs": freqs}}


def _sorted_lists(words, freqs):
    order = sorted(range(len(words)), key=words.__getitem__)
    return [words[i] for i in order], [float(freqs[i]) for i in order]


def bisect_suggester(words: list[str], freqs: Any) -> Callable[[str], list[str]]:
    """The reference answer: a sorted list, bisect for the prefix range, a heap
    for the top ``LIMIT`` by frequency (ties broken by the word)."""
    sw, sf = _sorted_lists(words, freqs)

    def suggest(prefix: str, limit: int = LIMIT) -> list[str]:
        lo = bisect_left(sw, prefix)
        hi = bisect_left(sw, prefix + "\U0010ffff", lo)
        return [sw[i] for i in heapq.nlargest(limit, range(lo, hi), key=lambda i: (sf[i], -i))]

    return suggest


def _ours(_mod, words, freqs):
    from ...autocomplete import Autocomplete

    return Autocomplete.from_words(words, freqs, casefold=False, normalize=None)


def _marisa(mt, words, freqs):
    trie = mt.Trie(words)
    freq = dict(zip(words, freqs.tolist(), strict=True))
    key = lambda w: (-freq[w], w)  # noqa: E731
    return lambda p, limit=LIMIT: heapq.nsmallest(limit, trie.keys(p), key=key)


def _pygtrie(pg, words, freqs):
    gt = pg.CharTrie(zip(words, freqs.tolist(), strict=True))

    def suggest(p, limit=LIMIT):
        try:
            items = gt.items(prefix=p)
        except KeyError:
            return []
        return [w for w, _ in heapq.nsmallest(limit, items, key=lambda x: (-x[1], x[0]))]

    return suggest


def _naive(_mod, words, freqs):
    t = NaiveTrie()
    for w, f in zip(words, freqs.tolist(), strict=True):
        t.insert(w, f)
    return lambda p, limit=LIMIT: [w for w, _ in t.suggest(p, limit)]


@dataclass(frozen=True)
class Suggester:
    """One autocomplete contender: ``build(mod, words, freqs)`` makes a
    ``prefix -> top words`` function (or our index); ``size``: how many queries
    it answers (per-query peers walk whole subtrees: milliseconds a query)."""

    name: str
    library: str
    peer: str | None
    build: Callable[[Any, list[str], Any], Any]
    size: str | int


SUGGESTERS = [
    Suggester("sysprims suggest", "sysprims", None, _ours, "n"),
    Suggester("sorted list + bisect", "python", None, lambda _m, w, f: bisect_suggester(w, f), 300),
    Suggester("marisa-trie keys() + heap", "marisa-trie", "marisa_trie", _marisa, 200),
    Suggester("pygtrie items() + heap", "pygtrie", "pygtrie", _pygtrie, 40),
    Suggester("naive trie suggest", NAIVE, None, _naive, 40),
]

_MEMO: dict[tuple[str, int], tuple[list, Any]] = {}


def built(sg: Suggester, mod: Any, d: dict) -> Any:
    """``sg``'s structure over ``d``'s vocabulary, built once per vocabulary."""
    v = d["vocab"]
    key = (sg.name, id(v["words"]))
    if key not in _MEMO:
        _MEMO[key] = (v["words"], sg.build(mod, v["words"], v["freqs"]))
    return _MEMO[key][1]


def _fn(sg: Suggester, obj: Any) -> Callable[[str], list[str]]:
    return obj.suggest if sg.library == "sysprims" else obj


def agree(answers: list, d: dict) -> dict[str, float]:
    """Share of the first 100 answers equal to the sorted-list reference; the check fails below 1."""
    ref = built(SUGGESTERS[1], None, d)
    k = min(100, len(answers))
    share = sum(list(a) == ref(q) for a, q in zip(answers[:k], d["queries"][:k], strict=True)) / max(k, 1)
    assert share == 1.0, f"{1 - share:.0%} of the answers differ from the sorted-list reference"
    return {"agree_with_exact": share}


def _contenders() -> list[Contender]:
    out = []
    for sg in SUGGESTERS:
        mem = (lambda o, _a, sg=sg: o.nbytes) if sg.library == "sysprims" else None
        out.append(Contender(CASE, sg.name, sg.library, SINGLE, peer=sg.peer, size=sg.size,
                             setup=lambda mod, d, sg=sg: built(sg, mod, d),
                             call=lambda o, d, sg=sg: [f(q) for f in (_fn(sg, o),) for q in d["queries"]],
                             check=lambda a, _o, d: agree(a, d), memory=mem))
    out.append(Contender(CASE, "sysprims suggest_many", "sysprims", BATCH,
                         setup=lambda mod, d: built(SUGGESTERS[0], mod, d),
                         call=lambda o, d: o.suggest_many(d["queries"], LIMIT),
                         check=lambda a, _o, d: agree([list(x) for x in a], d), memory=lambda o, _a: o.nbytes))
    return out


CASE = "suggest (prefix 1-4 chars)"
CONTENDERS = _contenders()


def run(ctx) -> None:
    d = data(min(ctx.n, 300_000), ctx.profile.n_queries, ctx.seed)
    measure_all(ctx, CONTENDERS, d)
    # latency against prefix length (plot)
    words = d["vocab"]["words"]
    for length in (1, 2, 3, 4, 6, 8):
        qs = [w[:length] for w in words[:5_000] if len(w) >= length][:500]
        for sg in SUGGESTERS:
            if sg.library in ("pygtrie", NAIVE) and length <= 2:
                continue  # whole-subtree walks of short prefixes take seconds per query
            mod = _optional(sg.peer)
            if sg.peer and mod is None:
                continue
            fn = _fn(sg, built(sg, mod, d))
            m = len(qs) if sg.size == "n" else max(int(sg.size) // 4, 10)
            sub = qs[: min(len(qs), m)]
            r = ctx.measure(f"suggest, prefix length {length}", sg.name, sg.library,
                            lambda fn=fn, sub=sub: [fn(q) for q in sub], len(sub), repeats=1,
                            warmup=sg.library == "sysprims", shape=SINGLE)
            if r.status == "ok":
                ctx.record_series("autocomplete_latency_prefix", contender=sg.name, library=sg.library,
                                  prefix_length=length, us_per_query=r.ns_per_op / 1e3)
    _MEMO.clear()


def _optional(name: str | None) -> Any:
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:  # its rows already say it is missing
        return None
