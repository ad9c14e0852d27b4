"""URLShortener and DistributedURLShortener: the classic primer API's classes, fixed and extended."""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .._html import html_table
from .._validate import check_choice, check_int, check_number
from ..clock import resolve_clock
from ..errors import (
    AliasTakenError,
    CapacityError,
    InvalidParameterError,
    NotFoundError,
)
from ..ids import SnowflakeID, SnowflakeLayout
from ._base62 import BASE62, FeistelPermutation, decode_base62, encode_base62, encode_base62_many
from ._store import LinkInfo, LinkStore

__all__ = [
    "AliasTakenError",
    "DistributedURLShortener",
    "RESERVED_ALIASES",
    "STRATEGIES",
    "URLShortener",
    "open_link_store",
    "validate_url",
]

STRATEGIES = ("counter", "permuted", "hash", "snowflake")
_DEDUPED = ("counter", "permuted", "hash")  # one permanent code per URL and strategy
RESERVED_ALIASES = frozenset(
    {
        "about", "admin", "api", "assets", "dashboard", "docs", "favicon.ico", "health", "healthz",
        "help", "login", "logout", "metrics", "new", "privacy", "ready", "readyz", "robots.txt",
        "settings", "shorten", "signup", "static", "stats", "terms", "top", "www",
    }
)
_ALIAS_RE = re.compile(r"[A-Za-z0-9_-]+")
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f]")
# the common case in one regex call; failures are diagnosed by validate_url
_GOOD_URLS = re.compile(  # a whole batch, one URL per line, in one C-level pass
    r"(?:(?:[hH][tT][tT][pP][sS]?)://[^\x00-\x20\x7f-\x9f/?#@:][^\x00-\x20\x7f-\x9f]*\n)*"
)
_GOOD_URL = re.compile(r"(?:[hH][tT][tT][pP][sS]?)://[^\x00-\x20\x7f-\x9f/?#@:][^\x00-\x20\x7f-\x9f]*")
_MAX_ATTEMPTS = 1000
_SNOWFLAKE_WIDTH = 11  # 62**11 > 2**64: every 64-bit ID fits, nothing truncated


def validate_url(url: Any, max_length: int = 2048) -> str:
    """The URL if it is an absolute http(s) URL with a host, at most
    ``max_length`` characters and free of control characters and whitespace;
    else :class:`~sysprims.errors.InvalidParameterError`."""
    if not isinstance(url, str):
        raise InvalidParameterError(f"url must be a str, got {type(url).__name__}: {url!r}")
    if len(url) > max_length:
        raise InvalidParameterError(f"url must be at most {max_length} characters, got {len(url)}")
    m = _BAD_URL_CHARS.search(url)
    if m is not None:
        raise InvalidParameterError(
            f"url must not contain control characters or whitespace, got {m.group()!r} at position {m.start()}"
        )
    head = url[:8].lower()
    if head.startswith("https://"):
        rest = url[8:]
    elif head.startswith("http://"):
        rest = url[7:]
    else:
        raise InvalidParameterError(f"url must start with http:// or https://, got {url[:40]!r}")
    if not rest or rest[0] in "/?#@:":
        raise InvalidParameterError(f"url must name a host after the scheme, got {url[:40]!r}")
    return url


def open_link_store(store: Any = None, **options: Any) -> LinkStore:
    """A :class:`LinkStore` for a store spec (docs/stores.md): ``None``/``"memory"``/
    ``"memory://"``, ``sqlite:///path`` or a path, ``redis://``/``rediss://``/
    ``unix://``/``redis+cluster://`` or a redis client, or a store object."""
    from ..backends.registry import open_store

    return open_store("shortener", store, **options)


