"""Multi-key rate limiting: :class:`RateLimiter` over a storage backend.

The limiter validates parameters, keys, costs and timestamps once and hands
plain arrays to a *backend*. The in-memory backend (:class:`~.memory.MemoryBackend`,
in :mod:`.memory`) keeps every key's state row in an array-backed open-addressing
table, decided by jitted kernels; timestamps are read by :mod:`.timestamps`;
``backend="redis://..."`` selects the Redis backend module
``sysprims.backends.redis_ratelimit`` when it exists (see ``docs/ratelimit.md``,
"Backend seam").
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from mmh3 import hash64 as _hash64

from .._format import Container, Persistable
from .._html import html_table
from ..clock import Clock, resolve_clock
from ..errors import InvalidParameterError
from ..hashing import check_seed, hash128, hashes_for
from . import algorithms as A
from ._scalar import fast_allow
from .memory import MemoryBackend
from .single import CLASSES, Decision
from .timestamps import TIME_UNITS, _scalar_seconds, to_seconds

__all__ = ["TIME_UNITS", "MemoryBackend", "RateLimiter", "to_seconds"]

_INF = float("inf")


def _resolve_backend(
    backend: Any, spec, params, seed, initial_capacity, options=None, max_memory=None
):
    """The store for a ``store=`` spec, through the one registry (docs/stores.md)."""
    from ..backends.registry import open_store, spec_kind

    try:
        kind = spec_kind(backend)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"RateLimiter store= (or backend=): {exc}") from None
    if options is not None and kind not in ("redis", "redis_cluster"):
        raise InvalidParameterError(
            f"backend_options apply to a redis:// store, got store={backend!r}"
        )
    if max_memory is not None and kind != "memory":
        raise InvalidParameterError(
            f"max_memory applies to the memory store, got store={backend!r}"
        )
    if kind == "memory":
        return open_store("ratelimit", backend, spec=spec, params=params, seed=seed,
                          initial_capacity=initial_capacity, max_memory=max_memory)
    if kind == "object":
        return open_store("ratelimit", backend)
    return open_store("ratelimit", backend, spec=spec, params=params, seed=seed, **(options or {}))


class RateLimiter(Persistable):
    """Rate limiting for many keys at once, with one algorithm and one limit.

    ``RateLimiter("token_bucket", capacity=10, refill_rate=5)``, or with
    ``"leaky_bucket"`` (capacity, leak_rate), ``"fixed_window"``,
    ``"sliding_window_log"``, ``"sliding_window_counter"`` (max_requests,
    window_seconds). The algorithm may also be given as its class
    (``RateLimiter(TokenBucket, ...)``).

    Every key has its own state; time never goes backwards for a limiter:
    timestamps earlier than the latest one seen raise
    :class:`~sysprims.errors.InvalidParameterError` (``allow_many(..., sort=True)``
    sorts a batch instead), while times read from ``clock`` are clamped.
    Keys idle long enough that their state equals a fresh one are reclaimed when
    the table fills, so memory follows the active keys; ``max_memory`` (bytes,
    default the machine's memory) bounds the memory backend's table, and a size
    past it raises :class:`~sysprims.errors.InvalidParameterError` naming the sizes
    (``docs/ratelimit.md``, "Memory"). Thread-safe.
    """

    def __init__(
        self,
        algorithm: Any,
        *,
        clock: Clock | None = None,
        store: Any = None,
        seed: int = 0,
        initial_capacity: int | None = None,
        backend_options: dict[str, Any] | None = None,
        max_memory: int | None = None,
        backend: Any = None,
        **params: Any,
    ):
        if backend is not None:  # the name before store= (docs/stores.md), kept working
            if store is not None:
                raise InvalidParameterError("pass store= or its old name backend=, not both")
            store = backend
        self._spec = A.resolve_algorithm(algorithm)
        expected = {self._spec.limit_param, self._spec.second_param}
        unknown = set(params) - expected
        missing = expected - set(params)
        if unknown or missing:
            raise InvalidParameterError(
                f"algorithm {self._spec.name!r} takes {self._spec.limit_param} and {self._spec.second_param}; "
                f"got {sorted(params)}"
            )
        self._param_values = {
            k: params[k] for k in (self._spec.limit_param, self._spec.second_param)
        }
        self._params = A.check_params(
            self._spec, params[self._spec.limit_param], params[self._spec.second_param]
        )
        self._seed = check_seed(seed)
        from .._validate import check_int

        if initial_capacity is not None:
            check_int("initial_capacity", initial_capacity, min=1, max=1 << 40)
        if max_memory is not None:
            check_int("max_memory", max_memory, min=1)
        self._clock = resolve_clock(clock)
        self._backend = _resolve_backend(
            store,
            self._spec,
            self._params,
            self._seed,
            initial_capacity,
            backend_options,
            max_memory,
        )
        # a shared backend keeping time itself (Redis TIME) is asked with now=None
        # unless this limiter was given a clock of its own
        self._server_time = clock is None and bool(getattr(self._backend, "server_time", False))
        self._lock = threading.Lock()
        self._last = -np.inf
        # the memory backend's scalar path, inlined (no method call per request)
        self._hot = self._backend._hot if isinstance(self._backend, MemoryBackend) else None
        self._stepper = A.STEPPERS[self._spec.code]
        self._by_key, self._acquire, self._release = self._scalar_path()
        if self._by_key is not None and not self._server_time and type(self).allow is RateLimiter.allow:
            # allow() as one closure over the memory backend's hot rows (ratelimit/_scalar.py)
            self.__dict__["allow"] = fast_allow(self, RateLimiter.allow.__get__(self))

    def _scalar_path(self):
        """``allow``'s memory-backend shortcut (None for other backends) and the lock's
        bound methods (a ``with`` block costs twice an acquire/release pair)."""
        by_key = self._backend._by_key if isinstance(self._backend, MemoryBackend) else None
        return by_key, self._lock.acquire, self._lock.release

    # -- properties --------------------------------------------------------
    @property
    def algorithm(self) -> str:
        return self._spec.name

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._param_values)

    @property
    def limit(self) -> float:
        return self._params[0]

    @property
    def backend(self) -> Any:
        return self._backend

    @property
    def seed(self) -> int:
        return self._seed

    def __len__(self) -> int:
        """Keys currently held (idle keys may linger until the next reclaim)."""
        return len(self._backend)

    def close(self) -> None:
        """Release the store's connections (a no-op for the memory store)."""
        closer = getattr(self._backend, "close", None)
        if closer is not None:
            closer()

    def __enter__(self) -> RateLimiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time --------------------------------------------------------------
    def _now(self, now: Any) -> float:
        """Validated time (call with the lock held); advances the watermark."""
        if now is None:
            t = max(float(self._clock.time()), self._last)
        else:
            t = _scalar_seconds(now)
            if t < self._last:
                raise InvalidParameterError(
                    f"now must be >= the latest time this limiter has seen ({self._last}), got {t}"
                )
        self._last = t
        return t

    # -- decisions ---------------------------------------------------------
    def allow(self, key: Any, now: Any = None, cost: float = 1) -> bool:
        """Decide one request of ``key`` at ``now`` (default: the clock); True if allowed."""
        c = 1.0 if cost == 1 else A.check_cost(self._spec, cost)
        by_key = self._by_key
        if by_key is None or (now is None and self._server_time):
            return self._allow_backend(key, now, c)
        # the memory backend's scalar path, inlined: a str key seen since the last batch
        # finds its hot row by the string itself; others hash once and find it by hash
        self._acquire()
        try:
            if type(now) is float and self._last <= now < _INF:
                self._last = now
            else:
                now = self._now(now)
            row = by_key.get(key) if type(key) is str else None
            if row is None:
                row = self._hot_row_of(key, now)
            self._backend._last_now = now
            return self._stepper(row, now, c, self._params)
        finally:
            self._release()

    def _hot_row_of(self, key: Any, now: float) -> list[float]:
        """The memory backend's hot row of ``key`` (lock held), remembered by ``str`` key."""
        assert self._hot is not None  # only the memory backend's scalar path comes here
        if type(key) is str:
            try:  # hash128's bytes of an exact str, with two calls fewer (a key's first call)
                hk = _hash64(key.encode(), self._seed, signed=False)
            except UnicodeEncodeError:
                hk = hash128(key, self._seed)  # a lone surrogate raises KeyTypeError
        else:
            hk = hash128(key, self._seed)  # validates the key
        row = self._hot.get(hk)
        if row is None:
            row = self._backend._hot_row(hk, now)  # may flush, clearing _by_key
        if type(key) is str:
            self._by_key[key] = row
        return row

    def _allow_backend(self, key: Any, now: Any, c: float) -> bool:
        hk = hash128(key, self._seed)
        if now is None and self._server_time:
            return self._backend.allow_one(hk, None, c)
        with self._lock:
            return self._backend.allow_one(hk, self._now(now), c)

    def decide(self, key: Any, now: Any = None, cost: float = 1) -> Decision:
        """Like :meth:`allow`, returning a :class:`Decision` (remaining, retry-after, reset-after)."""
        hk = hash128(key, self._seed)
        c = 1.0 if type(cost) is int and cost == 1 else A.check_cost(self._spec, cost)
        if now is None and self._server_time:
            allowed, remaining, retry, reset = self._backend.decide(hk, None, c)
        else:
            self._acquire()
            try:
                if type(now) is float and self._last <= now < _INF:  # _now's checks, inlined
                    self._last = now
                else:
                    now = self._now(now)
                allowed, remaining, retry, reset = self._backend.decide(hk, now, c)
            finally:
                self._release()
        return Decision(allowed, self._params[0], remaining, retry, reset, c)

    def allow_many(
        self,
        keys: Any,
        timestamps: Any = None,
        costs: Any = None,
        *,
        sort: bool = False,
        time_unit: str | None = None,
    ) -> np.ndarray:
        """Decide a batch of requests in order; exactly what the loop of :meth:`allow` gives.

        ``keys``: any batch form of :mod:`sysprims.keys` or :class:`~sysprims.hashing.HashedKeys`.
        ``timestamps``: numbers in seconds, as :meth:`allow`'s ``now`` (integers
        included), or in ``time_unit`` (``"s"``, ``"ms"``, ``"us"``, ``"ns"``), or
        datetime64 values (their own unit); non-decreasing (``sort=True`` processes
        them in time order, ties in input order, and returns results in input
        order); ``None`` uses the clock's time for every request.
        ``costs``: a scalar or one cost per request (default 1).
        Returns a bool array.
        """
        hashes = hashes_for(keys, self._seed, "rate limiter")
        n = hashes.shape[0]
        if timestamps is None:
            ts = None
        else:
            ts = to_seconds(timestamps, time_unit=time_unit)
            if ts.shape[0] != n:
                raise InvalidParameterError(
                    f"timestamps must have one entry per key ({n}), got {ts.shape[0]}"
                )
        cost_arr = self._costs(costs, n)
        order = None
        if ts is not None and n > 1:
            bad = np.flatnonzero(ts[1:] < ts[:-1])
            if bad.size:
                if not sort:
                    j = int(bad[0]) + 1
                    raise InvalidParameterError(
                        f"timestamps must be non-decreasing, got {ts[j]} at position {j} after {ts[j - 1]}; "
                        "pass sort=True to process them in time order"
                    )
                order = np.argsort(ts, kind="stable")
                ts = ts[order]
                hashes = np.ascontiguousarray(hashes[order])
                cost_arr = cost_arr[order]
        with self._lock:
            if n == 0:
                return np.zeros(0, dtype=np.bool_)
            if ts is None:
                if not self._server_time:
                    ts = np.full(n, self._now(None), dtype=np.float64)
            elif ts[0] < self._last:
                raise InvalidParameterError(
                    f"timestamps must be >= the latest time this limiter has seen ({self._last}), got {ts[0]} at position "
                    f"{0 if order is None else int(order[0])}"
                )
            else:
                self._last = float(ts[-1])
            out = self._backend.allow_many(np.ascontiguousarray(hashes), ts, cost_arr)
        if order is not None:
            res = np.empty_like(out)
            res[order] = out
            return res
        return out

    def _costs(self, costs: Any, n: int) -> np.ndarray:
        # one cost for all: a zero-stride view (no array of n costs to fill and read)
        if costs is None:
            return np.broadcast_to(np.float64(1.0), (n,))
        if np.ndim(costs) == 0:
            return np.broadcast_to(np.float64(A.check_cost(self._spec, costs)), (n,))
        arr = np.asarray(costs)
        if arr.shape != (n,) or arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
            raise InvalidParameterError(
                f"costs must be a number or a numeric array of length {n}, got {arr.dtype} {arr.shape}"
            )
        arr = arr.astype(np.float64)
        bad = ~np.isfinite(arr) | (arr < 0)
        if self._spec.code == A.SLIDING_LOG:
            bad |= arr != np.floor(arr)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            rule = (
                "a non-negative integer" if self._spec.code == A.SLIDING_LOG else "finite and >= 0"
            )
            raise InvalidParameterError(f"costs must be {rule}, got {costs[j]!r} at position {j}")
        return arr

    # -- maintenance -------------------------------------------------------
    def reset(self, key: Any, now: Any = None) -> None:
        """Forget ``key``'s usage as of ``now`` (default: the clock), like
        :meth:`allow`'s ``now``: a replay passes its own time."""
        hk = hash128(key, self._seed)
        with self._lock:
            self._backend.reset(hk, self._now(now))

    def reclaim(self, now: Any = None) -> int:
        """Drop keys whose state is back to fresh at ``now``; returns how many were dropped."""
        with self._lock:
            return self._backend.reclaim(self._now(now))

    def state_of(self, key: Any) -> list[float] | None:
        """The key's raw state row (see ``docs/ratelimit.md``), or None if not held."""
        hk = hash128(key, self._seed)
        with self._lock:
            return self._backend.get_row(hk)

    def single(self, clock: Clock | None = None):
        """A single-key limiter of the same algorithm and parameters."""
        cls = CLASSES[self._spec.name]
        return cls(*self._param_values.values(), clock=clock or self._clock)

    # -- persistence (memory backend) ------------------------------------------
    _KIND = "rate_limiter"

    def _to_state(self):
        if not isinstance(self._backend, MemoryBackend):
            raise InvalidParameterError("only a limiter with the memory backend can be serialized")
        with self._lock:
            hashes, rows = self._backend.export()
            last = self._last
        params = {
            "algorithm": self._spec.name,
            "params": {
                k: (v if isinstance(v, int) else float(v)) for k, v in self._param_values.items()
            },
            "last": None if last == -np.inf else float(last),
        }
        return params, {"hashes": hashes, "rows": rows}, self._seed

    @classmethod
    def _from_state(cls, container: Container) -> RateLimiter:
        from .._loadcheck import refusing
        from ._loadcheck import check_state

        p = container.params
        with refusing("rate limiter state"):
            rl = cls(p["algorithm"], seed=container.seed, initial_capacity=1, **p["params"])
            hashes, rows, last = container.arrays.get("hashes"), container.arrays.get("rows"), p["last"]
            check_state(rl._spec.code, rl._params, hashes, rows, last)
        if last is not None:
            rl._last = float(last)
            rl._backend._last_now = float(last)
        rl._backend.load_rows(hashes, rows)
        return rl

    @classmethod
    def from_bytes(cls, data: Any, *, clock: Clock | None = None) -> RateLimiter:
        """Restore a limiter saved with ``to_bytes``; ``clock`` defaults to the system clock."""
        rl = super().from_bytes(data)
        rl._clock = resolve_clock(clock)
        return rl

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v!r}" for k, v in self._param_values.items())
        return f"RateLimiter({self._spec.name!r}, {p}, keys={len(self)}, backend={getattr(self._backend, 'name', '?')!r})"

    def _repr_html_(self) -> str:
        rows = [
            ("algorithm", self._spec.name),
            *self._param_values.items(),
            ("keys held", len(self)),
            ("backend", getattr(self._backend, "name", "?")),
        ]
        if isinstance(self._backend, MemoryBackend):
            rows += [
                ("table slots", self._backend.capacity),
                ("bytes per slot", f"{self._backend.slot_bytes:,}"),
                ("memory", f"{self._backend.nbytes / 1e6:.2f} MB"),
            ]
        return html_table("RateLimiter", rows)
