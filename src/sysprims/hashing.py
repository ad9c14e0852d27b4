"""MurmurHash3 over key batches, bit-exact with the ``mmh3`` package.

* :func:`murmur3_128` -> ``(n, 2)`` uint64 ``(h1, h2)`` pairs, equal to
  ``mmh3.hash64(key_bytes, seed, signed=False)``;
* :func:`murmur3_32` -> uint32, equal to ``mmh3.hash(key_bytes, seed, signed=False)``;
* :func:`hash_keys` -> :class:`HashedKeys`, which every keyed ``_many`` method
  accepts so one hashing pass can feed a Bloom filter, a sketch and a router.

* :func:`kernel_keys` -> :class:`KernelKeys`: the one path from any accepted
  batch to a kernel (the ``hashes``, ``int`` or ``bytes`` form; see
  ``docs/keys.md``); every keyed ``_many`` method takes its keys from it.

Keys follow :mod:`sysprims.keys`. Lists, tuples and object arrays of ``str`` or
``bytes`` are read in place (:mod:`sysprims._pyobj`). Scalar helpers call
``mmh3`` directly: one C call beats a kernel dispatch for a single key.
"""

from __future__ import annotations

from typing import Any

import mmh3
import numpy as np

from . import _pyobj
from ._threads import MIN_KEYS_PER_THREAD, check_threads, chunks_for
from .errors import IncompatibleError, InvalidParameterError
from .keys import KeyBatch, key_to_bytes, normalize_keys

