"""Naive baselines: each structure written the obvious way in plain Python.

These are what a first implementation from a textbook description looks like
(and what the classic primer API's classes do in spirit): Python lists and
dicts, one ``hashlib.md5`` per probe, a full sort per read. sysprims is
measured against them to show what the batch kernels buy. They are written
here from the algorithms' descriptions; every time-dependent one takes its
time from an injected clock or an explicit timestamp, so a benchmark's
outcome never depends on the machine clock's resolution.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Any

from ..clock import SYSTEM_CLOCK, Clock

__all__ = [
    "NaiveBloomFilter",
    "NaiveCountMin",
    "DictTokenBucket",
    "NaiveSnowflake",
    "NaiveShortener",
    "base62",
    "NaiveTrie",
    "md5_shard",
    "NaiveFeed",
    "NaiveIdempotency",
]


def _md5_index(key: Any, salt: int, modulus: int) -> int:
    """A position in ``[0, modulus)`` from the md5 digest of ``salt`` and ``key``."""
    digest = hashlib.md5(f"{salt}|{key}".encode()).digest()
    return int.from_bytes(digest, "big") % modulus


class NaiveBloomFilter:
    """``num_bits`` cells in a Python list; probe ``i`` of a key is
    md5(i, key) mod ``num_bits``."""

    def __init__(self, num_bits: int, num_probes: int):
        self.num_bits = num_bits
        self.num_probes = num_probes
        self.cells = [0] * num_bits

    def add(self, key: Any) -> None:
        for i in range(self.num_probes):
            self.cells[_md5_index(key, i, self.num_bits)] = 1

    def contains(self, key: Any) -> bool:
        return all(self.cells[_md5_index(key, i, self.num_bits)] for i in range(self.num_probes))


class NaiveCountMin:
    """``depth`` Python lists of ``width`` counters; row ``r`` counts a key at
    md5(r, key) mod ``width``; a query takes the smallest of its cells."""

    def __init__(self, width: int, depth: int):
        self.width = width
        self.depth = depth
        self.rows = [[0] * width for _ in range(depth)]

    def update(self, key: Any, count: int = 1) -> None:
        for r, row in enumerate(self.rows):
            row[_md5_index(key, r, self.width)] += count

    def query(self, key: Any) -> int:
        return min(row[_md5_index(key, r, self.width)] for r, row in enumerate(self.rows))


class DictTokenBucket:
    """Token buckets in a dict ``key -> [tokens, last_seen]``; ``allow(key, now)``
    refills by the elapsed seconds, then spends one token if there is one."""

    def __init__(self, capacity: float, refill_per_second: float):
        self.capacity = float(capacity)
        self.rate = float(refill_per_second)
        self.state: dict[Hashable, list[float]] = {}

    def allow(self, key: Hashable, now: float) -> bool:
        entry = self.state.get(key)
        if entry is None:
            entry = self.state[key] = [self.capacity, now]
        tokens = entry[0] + (now - entry[1]) * self.rate
        if tokens > self.capacity:
            tokens = self.capacity
        entry[1] = now
        if tokens >= 1.0:
            entry[0] = tokens - 1.0
            return True
        entry[0] = tokens
        return False


class NaiveSnowflake:
    """64-bit ids: 41 bits of milliseconds since ``epoch_ms``, 10 bits of
    worker, 12 bits of a per-millisecond counter; waits for the next
    millisecond (on ``clock``) when the counter runs out."""

    def __init__(self, worker: int, epoch_ms: int = 1_600_000_000_000, clock: Clock = SYSTEM_CLOCK):
        self.worker = worker % 1024
        self.epoch_ms = epoch_ms
        self.clock = clock
        self.last_ms = -1
        self.counter = 0

    def generate(self) -> int:
        now = self.clock.time_ms()
        if now == self.last_ms:
            self.counter = (self.counter + 1) % 4096
            while self.counter == 0 and now <= self.last_ms:
                now = self.clock.time_ms()
        else:
            self.counter = 0
        self.last_ms = now
        return ((now - self.epoch_ms) << 22) + (self.worker << 12) + self.counter


_DIGITS62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base62(value: int) -> str:
    """``value`` (>= 0) in base 62, most significant digit first."""
    digits = []
    while True:
        value, d = divmod(value, 62)
        digits.append(_DIGITS62[d])
        if value == 0:
            return "".join(digits[::-1])


class NaiveShortener:
    """A counter turned into base 62, remembered in two dicts."""

    def __init__(self, first: int = 100_000):
        self.next_id = first
        self.code_of: dict[str, str] = {}
        self.url_of: dict[str, str] = {}

    def shorten(self, url: str) -> str:
        code = self.code_of.get(url)
        if code is None:
            code = base62(self.next_id)
            self.next_id += 1
            self.code_of[url] = code
            self.url_of[code] = url
        return code


class NaiveTrie:
    """A trie of list nodes ``[children: dict, count]``; ``suggest`` walks the
    whole subtree under the prefix and sorts what it found by count."""

    def __init__(self) -> None:
        self.root: list[Any] = [{}, 0]

    def insert(self, word: str, count: int = 1) -> None:
        node = self.root
        for ch in word:
            node = node[0].setdefault(ch, [{}, 0])
        node[1] += count

    def suggest(self, prefix: str, limit: int = 10) -> list[tuple[str, int]]:
        node = self.root
        for ch in prefix:
            node = node[0].get(ch)
            if node is None:
                return []
        found: list[tuple[str, int]] = []
        stack = [(node, prefix)]
        while stack:
            cur, word = stack.pop()
            if cur[1]:
                found.append((word, cur[1]))
            stack.extend((child, word + ch) for ch, child in cur[0].items())
        found.sort(key=lambda wc: (-wc[1], wc[0]))
        return found[:limit]


def md5_shard(key: str, shards: int) -> int:
    """The shard of ``key``: its md5 digest as an integer, modulo ``shards``."""
    return int.from_bytes(hashlib.md5(key.encode()).digest(), "big") % shards


class NaiveFeed:
    """Follow sets and per-user lists of ``(stamp, post_id, author)``.

    ``post`` pushes a post to every follower's list (fan-out on write);
    ``push_feed`` sorts a user's list, ``pull_feed`` gathers and sorts the
    posts of everyone they follow (fan-out on read). The stamp comes from
    ``clock`` (default: a counter, so posts are ordered by arrival whatever
    the machine clock's resolution); ties are broken by post id.
    """

    def __init__(self, clock: Callable[[], float] | None = None):
        if clock is None:
            ticks = iter(range(1, 1 << 62))
            clock = lambda: float(next(ticks))  # noqa: E731
        self.clock = clock
        self.followers: dict[int, set[int]] = {}
        self.following: dict[int, set[int]] = {}
        self.posts_by: dict[int, list[tuple[float, int, int]]] = {}
        self.timelines: dict[int, list[tuple[float, int, int]]] = {}

    def follow(self, follower: int, author: int) -> None:
        self.followers.setdefault(author, set()).add(follower)
        self.following.setdefault(follower, set()).add(author)

    def post(self, author: int, post_id: int) -> int:
        """Store the post and push it to the author's and followers' timelines;
        returns the number of timeline writes."""
        entry = (self.clock(), post_id, author)
        self.posts_by.setdefault(author, []).append(entry)
        readers = self.followers.get(author, set()) | {author}
        for reader in readers:
            self.timelines.setdefault(reader, []).append(entry)
        return len(readers)

    def push_feed(self, user: int, limit: int = 10) -> list[int]:
        return [post_id for _, post_id, _ in sorted(self.timelines.get(user, []), reverse=True)[:limit]]

    def pull_feed(self, user: int, limit: int = 10) -> list[int]:
        gathered: list[tuple[float, int, int]] = []
        for author in self.following.get(user, set()) | {user}:
            gathered.extend(self.posts_by.get(author, ()))
        gathered.sort(reverse=True)
        return [post_id for _, post_id, _ in gathered[:limit]]


class NaiveIdempotency:
    """A dict ``key -> (stored_at, result)``: a key seen within ``ttl_seconds``
    returns its stored result, otherwise the operation runs and is stored.
    Not safe under concurrency (two threads may both run the operation)."""

    def __init__(self, ttl_seconds: float = 86_400.0, clock: Clock = SYSTEM_CLOCK):
        self.ttl = ttl_seconds
        self.clock = clock
        self.done: dict[str, tuple[float, Any]] = {}

    def execute(self, key: str, operation: Callable[[], Any]) -> Any:
        now = self.clock.time()
        hit = self.done.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        result = operation()
        self.done[key] = (now, result)
        return result