class URLShortener:
    """URL shortener like bit.ly (the classic primer API's class), over a pluggable store.

    Strategies: ``"counter"`` (the classic primer API's base62 counter from 100000),
    ``"permuted"`` (the counter through a keyed Feistel permutation of
    ``62**code_length``: fixed-length, unique, not enumerable), ``"hash"``
    (MD5 of the URL into ``hash_length`` base62 characters, rehashing with a
    salt on collision) and ``"snowflake"`` (a full 64-bit Snowflake ID, see
    :class:`DistributedURLShortener`). Counter, permuted and hash codes are
    deduplicated: a URL shortened twice gets its first code back.
    """

    BASE62 = BASE62

    def __init__(
        self,
        store: Any = None,
        *,
        strategy: str = "counter",
        clock: Any = None,
        counter_start: int = 100000,
        code_length: int = 7,
        secret: bytes | str | int | None = None,
        hash_length: int = 6,
        max_url_length: int = 2048,
        alias_length: tuple[int, int] = (3, 64),
        reserved_aliases: Iterable[str] = RESERVED_ALIASES,
        machine_id: int | None = None,
        layout: SnowflakeLayout | str | None = None,
        chunk_size: int = 65536,
    ):
        self.strategy = check_choice("strategy", strategy, STRATEGIES)
        self.clock = resolve_clock(clock)
        self.counter_start = check_int("counter_start", counter_start, min=0)
        self.counter = self.counter_start  # next counter value this instance knows of (a classic primer API attribute)
        self.code_length = check_int("code_length", code_length, min=4, max=10)
        self.hash_length = check_int("hash_length", hash_length, min=4, max=10)
        self.max_url_length = check_int("max_url_length", max_url_length, min=16)
        self.chunk_size = check_int("chunk_size", chunk_size, min=1)
        lo, hi = alias_length
        self.alias_length = (check_int("alias_length[0]", lo, min=1), check_int("alias_length[1]", hi, min=lo))
        self.reserved_aliases = frozenset(a.lower() for a in reserved_aliases)
        self._secret_given = secret is not None
        self._perm = FeistelPermutation(self.code_length, secret if secret is not None else os.urandom(16))
        self.id_generator: SnowflakeID | None = None
        if machine_id is not None:
            self.id_generator = SnowflakeID(machine_id, layout=layout, clock=self.clock)
        elif strategy == "snowflake":
            raise InvalidParameterError("strategy 'snowflake' needs machine_id (or use DistributedURLShortener)")
        self.store = open_link_store(store)
        self._lock = threading.Lock()

    # -- classic primer API helpers ------------------------------------------
    def _encode_base62(self, num: int) -> str:
        return encode_base62(num)

    def _decode_base62(self, code: str) -> int:
        return decode_base62(code)

    # -- code makers ---------------------------------------------------------
    def _now_ms(self) -> int:
        tm = getattr(self.clock, "time_ms", None)
        return int(tm()) if tm is not None else int(round(self.clock.time() * 1000))

    def _expiry(self, ttl: float | None, now_ms: int) -> int | None:
        if ttl is None:
            return None
        ttl = check_number("ttl", ttl, min=0, min_inclusive=False)
        return now_ms + max(1, math.ceil(ttl * 1000))

    def _reserve(self, strategy: str, n: int) -> int:
        start = self.counter_start if strategy == "counter" else 0
        first = self.store.reserve_counter(strategy, n, start)
        if strategy == "permuted" and first + n > self._perm.domain:
            raise CapacityError(f"the permuted code space 62**{self.code_length} = {self._perm.domain:,} is exhausted")
        if strategy == "counter":
            self.counter = max(self.counter, first + n)
        return first

    def _value_code(self, strategy: str, value: int) -> str:
        if strategy == "counter":
            return encode_base62(value)
        return encode_base62(self._perm.forward(value), self.code_length)

    def _values_codes(self, strategy: str, first: int, n: int) -> list[str]:
        values = np.arange(first, first + n, dtype=np.uint64)
        if strategy == "counter":
            return encode_base62_many(values)
        return encode_base62_many(self._perm.forward_many(values), self.code_length)

    def _hash_code(self, url: str, attempt: int) -> str:
        data = url.encode("utf-8") if attempt == 0 else f"{attempt}\x00{url}".encode()
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        return encode_base62(int.from_bytes(digest[:8], "big") % 62**self.hash_length, self.hash_length)

    def _snowflake_code(self, value: int) -> str:
        return encode_base62(value, _SNOWFLAKE_WIDTH)

    def _create_one(self, url: str, strategy: str, expires: int | None, now: int, pending: Iterator[int] | None = None) -> str:
        store = self.store
        for attempt in range(_MAX_ATTEMPTS):
            if strategy in ("counter", "permuted"):
                value = next(pending, None) if pending is not None else None
                if value is None:
                    value = self._reserve(strategy, 1)
                code = self._value_code(strategy, value)
            elif strategy == "hash":
                code = self._hash_code(url, attempt)
            else:
                code = self._snowflake_code(self._generator().generate())
            if store.create(code, url, strategy, now, expires, now):
                return code
        raise CapacityError(f"no free {strategy} code after {_MAX_ATTEMPTS} attempts")

    def _generator(self) -> SnowflakeID:
        if self.id_generator is None:
            raise InvalidParameterError("strategy 'snowflake' needs machine_id (or use DistributedURLShortener)")
        return self.id_generator

    def _check_alias(self, alias: Any) -> str:
        if not isinstance(alias, str):
            raise InvalidParameterError(f"alias must be a str, got {type(alias).__name__}: {alias!r}")
        lo, hi = self.alias_length
        if not lo <= len(alias) <= hi:
            raise InvalidParameterError(f"alias must be {lo} to {hi} characters long, got {len(alias)}: {alias!r}")
        if _ALIAS_RE.fullmatch(alias) is None:
            raise InvalidParameterError(f"alias must use only the characters A-Z a-z 0-9 _ -, got {alias!r}")
        if alias.lower() in self.reserved_aliases:
            raise InvalidParameterError(f"alias {alias!r} is a reserved word")
        return alias

    # -- public API ----------------------------------------------------------
    def shorten(self, long_url: str, *, strategy: str | None = None, alias: str | None = None, ttl: float | None = None) -> str:
        """Short code for ``long_url``. ``alias`` asks for a custom code
        (:class:`AliasTakenError` if taken); ``ttl`` (seconds) makes the link
        expire, and such a link is never shared with another call."""
        strategy = self.strategy if strategy is None else check_choice("strategy", strategy, STRATEGIES)
        url = validate_url(long_url, self.max_url_length)
        now = self._now_ms()
        expires = self._expiry(ttl, now)
        if alias is not None:
            code = self._check_alias(alias)
            if not self.store.create(code, url, "alias", now, expires, now):
                raise AliasTakenError(f"alias {alias!r} is already taken")
            return code
        if strategy == "snowflake":
            self._generator()
        if strategy in _DEDUPED and expires is None:
            with self._lock:
                found = self.store.find_codes([url], strategy).get(url)
                if found is not None:
                    return found
                return self._create_one(url, strategy, None, now)
        return self._create_one(url, strategy, expires, now)

    def shorten_counter_based(self, long_url: str) -> str:
        """The classic primer API's counter-based code (base62 of a counter from 100000)."""
        return self.shorten(long_url, strategy="counter")

    def shorten_hash_based(self, long_url: str) -> str:
        """The classic primer API's hash-based code, fixed: a URL keeps its code, and a
        collision rehashes with a salt instead of appending digits (which could
        produce another URL's code)."""
        return self.shorten(long_url, strategy="hash")

    def shorten_permuted(self, long_url: str) -> str:
        """A fixed-length, non-enumerable code: the counter through a keyed permutation."""
        return self.shorten(long_url, strategy="permuted")

    def shorten_many(self, urls: Iterable[str], *, strategy: str | None = None, ttl: float | None = None) -> np.ndarray:
        """Batch :meth:`shorten`: an object array of codes, exactly what a loop of
        ``shorten`` calls gives (duplicates included), written in batched,
        all-or-nothing chunks. Every URL is validated first: one invalid URL
        raises and stores nothing."""
        strategy = self.strategy if strategy is None else check_choice("strategy", strategy, STRATEGIES)
        if isinstance(urls, np.ndarray):
            urls = urls.tolist()
        urls = list(urls)
        limit = self.max_url_length
        if not self._batch_valid(urls, limit):
            good = _GOOD_URL.fullmatch
            for pos, url in enumerate(urls):
                if type(url) is str and len(url) <= limit and good(url) is not None:
                    continue
                try:
                    validate_url(url, limit)
                except InvalidParameterError as exc:
                    raise InvalidParameterError(f"urls[{pos}]: {exc}") from None
        if strategy == "snowflake":
            self._generator()
        now = self._now_ms()
        expires = self._expiry(ttl, now)
        out = np.empty(len(urls), dtype=object)
        if strategy in _DEDUPED and expires is None:
            with self._lock:
                uniq = list(dict.fromkeys(urls))
                plain = len(uniq) == len(urls)  # no repeats: codes come out in input order
                mapping: dict[str, str] = {}
                codes = []
                for lo in range(0, len(uniq), self.chunk_size):
                    chunk = uniq[lo : lo + self.chunk_size]
                    existing = self.store.find_codes(chunk, strategy)
                    if not existing and plain:
                        codes.extend(self._create_chunk(chunk, strategy, None, now))
                        continue
                    if plain:  # switch to the mapping for the rest
                        mapping.update(zip(uniq[: len(codes)], codes, strict=False))
                        plain = False
                    mapping.update(existing)
                    new = [u for u in chunk if u not in existing]
                    mapping.update(zip(new, self._create_chunk(new, strategy, None, now), strict=False))
            out[:] = codes if plain else [mapping[u] for u in urls]
            return out
        codes = []
        for lo in range(0, len(urls), self.chunk_size):
            codes.extend(self._create_chunk(urls[lo : lo + self.chunk_size], strategy, expires, now))
        out[:] = codes
        return out

    @staticmethod
    def _batch_valid(urls: list[str], limit: int) -> bool:
        """True when every URL passes (fast path); False means check one by one."""
        if not urls:
            return True
        try:
            joined = "\n".join(urls)
        except TypeError:
            return False
        return max(map(len, urls)) <= limit and _GOOD_URLS.fullmatch(joined + "\n") is not None

    def _create_chunk(self, urls: list[str], strategy: str, expires: int | None, now: int) -> list[str]:
        n = len(urls)
        if n == 0:
            return []
        pending: Iterator[int] | None = None
        if strategy in ("counter", "permuted"):
            first = self._reserve(strategy, n)
            codes = self._values_codes(strategy, first, n)
            pending = iter(range(first, first + n))
        elif strategy == "snowflake":
            codes = encode_base62_many(self._generator().generate_many(n), _SNOWFLAKE_WIDTH)
        elif expires is None:
            codes = [self._hash_code(u, 0) for u in urls]
        else:  # expiring hash links probe around each other: keep it serial
            return [self._create_one(u, strategy, expires, now) for u in urls]
        if self.store.create_many(codes, urls, strategy, now, expires):
            return codes
        # a code was taken (an alias, a collision): redo this chunk serially,
        # reusing the reserved counter values in order, as a loop would
        return [self._create_one(u, strategy, expires, now, pending) for u in urls]

    def expand(self, short_code: str) -> str | None:
        """The URL behind a live code, else None (the classic primer API's method; no click counted)."""
        if not isinstance(short_code, str):
            raise InvalidParameterError(f"short_code must be a str, got {type(short_code).__name__}: {short_code!r}")
        return self.store.resolve(short_code, self._now_ms(), False)

    def expand_many(self, codes: Iterable[str]) -> np.ndarray:
        """Batch :meth:`expand`: an object array of URLs (None where unknown or expired)."""
        if isinstance(codes, np.ndarray):
            codes = codes.tolist()
        codes = list(codes)
        for pos, c in enumerate(codes):
            if not isinstance(c, str):
                raise InvalidParameterError(f"codes[{pos}] must be a str, got {type(c).__name__}: {c!r}")
        out = np.empty(len(codes), dtype=object)
        out[:] = self.store.resolve_many(codes, self._now_ms())
        return out

    def click(self, short_code: str) -> str | None:
        """Resolve a code for a redirect: the URL (one click counted), else None."""
        if not isinstance(short_code, str):
            raise InvalidParameterError(f"short_code must be a str, got {type(short_code).__name__}: {short_code!r}")
        return self.store.resolve(short_code, self._now_ms(), True)

    def info(self, short_code: str) -> LinkInfo:
        """The live link behind a code; :class:`~sysprims.errors.NotFoundError` if none."""
        found = self.store.info(short_code, self._now_ms())
        if found is None:
            raise NotFoundError(f"no live link with code {short_code!r}")
        return found

    def clicks(self, short_code: str) -> int:
        """Clicks counted for a live code (:meth:`click`)."""
        return self.info(short_code).clicks

    def top(self, n: int = 10) -> list[LinkInfo]:
        """The ``n`` most clicked live links."""
        return self.store.top(check_int("n", n, min=0), self._now_ms())

    def delete(self, short_code: str) -> bool:
        return self.store.delete(short_code)

    def purge_expired(self) -> int:
        """Remove expired links from the store; returns how many."""
        return self.store.purge_expired(self._now_ms())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> URLShortener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.store)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(strategy={self.strategy!r}, store={type(self.store).__name__}, "
            f"links={len(self.store)}, code_length={self.code_length})"
        )

    def _repr_html_(self) -> str:
        rows: list[tuple[str, Any]] = [
            ("strategy", self.strategy),
            ("store", repr(self.store)),
            ("links", f"{len(self.store):,}"),
            ("permuted codes", f"{self.code_length} chars, 62**{self.code_length} = {self._perm.domain:,} codes"),
            ("hash codes", f"{self.hash_length} chars"),
            ("secret", "given" if self._secret_given else "random (codes change across restarts)"),
        ]
        if self.id_generator is not None:
            rows.append(("machine_id", self.id_generator.machine_id))
        return html_table(type(self).__name__, rows)


class DistributedURLShortener(URLShortener):
    """The classic primer API's multi-server shortener: codes are full base62 Snowflake IDs
    (11 characters, never truncated, so two IDs never share a code)."""

    def __init__(self, machine_id: int, store: Any = None, *, clock: Any = None, layout: SnowflakeLayout | str | None = None, **kwargs: Any):
        super().__init__(store, strategy="snowflake", clock=clock, machine_id=machine_id, layout=layout, **kwargs)

    def shorten(self, long_url: str, *, strategy: str | None = None, alias: str | None = None, ttl: float | None = None) -> str:
        """Generate a short code from a Snowflake ID (every call, a new code)."""
        return super().shorten(long_url, strategy=strategy, alias=alias, ttl=ttl)
