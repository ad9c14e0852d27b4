"""Idempotency keys: run an operation exactly once per key, replay its result.

Follows Stripe's idempotency keys and the IETF ``Idempotency-Key`` draft:

* the first request with a key claims it atomically and runs the operation;
  its result is stored for ``ttl`` and replayed to every retry;
* a retry with the same key but a different request (``fingerprint``) raises
  :class:`~sysprims.errors.IdempotencyKeyMismatch` (HTTP 422) and runs nothing;
* a retry while the first request still runs raises
  :class:`~sysprims.errors.RequestInProgress` (HTTP 409), or waits for the
  result up to ``wait`` seconds;
* an operation that raises releases the key (unless its error is to be cached),
  so a retry can run it;
* a claim expires after ``lock_ttl`` seconds, so a crashed worker's key can be
  claimed again; a result is never reported that was not stored.

Stores: :class:`MemoryStore` (default, thread-safe), :class:`SQLiteStore`
(durable, multi-process) and :class:`RedisStore` (shared by many hosts).
"""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, overload

from .._html import html_table
from .._validate import check_number
from ..clock import resolve_clock
from ..errors import (
    CachedOperationError,
    IdempotencyError,
    IdempotencyKeyMismatch,
    InvalidIdempotencyKey,
    InvalidParameterError,
    RequestInProgress,
    SerializationError,
)
from .serializers import JSONSerializer, PickleSerializer, Serializer, fingerprint_of
from .stores import DONE, ERROR, IdempotencyStore, MemoryStore, Record, open_store

__all__ = [
    "CachedOperationError",
    "Claim",
    "IdempotencyManager",
    "IdempotencyStore",
    "IdempotentResult",
    "InvalidIdempotencyKey",
    "JSONSerializer",
    "MAX_KEY_LENGTH",
    "MemoryStore",
    "PickleSerializer",
    "Record",
    "RedisStore",
    "SQLiteStore",
    "Serializer",
    "check_idempotency_key",
    "fingerprint_of",
    "open_store",
]

log = logging.getLogger("sysprims.idempotency")

MAX_KEY_LENGTH = 255

# claim tokens: a random prefix per process (renewed after fork) and a counter
_TOKEN_PREFIX = [uuid.uuid4().hex[:20] + "-"]
_TOKEN_SEQ = itertools.count()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _TOKEN_PREFIX.__setitem__(0, uuid.uuid4().hex[:20] + "-"))


def __getattr__(name: str) -> Any:  # SQLiteStore, RedisStore: in sysprims.backends, through the registry
    from . import stores

    return getattr(stores, name)


def check_idempotency_key(key: Any) -> str:
    """``key`` if it is a str of 1 to 255 printable characters, else :class:`InvalidIdempotencyKey`."""
    if type(key) is str and 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable():
        return key
    if not isinstance(key, str):
        raise InvalidIdempotencyKey(f"idempotency_key must be a str, got {type(key).__name__}: {key!r}")
    if not key:
        raise InvalidIdempotencyKey("idempotency_key must be non-empty, got ''")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(f"idempotency_key must be at most {MAX_KEY_LENGTH} characters, got {len(key)} characters")
    if not key.isprintable():
        raise InvalidIdempotencyKey(f"idempotency_key must hold printable characters only, got {key!r}")
    return str(key)


