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


def popcount(bits: np.ndarray) -> int:
    from .._kernels.bloom import popcount_words

    return int(popcount_words(bits)) if bits.size else 0


def hashes_for_batch(keys: Any, seed: int, owner: str) -> np.ndarray:
    """The (n, 2) uint64 hashes of any key batch or HashedKeys (seed checked)."""
    return hashes_for(keys, seed, owner)
