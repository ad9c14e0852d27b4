"""Helpers shared by the Bloom filter classes: probe positions (the scalar
twins of :mod:`sysprims._kernels.bloom`), parameters and the hashes of a batch
(batches reach the kernels through :func:`sysprims.hashing.kernel_keys`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import ReadOnlyFilterError
from ..hashing import fmix64, hashes_for

M64 = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


__all__ = ["ReadOnlyFilterError"]  # defined in sysprims.errors


def standard_positions(h1: int, h2: int, k: int, m: int) -> list[int]:
    """Bit positions of the standard layout: ``((h1 + i*h2) mod 2**64 * m) >> 64``."""
    out = []
    h = h1
    for _ in range(k):
        out.append((h * m) >> 64)
        h = (h + h2) & M64
    return out


def blocked_positions(h1: int, h2: int, k: int, nblocks: int) -> list[int]:
    """Bit positions of the blocked layout (512-bit blocks)."""
    base = ((h1 * nblocks) >> 64) << 9
    out = []
    x = fmix64(h2)
    for _ in range(k):
        out.append(base + (x >> 55))
        x = (x * GOLD) & M64
    return out


SPLIT_SALT = (0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947, 0x5C6BFB31)


def split_block_positions(h1: int, h2: int, nblocks: int) -> list[int]:
    """Bit positions of the split-block layout: one bit in each 64-bit word of
    the key's 512-bit block."""
    base = ((h1 * nblocks) >> 64) << 9
    x = fmix64(h2)
    return [base + 64 * i + (((x * s) & M64) >> 58) for i, s in enumerate(SPLIT_SALT)]


def slices(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``range(n)``, none empty
    (fewer when ``n < parts``), as equal as ``align`` allows (each boundary
    within ``align / 2`` of its ideal place): every boundary but
    ``n`` is a multiple of ``align`` (so threads writing neighbouring slices of
    an output never share a cache line)."""
    parts = max(1, min(parts, n))
    if n == 0:
        return []
    cuts = [0]
    for p in range(1, parts):
        c = (n * p // parts + align // 2) // align * align  # the nearest multiple of align
        if cuts[-1] < c < n:
            cuts.append(c)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=False))


#: Slice boundaries are multiples of this many keys (a cache line of int64 output).
SLICE_ALIGN = 64
#: The most threads a ``threads=`` argument may ask for.
MAX_THREADS = 256

_pool_state: dict[str, Any] = {}


def _forget_pool() -> None:
    """After a fork the child has none of the parent's worker threads: it starts its own pool."""
    _pool_state.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def read_pool() -> Any:
    """The process's one pool of reader threads (a ``ThreadPoolExecutor``),
    started on first use and kept: a threaded call hands its slices to idle
    workers instead of starting threads, and the pool grows only when more
    slices run at once than it has idle workers."""
    pool = _pool_state.get("pool")
    if pool is None or _pool_state.get("pid") != os.getpid():
        import threading
        from concurrent.futures import ThreadPoolExecutor

        lock = _pool_state.setdefault("lock", threading.Lock())
        with lock:
            pool = _pool_state.get("pool")
            if pool is None or _pool_state.get("pid") != os.getpid():
                pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="sysprims-read")
                _pool_state.update(pool=pool, pid=os.getpid())
    return pool


def run_sliced(kernel: Any, args: tuple, sliced: tuple, out: np.ndarray, threads: int) -> None:
    """The shared runner of every threaded read path: ``kernel(*args, out)``,
    on ``threads`` threads over contiguous, equal slices of the batch's
    ``n = len(out)`` keys. ``args[i]`` is cut to the slice where ``sliced[i]``
    (the per-key arrays), the rest are passed whole (tables, seeds).

    The calling thread runs the first slice itself and workers of
    :func:`read_pool` the others, each with the serial kernel (which releases
    the GIL and only reads shared state), so every key costs what it costs
    serially and the result is the serial one. Each slice writes, and so
    first-touches, its own part of ``out``; boundaries are multiples of
    :data:`SLICE_ALIGN` keys. Fewer threads run when a slice would hold under
    :data:`sysprims.hashing.MIN_KEYS_PER_THREAD` keys (one: the serial call)."""
    from .. import hashing

    n = out.shape[0]
    parts = hashing.chunks_for(n, threads)
    if parts == 1:
        kernel(*args, out)
        return

    def part(lo: int, hi: int) -> None:
        kernel(*[a[lo:hi] if cut else a for a, cut in zip(args, sliced, strict=True)], out[lo:hi])

    first, *rest = slices(n, parts, SLICE_ALIGN)
    pool = read_pool()
    futures = [pool.submit(part, lo, hi) for lo, hi in rest]
    try:
        part(*first)
    finally:
        for f in futures:
            f.result()


def key_slicing(mode: int, extra: int) -> tuple:
    """``sliced`` of :func:`run_sliced` for the key arguments ``(mode, hashes or h1,
    ints, data, starts, ends, seed)`` of a batch in form ``mode``, then ``extra`` whole ones."""
    return (False, mode == 0, mode == 1, False, mode == 2, mode == 2, False) + (False,) * extra


def run_read_kernel(kernel: Any, kk: Any, out: np.ndarray, threads: int, tail: tuple) -> None:
    """Run a read-only batch kernel ``kernel(mode, hashes, ints, data, starts,
    ends, seed, *tail, out)`` over the :class:`~sysprims.hashing.KernelKeys`
    ``kk`` with :func:`run_sliced` (``threads`` threads over slices of the batch)."""
    if kk.n == 0:
        return
    args = (np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(kk.seed), *tail)
    run_sliced(kernel, args, key_slicing(kk.mode, len(tail)), out, threads)


def popcount(bits: np.ndarray) -> int:
    from .._kernels.bloom import popcount_words

    return int(popcount_words(bits)) if bits.size else 0


def hashes_for_batch(keys: Any, seed: int, owner: str) -> np.ndarray:
    """The (n, 2) uint64 hashes of any key batch or HashedKeys (seed checked)."""
    return hashes_for(keys, seed, owner)
