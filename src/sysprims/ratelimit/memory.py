"""The in-memory rate-limiter backend: every key's state row in an array-backed
open-addressing table (:mod:`sysprims._kernels.ratelimit` decides batches), with
the rows of keys asked one at a time kept as Python lists until the next batch.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameterError
from . import algorithms as A

_MIN_CAPACITY = 16
_DEFAULT_CAPACITY = 4096
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
      non-decreasing and not before the latest time seen; ``costs`` float64,
      one per request (a zero-stride ``np.broadcast_to`` view when all are equal);
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
        # the same hot rows by ``str`` key, for RateLimiter.allow (a dict lookup on the
        # string's cached hash instead of MurmurHash3 per call); every entry is a row of
        # ``_hot`` and the two are cleared together
        self._by_key: dict[str, list[float]] = {}
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
        if n > 1 and costs.strides[0] == 0:  # one cost for all (np.broadcast_to)
            costs = np.ascontiguousarray(costs[:1])
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
        self._by_key.clear()
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
        if self._hot.pop(hk, None) is not None:
            self._by_key.clear()  # one of them may name the dropped row
        s = self._slot(*hk)
        if s >= 0:
            self.state[s] = A.fresh_row(self._code, self.params, now)
