"""MurmurHash3 (x64_128 and x86_32) as batch kernels, bit-exact with ``mmh3``.

Keys arrive either as a byte buffer with int64 ``starts``/``ends`` per key
(variable-length keys) or as a uint64 array (integer keys hashed as their 8
little-endian bytes). All arithmetic is explicit uint64 so nothing is promoted
to float or truncated; 32-bit results are masked after every multiply.
"""

from __future__ import annotations

import sys

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._jit import kernel

if sys.byteorder != "little":  # pragma: no cover - numba has no big-endian target
    raise ImportError("sysprims' MurmurHash3 kernels need a little-endian machine")

_U8 = np.uint64(8)
_U16 = np.uint64(16)
_U24 = np.uint64(24)
_U32 = np.uint64(32)
_U40 = np.uint64(40)
_U48 = np.uint64(48)
_U56 = np.uint64(56)
_C1 = np.uint64(0x87C37B91114253D5)
_C2 = np.uint64(0x4CF5AD432745937F)
_M32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)


def _examples_var():
    data = np.frombuffer(b"hello world, seventeen+", dtype=np.uint8).copy()
    starts = np.array([0, 0, 5], dtype=np.int64)
    ends = np.array([0, 5, 23], dtype=np.int64)
    return (data, starts, ends, np.uint64(0), np.empty((3, 2), dtype=np.uint64))


def _examples_var32():
    data = np.frombuffer(b"hello", dtype=np.uint8).copy()
    return (
        data,
        np.array([0], dtype=np.int64),
        np.array([5], dtype=np.int64),
        np.uint64(0),
        np.empty(1, dtype=np.uint32),
    )


def _examples_u64():
    return (np.arange(3, dtype=np.uint64), np.uint64(0), np.empty((3, 2), dtype=np.uint64))


def _examples_u64_32():
    return (np.arange(3, dtype=np.uint64), np.uint64(0), np.empty(3, dtype=np.uint32))


