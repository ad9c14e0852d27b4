"""Autocomplete: sysprims vs marisa-trie, pygtrie, a sorted list + bisect and a
naive list-node trie, on the top English words (``wordfreq``; synthetic
Zipf-weighted words without it); queries: prefixes of 1 to 4 characters of
words drawn by frequency, top 10, ties broken by the word.

The contenders (adapters, call shapes, the check against the sorted-list
reference) come from the one registry, ``sysprims.bench.cases.case_autocomplete``,
that ``sysprims bench`` and the tour use. This file adds sysprims-only groups:
latency by prefix length, build and ``add_search``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from peers import registry_test
from sysprims.autocomplete import Autocomplete
from sysprims.bench.cases import case_autocomplete

FULL_WORDS = 300_000
N_QUERIES = 100_000
LIMIT = case_autocomplete.LIMIT


def _data(n_keys):
    full = n_keys >= 200_000
    return case_autocomplete.data(FULL_WORDS if full else n_keys, N_QUERIES if full else 2_000)


test_registry = registry_test(case_autocomplete, _data, rounds=3)


@pytest.fixture(scope="module")
def registry_data(n_keys):
    return test_registry.data(n_keys)


@pytest.fixture(scope="module")
def vocab(registry_data):
    v = registry_data["vocab"]
    return v["words"], v["freqs"]


@pytest.fixture(scope="module")
def queries(registry_data):
    return registry_data["queries"]


@pytest.fixture(scope="module")
def ours(vocab) -> Autocomplete:
    words, freqs = vocab
    # the wordfreq list is already lower-case NFC; keep the peers' exact input
    return Autocomplete.from_words(words, freqs, casefold=False, normalize=None)


def _per_query(benchmark, fn, qs, group):
    benchmark.group = group
    result = benchmark.pedantic(
        lambda: [fn(q) for q in qs], rounds=3, iterations=1, warmup_rounds=1
    )
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_query"] = benchmark.stats.stats.median / len(qs) * 1e6
    benchmark.extra_info["queries"] = len(qs)
    return result


@pytest.mark.parametrize("length", [1, 2, 4, 8])
def test_suggest_by_prefix_length(benchmark, ours, vocab, length):
    words, _ = vocab
    qs = [w[:length] for w in words[:5_000] if len(w) >= length][:2_000]
    _per_query(benchmark, ours.suggest, qs, f"autocomplete-prefix-len-{length}")


def test_build_sysprims(benchmark, vocab):
    words, freqs = vocab
    benchmark.group = "autocomplete-build"
    ac = benchmark.pedantic(Autocomplete.from_words, args=(words, freqs), rounds=2, iterations=1)
    benchmark.extra_info["nbytes"] = ac.nbytes
    benchmark.extra_info["words"] = len(ac)


def test_add_search_sysprims(benchmark, vocab, queries):
    """Mixed stream: 95% searches of known words, 5% new words; answers checked after."""
    words, freqs = vocab
    rng = np.random.default_rng(5)
    n = len(queries)
    picks = rng.choice(len(words), size=n, p=freqs / freqs.sum()).tolist()
    stream = [words[i] if rng.random() < 0.95 else f"{words[i]}#{j}" for j, i in enumerate(picks)]
    benchmark.group = "autocomplete-update"

    def setup():
        return (Autocomplete.from_words(words, freqs, casefold=False, normalize=None),), {}

    def run(ac):
        add = ac.add_search
        for q in stream:
            add(q)
        return ac

    t0 = time.perf_counter()
    ac = benchmark.pedantic(run, setup=setup, rounds=2, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["updates_per_s"] = n / benchmark.stats.stats.median
    else:
        benchmark.extra_info["updates_per_s"] = n / (time.perf_counter() - t0)
    # exact after the stream: same answers as an index built from scratch on the final counts
    final: dict[str, float] = dict(zip(words, freqs.tolist(), strict=True))
    for q in stream:
        final[q] = final.get(q, 0.0) + 1.0
    fresh = Autocomplete.from_words(
        list(final), list(final.values()), casefold=False, normalize=None
    )
    for q in queries[:300] + [w[:5] for w in stream[-300:]]:
        assert ac.suggest(q) == fresh.suggest(q)


# ---------------------------------------------------------------- the figures, one run


def _cpu(fn, rounds=3):
    """Median process CPU seconds of ``fn()`` over ``rounds`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(rounds):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return float(np.median(times))


def _cpu_pair(fa, fb, rounds=9):
    """Minimum process CPU seconds of ``fa()`` and of ``fb()``, timed in turn (one round
    of each, then the next), so that a change of the machine's load hits both."""
    fa()
    fb()
    ta, tb = [], []
    for _ in range(rounds):
        t = time.process_time()
        fa()
        ta.append(time.process_time() - t)
        t = time.process_time()
        fb()
        tb.append(time.process_time() - t)
    return min(ta), min(tb)


def figures(n_words=FULL_WORDS, n_queries=N_QUERIES):
    import gc
    import os

    from sysprims.autocomplete import ContextualAutocomplete

    d = case_autocomplete.data(n_words, n_queries)
    words, freqs, qs = d["vocab"]["words"], d["vocab"]["freqs"], d["queries"]
    ac = Autocomplete.from_words(words, freqs, casefold=False, normalize=None)
    ref = case_autocomplete.bisect_suggester(words, freqs)
    assert [list(a) for a in ac.suggest_many(qs[:2000])] == [ref(q) for q in qs[:2000]]
    out = {"words": len(ac), "queries": len(qs), "load_average": os.getloadavg()[0]}
    loop = _cpu(lambda: [ac.suggest(q) for q in qs]) / len(qs)
    many = _cpu(lambda: ac.suggest_many(qs)) / len(qs)
    lat = []
    pc = time.perf_counter_ns
    sg = ac.suggest
    gc.disable()
    for q in qs[:20_000]:
        t = pc()
        sg(q)
        lat.append(pc() - t)
    gc.enable()
    out["suggest_median_us"] = float(np.median(lat)) / 1e3
    out["suggest_loop_mean_us"] = loop * 1e6
    out["suggest_many_us_per_query"] = many * 1e6
    out["many_over_loop"] = many / loop
    try:
        import marisa_trie
    except ImportError:
        marisa_trie = None
    peers = {"sorted list + bisect": (ref, 3000)}
    if marisa_trie is not None:
        peers["marisa-trie keys() + heap"] = (case_autocomplete._marisa(marisa_trie, words, freqs), 1000)
    for name, (fn, m) in peers.items():
        sub = qs[:m]
        theirs = _cpu(lambda fn=fn, sub=sub: [fn(q) for q in sub], rounds=1) / len(sub)
        ours = _cpu(lambda sub=sub: [ac.suggest(q) for q in sub], rounds=1) / len(sub)
        out[f"peer {name}: us_per_query"] = theirs * 1e6
        out[f"peer {name}: speedup of suggest"] = theirs / ours
    # boosted against plain, by prefix length (user history of 200, region of 5,000 words)
    rng = np.random.default_rng(5)
    p = freqs / freqs.sum()
    ctx = ContextualAutocomplete(ac, user_weight=5.0, region_weight=0.5)
    ctx.add_history("ann", [words[i] for i in rng.choice(len(words), 200, p=p).tolist()])
    region = rng.choice(len(words), 5000, replace=False).tolist()
    ctx.set_region("eu", {words[i]: float(v) for i, v in zip(region, rng.uniform(0, 50, 5000).tolist(), strict=True)})
    for length in (1, 2, 3, 4):
        ps = [w[:length] for w in (words[i] for i in rng.choice(len(words), 5000, p=p).tolist()) if len(w) >= length]
        plain, boosted = _cpu_pair(
            lambda ps=ps: [ac.suggest(q) for q in ps],
            lambda ps=ps: [ctx.suggest(q, 10, user="ann", region="eu") for q in ps],
        )
        distinct = sorted(set(ps))

        def first(distinct=distinct):
            for q in distinct:
                ctx._forget_answers()
                ctx.suggest(q, 10, user="ann", region="eu")

        cold = _cpu(first, rounds=1) / len(distinct)
        cold_plain = _cpu(lambda d=distinct: [ac.suggest(q) for q in d], rounds=1) / len(distinct)
        out[f"boosted/plain, prefix length {length}"] = boosted / plain
        out[f"boosted/plain, prefix length {length}, first query of each prefix"] = cold / cold_plain
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else FULL_WORDS
    for key, value in figures(n).items():
        print(f"{key:>66}: {value:,.3f}" if isinstance(value, float) else f"{key:>66}: {value}")
