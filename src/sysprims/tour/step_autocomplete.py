"""Tour step: ranked prefix completion against a sorted list + bisect + heapq."""

from __future__ import annotations

import heapq
from bisect import bisect_left

import numpy as np

from ..autocomplete import Autocomplete
from . import Row, timed

NAME = "autocomplete"
ORDER = 60


def _vocabulary(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    try:
        import wordfreq

        words = wordfreq.top_n_list("en", n, wordlist="best")
        d = wordfreq.get_frequency_dict("en", "best")
        return words, np.array([d[w] for w in words])
    except ImportError:
        letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
        raw = {"".join(rng.choice(letters, size=int(k))) for k in rng.integers(2, 10, size=n)}
        words = sorted(raw)
        return words, rng.zipf(1.3, size=len(words)).astype(np.float64)


def run(size: int, rng: np.random.Generator) -> list[Row]:
    n_words = min(size, 50_000)
    words, freqs = _vocabulary(n_words, rng)
    build_s, ac = timed(
        lambda: Autocomplete.from_words(words, freqs, casefold=False, normalize=None)
    )
    picks = rng.choice(len(words), size=1_000, p=freqs / freqs.sum())
    queries = [
        words[i][: int(k)]
        for i, k in zip(picks.tolist(), rng.integers(1, 5, size=1_000).tolist(), strict=True)
    ]

    order = sorted(range(len(words)), key=words.__getitem__)
    sw = [words[i] for i in order]
    sf = [float(freqs[i]) for i in order]

    def baseline(prefix: str) -> list[str]:
        lo = bisect_left(sw, prefix)
        hi = bisect_left(sw, prefix + "\U0010ffff", lo)
        return [sw[i] for i in heapq.nlargest(10, range(lo, hi), key=lambda i: (sf[i], -i))]

    base_q = queries[:300]
    base_s, expected = timed(lambda: [baseline(q) for q in base_q])
    base_s *= len(queries) / len(base_q)
    t, got = timed(lambda: [ac.suggest(q) for q in queries], repeat=2)
    note = "exact" if got[: len(base_q)] == expected else "MISMATCH"
    rows = [
        Row(
            NAME,
            f"from_words({len(words):,} words)",
            len(words),
            build_s,
            f"{ac.nbytes / 1e6:.1f} MB",
        ),
        Row(NAME, "suggest(prefix, 10)", len(queries), t, note, base_s, "sorted list+bisect"),
    ]
    t, many = timed(lambda: ac.suggest_many(queries, 10), repeat=2)
    rows.append(
        Row(NAME, "suggest_many(prefixes, 10)", len(queries), t, "", base_s, "sorted list+bisect")
    )
    stream = [words[i] for i in picks.tolist()] * 5
    t, _ = timed(lambda: [ac.add_search(w) for w in stream])
    rows.append(Row(NAME, "add_search(word)", len(stream), t, "answers stay exact"))
    return rows
