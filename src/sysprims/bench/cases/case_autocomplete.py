"""Autocomplete: sysprims against marisa-trie, pygtrie, a sorted list + bisect
and a naive list-node trie; top-10 by frequency for prefixes of 1-4 characters."""

from __future__ import annotations

import heapq
from bisect import bisect_left

import numpy as np

from ..naive import NaiveTrie

NAME = "autocomplete"
TITLE = "Autocomplete (top 10 by frequency)"
ORDER = 60
REQUIRES = ("sysprims.autocomplete",)
LIMIT = 10


def vocabulary(ctx, n: int) -> tuple[list[str], np.ndarray]:
    """The top ``n`` English words from wordfreq, or synthetic Zipf words."""
    try:
        import wordfreq

        words = wordfreq.top_n_list("en", n, wordlist="best")
        d = wordfreq.get_frequency_dict("en", "best")
        return words, np.array([d[w] for w in words])
    except ImportError:
        rng = ctx.rng(11)
        letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
        p = 1.0 / np.arange(1, 27)
        p /= p.sum()
        words: set[str] = set()
        while len(words) < n:
            for ln in rng.integers(2, 12, size=n).tolist():
                words.add("".join(rng.choice(letters, size=ln, p=p)))
        out = sorted(words)[:n]
        return out, 1.0 / (rng.permutation(n) + 1.0)


def run(ctx) -> None:
    from ...autocomplete import Autocomplete

    nw = min(ctx.n, 300_000)
    words, freqs = vocabulary(ctx, nw)
    fl = freqs.tolist()
    rng = ctx.rng(3)
    nq = ctx.profile.n_queries
    picks = rng.choice(len(words), size=nq, p=freqs / freqs.sum())
    lens = rng.integers(1, 5, size=nq)
    queries = [words[i][:ln] for i, ln in zip(picks.tolist(), lens.tolist(), strict=True)]
    ac = Autocomplete.from_words(words, freqs, casefold=False, normalize=None)

    # sorted list + bisect: the reference answer (ties broken by the word)
    order = sorted(range(len(words)), key=words.__getitem__)
    sw = [words[i] for i in order]
    sf = [fl[i] for i in order]

    def bisect_suggest(prefix: str, limit: int = LIMIT) -> list[str]:
        lo = bisect_left(sw, prefix)
        hi = bisect_left(sw, prefix + "\U0010ffff", lo)
        best = heapq.nlargest(limit, range(lo, hi), key=lambda i: (sf[i], -i))
        return [sw[i] for i in best]

    check = queries[:100]
    truth = [bisect_suggest(q) for q in check]

    def agree(fn) -> dict[str, float]:
        return {"agree_with_exact": sum(fn(q) == t for q, t in zip(check, truth, strict=True)) / len(check)}

    # per-query Python peers walk whole subtrees for short prefixes (milliseconds per
    # query at 200k words): they answer a prefix of the same query list
    contenders = [("sysprims suggest", "sysprims", ac.suggest, nq),
                  ("sorted list + bisect", "python", bisect_suggest, min(nq, 300))]
    case = "suggest (prefix 1-4 chars)"
    mt = ctx.peer("marisa_trie", case, "marisa-trie")
    freq = dict(zip(words, fl, strict=True))
    if mt is not None:
        trie = mt.Trie(words)
        key = lambda w: (-freq[w], w)  # noqa: E731
        contenders.append(("marisa-trie keys() + heap", "marisa-trie",
                           lambda p, limit=LIMIT: heapq.nsmallest(limit, trie.keys(p), key=key), min(nq, 200)))
    pg = ctx.peer("pygtrie", case)
    if pg is not None:
        gt = pg.CharTrie(zip(words, fl, strict=True))

        def g_suggest(p, limit=LIMIT):
            try:
                items = gt.items(prefix=p)
            except KeyError:
                return []
            return [w for w, _ in heapq.nsmallest(limit, items, key=lambda x: (-x[1], x[0]))]

        contenders.append(("pygtrie items() + heap", "pygtrie", g_suggest, min(nq, 40)))
    st = NaiveTrie()
    for w, f in zip(words, fl, strict=True):
        st.insert(w, f)
    contenders.append(("naive trie suggest", "naive",
                       lambda p, limit=LIMIT: [w for w, _ in st.suggest(p, limit)], min(nq, 40)))
    for name, lib, fn, m in contenders:
        qs = queries[:m]
        ctx.measure(case, name, lib, lambda fn=fn, qs=qs: [fn(q) for q in qs], m, warmup=lib == "sysprims",
                    accuracy=lambda _, fn=fn: agree(fn), note=f"{len(words):,} words, {m:,} queries",
                    memory=ac.nbytes if lib == "sysprims" else None, shape="single")
    ctx.measure(case, "sysprims suggest_many", "sysprims",
                lambda: ac.suggest_many(queries, LIMIT), nq, memory=ac.nbytes)

    # latency against prefix length (plot)
    for length in (1, 2, 3, 4, 6, 8):
        qs = [w[:length] for w in words[:5_000] if len(w) >= length][:500]
        for name, lib, fn, m in contenders:
            if lib in ("pygtrie", "naive") and length <= 2:
                continue  # whole-subtree walks of short prefixes take seconds per query
            sub = qs[: min(len(qs), m if lib == "sysprims" else max(m // 4, 10))]
            r = ctx.measure(f"suggest, prefix length {length}", name, lib,
                            lambda fn=fn, sub=sub: [fn(q) for q in sub], len(sub), repeats=1,
                            warmup=lib == "sysprims", shape="single")
            if r.status == "ok":
                ctx.record_series("autocomplete_latency_prefix", contender=name, library=lib, prefix_length=length,
                                  us_per_query=r.ns_per_op / 1e3)
