"""Baselines: the seed document's own classes.

This is the seed's reference code (``shared/seed/000_a95187d37d3c7602.txt``),
copied here as the plain-Python baselines sysprims is measured against. Only
what a benchmark needs is kept; the bodies are the seed's, with its ``print``
lines removed (they would measure the terminal). Its bugs are deliberately
NOT fixed: this is what sysprims replaces.
"""

from __future__ import annotations

import hashlib
import math
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "SeedBloomFilter",
    "SeedCountMinSketch",
    "SeedTokenBucket",
    "SeedSnowflakeID",
    "SeedURLShortener",
    "SeedTrie",
    "SeedHashBasedSharding",
    "SeedFanoutService",
    "SeedIdempotencyManager",
]


class SeedBloomFilter:
    """The seed's BloomFilter (a list of ints, one md5 per probe)."""

    def __init__(self, size: int, num_hash_functions: int):
        self.size = size
        self.num_hash_functions = num_hash_functions
        self.bit_array = [0] * size

    def _hash(self, item: str, seed: int) -> int:
        h = hashlib.md5(f"{item}{seed}".encode())
        return int(h.hexdigest(), 16) % self.size

    def add(self, item: str) -> None:
        for i in range(self.num_hash_functions):
            index = self._hash(item, i)
            self.bit_array[index] = 1

    def contains(self, item: str) -> bool:
        for i in range(self.num_hash_functions):
            index = self._hash(item, i)
            if self.bit_array[index] == 0:
                return False
        return True

    def false_positive_rate(self, n: int) -> float:
        k = self.num_hash_functions
        m = self.size
        return (1 - math.exp(-k * n / m)) ** k


class SeedCountMinSketch:
    """The seed's CountMinSketch (lists of ints, one md5 per row)."""

    def __init__(self, width: int, depth: int):
        self.width = width
        self.depth = depth
        self.table = [[0] * width for _ in range(depth)]

    def _hash(self, item: str, seed: int) -> int:
        h = hashlib.md5(f"{item}{seed}".encode())
        return int(h.hexdigest(), 16) % self.width

    def update(self, item: str, count: int = 1) -> None:
        for i in range(self.depth):
            index = self._hash(item, i)
            self.table[i][index] += count

    def query(self, item: str) -> int:
        min_count = float("inf")
        for i in range(self.depth):
            index = self._hash(item, i)
            min_count = min(min_count, self.table[i][index])
        return min_count


class SeedTokenBucket:
    """The seed's TokenBucket (one per key, real clock)."""

    def __init__(self, capacity: int, refill_rate: float):
        self.capacity = capacity
        self.refill_rate = refill_rate
        self.tokens = capacity
        self.last_refill = time.time()

    def allow_request(self) -> bool:
        now = time.time()
        elapsed = now - self.last_refill
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_rate)
        self.last_refill = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        else:
            return False


class SeedSnowflakeID:
    """The seed's Snowflake generator."""

    def __init__(self, machine_id: int, epoch: int = 1609459200000):
        self.machine_id = machine_id & 0x3FF
        self.epoch = epoch
        self.sequence = 0
        self.last_timestamp = -1

    def generate(self) -> int:
        timestamp = int(time.time() * 1000)
        if timestamp < self.last_timestamp:
            raise Exception("Clock moved backwards!")
        if timestamp == self.last_timestamp:
            self.sequence = (self.sequence + 1) & 0xFFF
            if self.sequence == 0:
                while timestamp <= self.last_timestamp:
                    timestamp = int(time.time() * 1000)
        else:
            self.sequence = 0
        self.last_timestamp = timestamp
        return ((timestamp - self.epoch) << 22) | (self.machine_id << 12) | self.sequence


class SeedURLShortener:
    """The seed's counter-based URL shortener (two dicts)."""

    BASE62 = string.digits + string.ascii_lowercase + string.ascii_uppercase

    def __init__(self):
        self.url_to_code: dict[str, str] = {}
        self.code_to_url: dict[str, str] = {}
        self.counter = 100000

    def shorten_counter_based(self, long_url: str) -> str:
        if long_url in self.url_to_code:
            return self.url_to_code[long_url]
        short_code = self._encode_base62(self.counter)
        self.counter += 1
        self.url_to_code[long_url] = short_code
        self.code_to_url[short_code] = long_url
        return short_code

    def _encode_base62(self, num: int) -> str:
        if num == 0:
            return self.BASE62[0]
        result = []
        while num > 0:
            result.append(self.BASE62[num % 62])
            num //= 62
        return "".join(reversed(result))


