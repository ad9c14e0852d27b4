"""sysprims: NumPy/Numba-accelerated building blocks of large systems.

``import sysprims`` is light: the public names below are imported on first
use (PEP 562), so Numba and the optional backends load only when needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:  # real imports for type checkers; at run time each name loads on first use
    from ._jit import warmup as warmup
    from ._typing import KeysLike as KeysLike
    from .autocomplete import Autocomplete as Autocomplete
    from .autocomplete import AutocompleteSystem as AutocompleteSystem
    from .autocomplete import ContextualAutocomplete as ContextualAutocomplete
    from .autocomplete import ShardedAutocomplete as ShardedAutocomplete
    from .autocomplete import Trie as Trie
    from .autocomplete import TrieNode as TrieNode
    from .autocomplete import WordTooLongError as WordTooLongError
    from .bloom import BloomFilter as BloomFilter
    from .bloom import CountingBloomFilter as CountingBloomFilter
    from .bloom import ReadOnlyFilterError as ReadOnlyFilterError
    from .bloom import ScalableBloomFilter as ScalableBloomFilter
    from .clock import Clock as Clock
    from .clock import ManualClock as ManualClock
    from .clock import SystemClock as SystemClock
    from .countmin import CountMinSketch as CountMinSketch
    from .countmin import HeavyHitters as HeavyHitters
    from .countmin import TopK as TopK
    from .countmin import Trend as Trend
    from .countmin import TrendingTopK as TrendingTopK
    from .errors import AliasTakenError as AliasTakenError
    from .errors import BackendError as BackendError
    from .errors import CachedOperationError as CachedOperationError
    from .errors import CapacityError as CapacityError
    from .errors import ClockMovedBackwardsError as ClockMovedBackwardsError
    from .errors import IdempotencyError as IdempotencyError
    from .errors import IdempotencyKeyMismatch as IdempotencyKeyMismatch
    from .errors import IncompatibleError as IncompatibleError
    from .errors import InvalidIdempotencyKey as InvalidIdempotencyKey
    from .errors import InvalidParameterError as InvalidParameterError
    from .errors import KeyTypeError as KeyTypeError
    from .errors import MissingDependencyError as MissingDependencyError
    from .errors import NoShardError as NoShardError
    from .errors import NotFoundError as NotFoundError
    from .errors import RequestInProgress as RequestInProgress
    from .errors import SerializationError as SerializationError
    from .errors import SysprimsError as SysprimsError
    from .feed import FanoutService as FanoutService
    from .feed import FeedStore as FeedStore
    from .feed import Post as Post
    from .hashing import HashedKeys as HashedKeys
    from .hashing import hash_keys as hash_keys
    from .hashing import murmur3_32 as murmur3_32
    from .hashing import murmur3_128 as murmur3_128
    from .idempotency import IdempotencyManager as IdempotencyManager
    from .idempotency import IdempotentResult as IdempotentResult
    from .ids import SnowflakeID as SnowflakeID
    from .ids import SnowflakeLayout as SnowflakeLayout
    from .ids import decode as _decode_snowflake
    from .ratelimit import Decision as Decision
    from .ratelimit import DistributedTokenBucket as DistributedTokenBucket
    from .ratelimit import FixedWindow as FixedWindow
    from .ratelimit import LeakyBucket as LeakyBucket
    from .ratelimit import RateLimiter as RateLimiter
    from .ratelimit import SlidingWindowCounter as SlidingWindowCounter
    from .ratelimit import SlidingWindowLog as SlidingWindowLog
    from .ratelimit import TokenBucket as TokenBucket
    from .ratelimit import accuracy_report as accuracy_report
    from .sharding import ConsistentHashRing as ConsistentHashRing
    from .sharding import GeoBasedSharding as GeoBasedSharding
    from .sharding import HashBasedSharding as HashBasedSharding
    from .sharding import JumpHashSharding as JumpHashSharding
    from .sharding import MovementReport as MovementReport
    from .sharding import RangeBasedSharding as RangeBasedSharding
    from .sharding import RendezvousSharding as RendezvousSharding
    from .sharding import ReshardReport as ReshardReport
    from .sharding import ShardedDatabase as ShardedDatabase
    from .sharding import ShardingStrategy as ShardingStrategy
    from .sharding import jump_consistent_hash as jump_consistent_hash
    from .sharding import movement_report as movement_report
    from .shortener import DistributedURLShortener as DistributedURLShortener
    from .shortener import LinkStore as LinkStore
    from .shortener import URLShortener as URLShortener
    from .shortener import decode_base62 as decode_base62
    from .shortener import encode_base62 as encode_base62

    decode_snowflake = _decode_snowflake

# public name -> module that defines it (kept sorted by name); a new name goes here and
# into the TYPE_CHECKING block above (tests/test_typing.py checks that the two agree)
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
    "ContextualAutocomplete": "autocomplete",
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
    "KeysLike": "_typing",
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
    "ShardedAutocomplete": "autocomplete",
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
    "Trend": "countmin",
    "TrendingTopK": "countmin",
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
