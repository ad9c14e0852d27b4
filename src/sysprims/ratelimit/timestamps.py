"""Timestamps of rate-limiter requests: float seconds from numbers in a
``time_unit`` or from datetime64 values, validated once at the API boundary."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidParameterError

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
    if per_second == 1:  # float seconds are only read, never written: no copy
        return arr.astype(np.float64, copy=False)
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
    # finite by construction: float input was checked above; an int64, uint64 or
    # datetime64 count converts to a finite float (at most 2**64)
    return np.ascontiguousarray(out)


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
