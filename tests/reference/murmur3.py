"""Plain-Python MurmurHash3 (x64_128 and x86_32), written from Austin Appleby's
public-domain specification, as the twin of ``sysprims._kernels.murmur3``."""

from __future__ import annotations

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
C1 = 0x87C37B91114253D5
C2 = 0x4CF5AD432745937F


def _rotl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    k ^= k >> 33
    return k


def murmur3_x64_128(key: bytes, seed: int = 0) -> tuple[int, int]:
    length = len(key)
    h1 = h2 = seed
    nblocks = length // 16
    for i in range(nblocks):
        k1 = int.from_bytes(key[16 * i : 16 * i + 8], "little")
        k2 = int.from_bytes(key[16 * i + 8 : 16 * i + 16], "little")
        k1 = (_rotl64((k1 * C1) & M64, 31) * C2) & M64
        h1 ^= k1
        h1 = (_rotl64(h1, 27) + h2) & M64
        h1 = (h1 * 5 + 0x52DCE729) & M64
        k2 = (_rotl64((k2 * C2) & M64, 33) * C1) & M64
        h2 ^= k2
        h2 = (_rotl64(h2, 31) + h1) & M64
        h2 = (h2 * 5 + 0x38495AB5) & M64
    tail = key[16 * nblocks :]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl64((k2 * C2) & M64, 33) * C1) & M64
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl64((k1 * C1) & M64, 31) * C2) & M64
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    h1 = _fmix64(h1)
    h2 = _fmix64(h2)
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    return h1, h2


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & M32


def murmur3_x86_32(key: bytes, seed: int = 0) -> int:
    length = len(key)
    h1 = seed & M32
    nblocks = length // 4
    for i in range(nblocks):
        k1 = int.from_bytes(key[4 * i : 4 * i + 4], "little")
        k1 = (_rotl32((k1 * 0xCC9E2D51) & M32, 15) * 0x1B873593) & M32
        h1 ^= k1
        h1 = (_rotl32(h1, 13) * 5 + 0xE6546B64) & M32
    tail = key[4 * nblocks :]
    if tail:
        k1 = int.from_bytes(tail, "little")
        h1 ^= (_rotl32((k1 * 0xCC9E2D51) & M32, 15) * 0x1B873593) & M32
    h1 ^= length
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & M32
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & M32
    h1 ^= h1 >> 16
    return h1
