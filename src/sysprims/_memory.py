"""Allocations whose size a caller chose: refuse what cannot fit with an
:class:`~sysprims.errors.InvalidParameterError` that names the size, instead of
an instant ``MemoryError`` (or an out-of-memory kill later).

:func:`zeros` also places its arrays for random access: every array starts on
a 64-byte cache-line boundary (NumPy's large allocations start 16 bytes past
one, so a 512-bit Bloom block would straddle two lines and a probe pay two
misses), and arrays of :data:`HUGEPAGE_MIN` bytes or more are private
anonymous mappings advised ``MADV_HUGEPAGE`` where the platform has it
(Linux's transparent huge pages: one TLB entry per 2 MiB instead of per 4 KiB,
which a probe far beyond the caches pays for; ``np.zeros`` gets no such
advice). Both are placement only: the arrays are ordinary writable, zeroed
NumPy arrays.
"""

from __future__ import annotations

import math
import mmap
import os
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import InvalidParameterError

__all__ = ["CACHE_LINE", "HUGEPAGE_MIN", "aligned_copy", "check_fits", "count", "physical_memory", "zeros"]

#: Every array from :func:`zeros` starts at a multiple of this many bytes.
CACHE_LINE = 64
#: Arrays at least this large are mapped with transparent huge pages advised.
HUGEPAGE_MIN = 4 << 20


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
    """``np.zeros(shape, dtype)`` starting on a cache line, refused with a
    clear error when it cannot fit."""
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    dt = np.dtype(dtype)
    nbytes = math.prod(dims) * dt.itemsize
    check_fits(what, nbytes)
    try:
        return _raw_zeros(nbytes).view(dt).reshape(dims)
    except (MemoryError, ValueError, OSError):
        raise InvalidParameterError(
            f"{what} needs {_human(nbytes)} ({count(nbytes)} bytes), which cannot be allocated now"
        ) from None


def aligned_copy(what: str, arr: np.ndarray) -> np.ndarray:
    """A writable copy of ``arr`` placed as :func:`zeros` places arrays."""
    out = zeros(what, arr.shape, arr.dtype)
    out[...] = arr
    return out


def _raw_zeros(nbytes: int) -> np.ndarray:
    """``nbytes`` zeroed bytes starting on a cache line (a page when large)."""
    if nbytes >= HUGEPAGE_MIN and hasattr(mmap, "MAP_PRIVATE"):
        # Private (copy-on-write across fork, never shared) and anonymous: the
        # kernel hands out zeroed pages on first touch, as calloc's mmap does.
        mm = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0))
        if hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                mm.madvise(mmap.MADV_HUGEPAGE)
            except OSError:  # pragma: no cover - a kernel without transparent huge pages
                pass
        return np.frombuffer(mm, dtype=np.uint8)
    raw = np.zeros(nbytes + CACHE_LINE, dtype=np.uint8)
    off = -raw.ctypes.data % CACHE_LINE
    return raw[off : off + nbytes]
