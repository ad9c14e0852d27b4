"""URL shortener: the classic primer API's ``URLShortener`` and ``DistributedURLShortener``
(bugs fixed), base62 (scalar and batch), non-enumerable permuted codes,
aliases, expiry, click counts and pluggable stores (memory, SQLite, Redis).

Quickstart::

    from sysprims.shortener import URLShortener
    s = URLShortener("sqlite:///links.db", strategy="permuted", secret=b"keep me")
    code = s.shorten("https://example.com/a/long/path")
    s.expand(code)            # 'https://example.com/a/long/path'
    s.shorten_many(urls)      # batched, all-or-nothing transactions
"""

from __future__ import annotations

from ._base62 import (
    BASE62,
    FeistelPermutation,
    decode_base62,
    decode_base62_many,
    encode_base62,
    encode_base62_many,
)
from ._core import (
    RESERVED_ALIASES,
    STRATEGIES,
    AliasTakenError,
    DistributedURLShortener,
    URLShortener,
    open_link_store,
    validate_url,
)
from ._store import LinkInfo, LinkStore, MemoryLinkStore

__all__ = [
    "BASE62",
    "RESERVED_ALIASES",
    "STRATEGIES",
    "AliasTakenError",
    "DistributedURLShortener",
    "FeistelPermutation",
    "LinkInfo",
    "LinkStore",
    "MemoryLinkStore",
    "URLShortener",
    "decode_base62",
    "decode_base62_many",
    "encode_base62",
    "encode_base62_many",
    "open_link_store",
    "validate_url",
]
