"""MurmurHash3 over key batches, bit-exact with the ``mmh3`` package.

* :func:`murmur3_128` -> ``(n, 2)`` uint64 ``(h1, h2)`` pairs, equal to
  ``mmh3.hash64(key_bytes, seed, signed=False)``;
* :func:`murmur3_32` -> uint32, equal to ``mmh3.hash(key_bytes, seed, signed=False)``;
* :func:`hash_keys` -> :class:`HashedKeys`, which every keyed ``_many`` method
  accepts so one hashing pass can feed a Bloom filter, a sketch and a router.

Keys follow :mod:`sysprims.keys`. Scalar helpers call ``mmh3`` directly: one C
call beats a kernel dispatch for a single key.
"""

from __future__ import annotations

from typing import Any

import mmh3
import numpy as np

from .errors import IncompatibleError, InvalidParameterError
from .keys import KeyBatch, key_to_bytes, normalize_keys

__all__ = [
    "HASH_ID_MURMUR3_X64_128",
    "HashedKeys",
    "check_seed",
    "fmix64",
    "hash128",
    "hash_keys",
    "hashes_for",
    "murmur3_128",
    "murmur3_32",
]

#: Identifier of the hash family, stored in every serialized structure.
HASH_ID_MURMUR3_X64_128 = 1


def check_seed(seed: Any, name: str = "seed") -> int:
    """Validate a uint32 seed and return it as a Python int."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an int in [0, 2**32), got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 1 << 32:
        raise InvalidParameterError(f"{name} must be an int in [0, 2**32), got {seed}")
    return seed


_M64 = (1 << 64) - 1


def fmix64(k: int) -> int:
    """MurmurHash3's 64-bit finaliser on a Python int (the scalar twin of the
    kernels' ``fmix64``; structures derive secondary positions with it)."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def hash128(key: Any, seed: int = 0) -> tuple[int, int]:
    """(h1, h2) of one key; the scalar twin of :func:`murmur3_128`."""
    return mmh3.hash64(key_to_bytes(key), seed, signed=False)


def _hash_batch128(batch: KeyBatch, seed: int) -> np.ndarray:
    from ._kernels.murmur3 import murmur3_x64_128_u64, murmur3_x64_128_var

    out = np.empty((batch.n, 2), dtype=np.uint64)
    if batch.n == 0:
        return out
    if batch.kind == "int":
        murmur3_x64_128_u64(batch.ints, np.uint64(seed), out)
    else:
        murmur3_x64_128_var(batch.data, batch.starts, batch.ends, np.uint64(seed), out)
    return out


def murmur3_128(keys: Any, seed: int = 0) -> np.ndarray:
    """MurmurHash3_x64_128 of every key: an ``(n, 2)`` uint64 array of (h1, h2)."""
    seed = check_seed(seed)
    return _hash_batch128(normalize_keys(keys), seed)


def murmur3_32(keys: Any, seed: int = 0) -> np.ndarray:
    """MurmurHash3_x86_32 of every key as uint32."""
    from ._kernels.murmur3 import murmur3_x86_32_u64, murmur3_x86_32_var

    seed = check_seed(seed)
    batch = normalize_keys(keys)
    out = np.empty(batch.n, dtype=np.uint32)
    if batch.n == 0:
        return out
    if batch.kind == "int":
        murmur3_x86_32_u64(batch.ints, np.uint64(seed), out)
    else:
        murmur3_x86_32_var(batch.data, batch.starts, batch.ends, np.uint64(seed), out)
    return out


class HashedKeys:
    """A batch of keys hashed once with MurmurHash3_x64_128 under one seed.

    Pass it wherever a keyed ``_many`` method takes keys; structures whose seed
    differs raise :class:`~sysprims.errors.IncompatibleError` instead of
    silently answering for other keys.
    """

    __slots__ = ("hashes", "seed")

    def __init__(self, hashes: np.ndarray, seed: int):
        hashes = np.asarray(hashes)
        if hashes.dtype != np.uint64 or hashes.ndim != 2 or hashes.shape[1] != 2:
            raise InvalidParameterError(
                f"hashes must be an (n, 2) uint64 array, got {hashes.dtype} of shape {hashes.shape}"
            )
        self.hashes = np.ascontiguousarray(hashes)
        self.seed = check_seed(seed)

    @property
    def h1(self) -> np.ndarray:
        return self.hashes[:, 0]

    @property
    def h2(self) -> np.ndarray:
        return self.hashes[:, 1]

    def __len__(self) -> int:
        return self.hashes.shape[0]

    def __getitem__(self, index: Any) -> HashedKeys:
        sub = self.hashes[index]
        if sub.ndim != 2:
            raise InvalidParameterError("index HashedKeys with a slice, a mask or an index array")
        return HashedKeys(sub, self.seed)

    def require_seed(self, seed: int, owner: str = "structure") -> np.ndarray:
        """Return the hashes, or raise IncompatibleError if ``seed`` differs."""
        if seed != self.seed:
            raise IncompatibleError(
                f"keys were hashed with seed {self.seed} but the {owner} uses seed {seed}; "
                f"hash them again with hash_keys(keys, seed={seed})"
            )
        return self.hashes

    def __repr__(self) -> str:
        return f"HashedKeys(n={len(self)}, seed={self.seed})"


def hash_keys(keys: Any, seed: int = 0) -> HashedKeys:
    """Hash a batch once; returns :class:`HashedKeys`.

    Given a :class:`HashedKeys` already, returns it after checking its seed.
    """
    seed = check_seed(seed)
    if isinstance(keys, HashedKeys):
        keys.require_seed(seed, "caller")
        return keys
    return HashedKeys(_hash_batch128(normalize_keys(keys), seed), seed)


def hashes_for(keys: Any, seed: int, owner: str = "structure") -> np.ndarray:
    """The ``(n, 2)`` hashes of ``keys`` under ``seed``; for structures' ``_many`` methods.

    Accepts every key-batch form and :class:`HashedKeys` (whose seed must match).
    """
    if isinstance(keys, HashedKeys):
        return keys.require_seed(seed, owner)
    return _hash_batch128(normalize_keys(keys), seed)
