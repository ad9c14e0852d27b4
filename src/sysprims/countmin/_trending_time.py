"""Timestamps of a :class:`~sysprims.countmin.TrendingTopK` batch, checked and made ready
for the kernels: numbers (seconds) or ``datetime64``, every bucket within range."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidParameterError

MAX_BUCKET = 1 << 62


def bucket_times(timestamps: Any, n: int, interval: float) -> tuple[np.ndarray, float]:
    """Timestamps as float64 and the divisor that gives their buckets (the
    kernel computes ``floor(t / divisor)``); every bucket is checked to fit."""
    ts = np.asarray(timestamps)
    if ts.ndim == 0:
        ts = ts.reshape(1)
    if ts.ndim != 1 or ts.shape[0] != n:
        raise InvalidParameterError(
            f"timestamps must be 1-D with one per key ({n}), got shape {ts.shape}"
        )
    if ts.dtype.kind == "M":
        step = round(interval * 1e9)
        if step < 1 or step != interval * 1e9:
            raise InvalidParameterError(
                f"interval must be a whole number of nanoseconds for datetime64, got {interval}"
            )
        if n and np.isnat(ts).any():
            raise InvalidParameterError("timestamps must not hold NaT")
        ts = (ts.astype("datetime64[ns]").astype(np.int64) // step).astype(np.float64)
        divisor = 1.0
    elif ts.dtype.kind in "iuf":
        ts = np.ascontiguousarray(ts, dtype=np.float64)
        divisor = interval
    else:
        raise InvalidParameterError(
            f"timestamps must be numbers or datetime64, got dtype {ts.dtype}"
        )
    if n:
        lo, hi = float(ts.min()) / divisor, float(ts.max()) / divisor
        if not (math.isfinite(lo) and math.isfinite(hi) and max(-lo, hi) < MAX_BUCKET):
            bad = ~np.isfinite(ts) | (np.abs(np.nan_to_num(ts / divisor, nan=np.inf)) >= MAX_BUCKET)
            i = int(np.flatnonzero(bad)[0])
            raise InvalidParameterError(
                f"timestamps must be finite, within 2**62 intervals of 0, got timestamps[{i}] = {timestamps[i]!r}"
            )
    return ts, divisor
