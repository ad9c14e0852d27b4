"""sysprims: NumPy/Numba-accelerated building blocks of large systems.

``import sysprims`` is light: the public names below are imported on first
use (PEP 562), so Numba and the optional backends load only when needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__

# public name -> module that defines it (kept sorted by name)
_EXPORTS: dict[str, str] = {
    "AliasTakenError": "errors",
    "Autocomplete": "autocomplete",
    "AutocompleteSystem": "autocomplete",
    "BackendError": "errors",
    "BloomFilter": "bloom",
    "CachedOperationError": "errors",
    "CapacityError": "errors",
    "Clock": "clock",
    "ClockMovedBackwardsError": "errors",
    "ConsistentHashRing": "sharding",
    "CountMinSketch": "countmin",
    "CountingBloomFilter": "bloom",
    "Decision": "ratelimit",
    "DistributedTokenBucket": "ratelimit",
    "DistributedURLShortener": "shortener",
    "FanoutService": "feed",
    "FeedStore": "feed",
    "FixedWindow": "ratelimit",
    "GeoBasedSharding": "sharding",
    "HashBasedSharding": "sharding",
    "HashedKeys": "hashing",
    "HeavyHitters": "countmin",
    "IdempotencyError": "errors",
    "IdempotencyKeyMismatch": "errors",
    "IdempotencyManager": "idempotency",
    "IdempotentResult": "idempotency",
    "IncompatibleError": "errors",
    "InvalidIdempotencyKey": "errors",
    "InvalidParameterError": "errors",
    "JumpHashSharding": "sharding",
    "KeyTypeError": "errors",
    "LeakyBucket": "ratelimit",
    "LinkStore": "shortener",
    "ManualClock": "clock",
    "MissingDependencyError": "errors",
    "MovementReport": "sharding",
    "NoShardError": "errors",
    "NotFoundError": "errors",
    "Post": "feed",
    "RangeBasedSharding": "sharding",
    "RateLimiter": "ratelimit",
    "ReadOnlyFilterError": "bloom",
    "RendezvousSharding": "sharding",
    "RequestInProgress": "errors",
    "ReshardReport": "sharding",
    "ScalableBloomFilter": "bloom",
    "SerializationError": "errors",
    "ShardedDatabase": "sharding",
    "ShardingStrategy": "sharding",
    "SlidingWindowCounter": "ratelimit",
    "SlidingWindowLog": "ratelimit",
    "SnowflakeID": "ids",
    "SnowflakeLayout": "ids",
    "SysprimsError": "errors",
    "SystemClock": "clock",
    "TokenBucket": "ratelimit",
    "TopK": "countmin",
    "Trie": "autocomplete",
    "TrieNode": "autocomplete",
    "URLShortener": "shortener",
    "WordTooLongError": "autocomplete",
    "accuracy_report": "ratelimit",
    "decode_base62": "shortener",
    "encode_base62": "shortener",
    "hash_keys": "hashing",
    "jump_consistent_hash": "sharding",
    "movement_report": "sharding",
    "murmur3_128": "hashing",
    "murmur3_32": "hashing",
    "warmup": "_jit",
}

# public name -> (module, attribute) where the two names differ
_ALIASES: dict[str, tuple[str, str]] = {
    "decode_snowflake": ("ids", "decode"),
}

__all__ = sorted([*_EXPORTS, *_ALIASES, "__version__"])


def __getattr__(name: str) -> Any:
    module, attr = _ALIASES.get(name, (_EXPORTS.get(name), name))
    if module is None:
        raise AttributeError(f"module 'sysprims' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