def _seconds(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return check_number(name, value, min=0.0, min_inclusive=allow_zero)


@overload
def _dt(ts: float) -> datetime: ...
@overload
def _dt(ts: float | None) -> datetime | None: ...
def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


@dataclass
class IdempotentResult:
    """Cached result of idempotent operation.

    The classic primer API's three fields, then what the stores know besides: the request's
    fingerprint, when the result expires, and whether this call replayed it
    (``replayed=False`` for the call that ran the operation).
    """

    request_id: str
    result: Any
    timestamp: datetime
    fingerprint: str | None = None
    expires_at: datetime | None = None
    replayed: bool = False


class Claim:
    """Ownership of a key while its operation runs (from :meth:`IdempotencyManager.claim`).

    If ``replayed`` is true the key was already done and ``outcome`` holds the
    stored :class:`IdempotentResult`; there is nothing to run. Otherwise run the
    operation, then call exactly one of :meth:`complete` (store the result),
    :meth:`fail` (store the error) or :meth:`release` (forget the attempt).
    As a context manager it releases the key if the block ends (or raises)
    before one of them was called.
    """

    __slots__ = ("manager", "key", "token", "fingerprint", "ttl", "replayed", "outcome", "_open")

    def __init__(self, manager: IdempotencyManager, key: str, token: str | None, fingerprint: str | None,
                 ttl: float, outcome: IdempotentResult | None = None):
        self.manager = manager
        self.key = key
        self.token = token
        self.fingerprint = fingerprint
        self.ttl = ttl
        self.outcome = outcome
        self.replayed = outcome is not None
        self._open = outcome is None

    def _check_open(self) -> None:
        if not self._open:
            raise IdempotencyError(f"the claim on {self.key!r} is already settled")
        self._open = False

    def complete(self, result: Any) -> IdempotentResult:
        """Store ``result`` for the key's TTL and return it as an :class:`IdempotentResult`.

        A result the serializer cannot encode releases the key and raises
        :class:`~sysprims.errors.SerializationError` (the operation has run!).
        If the claim expired meanwhile and another request took the key, the
        result is returned but not stored (logged as a warning).
        """
        now = self._store(result)
        return IdempotentResult(self.key, result, _dt(now), self.fingerprint, _dt(now + self.ttl), False)

    def _store(self, result: Any) -> float:
        self._check_open()
        m = self.manager
        store = m.store
        if store.persistent:
            try:
                payload = m.serializer.dumps(result)
            except SerializationError:
                store.release(self.key, self.token)
                raise
        else:
            payload = result
        now = m.clock.time()
        if not store.complete(self.key, self.token, DONE, payload, now, now + self.ttl):
            log.warning("claim on idempotency key %r expired before the operation finished; result not stored", self.key)
        return now

    def fail(self, error: BaseException) -> None:
        """Store ``error`` so that retries raise :class:`CachedOperationError`."""
        self._check_open()
        m = self.manager
        etype = f"{type(error).__module__}.{type(error).__qualname__}"
        if m.store.persistent:
            payload: Any = JSONSerializer().dumps({"type": etype, "message": str(error)})
        else:
            payload = error
        now = m.clock.time()
        m.store.complete(self.key, self.token, ERROR, payload, now, now + self.ttl)

    def release(self) -> None:
        """Free the key so that a retry runs the operation."""
        self._check_open()
        self.manager.store.release(self.key, self.token)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        """Leaving the block without complete()/fail() releases the key (errors included)."""
        if self._open:
            self.release()

    def __repr__(self) -> str:
        state = "replayed" if self.replayed else ("open" if self._open else "settled")
        return f"Claim(key={self.key!r}, {state})"


class IdempotencyManager:
    """Idempotency key manager for exactly-once processing.

    Args:
        ttl_hours: how long a result is kept (the classic primer API's parameter; default 24).
        store: ``None``/``"memory"`` (in-process), a SQLite path or
            ``sqlite:///`` URL, a ``redis://`` URL, or a store object.
        ttl: the same as ``ttl_hours`` in seconds (or a ``timedelta``); wins if given.
        lock_ttl: seconds a claim stays valid while its operation runs; after
            that a crashed worker's key can be claimed again. Keep it above the
            longest operation.
        wait: default bounded wait (seconds) for a key whose first request is
            still running; 0 raises :class:`RequestInProgress` at once.
        poll_interval: longest pause between looks while waiting.
        cache_errors: ``False`` (errors release the key), ``True`` (every
            ``Exception`` is stored and replayed as :class:`CachedOperationError`)
            or a tuple of exception types to store.
        serializer: for persistent stores; :class:`JSONSerializer` by default.
        clock: a :mod:`sysprims.clock` clock (``ManualClock`` in tests).
    """

    def __init__(self, ttl_hours: float = 24, *, store: Any = None, ttl: float | timedelta | None = None,
                 lock_ttl: float | timedelta = 60.0, wait: float | timedelta = 0.0, poll_interval: float = 0.05,
                 cache_errors: bool | tuple[type[BaseException], ...] = False,
                 serializer: Serializer | None = None, clock: Any = None):
        if ttl is None:
            self.ttl_seconds = check_number("ttl_hours", ttl_hours, min=0.0, min_inclusive=False) * 3600.0
        else:
            self.ttl_seconds = _seconds("ttl", ttl)
        self.ttl = timedelta(seconds=self.ttl_seconds)
        self.lock_ttl = _seconds("lock_ttl", lock_ttl)
        self.wait = _seconds("wait", wait, allow_zero=True)
        self.poll_interval = check_number("poll_interval", poll_interval, min=0.0, min_inclusive=False)
        self.cache_errors = self._check_cache_errors(cache_errors)
        if serializer is None:
            serializer = JSONSerializer()
        elif not (callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None))):
            raise InvalidParameterError(f"serializer must have dumps() and loads(), got {serializer!r}")
        self.serializer = serializer
        self.clock = resolve_clock(clock)
        self.store = open_store(store)
        # lock-free hit path for the in-memory store (entries are replaced, never mutated)
        self._mem = self.store._data if isinstance(self.store, MemoryStore) else None

    @staticmethod
    def _check_cache_errors(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, type) and issubclass(value, BaseException):
            return (value,)
        if isinstance(value, tuple) and all(isinstance(t, type) and issubclass(t, BaseException) for t in value):
            return value
        raise InvalidParameterError(f"cache_errors must be a bool or a tuple of exception types, got {value!r}")

    # -- the classic primer API ----------------------------------------------------

    def execute(self, idempotency_key: str, operation: Callable[[], Any], *, fingerprint: Any = None,
                ttl: float | timedelta | None = None, wait: float | timedelta | None = None,
                cache_errors: bool | tuple[type[BaseException], ...] | None = None) -> Any:
        """Run ``operation()`` once for ``idempotency_key``; return its result, from the store on retries.

        Args:
            fingerprint: what identifies the request (str, bytes or JSON data such
                as the request's parameters; hashed with SHA-256). The same key
                with another fingerprint raises :class:`IdempotencyKeyMismatch`.
            ttl: seconds (or timedelta) to keep this result; default the manager's.
            wait: seconds to wait for a request with this key that is still running;
                default the manager's (0: raise :class:`RequestInProgress` at once).
            cache_errors: overrides the manager's setting for this call.
        """
        mem = self._mem
        if mem is not None and type(idempotency_key) is str:
            e = mem.get(idempotency_key)  # lock-free: entries are replaced, never mutated
            if e is not None and e.state == DONE and e.expires_at > self.clock.time():
                fp = None if fingerprint is None else fingerprint_of(fingerprint)
                if e.fingerprint == fp:
                    return e.payload  # cache hit, nothing allocated
        if cache_errors is not None:
            cache_errors = self._check_cache_errors(cache_errors)
        claim = self.claim(idempotency_key, fingerprint=fingerprint, ttl=ttl, wait=wait)
        if claim.outcome is not None:
            return claim.outcome.result
        result = self._run_claimed(claim, operation, cache_errors)
        claim._store(result)
        return result

    def execute_result(self, idempotency_key: str, operation: Callable[[], Any], *, fingerprint: Any = None,
                       ttl: float | timedelta | None = None, wait: float | timedelta | None = None,
                       cache_errors: bool | tuple[type[BaseException], ...] | None = None) -> IdempotentResult:
        """Like :meth:`execute` but returns the :class:`IdempotentResult` (``replayed`` tells which)."""
        if cache_errors is not None:
            cache_errors = self._check_cache_errors(cache_errors)
        claim = self.claim(idempotency_key, fingerprint=fingerprint, ttl=ttl, wait=wait)
        if claim.outcome is not None:
            return claim.outcome
        return claim.complete(self._run_claimed(claim, operation, cache_errors))

    def _run_claimed(self, claim: Claim, operation: Callable[[], Any], cache_errors: Any) -> Any:
        try:
            return operation()
        except BaseException as exc:
            policy = self.cache_errors if cache_errors is None else cache_errors
            if isinstance(exc, Exception) and (policy is True or (isinstance(policy, tuple) and isinstance(exc, policy))):
                claim.fail(exc)
            else:
                claim.release()
            raise

    def purge_expired(self) -> int:
        """Remove expired results and expired claims; returns how many were removed
        (the name the shortener's ``purge_expired`` uses too)."""
        return self.store.cleanup(self.clock.time())

    def cleanup_expired(self) -> int:
        """Alias of :meth:`purge_expired` (its name in sysprims 0.1), kept working."""
        return self.purge_expired()

    # -- building blocks (for HTTP services and async code) ----------------

    def claim(self, idempotency_key: str, *, fingerprint: Any = None, ttl: float | timedelta | None = None,
              wait: float | timedelta | None = None, lock_ttl: float | timedelta | None = None) -> Claim:
        """Claim the key, or return the stored outcome.

        Returns a :class:`Claim`: ``claim.replayed`` with ``claim.outcome`` when
        the key is done; otherwise you own the key until you call
        ``complete(result)``, ``fail(exc)`` or ``release()``. Raises
        :class:`IdempotencyKeyMismatch`, :class:`RequestInProgress` (after the
        bounded wait), :class:`CachedOperationError`, :class:`InvalidIdempotencyKey`.
        """
        key = check_idempotency_key(idempotency_key)
        fp = None if fingerprint is None else fingerprint_of(fingerprint)
        ttl_s = self.ttl_seconds if ttl is None else _seconds("ttl", ttl)
        wait_s = self.wait if wait is None else _seconds("wait", wait, allow_zero=True)
        lock_s = self.lock_ttl if lock_ttl is None else _seconds("lock_ttl", lock_ttl)
        clock = self.clock
        store = self.store
        deadline = None
        pause = min(0.001, self.poll_interval)
        while True:
            now = clock.time()
            token = f"{_TOKEN_PREFIX[0]}{next(_TOKEN_SEQ):x}"
            claimed, rec = store.begin(key, token, fp, now, now + lock_s)
            if claimed:
                return Claim(self, key, token, fp, ttl_s)
            if rec.fingerprint != fp:
                raise IdempotencyKeyMismatch(
                    f"idempotency key {key!r} was first used with a different request "
                    f"(fingerprint {rec.fingerprint or 'none'} != {fp or 'none'}); use a new key for a new request"
                )
            if rec.state == DONE:
                result = self.serializer.loads(rec.payload) if store.persistent else rec.payload
                return Claim(self, key, None, fp, ttl_s,
                             IdempotentResult(key, result, _dt(rec.completed_at), rec.fingerprint, _dt(rec.expires_at), True))
            if rec.state == ERROR:
                if store.persistent:
                    info = JSONSerializer().loads(rec.payload)
                    raise CachedOperationError(key, info.get("type", "?"), info.get("message", ""))
                err = rec.payload
                raise CachedOperationError(key, f"{type(err).__module__}.{type(err).__qualname__}", str(err), err)
            # RUNNING: someone else owns it
            if deadline is None:
                deadline = clock.monotonic() + wait_s
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
                raise RequestInProgress(f"a request with idempotency key {key!r} is still in progress{waited}; retry later")
            clock.sleep(min(pause, remaining))
            pause = min(pause * 2, self.poll_interval)

    def get(self, idempotency_key: str) -> IdempotentResult | None:
        """The stored result for a key (None if absent, running, failed or expired)."""
        key = check_idempotency_key(idempotency_key)
        rec = self.store.get(key, self.clock.time())
        if rec is None or rec.state != DONE:
            return None
        return self._result(rec)

    def _result(self, rec: Record) -> IdempotentResult:
        result = self.serializer.loads(rec.payload) if self.store.persistent else rec.payload
        return IdempotentResult(rec.key, result, _dt(rec.completed_at), rec.fingerprint, _dt(rec.expires_at), True)  # type: ignore[arg-type]  # done: completed_at is set

    def status(self, idempotency_key: str) -> str | None:
        """``"running"``, ``"done"``, ``"error"`` or None (absent or expired)."""
        rec = self.store.get(check_idempotency_key(idempotency_key), self.clock.time())
        return None if rec is None else rec.state

    def forget(self, idempotency_key: str) -> bool:
        """Delete a key's record whatever its state; True if there was one."""
        return self.store.delete(check_idempotency_key(idempotency_key))

    def clear(self) -> None:
        """Delete every record of this manager's store."""
        self.store.clear()

    @property
    def cache(self) -> dict[str, IdempotentResult]:
        """A snapshot of the live results, like the classic primer API's ``cache`` dict (reads the whole store)."""
        now = self.clock.time()
        return {r.key: self._result(r) for r in self.store.records(now) if r.state == DONE}

    def __len__(self) -> int:
        now = self.clock.time()
        return sum(1 for _ in self.store.records(now))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> IdempotencyManager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"IdempotencyManager(ttl_hours={self.ttl_seconds / 3600:g}, store={self.store!r}, "
                f"lock_ttl={self.lock_ttl:g}, wait={self.wait:g})")

    def _repr_html_(self) -> str:
        return html_table("IdempotencyManager", [
            ("store", repr(self.store)), ("ttl", str(self.ttl)), ("lock_ttl (s)", f"{self.lock_ttl:g}"),
            ("wait (s)", f"{self.wait:g}"), ("cache_errors", self.cache_errors),
            ("serializer", repr(self.serializer) if self.store.persistent else "none (objects kept as is)"),
        ])

