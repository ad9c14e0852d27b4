"""Helpers shared by the Bloom filter classes: probe positions (the scalar
twins of :mod:`sysprims._kernels.bloom`), parameters and the hashes of a batch
(batches reach the kernels through :func:`sysprims.hashing.kernel_keys`)."""

from __future__ import annotations

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


def slices(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``range(n)``, none empty
    (fewer when ``n < parts``)."""
    parts = max(1, min(parts, n))
    step = -(-n // parts) if n else 0
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)] if n else []


def run_read_kernel(kernel: Any, kk: Any, out: np.ndarray, threads: int, tail: tuple) -> None:
    """Run a read-only batch kernel ``kernel(mode, hashes, ints, data, starts,
    ends, seed, *tail, out)`` over the :class:`~sysprims.hashing.KernelKeys`
    ``kk``, on ``threads`` threads over contiguous slices of the batch (the
    kernels release the GIL and only read shared state, and each slice writes
    its own part of ``out``, so the result equals the serial call)."""
    mode, seed = np.int64(kk.mode), np.uint64(kk.seed)
    if kk.n == 0:
        return
    if threads <= 1 or kk.n < 2 * threads:
        kernel(mode, kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, seed, *tail, out)
        return
    from concurrent.futures import ThreadPoolExecutor

    def part(lo: int, hi: int) -> None:
        h = kk.hashes[lo:hi] if kk.mode == 0 else kk.hashes
        i = kk.ints[lo:hi] if kk.mode == 1 else kk.ints
        st = kk.starts[lo:hi] if kk.mode == 2 else kk.starts
        en = kk.ends[lo:hi] if kk.mode == 2 else kk.ends
        kernel(mode, h, i, kk.data, st, en, seed, *tail, out[lo:hi])

    ranges = slices(kk.n, threads)
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        for f in [pool.submit(part, lo, hi) for lo, hi in ranges]:
            f.result()


def popcount(bits: np.ndarray) -> int:
    from .._kernels.bloom import popcount_words

    return int(popcount_words(bits)) if bits.size else 0


def hashes_for_batch(keys: Any, seed: int, owner: str) -> np.ndarray:
    """The (n, 2) uint64 hashes of any key batch or HashedKeys (seed checked)."""
    return hashes_for(keys, seed, owner)
