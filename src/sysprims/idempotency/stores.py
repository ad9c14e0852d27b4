"""Where idempotency records live: the contract, the memory store, and the registry hook.

The SQLite and Redis stores are :mod:`sysprims.backends.idempotency_sqlite` and
:mod:`sysprims.backends.idempotency_redis`, reached through the store registry.

Every store implements the same five atomic steps on one record per key
(``Record``: state ``running`` / ``done`` / ``error``, fingerprint, payload,
times, and the claim token of whoever is running it):

* ``begin(key, token, fingerprint, now, lock_expires_at)`` -> ``(True, None)``
  when the caller now owns the key (it was free or its record had expired), or
  ``(False, record)`` with the live record that holds it;
* ``complete(key, token, state, payload, now, expires_at) -> bool`` stores the
  outcome only if ``token`` still owns the claim;
* ``release(key, token) -> bool`` frees the key only if ``token`` owns it;
* ``get(key, now)`` reads the live record (or None); ``cleanup(now)`` deletes
  expired records and returns how many.

Times are seconds from the manager's clock, so ``ManualClock`` drives expiry on
every store. Expired records also go away by themselves: Redis gives every
record a native expiry; the memory store drops a few expired records on each
write (from FIFOs of writes, one per power-of-two lifetime), and the SQLite store deletes the expired rows
once per ``sweep_interval`` seconds of that clock, on the next claim.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .._html import html_table

__all__ = ["IdempotencyStore", "MemoryStore", "Record", "open_store"]

RUNNING = "running"
DONE = "done"
ERROR = "error"


@dataclass(frozen=True)
class Record:
    """One key's record as a store returns it."""

    key: str
    state: str
    fingerprint: str | None
    payload: Any
    created_at: float
    completed_at: float | None
    expires_at: float


class _Entry:
    __slots__ = ("state", "fingerprint", "payload", "created_at", "completed_at", "expires_at", "token")

    def __init__(self, state, fingerprint, payload, created_at, completed_at, expires_at, token):
        self.state = state
        self.fingerprint = fingerprint
        self.payload = payload
        self.created_at = created_at
        self.completed_at = completed_at
        self.expires_at = expires_at
        self.token = token

    def record(self, key: str) -> Record:
        return Record(key, self.state, self.fingerprint, self.payload, self.created_at, self.completed_at, self.expires_at)


class MemoryStore:
    """A dict behind a lock: thread-safe within one process, lost on exit.

    Results are kept as the Python objects the operation returned (no
    serialization), so every replay returns the same object. Every write also
    removes up to ``_SWEEP`` expired records, found at the heads of FIFOs of
    writes (one per power-of-two lifetime), so expired records never pile up:
    a record goes at most about its own lifetime after it expired, while
    writes continue.
    """

    persistent = False
    _SWEEP = 8  # expired records removed per write: more than a write adds, so a backlog drains

    def __init__(self) -> None:
        self._data: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._fifos: dict[int, deque[tuple[float, str]]] = {}  # lifetime band -> (expires_at, key) of writes

    def _put(self, key: str, entry: _Entry, now: float) -> None:
        """Store ``entry``, queue its expiry and sweep; caller holds the lock."""
        data = self._data
        data[key] = entry
        exp = entry.expires_at
        # one FIFO per power-of-two lifetime: with a clock that does not go back,
        # a FIFO is in expiry order to within its lifetime band, so its head is
        # (nearly) the next record to expire
        band = math.frexp(exp - now)[1] if exp > now else 0
        fifo = self._fifos.get(band)
        if fifo is None:
            fifo = self._fifos[band] = deque()
        fifo.append((exp, key))
        budget = self._SWEEP
        for fifo in self._fifos.values():
            while fifo and fifo[0][0] <= now:
                k = fifo.popleft()[1]
                e = data.get(k)
                if e is not None and e.expires_at <= now:  # else rewritten or deleted since
                    del data[k]
                budget -= 1
                if not budget:
                    return

    def begin(self, key: str, token: str, fingerprint: str | None, now: float, lock_expires_at: float):
        with self._lock:
            e = self._data.get(key)
            if e is not None and e.expires_at > now:
                return False, e.record(key)
            # entries are replaced, never mutated, so lock-free readers see whole records
            self._put(key, _Entry(RUNNING, fingerprint, None, now, None, lock_expires_at, token), now)
            return True, None

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool:
        with self._lock:
            e = self._data.get(key)
            if e is None or e.state != RUNNING or e.token != token:
                return False
            self._put(key, _Entry(state, e.fingerprint, payload, e.created_at, now, expires_at, token), now)
            return True

    def release(self, key: str, token: str) -> bool:
        with self._lock:
            e = self._data.get(key)
            if e is None or e.state != RUNNING or e.token != token:
                return False
            del self._data[key]
            return True

    def get(self, key: str, now: float) -> Record | None:
        e = self._data.get(key)
        if e is None or e.expires_at <= now:
            return None
        return e.record(key)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def cleanup(self, now: float) -> int:
        with self._lock:
            dead = [k for k, e in self._data.items() if e.expires_at <= now]
            for k in dead:
                del self._data[k]
            fifos: dict[int, list[tuple[float, str]]] = {}  # the live records' expiries, queued again
            for k, e in self._data.items():
                fifos.setdefault(math.frexp(e.expires_at - now)[1], []).append((e.expires_at, k))
            self._fifos = {band: deque(sorted(items)) for band, items in fifos.items()}
            return len(dead)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._fifos = {}

    def records(self, now: float) -> Iterator[Record]:
        with self._lock:
            items = list(self._data.items())
        for k, e in items:
            if e.expires_at > now:
                yield e.record(k)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryStore(records={len(self._data)})"

    def _repr_html_(self) -> str:
        return html_table("MemoryStore", [("records (incl. expired)", len(self._data))])


@runtime_checkable
class IdempotencyStore(Protocol):
    """What an idempotency store must do (memory here; SQLite and Redis in
    :mod:`sysprims.backends`); see the module docstring for each step.
    ``persistent`` is True when results must be serialized to bytes."""

    persistent: bool

    def begin(self, key: str, token: str, fingerprint: str | None, now: float,
              lock_expires_at: float) -> tuple[bool, Record | None]: ...

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool: ...

    def release(self, key: str, token: str) -> bool: ...

    def get(self, key: str, now: float) -> Record | None: ...

    def delete(self, key: str) -> bool: ...

    def cleanup(self, now: float) -> int: ...

    def clear(self) -> None: ...

    def records(self, now: float) -> Iterator[Record]: ...

    def close(self) -> None: ...


def open_store(store: Any, **options: Any) -> Any:
    """The store for a spec (docs/stores.md): ``None``/``"memory"``/``"memory://"``,
    ``sqlite:///path`` or a path, ``redis://``/``rediss://``/``unix://``/
    ``redis+cluster://`` or a redis client, or a store object."""
    from ..backends.registry import open_store as _open

    return _open("idempotency", store, **options)


def __getattr__(name: str) -> Any:  # the SQLite and Redis stores live in sysprims.backends
    if name in ("SQLiteStore", "RedisStore"):
        from ..backends.registry import engine

        return engine("idempotency", "sqlite" if name == "SQLiteStore" else "redis")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
