"""Multi-key rate limiting: :class:`RateLimiter` over a storage backend.

The limiter validates parameters, keys, costs and timestamps once and hands
plain arrays to a *backend*. The in-memory backend (:class:`MemoryBackend`)
keeps every key's state row in an array-backed open-addressing table, decided
by jitted kernels; ``backend="redis://..."`` selects the Redis backend module
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
from ..keys import key_to_bytes
from . import algorithms as A
from .single import CLASSES, Decision

_MIN_CAPACITY = 16
_DEFAULT_CAPACITY = 4096
_INF = float("inf")
#: rows at least this wide (a sliding log of max_requests >= 14) fill their table to
#: 3/4 and grow by 2x, not to 1/2 and by 4x: their state, not probing, dominates
_WIDE = 16
_INDEX_BYTES = 17  # per slot: the (h1, h2) hash and the used flag


def _physical_memory() -> int | None:
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None


class MemoryBackend:
    """Per-key state rows in NumPy arrays, keyed by the 128-bit MurmurHash3 of the key.

    Contract shared with every backend (all inputs already validated):

    a key is identified by ``hk = (h1, h2)``, its MurmurHash3_x64_128 under the
    limiter's seed; ``hashes`` is the ``(n, 2)`` uint64 array of them.

    * ``allow_many(hashes, ts, costs) -> bool array``: ``ts`` float64 seconds,
      non-decreasing and not before the latest time seen; ``costs`` float64;
      serial semantics (request i sees the state left by requests 0..i-1).
    * ``allow_one(hk, now, cost) -> bool``;
    * ``decide(hk, now, cost) -> (allowed, remaining, retry_after, reset_after)``;
    * ``get_row(hk) -> list | None`` (the state row, see ``algorithms``),
      ``reset(hk, now)``, ``reclaim(now) -> keys dropped``, ``__len__`` (keys held).
    """

    name = "memory"

    def __init__(
        self,
        spec: A.AlgorithmSpec,
        params: tuple[float, float, float],
        seed: int,
        initial_capacity: int | None,
        max_memory: int | None = None,
    ):
        self.spec = spec
        self.params = params
        self.seed = seed
        self._p = np.array(params, dtype=np.float64)
        self._algo = np.int64(spec.code)
        self._width = A.row_width(spec.code, params[0])
        self._code = spec.code
        self._stepper = A.STEPPERS[spec.code]
        # at most 2 * HOT_MAX floats of hot rows (~4 MB as Python floats): one row of a
        # sliding log with max_requests=100,000 (256 such rows took 800 MB)
        self._hot_max = max(1, min(self.HOT_MAX, (2 * self.HOT_MAX) // self._width))
        self._hot: dict[tuple[int, int], list[float]] = {}
        self._last_now = -np.inf
        self._wide = self._width >= _WIDE
        self.max_memory = _physical_memory() if max_memory is None else max_memory
        if initial_capacity is None:  # the default: a hint, not checked against max_memory
            initial_capacity = _DEFAULT_CAPACITY
        else:  # refuse an initial_capacity whose keys could never fit
            need = self._slots_for(initial_capacity)
            self._check_memory(need, f"initial_capacity={initial_capacity:,} keys")
        # start small enough that the initial state array stays <= 8 MB (wide log rows)
        initial_capacity = min(initial_capacity, max(8, (1 << 20) // (2 * self._width)))
        self._initial_slots = self._slots_for(initial_capacity)
        self._alloc(self._initial_slots)
        self._since_reclaim = 0  # batch requests decided since the last reclaim

    @property
    def row_bytes(self) -> int:
        """Bytes of state per key (one float64 row)."""
        return 8 * self._width

    @property
    def slot_bytes(self) -> int:
        """Bytes per table slot: the state row plus 17 bytes of hash and flag."""
        return 8 * self._width + _INDEX_BYTES

    def _max_used(self, cap: int) -> int:
        return (3 * cap) // 4 if self._wide else cap // 2

    def _slots_for(self, keys: int) -> int:
        """The smallest table that holds ``keys`` keys below its maximum load."""
        cap = _MIN_CAPACITY
        while self._max_used(cap) < keys:
            cap *= 2
        return cap

    def _check_memory(self, cap: int, what: str) -> None:
        if self.max_memory is not None and cap * self.slot_bytes > self.max_memory:
            spec = self.spec
            limit = int(self.params[0]) if spec.integer_limit else self.params[0]
            raise InvalidParameterError(
                f"{what} of {spec.name} with {spec.limit_param}={limit:,} need {cap:,} table "
                f"slots of {self.slot_bytes:,} bytes ({self.row_bytes:,} bytes of state per key) "
                f"= {cap * self.slot_bytes:,} bytes, above max_memory={self.max_memory:,}; "
                f"lower {spec.limit_param}, reclaim idle keys or raise max_memory"
            )

    def _alloc(self, cap: int, what: str = "") -> None:
        if what:
            self._check_memory(cap, what)
        self.th = np.zeros((cap, 2), dtype=np.uint64)
        self.used = np.zeros(cap, dtype=np.uint8)
        self.state = np.zeros((cap, self._width), dtype=np.float64)
        self.meta = np.array([0, self._max_used(cap)], dtype=np.int64)

    @property
    def capacity(self) -> int:
        return self.th.shape[0]

    def __len__(self) -> int:
        self.flush()
        return int(self.meta[0])

    @property
    def nbytes(self) -> int:
        return self.th.nbytes + self.used.nbytes + self.state.nbytes

    def reclaim(
        self, now: float, *, need: int = 0, flushed: bool = False, requests: int = 0
    ) -> int:
        """Drop keys whose state is idle at ``now`` and resize so ``need`` more keys fit
        below half load (``requests``: batch requests decided since the last reclaim,
        for the churn rule). Returns the number of keys dropped."""
        from .._kernels.ratelimit import live_mask, rebuild

        if not flushed:
            self.flush()
        keep = np.empty(self.capacity, dtype=np.bool_)
        live = int(live_mask(self.used, self.state, self._algo, self._p, float(now), keep))
        # Room for at least max(live, initial_capacity) new keys before the next
        # reclaim, so its cost amortises; shrink only when 4x too large. Wide rows:
        # 2x the keys, filled to 3/4 (room for half as many again).
        cap = _MIN_CAPACITY
        if self._wide:
            target = max(2 * (live + need), self._initial_slots)
        else:
            target = max(4 * (live + need), 2 * self._initial_slots)
        while cap < target:
            cap *= 2
        if cap < self.capacity and cap * 4 > self.capacity:
            cap = self.capacity
        old_th, old_state, before = self.th, self.state, int(self.meta[0])
        # Churn: a batch that fills the table again within a few table sizes of
        # requests drops keys that were just used and will be back (each reclaim
        # costs O(slots), each return an insertion: 4x the decisions' cost at 10k
        # keys). Grow instead, up to CHURN_BYTES (and max_memory); past that,
        # memory follows the live keys only.
        if requests and requests < 8 * self.capacity and cap <= self.capacity:
            grown = 2 * self.capacity
            bound = self.CHURN_BYTES
            if self.max_memory is not None:
                bound = min(bound, self.max_memory)
            if grown * self.slot_bytes <= bound:
                cap = grown
        if cap > self.capacity:
            self._check_memory(cap, f"{live + need:,} live keys")
        self._alloc(cap)
        rebuild(old_th, old_state, keep, self.th, self.used, self.state)
        self.meta[0] = live
        return before - live

    def allow_many(self, hashes: np.ndarray, ts: np.ndarray, costs: np.ndarray) -> np.ndarray:
        from .._kernels.ratelimit import allow_batch

        self.flush()
        n = hashes.shape[0]
        out = np.zeros(n, dtype=np.bool_)
        i = 0
        while i < n:
            start = i
            i = int(
                allow_batch(
                    self.th,
                    self.used,
                    self.state,
                    self.meta,
                    self._algo,
                    self._p,
                    hashes,
                    ts,
                    costs,
                    np.int64(i),
                    out,
                )
            )
            self._since_reclaim += i - start
            if i < n:
                self.reclaim(float(ts[i]), need=1, flushed=True, requests=self._since_reclaim)
                self._since_reclaim = 0
        if n:
            self._last_now = float(ts[-1])
        return out

    # -- the hot path: rows of recently used keys as Python lists ----------
    # A scalar call is cheaper in plain Python than a kernel dispatch, so the
    # rows of keys touched one at a time live in ``_hot`` until the next batch
    # operation (or until it holds HOT_MAX keys) writes them back to the arrays.

    HOT_MAX = 65536  # rows of width 2; wider rows (the log's ring) get proportionally fewer
    CHURN_BYTES = 64 << 20  # a table may grow to this to stop reclaim churn (see reclaim)

    def flush(self) -> None:
        """Write the hot rows back into the table."""
        from .._kernels.ratelimit import put_rows

        if not self._hot:
            return
        hashes = np.array(list(self._hot.keys()), dtype=np.uint64).reshape(-1, 2)
        rows = np.array(list(self._hot.values()), dtype=np.float64).reshape(-1, self._width)
        self._hot.clear()
        i, n = 0, hashes.shape[0]
        while i < n:
            i = int(put_rows(self.th, self.used, self.state, self.meta, hashes, rows, np.int64(i)))
            if i < n:
                self.reclaim(self._last_now, need=n - i, flushed=True)

    def _hot_row(self, hk: tuple[int, int], now: float) -> list[float]:
        row = self._hot.get(hk)
        if row is None:
            if len(self._hot) >= self._hot_max:
                self.flush()
            s = self._slot(*hk) if self.meta[0] > 0 else -1
            row = self.state[s].tolist() if s >= 0 else A.fresh_row(self._code, self.params, now)
            self._hot[hk] = row
        return row

    def allow_one(self, hk: tuple[int, int], now: float, cost: float) -> bool:
        self._last_now = now
        row = self._hot.get(hk)
        if row is None:
            row = self._hot_row(hk, now)
        return self._stepper(row, now, cost, self.params)

    def decide(self, hk: tuple[int, int], now: float, cost: float):
        self._last_now = now
        row = self._hot_row(hk, now)
        allowed = A.step(row, self._code, self.params, now, cost)
        return (allowed, *A.details(row, self._code, self.params, now, cost, allowed))

    def _slot(self, h1: int, h2: int) -> int:
        from .._kernels.ratelimit import lookup

        return int(lookup(self.th, self.used, np.uint64(h1), np.uint64(h2)))

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        """``(hashes, rows)`` of every key held (after writing back the hot rows)."""
        self.flush()
        mask = self.used == 1
        return np.ascontiguousarray(self.th[mask]), np.ascontiguousarray(self.state[mask])

    def load_rows(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        """Store ``rows`` for keys ``hashes`` (insert or overwrite), growing the table
        so that every key is kept (no reclaim)."""
        from .._kernels.ratelimit import rebuild

        self.flush()
        need = int(self.meta[0]) + hashes.shape[0]
        if need > self.meta[1]:
            cap = self.capacity
            while self._max_used(cap) < need:
                cap *= 2
            old_th, old_state, live = self.th, self.state, int(self.meta[0])
            keep = self.used == 1
            self._alloc(cap, f"{need:,} keys")
            rebuild(old_th, old_state, keep, self.th, self.used, self.state)
            self.meta[0] = live
        self._hot.update(
            {(int(a), int(b)): r for (a, b), r in zip(hashes.tolist(), rows.tolist(), strict=True)}
        )
        self.flush()

    def get_row(self, hk: tuple[int, int]) -> list[float] | None:
        if hk in self._hot:
            return list(self._hot[hk])
        s = self._slot(*hk)
        return None if s < 0 else self.state[s].tolist()

    def reset(self, hk: tuple[int, int], now: float) -> None:
        self._last_now = now
        self._hot.pop(hk, None)
        s = self._slot(*hk)
        if s >= 0:
            self.state[s] = A.fresh_row(self._code, self.params, now)


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


#: integer or float timestamps per second, by ``time_unit``
TIME_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _check_time_unit(time_unit: Any) -> int:
    if time_unit not in TIME_UNITS:
        raise InvalidParameterError(
            f"time_unit must be one of {list(TIME_UNITS)}, got {time_unit!r}"
        )
    return TIME_UNITS[time_unit]


def _ints_to_seconds(arr: np.ndarray, per_second: int) -> np.ndarray:
    """Integer counts of ``1/per_second`` s as float seconds, rounded once (whole
    seconds and the fraction converted apart, so epoch nanoseconds keep ~0.2 us)."""
    if per_second == 1:
        return arr.astype(np.float64)
    whole, frac = np.divmod(arr, per_second)  # exact for floats too
    return whole.astype(np.float64) + frac.astype(np.float64) / float(per_second)


def to_seconds(
    timestamps: Any, name: str = "timestamps", time_unit: str | None = None
) -> np.ndarray:
    """Float64 seconds from numbers in ``time_unit`` (default seconds, as a scalar
    ``now``) or from datetime64 values, which carry their own unit."""
    arr = np.asarray(timestamps)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise InvalidParameterError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "M":
        if time_unit is not None:
            raise InvalidParameterError(
                f"time_unit applies to numeric {name}; datetime64 values carry their own unit "
                f"({arr.dtype}), got time_unit={time_unit!r}"
            )
        nat = np.isnat(arr)
        if nat.any():
            bad = int(np.flatnonzero(nat)[0])
            raise InvalidParameterError(f"{name} must be finite, got NaT at position {bad}")
        out = _ints_to_seconds(arr.astype("datetime64[ns]").astype(np.int64), 10**9)
    elif arr.dtype.kind in "iu":
        out = _ints_to_seconds(arr, _check_time_unit("s" if time_unit is None else time_unit))
    elif arr.dtype.kind == "f":
        per = _check_time_unit("s" if time_unit is None else time_unit)
        out = arr.astype(np.float64, copy=False)
        if not np.isfinite(out).all():
            bad = int(np.flatnonzero(~np.isfinite(out))[0])
            raise InvalidParameterError(f"{name} must be finite, got {out[bad]} at position {bad}")
        out = _ints_to_seconds(out, per)
    else:
        raise InvalidParameterError(
            f"{name} must be numbers (seconds, or time_unit=) or datetime64, got dtype {arr.dtype}"
        )
    if out.size and not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise InvalidParameterError(f"{name} must be finite, got {out[bad]} at position {bad}")
    return np.ascontiguousarray(out)


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
        hk = _hash64(
            key.encode() if type(key) is str else key_to_bytes(key), self._seed, signed=False
        )
        c = 1.0 if cost == 1 else A.check_cost(self._spec, cost)
        if now is None and self._server_time:
            return self._backend.allow_one(hk, None, c)
        with self._lock:
            if type(now) is float and self._last <= now < _INF:
                self._last = now
            else:
                now = self._now(now)
            hot = self._hot
            if hot is None:
                return self._backend.allow_one(hk, now, c)
            row = hot.get(hk)
            if row is None:
                row = self._backend._hot_row(hk, now)
            self._backend._last_now = now
            return self._stepper(row, now, c, self._params)

    def decide(self, key: Any, now: Any = None, cost: float = 1) -> Decision:
        """Like :meth:`allow`, returning a :class:`Decision` (remaining, retry-after, reset-after)."""
        hk = hash128(key, self._seed)
        c = A.check_cost(self._spec, cost)
        if now is None and self._server_time:
            allowed, remaining, retry, reset = self._backend.decide(hk, None, c)
        else:
            with self._lock:
                allowed, remaining, retry, reset = self._backend.decide(hk, self._now(now), c)
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
        if costs is None:
            return np.ones(n, dtype=np.float64)
        if np.ndim(costs) == 0:
            return np.full(n, A.check_cost(self._spec, costs), dtype=np.float64)
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


def _scalar_seconds(now: Any) -> float:
    if isinstance(now, np.datetime64):
        if np.isnat(now):
            raise InvalidParameterError("now must be finite, got NaT")
        whole, frac = divmod(int(now.astype("datetime64[ns]").astype(np.int64)), 10**9)
        return float(whole) + float(frac) / 1e9  # as to_seconds does, to the bit
    if isinstance(now, (bool, np.bool_)) or not isinstance(
        now, (int, float, np.integer, np.floating)
    ):
        raise InvalidParameterError(
            f"now must be float seconds or a numpy datetime64, got {type(now).__name__}: {now!r}"
        )
    t = float(now)
    if t != t or t in (float("inf"), float("-inf")):
        raise InvalidParameterError(f"now must be finite, got {now}")
    return t