__all__ = [
    "HASH_ID_MURMUR3_X64_128",
    "MIN_KEYS_PER_THREAD",
    "HashedKeys",
    "KernelKeys",
    "check_seed",
    "check_threads",
    "chunks_for",
    "fmix64",
    "hash128",
    "hash_keys",
    "hashes_for",
    "kernel_keys",
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


def _hash_batch128(batch: KeyBatch, seed: int, threads: int = 1) -> np.ndarray:
    from ._kernels.murmur3 import murmur3_x64_128_u64, murmur3_x64_128_var
    from ._threads import run_sliced

    out = np.empty((batch.n, 2), dtype=np.uint64)
    if batch.n == 0:
        return out
    # threads > 1: the serial kernel over slices, on the shared read pool
    if batch.kind == "int":
        run_sliced(murmur3_x64_128_u64, (batch.ints, np.uint64(seed)), (True, False), out, threads)
    else:
        kk = _batch_kernel_keys(batch, seed)
        run_sliced(murmur3_x64_128_var, (kk.data, kk.starts, kk.ends, np.uint64(seed)), (False, True, True, False),
                   out, threads)
    return out


def _hash128(keys: Any, seed: int, threads: int = 1) -> np.ndarray:
    """(n, 2) hashes of any batch form (not HashedKeys): lists, tuples and object
    arrays of str/bytes are read in place (:mod:`sysprims._pyobj`), the rest
    normalised first."""
    out = _pyobj.murmur3_128(keys, seed)  # serial: it must hold the GIL (docs/keys.md)
    if out is None:
        out = _hash_batch128(normalize_keys(keys), seed, threads)
    return out


def murmur3_128(keys: Any, seed: int = 0, threads: int = 1) -> np.ndarray:
    """MurmurHash3_x64_128 of every key: an ``(n, 2)`` uint64 array of (h1, h2).

    ``threads`` > 1 splits a large array batch (Arrow, NumPy) into that many
    chunks hashed in parallel, with the same result; lists, tuples and object
    arrays of str/bytes are always read serially, under the GIL (see
    docs/keys.md for why and when threads pay). The default 1 is serial.
    """
    return _hash128(keys, check_seed(seed), check_threads(threads))


def murmur3_32(keys: Any, seed: int = 0) -> np.ndarray:
    """MurmurHash3_x86_32 of every key as uint32."""
    from ._kernels.murmur3 import murmur3_x86_32_u64, murmur3_x86_32_var

    seed = check_seed(seed)
    out = _pyobj.murmur3_32(keys, seed)
    if out is not None:
        return out
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
    silently answering for other keys. ``hashes`` and ``seed`` are read-only,
    and the array's shape, dtype and layout are checked again whenever a
    structure takes the keys (an ndarray's shape can be changed in place).
    """

    __slots__ = ("_hashes", "_seed")

    def __init__(self, hashes: np.ndarray, seed: int):
        hashes = np.asarray(hashes)
        if hashes.dtype != np.uint64 or hashes.ndim != 2 or hashes.shape[1] != 2:
            raise InvalidParameterError(
                f"hashes must be an (n, 2) uint64 array, got {hashes.dtype} of shape {hashes.shape}"
            )
        self._hashes = np.ascontiguousarray(hashes)
        self._seed = check_seed(seed)

    @property
    def hashes(self) -> np.ndarray:
        """The ``(n, 2)`` uint64 array of (h1, h2)."""
        return self._hashes

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def h1(self) -> np.ndarray:
        return self._hashes[:, 0]

    @property
    def h2(self) -> np.ndarray:
        return self._hashes[:, 1]

    def __len__(self) -> int:
        return self._hashes.shape[0]

    def __getitem__(self, index: Any) -> HashedKeys:
        sub = self._hashes[index]
        if sub.ndim != 2:
            raise InvalidParameterError("index HashedKeys with a slice, a mask or an index array")
        return HashedKeys(sub, self._seed)

    def require_seed(self, seed: int, owner: str = "structure") -> np.ndarray:
        """Return the hashes, or raise IncompatibleError if ``seed`` differs
        (InvalidParameterError if the object was altered into something a
        kernel cannot take)."""
        h = self._hashes
        if (
            type(h) is not np.ndarray or h.dtype != np.uint64 or h.ndim != 2 or h.shape[1] != 2
            or not h.flags.c_contiguous or type(self._seed) is not int or not 0 <= self._seed < 1 << 32
        ):
            raise InvalidParameterError(
                "this HashedKeys was altered: hashes must be a C-contiguous (n, 2) uint64 array "
                f"and seed an int in [0, 2**32), got {getattr(h, 'dtype', type(h).__name__)} "
                f"of shape {getattr(h, 'shape', '?')} and seed {self._seed!r}"
            )
        if seed != self._seed:
            raise IncompatibleError(
                f"keys were hashed with seed {self._seed} but the {owner} uses seed {seed}; "
                f"hash them again with hash_keys(keys, seed={seed})"
            )
        return h

    def __repr__(self) -> str:
        return f"HashedKeys(n={len(self)}, seed={self._seed})"


def hash_keys(keys: Any, seed: int = 0, threads: int = 1) -> HashedKeys:
    """Hash a batch once; returns :class:`HashedKeys` (``threads`` as in
    :func:`murmur3_128`).

    Given a :class:`HashedKeys` already, returns it after checking its seed.
    """
    seed = check_seed(seed)
    threads = check_threads(threads)
    if isinstance(keys, HashedKeys):
        keys.require_seed(seed, "caller")
        return keys
    return HashedKeys(_hash128(keys, seed, threads), seed)


# ------------------------------------------------------------- the key path

_NO_HASHES = np.zeros((0, 2), dtype=np.uint64)
_NO_U64 = np.zeros(0, dtype=np.uint64)
_NO_I64 = np.zeros(0, dtype=np.int64)
_NO_U8 = np.zeros(0, dtype=np.uint8)

#: The kernel input forms of :class:`KernelKeys`.
HASHES, INTS, BYTES, H1 = "hashes", "int", "bytes", "h1"


class KernelKeys:
    """A batch in one of the forms every keyed kernel takes.

    * ``kind == "hashes"``: ``hashes`` is ``(n, 2)`` uint64 (h1, h2) under the
      structure's seed (from :class:`HashedKeys`, or lists/tuples/object arrays
      of str/bytes hashed in place);
    * ``kind == "h1"``: only ``h1s``, ``(n,)`` uint64, asked for by kernels that
      route on ``h1`` alone (the shard routers: half the memory traffic);
    * ``kind == "int"``: ``ints`` (uint64), hashed as 8 little-endian bytes;
    * ``kind == "bytes"``: key ``i`` is ``data[starts[i]:ends[i]]`` (every array
      C-contiguous).

    The arrays of the other forms are empty (so a kernel that takes every form,
    like the shard routers, gets one argument list). Built only by
    :func:`kernel_keys`, which validates everything a kernel will index.
    """

    __slots__ = ("data", "ends", "h1s", "hashes", "ints", "kind", "n", "seed", "starts")

    def __init__(self, kind: str, n: int, seed: int, hashes: np.ndarray = _NO_HASHES, ints: np.ndarray = _NO_U64,
                 data: np.ndarray = _NO_U8, starts: np.ndarray = _NO_I64, ends: np.ndarray = _NO_I64,
                 h1s: np.ndarray = _NO_U64):
        self.kind, self.n, self.seed = kind, n, seed
        self.hashes, self.ints, self.data, self.starts, self.ends = hashes, ints, data, starts, ends
        self.h1s = h1s

    @property
    def mode(self) -> int:
        """0 (hashes or h1), 1 (int) or 2 (bytes): the routers' ``mode`` argument."""
        return 0 if self.kind in (HASHES, H1) else 1 if self.kind == INTS else 2

    def h1(self) -> np.ndarray:
        """Contiguous h1 of every key (hashing int/bytes forms under ``seed``)."""
        if self.kind == H1:
            return self.h1s
        return np.ascontiguousarray(self.all_hashes()[:, 0])

    def all_hashes(self) -> np.ndarray:
        """The ``(n, 2)`` hashes, computing them for the int and bytes forms."""
        if self.kind == HASHES:
            return self.hashes
        if self.kind == H1:
            raise InvalidParameterError("these keys were read for h1 only; ask kernel_keys without h1_only")
        return _hash_batch128(KeyBatch(self.kind, self.n, data=self.data, starts=self.starts,
                                       ends=self.ends, ints=self.ints), self.seed)


def kernel_keys(keys: Any, seed: int, owner: str = "structure", *, h1_only: bool = False) -> KernelKeys:
    """The one key path: any accepted batch -> :class:`KernelKeys` under ``seed``.

    :class:`HashedKeys` (seed checked) and lists, tuples and object arrays of
    exact ``str``/``bytes`` (hashed in place, one serial pass under the GIL)
    become the ``hashes`` form, or the ``h1`` form when ``h1_only`` (for
    kernels that use ``h1`` alone); every other batch form is normalised by
    :func:`sysprims.keys.normalize_keys` (a hand-built
    :class:`~sysprims.keys.KeyBatch` is bounds-checked there) into the ``int``
    or ``bytes`` form, which fused kernels hash as they go.
    """
    if isinstance(keys, HashedKeys):
        h = keys.require_seed(seed, owner)
        return KernelKeys(HASHES, h.shape[0], seed, hashes=h)
    if h1_only:
        h1s = _pyobj.murmur3_h1(keys, seed)
        if h1s is not None:
            return KernelKeys(H1, h1s.shape[0], seed, h1s=h1s)
    else:
        read = _pyobj.murmur3_128(keys, seed)
        if read is not None:
            return KernelKeys(HASHES, read.shape[0], seed, hashes=read)
    return _batch_kernel_keys(normalize_keys(keys), seed)


def _batch_kernel_keys(batch: KeyBatch, seed: int) -> KernelKeys:
    if batch.kind == "int":
        assert batch.ints is not None  # a KeyBatch of kind "int" always has ints (checked when built)
        return KernelKeys(INTS, batch.n, seed, ints=batch.ints)
    assert batch.data is not None  # likewise data for kind "bytes"
    starts, ends = np.ascontiguousarray(batch.starts), np.ascontiguousarray(batch.ends)
    return KernelKeys(BYTES, batch.n, seed, data=batch.data, starts=starts, ends=ends)


def hashes_for(keys: Any, seed: int, owner: str = "structure") -> np.ndarray:
    """The ``(n, 2)`` hashes of ``keys`` under ``seed``; for kernels that take hashes only.

    Accepts every key-batch form and :class:`HashedKeys` (whose seed must match).
    """
    return kernel_keys(keys, seed, owner).all_hashes()
