"""Validation of a rate limiter's saved state rows (see ``algorithms`` for the
row layouts). The kernels index a sliding log's ring with the row's own head
and count, so a row from a file must be checked before any kernel sees it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._loadcheck import require
from . import algorithms as A


def check_state(code: int, params: tuple[float, float, float], hashes: Any, rows: Any, last: Any) -> None:
    """Raise SerializationError unless ``hashes``/``rows`` are rows this limiter
    could have written by time ``last`` (None: it has seen no time yet)."""
    limit, rate, window = params
    width = A.row_width(code, limit)
    require(
        isinstance(hashes, np.ndarray) and hashes.dtype == np.uint64 and hashes.ndim == 2 and hashes.shape[1] == 2,
        "rate limiter hashes must be a (n, 2) uint64 array",
    )
    n = hashes.shape[0]
    require(
        isinstance(rows, np.ndarray) and rows.dtype == np.float64 and rows.shape == (n, width),
        f"rate limiter rows must be a ({n}, {width}) float64 array, got {getattr(rows, 'dtype', '?')}"
        f"{getattr(rows, 'shape', '')}",
    )
    require(last is None or (type(last) in (int, float) and np.isfinite(last)), f"last must be a finite number, got {last!r:.40}")
    if n == 0:
        return
    require(last is not None, "rate limiter rows are present but no time was seen (last is null)")
    require(np.unique(hashes, axis=0).shape[0] == n, "rate limiter keys are not unique")
    require(np.isfinite(rows).all(), "rate limiter rows hold non-finite values")
    last = float(last)

    def in_range(col: np.ndarray, lo: float, hi: float, what: str) -> None:
        bad = np.flatnonzero((col < lo) | (col > hi))
        require(bad.size == 0, f"{what} must be in [{lo}, {hi}], got {col[bad[0]] if bad.size else ''} in row {bad[0] if bad.size else ''}")

    def whole(col: np.ndarray, what: str) -> None:
        require(bool(np.all(col == np.floor(col))), f"{what} must hold whole numbers")

    if code in (A.TOKEN_BUCKET, A.LEAKY_BUCKET):
        # an admission exactly on time owes the bucket's slack at that time (see
        # algorithms.bucket_slack): tokens down to -slack, a level up to capacity + slack
        owed = A.bucket_slack(rows[:, 1], rate, limit)
        value = rows[:, 0]
        if code == A.TOKEN_BUCKET:
            bad = np.flatnonzero((value < -owed) | (value > limit))
        else:
            bad = np.flatnonzero((value < 0.0) | (value > limit + owed))
        what = "tokens" if code == A.TOKEN_BUCKET else "level"
        require(bad.size == 0, f"{what} must be in [0, {limit}] (give or take the bucket's slack), "
                               f"got {value[bad[0]] if bad.size else ''} in row {bad[0] if bad.size else ''}")
        require(bool(np.all(rows[:, 1] <= last)), "a row's time lies after the latest time the limiter saw")
    elif code in (A.FIXED_WINDOW, A.SLIDING_COUNTER):
        whole(rows[:, 0], "window indices")
        require(
            bool(np.all(rows[:, 0] <= np.floor(last / window))),
            "a row's window lies after the latest time the limiter saw",
        )
        in_range(rows[:, 1], 0.0, limit, "window counts")
        if code == A.SLIDING_COUNTER:
            in_range(rows[:, 2], 0.0, limit, "previous-window counts")
    else:
        L = int(limit)
        count, head, ring = rows[:, 0], rows[:, 1], rows[:, 2:]
        whole(count, "log counts")
        whole(head, "log heads")
        in_range(count, 0.0, float(L), "log counts")
        in_range(head, 0.0, float(L - 1), "log heads")
        require(bool(np.all(ring <= last)), "a logged request lies after the latest time the limiter saw")
        # the count newest entries, oldest first, must be in time order (in chunks of
        # about 2**20 entries, so the check needs little memory beside the rows)
        j = np.arange(L, dtype=np.int64)
        step = max(1, (1 << 20) // L)
        for lo in range(0, n, step):
            c = count[lo : lo + step].astype(np.int64)
            h = head[lo : lo + step].astype(np.int64)
            pos = (h[:, None] - c[:, None] + j[None, :]) % L
            ordered = np.take_along_axis(ring[lo : lo + step], pos, axis=1)
            live = j[None, 1:] < c[:, None]
            require(not np.any((ordered[:, 1:] < ordered[:, :-1]) & live), "a sliding log's ring is not in time order")
