"""A fan-out simulator: power-law follower graph, a post stream, and for push,
pull and hybrid (several thresholds) the write amplification, fan-out time and
read latency. The system-design trade-off, measured."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._validate import check_int, check_number
from ..errors import InvalidParameterError
from .store import FeedStore

__all__ = ["power_law_graph", "simulate"]


def power_law_graph(n_users: int = 100_000, mean_following: float = 20.0, alpha: float = 0.9,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random follow graph whose follower counts follow a power law.

    Each user follows about ``mean_following`` users (geometric), picking each
    followee with probability proportional to ``rank ** -alpha`` (ranks are a
    random permutation of the users), so a few users gather tens of thousands
    of followers. Returns ``(followers, followees)`` int64 arrays of distinct
    edges without self-follows.
    """
    n = check_int("n_users", n_users, min=2)
    mean = check_number("mean_following", mean_following, min=1.0)
    alpha = check_number("alpha", alpha, min=0.0, max=4.0)
    rng = np.random.default_rng(seed)
    k = rng.geometric(1.0 / mean, size=n).astype(np.int64)
    k = np.minimum(k, n - 1)
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    cdf = np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    rank = np.minimum(np.searchsorted(cdf, rng.random(src.shape[0]), side="right"), n - 1)
    dst = rng.permutation(n).astype(np.int64)[rank]
    keep = src != dst
    keys = np.unique((src[keep] << np.int64(32)) | dst[keep])
    return keys >> np.int64(32), keys & np.int64(0xFFFFFFFF)


def _strategies(thresholds) -> list[tuple[str, int | None, str]]:
    out = [("push", None, "push"), ("pull", 0, "pull")]
    out += [(f"hybrid@{t}", t, "hybrid") for t in thresholds]
    return out


def simulate(n_users: int = 100_000, n_posts: int = 100_000, thresholds=(1_000, 10_000), *,
             mean_following: float = 20.0, alpha: float = 0.9, capacity: int = 200, limit: int = 20,
             n_reads: int = 2_000, seed: int = 0, graph: tuple[np.ndarray, np.ndarray] | None = None
             ) -> list[dict[str, Any]]:
    """Run the same graph and post stream through push, pull and hybrid.

    Authors post with probability proportional to ``sqrt(followers + 1)``
    (popular users post more). "pull" is threshold 0: every author with a
    follower is pulled, each post writes only the author's own timeline. The
    timeline matrix is touched once before timing (steady state: no first-touch
    page faults in the fan-out time).

    Returns one dict per strategy: ``strategy``, ``threshold``,
    ``writes_per_post`` (timeline writes / posts), ``fanout_s`` (the jitted
    ``post_many``, wall clock), ``writes_per_s``, ``fanout_cpu_s`` and
    ``writes_per_cpu_s`` (process CPU time: robust on a busy machine), ``read_p50_us``/``read_p99_us`` (single
    ``feed()`` calls of ``limit`` posts for ``n_reads`` random users) and
    ``batch_read_us`` (per user, one ``get_feeds`` call for the same users).
    """
    n_users = check_int("n_users", n_users, min=2)
    n_posts = check_int("n_posts", n_posts, min=1)
    n_reads = check_int("n_reads", n_reads, min=1)
    thresholds = [check_int("thresholds", t, min=0) for t in thresholds]
    if graph is None:
        graph = power_law_graph(n_users, mean_following, alpha, seed)
    src, dst = graph
    if src.shape != dst.shape:
        raise InvalidParameterError("graph must be two arrays of the same length")
    rng = np.random.default_rng(seed + 1)
    fol = np.bincount(dst, minlength=n_users).astype(np.float64)
    w = np.sqrt(fol + 1.0)
    authors = rng.choice(n_users, size=n_posts, p=w / w.sum()).astype(np.int64)
    timestamps = np.arange(n_posts, dtype=np.float64)
    readers = rng.integers(0, n_users, size=n_reads).astype(np.int64)
    rows = []
    for name, thr, model in _strategies(thresholds):
        store = FeedStore(n_users, capacity=capacity, celebrity_threshold=thr)
        store.follow_many(src, dst)
        store._tl[:] = 0  # fault the timeline pages in: measure steady state, not first touch
        store.post_many(authors[:1], timestamps[:1])  # compile / load outside the timing
        start, cpu = time.perf_counter(), time.process_time()
        store.post_many(authors[1:], timestamps[1:])
        fanout_s = time.perf_counter() - start
        fanout_cpu_s = time.process_time() - cpu
        lat = np.empty(n_reads, dtype=np.float64)
        feed = store.feed
        feed(int(readers[0]), limit, model)
        for i, u in enumerate(readers.tolist()):
            t0 = time.perf_counter_ns()
            feed(u, limit, model)
            lat[i] = time.perf_counter_ns() - t0
        store.get_feeds(readers[:1], limit, model)  # compile / load outside the timing
        start = time.perf_counter()
        store.get_feeds(readers, limit, model)
        batch_s = time.perf_counter() - start
        writes = store.timeline_writes
        rows.append({
            "strategy": name,
            "threshold": thr,
            "writes_per_post": writes / n_posts,
            "fanout_s": fanout_s,
            "writes_per_s": writes / max(fanout_s, 1e-12),
            "fanout_cpu_s": fanout_cpu_s,
            "writes_per_cpu_s": writes / max(fanout_cpu_s, 1e-12),
            "read_p50_us": float(np.percentile(lat, 50)) / 1e3,
            "read_p99_us": float(np.percentile(lat, 99)) / 1e3,
            "batch_read_us": batch_s / n_reads * 1e6,
            "max_followers": int(fol.max()),
        })
        del store
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The simulator's rows as a markdown table."""
    head = ("| strategy | writes/post | fan-out s | writes/s | writes/cpu-s | read p50 us | read p99 us "
            "| batch read us/user |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['writes_per_post']:.1f} | {r['fanout_s']:.3f} | "
                     f"{r['writes_per_s'] / 1e6:.1f}M | {r['writes_per_cpu_s'] / 1e6:.1f}M | "
                     f"{r['read_p50_us']:.1f} | {r['read_p99_us']:.1f} | {r['batch_read_us']:.2f} |")
    return "\n".join(lines)