@kernel(inline="always")
def rotl64(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@kernel(inline="always")
def fmix64(k):
    k ^= k >> np.uint64(33)
    k *= np.uint64(0xFF51AFD7ED558CCD)
    k ^= k >> np.uint64(33)
    k *= np.uint64(0xC4CEB9FE1A85EC53)
    k ^= k >> np.uint64(33)
    return k


@kernel()
def mulhi64(a, b):
    """The high 64 bits of the 128-bit product ``a * b`` (uint64 operands):
    multiply-shift range reduction, ``mulhi64(h, m)`` is uniform in [0, m)."""
    a_lo = a & _M32
    a_hi = a >> _U32
    b_lo = b & _M32
    b_hi = b >> _U32
    lo_lo = a_lo * b_lo
    hi_lo = a_hi * b_lo
    lo_hi = a_lo * b_hi
    cross = (lo_lo >> _U32) + (hi_lo & _M32) + lo_hi
    return a_hi * b_hi + (hi_lo >> _U32) + (cross >> _U32)


@intrinsic
def load64(typingctx, data, p):
    """Unaligned little-endian load of 8 bytes at data[p] (one machine load).

    Only for C-contiguous 1-D uint8 arrays (any other type fails to compile);
    the caller guarantees p + 8 <= len(data). Byte order: numba's targets
    (x86-64, aarch64, ppc64le) are little-endian, checked at import.
    """
    if not (isinstance(data, types.Array) and data.ndim == 1 and data.layout == "C" and data.dtype == types.uint8):
        return None
    sig = types.uint64(data, p)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(arr.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@kernel(inline="always")
def mix_k1(k1):
    k1 *= _C1
    k1 = rotl64(k1, 31)
    k1 *= _C2
    return k1


@kernel(inline="always")
def mix_k2(k2):
    k2 *= _C2
    k2 = rotl64(k2, 33)
    k2 *= _C1
    return k2


@kernel(inline="always")
def block128(h1, h2, k1, k2):
    """One 16-byte block of MurmurHash3_x64_128's body."""
    h1 ^= mix_k1(k1)
    h1 = rotl64(h1, 27)
    h1 += h2
    h1 = h1 * np.uint64(5) + np.uint64(0x52DCE729)
    h2 ^= mix_k2(k2)
    h2 = rotl64(h2, 31)
    h2 += h1
    h2 = h2 * np.uint64(5) + np.uint64(0x38495AB5)
    return h1, h2


@kernel(inline="always")
def finish128(h1, h2, length):
    """MurmurHash3_x64_128's finalisation of a key of ``length`` bytes."""
    ulen = np.uint64(length)
    h1 ^= ulen
    h2 ^= ulen
    h1 += h2
    h2 += h1
    h1 = fmix64(h1)
    h2 = fmix64(h2)
    h1 += h2
    h2 += h1
    return h1, h2


@kernel(inline="always")
def murmur3_x64_128_one(data, start, end, seed):
    """Hash ``data[start:end]``; returns (h1, h2)."""
    length = end - start
    h1 = seed
    h2 = seed
    nblocks = length // 16
    p = start
    for _ in range(nblocks):
        h1, h2 = block128(h1, h2, load64(data, p), load64(data, p + 8))
        p += 16
    rem = length & 15
    k1 = np.uint64(0)
    k2 = np.uint64(0)
    # The tail is read with whole 8-byte loads and masked, except where such a
    # load would run past the end of the buffer (then byte by byte).
    room = data.shape[0] - p
    if rem > 8:
        if room >= 16:
            k2 = load64(data, p + 8) & ((_ONE << np.uint64(8 * (rem - 8))) - _ONE)
        else:
            for i in range(rem - 1, 7, -1):
                k2 |= np.uint64(data[p + i]) << np.uint64(8 * (i - 8))
        h2 ^= mix_k2(k2)
    if rem > 0:
        if rem >= 8:
            k1 = load64(data, p)
        elif room >= 8:
            k1 = load64(data, p) & ((_ONE << np.uint64(8 * rem)) - _ONE)
        else:
            for i in range(rem - 1, -1, -1):
                k1 |= np.uint64(data[p + i]) << np.uint64(8 * i)
        h1 ^= mix_k1(k1)
    return finish128(h1, h2, length)


@kernel(inline="always")
def murmur3_x64_128_u64_one(value, seed):
    """Hash the 8 little-endian bytes of ``value`` (a uint64); returns (h1, h2)."""
    return finish128(seed ^ mix_k1(value), seed, 8)


@kernel(_examples_var)
def murmur3_x64_128_var(data, starts, ends, seed, out):
    """out[i] = (h1, h2) of data[starts[i]:ends[i]]."""
    for i in range(starts.shape[0]):
        h1, h2 = murmur3_x64_128_one(data, starts[i], ends[i], seed)
        out[i, 0] = h1
        out[i, 1] = h2


@kernel(_examples_u64)
def murmur3_x64_128_u64(values, seed, out):
    """out[i] = (h1, h2) of the 8 little-endian bytes of values[i]."""
    for i in range(values.shape[0]):
        h1, h2 = murmur3_x64_128_u64_one(values[i], seed)
        out[i, 0] = h1
        out[i, 1] = h2


@kernel(inline="always")
def fmix32(h):
    h ^= h >> _U16
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> _U16
    return h


@kernel(inline="always")
def rotl32(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


@kernel(inline="always")
def mix32_k1(k1):
    k1 = (k1 * np.uint64(0xCC9E2D51)) & _M32
    k1 = rotl32(k1, 15)
    k1 = (k1 * np.uint64(0x1B873593)) & _M32
    return k1


@kernel(inline="always")
def murmur3_x86_32_one(data, start, end, seed):
    length = end - start
    h1 = seed & _M32
    p = start
    for _ in range(length // 4):
        k1 = (
            np.uint64(data[p])
            | (np.uint64(data[p + 1]) << _U8)
            | (np.uint64(data[p + 2]) << _U16)
            | (np.uint64(data[p + 3]) << _U24)
        )
        h1 ^= mix32_k1(k1)
        h1 = rotl32(h1, 13)
        h1 = (h1 * np.uint64(5) + np.uint64(0xE6546B64)) & _M32
        p += 4
    rem = length & 3
    if rem > 0:
        k1 = np.uint64(0)
        for i in range(rem - 1, -1, -1):
            k1 |= np.uint64(data[p + i]) << np.uint64(8 * i)
        h1 ^= mix32_k1(k1)
    h1 ^= np.uint64(length) & _M32
    return fmix32(h1)


@kernel(_examples_var32)
def murmur3_x86_32_var(data, starts, ends, seed, out):
    """out[i] = MurmurHash3_x86_32 of data[starts[i]:ends[i]]."""
    for i in range(starts.shape[0]):
        out[i] = np.uint32(murmur3_x86_32_one(data, starts[i], ends[i], seed))


@kernel(_examples_u64_32)
def murmur3_x86_32_u64(values, seed, out):
    """out[i] = MurmurHash3_x86_32 of the 8 little-endian bytes of values[i]."""
    for i in range(values.shape[0]):
        v = values[i]
        h1 = seed & _M32
        h1 ^= mix32_k1(v & _M32)
        h1 = rotl32(h1, 13)
        h1 = (h1 * np.uint64(5) + np.uint64(0xE6546B64)) & _M32
        h1 ^= mix32_k1(v >> _U32)
        h1 = rotl32(h1, 13)
        h1 = (h1 * np.uint64(5) + np.uint64(0xE6546B64)) & _M32
        h1 ^= _U8
        out[i] = np.uint32(fmix32(h1))