class _SeedTrieNode:
    def __init__(self):
        self.children: dict[str, _SeedTrieNode] = {}
        self.is_end_of_word = False
        self.frequency = 0


class SeedTrie:
    """The seed's Trie (pointer nodes; autocomplete walks the whole subtree and sorts)."""

    def __init__(self):
        self.root = _SeedTrieNode()

    def insert(self, word: str, frequency: int = 1):
        node = self.root
        for char in word:
            if char not in node.children:
                node.children[char] = _SeedTrieNode()
            node = node.children[char]
        node.is_end_of_word = True
        node.frequency += frequency

    def autocomplete(self, prefix: str, limit: int = 10) -> list[tuple]:
        node = self._find_node(prefix)
        if node is None:
            return []
        results: list[tuple] = []
        self._dfs_words(node, prefix, results)
        results.sort(key=lambda x: x[1], reverse=True)
        return results[:limit]

    def _find_node(self, prefix: str):
        node = self.root
        for char in prefix:
            if char not in node.children:
                return None
            node = node.children[char]
        return node

    def _dfs_words(self, node, current_word: str, results: list):
        if node.is_end_of_word:
            results.append((current_word, node.frequency))
        for char, child_node in node.children.items():
            self._dfs_words(child_node, current_word + char, results)


class SeedHashBasedSharding:
    """The seed's hash-based sharding (md5 of the key, modulo)."""

    def __init__(self, num_shards: int):
        self.num_shards = num_shards

    def get_shard(self, key: str) -> int:
        hash_value = int(hashlib.md5(key.encode()).hexdigest(), 16)
        return hash_value % self.num_shards


@dataclass
class SeedPost:
    post_id: int
    author_id: int
    content: str
    timestamp: datetime

    def __lt__(self, other):
        return self.timestamp > other.timestamp


class SeedFanoutService:
    """The seed's FanoutService (push and pull models over dicts of lists)."""

    def __init__(self):
        self.followers: dict[int, set] = {}
        self.following: dict[int, set] = {}
        self.user_posts: dict[int, list] = {}
        self.user_feeds: dict[int, list] = {}

    def follow(self, follower_id, followee_id):
        if followee_id not in self.followers:
            self.followers[followee_id] = set()
        self.followers[followee_id].add(follower_id)
        if follower_id not in self.following:
            self.following[follower_id] = set()
        self.following[follower_id].add(followee_id)

    def post_fan_out_on_write(self, user_id, content, post_id):
        post = SeedPost(post_id, user_id, content, datetime.now())
        if user_id not in self.user_posts:
            self.user_posts[user_id] = []
        self.user_posts[user_id].append(post)
        followers = self.followers.get(user_id, set())
        for follower_id in followers:
            if follower_id not in self.user_feeds:
                self.user_feeds[follower_id] = []
            self.user_feeds[follower_id].append(post)
        if user_id not in self.user_feeds:
            self.user_feeds[user_id] = []
        self.user_feeds[user_id].append(post)

    def get_feed_push_model(self, user_id, limit=10):
        feed = self.user_feeds.get(user_id, [])
        feed.sort(key=lambda p: p.timestamp, reverse=True)
        return feed[:limit]

    def get_feed_pull_model(self, user_id, limit=10):
        following = self.following.get(user_id, set())
        all_posts = []
        for followed_id in following | {user_id}:
            posts = self.user_posts.get(followed_id, [])
            all_posts.extend(posts)
        all_posts.sort(key=lambda p: p.timestamp, reverse=True)
        return all_posts[:limit]


@dataclass
class SeedIdempotentResult:
    request_id: str
    result: Any
    timestamp: datetime


class SeedIdempotencyManager:
    """The seed's in-memory IdempotencyManager (not safe under concurrency)."""

    def __init__(self, ttl_hours: int = 24):
        self.cache: dict[str, SeedIdempotentResult] = {}
        self.ttl = timedelta(hours=ttl_hours)

    def execute(self, idempotency_key: str, operation) -> Any:
        if idempotency_key in self.cache:
            cached = self.cache[idempotency_key]
            if datetime.now() - cached.timestamp < self.ttl:
                return cached.result
            else:
                del self.cache[idempotency_key]
        result = operation()
        self.cache[idempotency_key] = SeedIdempotentResult(
            request_id=idempotency_key, result=result, timestamp=datetime.now()
        )
        return result
