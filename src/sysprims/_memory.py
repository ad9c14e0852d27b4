"""Allocations whose size a caller chose: refuse what cannot fit with an
:class:`~sysprims.errors.InvalidParameterError` that names the size, instead of
an instant ``MemoryError`` (or an out-of-memory kill later)."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import InvalidParameterError

__all__ = ["check_fits", "count", "physical_memory", "zeros"]


@lru_cache(maxsize=1)
def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None when unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def count(n: int) -> str:
    """``n`` with thousands separators, or in scientific notation past 10**18."""
    return f"{n:,}" if n < 10**18 else f"{float(n):.3g}"


def _human(n: float) -> str:
    if n >= 1 << 70:
        return f"{float(n) / (1 << 50):.3g} PiB"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} EiB"  # pragma: no cover


def check_fits(what: str, nbytes: int) -> None:
    """Raise InvalidParameterError when ``nbytes`` cannot fit in this machine's memory."""
    limit = physical_memory() or (1 << 62)
    if nbytes > limit:
        raise InvalidParameterError(
            f"{what} needs {_human(nbytes)} ({count(nbytes)} bytes), more than this machine's memory ({_human(limit)})"
        )


def zeros(what: str, shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """``np.zeros(shape, dtype)``, refused with a clear error when it cannot fit."""
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(dims) * np.dtype(dtype).itemsize
    check_fits(what, nbytes)
    try:
        return np.zeros(dims, dtype=dtype)
    except (MemoryError, ValueError):
        raise InvalidParameterError(
            f"{what} needs {_human(nbytes)} ({count(nbytes)} bytes), which cannot be allocated now"
        ) from None
