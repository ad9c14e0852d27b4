"""Autocomplete: sysprims vs marisa-trie, pygtrie, a sorted list + bisect, and a naive list-node trie (``sysprims.bench.naive.NaiveTrie``).

Data: the top 300,000 English words with their frequencies from ``wordfreq``
(synthetic Zipf-weighted words when it is not installed); queries: prefixes of
1 to 4 characters of words drawn by frequency, top 10, ties broken by the word.
Every contender answers the same queries; ``extra_info`` records microseconds
per query so the ratios can be read off one run.
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_left

import numpy as np
import pytest

from peers import peer
from sysprims.autocomplete import Autocomplete
from sysprims.bench.naive import NaiveTrie

FULL_WORDS = 300_000
N_QUERIES = 100_000
LIMIT = 10


def _synthetic(n: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(11)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    p = 1.0 / np.arange(1, 27)
    p /= p.sum()
    words: set[str] = set()
    while len(words) < n:
        lens = rng.integers(2, 12, size=n)
        for ln in lens.tolist():
            words.add("".join(rng.choice(letters, size=ln, p=p)))
    out = sorted(words)[:n]
    return out, 1.0 / (rng.permutation(n) + 1.0)


@pytest.fixture(scope="module")
def vocab(n_keys) -> tuple[list[str], np.ndarray]:
    n = FULL_WORDS if n_keys >= 200_000 else n_keys
    try:
        import wordfreq
    except ImportError:
        return _synthetic(n)
    words = wordfreq.top_n_list("en", n, wordlist="best")
    d = wordfreq.get_frequency_dict("en", "best")
    return words, np.array([d[w] for w in words])


@pytest.fixture(scope="module")
def queries(vocab, n_keys) -> list[str]:
    words, freqs = vocab
    rng = np.random.default_rng(3)
    n = N_QUERIES if n_keys >= 200_000 else 2_000
    picks = rng.choice(len(words), size=n, p=freqs / freqs.sum())
    lens = rng.integers(1, 5, size=n)
    return [words[i][:ln] for i, ln in zip(picks.tolist(), lens.tolist(), strict=True)]


@pytest.fixture(scope="module")
def ours(vocab) -> Autocomplete:
    words, freqs = vocab
    # the wordfreq list is already lower-case NFC; keep the peers' exact input
    return Autocomplete.from_words(words, freqs, casefold=False, normalize=None)


@pytest.fixture(scope="module")
def sorted_baseline(vocab):
    words, freqs = vocab
    order = sorted(range(len(words)), key=words.__getitem__)
    sw = [words[i] for i in order]
    sf = [float(freqs[i]) for i in order]

    def suggest(prefix: str, limit: int = LIMIT) -> list[str]:
        lo = bisect_left(sw, prefix)
        hi = bisect_left(sw, prefix + "\U0010ffff", lo)
        best = heapq.nlargest(limit, range(lo, hi), key=lambda i: (sf[i], -i))
        return [sw[i] for i in best]

    return suggest


def _rank(freq: dict):
    return lambda w: (-freq[w], w)


@pytest.fixture(scope="module")
def marisa(vocab):
    mt = peer("marisa_trie")
    words, freqs = vocab
    trie = mt.Trie(words)
    freq = dict(zip(words, freqs.tolist(), strict=True))
    key = _rank(freq)
    return lambda prefix, limit=LIMIT: heapq.nsmallest(limit, trie.keys(prefix), key=key)


@pytest.fixture(scope="module")
def gtrie(vocab):
    pg = peer("pygtrie")
    words, freqs = vocab
    trie = pg.CharTrie(zip(words, freqs.tolist(), strict=True))

    def suggest(prefix: str, limit: int = LIMIT) -> list[str]:
        try:
            items = trie.items(prefix=prefix)
        except KeyError:
            return []
        return [w for w, _ in heapq.nsmallest(limit, items, key=lambda x: (-x[1], x[0]))]

    return suggest


def _per_query(benchmark, fn, qs, group):
    benchmark.group = group
    result = benchmark.pedantic(
        lambda: [fn(q) for q in qs], rounds=3, iterations=1, warmup_rounds=1
    )
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_query"] = benchmark.stats.stats.median / len(qs) * 1e6
    benchmark.extra_info["queries"] = len(qs)
    return result


def test_answers_agree(ours, sorted_baseline, marisa, gtrie, queries):
    for q in queries[:300]:
        expected = sorted_baseline(q)
        assert ours.suggest(q) == expected == marisa(q) == gtrie(q)


def test_suggest_sysprims(benchmark, ours, queries):
    _per_query(benchmark, ours.suggest, queries[:20_000], "autocomplete-suggest")


def test_suggest_sorted_bisect(benchmark, sorted_baseline, queries):
    _per_query(benchmark, sorted_baseline, queries[:2_000], "autocomplete-suggest")


def test_suggest_marisa(benchmark, marisa, queries):
    _per_query(benchmark, marisa, queries[:300], "autocomplete-suggest")


def test_suggest_pygtrie(benchmark, gtrie, queries):
    _per_query(benchmark, gtrie, queries[:100], "autocomplete-suggest")


def test_suggest_naive_trie(benchmark, vocab, sorted_baseline, queries):
    words, freqs = vocab
    t = NaiveTrie()
    for w, f in zip(words, freqs.tolist(), strict=True):
        t.insert(w, f)
    got = _per_query(benchmark, lambda q: [w for w, _ in t.suggest(q, LIMIT)], queries[:100], "autocomplete-suggest")
    assert got == [sorted_baseline(q) for q in queries[:100]]


@pytest.mark.parametrize("length", [1, 2, 4, 8])
def test_suggest_by_prefix_length(benchmark, ours, vocab, length):
    words, _ = vocab
    qs = [w[:length] for w in words[:5_000] if len(w) >= length][:2_000]
    _per_query(benchmark, ours.suggest, qs, f"autocomplete-prefix-len-{length}")


def test_suggest_many_sysprims(benchmark, ours, queries):
    benchmark.group = "autocomplete-batch"
    got = benchmark.pedantic(ours.suggest_many, args=(queries, LIMIT), rounds=3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_query"] = benchmark.stats.stats.median / len(queries) * 1e6
    assert list(got[:50]) == [ours.suggest(q) for q in queries[:50]]


def test_build_sysprims(benchmark, vocab):
    words, freqs = vocab
    benchmark.group = "autocomplete-build"
    ac = benchmark.pedantic(Autocomplete.from_words, args=(words, freqs), rounds=2, iterations=1)
    benchmark.extra_info["nbytes"] = ac.nbytes
    benchmark.extra_info["words"] = len(ac)


def test_build_marisa(benchmark, vocab):
    mt = peer("marisa_trie")
    benchmark.group = "autocomplete-build"
    benchmark.pedantic(mt.Trie, args=(vocab[0],), rounds=2, iterations=1)


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
