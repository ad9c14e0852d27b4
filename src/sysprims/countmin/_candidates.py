"""The candidate arrays the top-K kernels maintain (a min-heap of slots plus an
open-addressing index by hash), allocated for a given capacity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def index_capacity(capacity: int) -> int:
    """Slots of the hash index: a power of two at least twice the candidates (load <= 1/2)."""
    cap = 8
    while cap < 2 * capacity:
        cap *= 2
    return cap


def candidate_arrays(
    capacity: int, h1s: Sequence[int], h2s: Sequence[int], ests: Sequence[int]
) -> tuple[np.ndarray, ...]:
    """``(h1, h2, est, ref, heap, pos, index)`` for ``capacity`` candidates with candidate
    ``i`` in slot ``i``; ``ref`` is -1, ``heap``, ``pos`` and ``index`` are zero, left for
    the kernel's rebuild to fill."""
    m = len(h1s)
    h1 = np.zeros(capacity, np.uint64)
    h2 = np.zeros(capacity, np.uint64)
    est = np.zeros(capacity, np.uint64)
    h1[:m] = np.array(h1s, dtype=np.uint64)
    h2[:m] = np.array(h2s, dtype=np.uint64)
    est[:m] = np.array(ests, dtype=np.uint64)
    ref = np.full(capacity, -1, np.int64)
    heap = np.zeros(capacity, np.int64)
    pos = np.zeros(capacity, np.int64)
    index = np.zeros(index_capacity(capacity), np.int64)
    return h1, h2, est, ref, heap, pos, index
