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
