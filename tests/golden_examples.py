"""One small, deterministic instance of every persisted kind, and the answers
it gives: the golden files in ``tests/data/`` are these instances' bytes.

``EXAMPLES`` maps a file stem to ``(build, answers)``: ``build()`` returns the
structure, ``answers(obj)`` a JSON-able summary of what it answers (queries,
not internals), so a loaded file can be compared with a freshly built one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sysprims as sp

PROBES = [f"key-{i}" for i in range(40)] + [b"raw", 7, -3, ""]


def _bloom(blocked: bool = False) -> Any:
    bf = sp.BloomFilter(1024, 3, seed=7, blocked=blocked)
    bf.add_many([f"key-{i}" for i in range(0, 40, 2)])
    bf.add(b"raw")
    return bf


def _bloom_answers(bf: Any) -> Any:
    return [bool(bf.contains(k)) for k in PROBES] + bf.contains_many(PROBES[:40]).tolist()


def _scalable() -> Any:
    sbf = sp.ScalableBloomFilter(8, 0.05, seed=3)
    sbf.add_many([f"key-{i}" for i in range(30)])
    return sbf


def _scalable_answers(sbf: Any) -> Any:
    return [len(sbf.stages), sbf.count, *sbf.contains_many(PROBES[:40]).tolist(), bool(sbf.contains("zzz"))]


def _counting() -> Any:
    cbf = sp.CountingBloomFilter(256, 3, seed=5)
    cbf.add_many([f"key-{i}" for i in range(10)])
    cbf.add("key-1")
    cbf.remove("key-2")
    return cbf


def _counting_answers(cbf: Any) -> Any:
    return [bool(cbf.contains(k)) for k in PROBES] + cbf.counters.tolist()


def _countmin() -> Any:
    cms = sp.CountMinSketch(64, 3, seed=11)
    cms.update_many([f"key-{i % 7}" for i in range(50)])
    cms.update("heavy", 100)
    return cms


def _countmin_answers(cms: Any) -> Any:
    return [cms.total, *cms.query_many(PROBES[:40]).tolist(), cms.query("heavy")]


def _topk() -> Any:
    tk = sp.TopK(3, 64, 3, seed=2)
    tk.update_many([f"k{i % 5}" for i in range(40)])
    tk.update_many([b"bytes-key"] * 9)
    tk.update(12345, 11)
    tk.update("late", 30)
    return tk


def _topk_answers(tk: Any) -> Any:
    return [[repr(k), int(v)] for k, v in tk.top(6)] + [tk.total, tk.query("k1")]


def _ratelimiter(algorithm: str, **params: Any):
    def build() -> Any:
        rl = sp.RateLimiter(algorithm, seed=9, **params)
        keys = [f"user-{i % 4}" for i in range(24)]
        rl.allow_many(keys, np.linspace(100.0, 103.0, 24))
        return rl

    return build


def _ratelimiter_answers(rl: Any) -> Any:
    keys = [f"user-{i % 5}" for i in range(30)]
    return [len(rl), *rl.allow_many(keys, np.linspace(103.0, 106.0, 30)).tolist()]


def _ring() -> Any:
    return sp.ConsistentHashRing(["a", "b", "c"], vnodes=16, weights=[1.0, 2.0, 0.5], seed=4)


def _jump() -> Any:
    js = sp.JumpHashSharding(nodes=["n0", "n1", "n2", "n3"], seed=4)
    js.remove_node("n1")
    return js


def _hrw() -> Any:
    hrw = sp.RendezvousSharding([10, 20, 30, 40], weights=[1.0, 1.0, 2.0, 0.5], seed=4)
    hrw.remove_node(20)
    return hrw


def _shard_answers(s: Any) -> Any:
    return [*s.get_shards(PROBES[:40]).tolist(), s.get_shard("x"), sorted(s.shard_ids())]


def _autocomplete() -> Any:
    words = ["apple", "app", "application", "banana", "band", "bandana", "Écharpe", "eclair", "zebra"]
    return sp.Autocomplete.from_words(words, [5, 9, 2, 7, 7, 1, 3, 4, 8])


def _autocomplete_answers(ac: Any) -> Any:
    return [ac.suggest_with_scores(p, 3) for p in ["", "a", "app", "ban", "é", "z", "q"]]


def _trie() -> Any:
    t = sp.Trie()
    for w, f in [("car", 3), ("cart", 1), ("care", 5), ("Dog", 2), ("do", 2)]:
        t.insert(w, f)
    return t


def _trie_answers(t: Any) -> Any:
    return [[list(x) for x in t.autocomplete(p, 5)] for p in ["", "c", "car", "D", "d"]]


def _feed() -> Any:
    fs = sp.FeedStore(5, capacity=4, celebrity_threshold=2)
    fs.follow_many([1, 2, 3, 4, 0], [0, 0, 0, 0, 1])
    fs.follow(2, 3)
    fs.post_many([0, 1, 3, 0, 2, 3, 1, 0], np.arange(8, dtype=np.float64) + 10.0)
    return fs


def _feed_answers(fs: Any) -> Any:
    return [
        [fs.feed(u, 10, model).tolist() for u in range(fs.n_users) for model in ("push", "pull", "hybrid")],
        fs.n_posts,
        fs.timeline_writes,
    ]


#: file stem -> (build, answers)
EXAMPLES: dict[str, tuple[Any, Any]] = {
    "bloom": (_bloom, _bloom_answers),
    "bloom_blocked": (lambda: _bloom(True), _bloom_answers),
    "bloom_scalable": (_scalable, _scalable_answers),
    "bloom_counting": (_counting, _counting_answers),
    "count_min": (_countmin, _countmin_answers),
    "top_k": (_topk, _topk_answers),
    "rate_limiter_token_bucket": (_ratelimiter("token_bucket", capacity=3, refill_rate=1.5), _ratelimiter_answers),
    "rate_limiter_leaky_bucket": (_ratelimiter("leaky_bucket", capacity=3, leak_rate=1.5), _ratelimiter_answers),
    "rate_limiter_fixed_window": (_ratelimiter("fixed_window", max_requests=3, window_seconds=1.0), _ratelimiter_answers),
    "rate_limiter_sliding_window_log": (
        _ratelimiter("sliding_window_log", max_requests=4, window_seconds=2.0), _ratelimiter_answers,
    ),
    "rate_limiter_sliding_window_counter": (
        _ratelimiter("sliding_window_counter", max_requests=3, window_seconds=1.0), _ratelimiter_answers,
    ),
    "shard_ring": (_ring, _shard_answers),
    "shard_jump": (_jump, _shard_answers),
    "shard_hrw": (_hrw, _shard_answers),
    "autocomplete": (_autocomplete, _autocomplete_answers),
    "trie": (_trie, _trie_answers),
    "feed_store": (_feed, _feed_answers),
}


def class_of(stem: str) -> Any:
    return type(EXAMPLES[stem][0]())
