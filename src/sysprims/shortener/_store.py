"""The link-store interface of the URL shortener, and the in-memory store.

A store maps short codes to links and owns the counters; the shortener
decides codes, the store guarantees that a code is stored at most once
(``create`` refuses a taken code atomically). :class:`LinkStore` is the
contract; the SQLite and Redis stores live in
:mod:`sysprims.backends.shortener_sqlite` and :mod:`sysprims.backends.shortener_redis`,
reached through the store registry (:mod:`sysprims.backends.registry`).
Times are Unix milliseconds passed in by the caller (the shortener's clock).
"""

from __future__ import annotations

import heapq
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

__all__ = ["LinkInfo", "LinkStore", "MemoryLinkStore"]


@dataclass(frozen=True)
class LinkInfo:
    """One stored link."""

    code: str
    url: str
    strategy: str  # "counter", "permuted", "hash", "snowflake", "alias"
    created_ms: int
    expires_ms: int | None
    clicks: int

    def live(self, now_ms: int) -> bool:
        return self.expires_ms is None or self.expires_ms > now_ms


class LinkStore(ABC):
    """Where links live. Every method is safe to call from several threads;
    the SQLite and Redis stores are also safe across processes."""

    @abstractmethod
    def reserve_counter(self, name: str, n: int, start: int) -> int:
        """Atomically reserve ``n`` consecutive values of counter ``name``
        (created at ``start`` if missing); returns the first value."""

    @abstractmethod
    def create(self, code: str, url: str, strategy: str, created_ms: int, expires_ms: int | None, now_ms: int) -> bool:
        """Store a link if ``code`` is free (absent, or expired at ``now_ms``);
        False, storing nothing, if it is taken."""

    @abstractmethod
    def create_many(
        self, codes: Sequence[str], urls: Sequence[str], strategy: str, created_ms: int, expires_ms: int | None
    ) -> bool:
        """All or nothing: store every link, or none if any code is present
        (or repeated in ``codes``)."""

    @abstractmethod
    def find_codes(self, urls: Sequence[str], strategy: str) -> dict[str, str]:
        """Codes of permanent links (no expiry) created by ``strategy`` for these URLs."""

    @abstractmethod
    def resolve(self, code: str, now_ms: int, count_click: bool = False) -> str | None:
        """The URL of a live link (adding one click if asked), else None."""

    @abstractmethod
    def resolve_many(self, codes: Sequence[str], now_ms: int) -> list[str | None]:
        """:meth:`resolve` for a batch, without counting clicks."""

    @abstractmethod
    def info(self, code: str, now_ms: int) -> LinkInfo | None:
        """The live link behind ``code``, with its click count."""

    @abstractmethod
    def top(self, n: int, now_ms: int) -> list[LinkInfo]:
        """The ``n`` most clicked live links with at least one click, most clicked first (ties by code)."""

    @abstractmethod
    def delete(self, code: str) -> bool:
        """Remove a link; True if it existed."""

    @abstractmethod
    def purge_expired(self, now_ms: int) -> int:
        """Remove links expired at ``now_ms``; returns how many."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of stored links (expired ones not yet purged included)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> LinkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryLinkStore(LinkStore):
    """Dictionaries behind one lock (column by column, so batches are dict
    updates at C speed); lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple] = {}  # code -> (url, (strategy, created_ms, expires_ms))
        self._expires: dict[str, int] = {}  # only links that expire
        self._clicks: dict[str, int] = {}  # only links clicked at least once
        self._by_url: dict[str, dict[str, str]] = {}  # strategy -> {url: code}, permanent links
        self._counters: dict[str, int] = {}

    def reserve_counter(self, name: str, n: int, start: int) -> int:
        with self._lock:
            first = self._counters.get(name, start)
            self._counters[name] = first + n
            return first

    def _live(self, code: str, now_ms: int) -> bool:
        if code not in self._rows:
            return False
        exp = self._expires.get(code)
        return exp is None or exp > now_ms

    def create(self, code, url, strategy, created_ms, expires_ms, now_ms):
        with self._lock:
            if code in self._rows:
                if self._live(code, now_ms):
                    return False
                self._forget(code)
            self._rows[code] = (url, (strategy, created_ms, expires_ms))
            if expires_ms is None:
                self._by_url.setdefault(strategy, {}).setdefault(url, code)
            else:
                self._expires[code] = expires_ms
            return True

    def _forget(self, code: str) -> None:
        url, (strategy, _, _) = self._rows.pop(code)
        self._expires.pop(code, None)
        self._clicks.pop(code, None)
        index = self._by_url.get(strategy)
        if index is not None and index.get(url) == code:
            del index[url]

    def create_many(self, codes, urls, strategy, created_ms, expires_ms):
        codes, urls = list(codes), list(urls)
        with self._lock:
            if len(set(codes)) != len(codes) or not self._rows.keys().isdisjoint(codes):
                return False
            self._rows.update(zip(codes, zip(urls, repeat((strategy, created_ms, expires_ms))), strict=False))
            if expires_ms is None:
                index = self._by_url.setdefault(strategy, {})
                keep = {} if index.keys().isdisjoint(urls) else {u: index[u] for u in urls if u in index}
                index.update(zip(reversed(urls), reversed(codes), strict=False))  # the first code of a URL wins
                index.update(keep)
            else:
                self._expires.update(dict.fromkeys(codes, expires_ms))
            return True

    def find_codes(self, urls, strategy):
        with self._lock:
            index = self._by_url.get(strategy)
            if not index:
                return {}
            return {u: index[u] for u in urls if u in index}

    def resolve(self, code, now_ms, count_click=False):
        with self._lock:
            if not self._live(code, now_ms):
                return None
            if count_click:
                self._clicks[code] = self._clicks.get(code, 0) + 1
            return self._rows[code][0]

    def resolve_many(self, codes, now_ms):
        with self._lock:
            get = self._rows.get
            if not self._expires:
                return [r[0] if (r := get(c)) is not None else None for c in codes]
            return [get(c)[0] if self._live(c, now_ms) else None for c in codes]

    def _info(self, code: str) -> LinkInfo:
        url, (strategy, created, expires) = self._rows[code]
        return LinkInfo(code, url, strategy, created, expires, self._clicks.get(code, 0))

    def info(self, code, now_ms):
        with self._lock:
            return self._info(code) if self._live(code, now_ms) else None

    def top(self, n, now_ms):
        with self._lock:
            live = ((c, k) for c, k in self._clicks.items() if self._live(c, now_ms))
            best = heapq.nsmallest(n, live, key=lambda item: (-item[1], item[0]))
            return [self._info(c) for c, _ in best]

    def delete(self, code):
        with self._lock:
            if code not in self._rows:
                return False
            self._forget(code)
            return True

    def purge_expired(self, now_ms):
        with self._lock:
            dead = [c for c, e in self._expires.items() if e <= now_ms]
            for c in dead:
                self._forget(c)
            return len(dead)

    def __len__(self):
        return len(self._rows)

    def __repr__(self) -> str:
        return f"MemoryLinkStore(links={len(self._rows)})"
