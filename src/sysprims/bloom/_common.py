"""Helpers shared by the Bloom filter classes: key bytes, probe positions
(the scalar twins of :mod:`sysprims._kernels.bloom`) and batch dispatch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ReadOnlyFilterError, SerializationError
from ..hashing import HashedKeys, fmix64, hashes_for
from ..keys import normalize_keys

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


def batch_call(keys: Any, seed: int, owner: str, on_hashes, on_var, on_u64) -> None:
    """Route a batch to the fused kernels (raw keys) or the hash kernels."""
    if isinstance(keys, HashedKeys):
        hashes = hashes_for(keys, seed, owner)
        if hashes.shape[0]:
            on_hashes(hashes)
        return
    batch = normalize_keys(keys)
    if batch.n == 0:
        return
    if batch.kind == "int":
        on_u64(batch.ints)
    else:
        on_var(batch.data, batch.starts, batch.ends)


def batch_len(keys: Any) -> tuple[Any, int]:
    """Normalise once and return (normalised keys, n)."""
    if isinstance(keys, HashedKeys):
        return keys, len(keys)
    batch = normalize_keys(keys)
    return batch, batch.n


def param(params: dict, name: str, types: type | tuple[type, ...]) -> Any:
    """A parameter from a container, type-checked (else SerializationError)."""
    if name not in params:
        raise SerializationError(f"the container lacks the parameter {name!r}")
    value = params[name]
    if isinstance(value, bool) and types is not bool:
        raise SerializationError(f"parameter {name!r} has a bad value {value!r}")
    if not isinstance(value, types):
        raise SerializationError(f"parameter {name!r} has a bad value {value!r}")
    return value


def popcount(bits: np.ndarray) -> int:
    from .._kernels.bloom import popcount_words

    return int(popcount_words(bits)) if bits.size else 0


def hashes_for_batch(keys: Any, seed: int, owner: str) -> np.ndarray:
    """The (n, 2) uint64 hashes of any key batch or HashedKeys (seed checked)."""
    return hashes_for(keys, seed, owner)
