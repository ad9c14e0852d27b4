"""Plain-Python twins of the Bloom kernels (``sysprims._kernels.bloom``).

Hashes come from the ``mmh3`` package; positions follow the documented rules
with Python big integers (no uint64 arithmetic to get wrong):

* standard: ``p_i = (((h1 + i*h2) mod 2**64) * m) // 2**64``;
* blocked: block ``(h1 * nblocks) // 2**64``, bit ``block*512 + (x_i // 2**55)``
  with ``x_i = fmix64(h2) * 0x9E3779B97F4A7C15**i mod 2**64``;
* split-block (Parquet's SBBF on 64-bit words): the same block, and in its word
  ``i`` (0..7) bit ``(fmix64(h2) * SALT[i] mod 2**64) // 2**58``.
"""

from __future__ import annotations

import mmh3

M64 = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


def key_bytes(key) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    return (int(key) & M64).to_bytes(8, "little")


def hash_pair(key, seed: int) -> tuple[int, int]:
    return mmh3.hash64(key_bytes(key), seed, signed=False)


def fmix64(k: int) -> int:
    """MurmurHash3's fmix64, written from the reference C++ (smhasher)."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) % 2**64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) % 2**64
    k ^= k >> 33
    return k


#: Parquet's split-block Bloom filter salts (parquet-format BloomFilter.md).
SALT = [0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947, 0x5C6BFB31]


def positions(h1: int, h2: int, k: int, m: int, blocked) -> list[int]:
    if blocked == "split_block":
        block = (h1 * (m // 512)) // 2**64
        x = fmix64(h2)
        return [block * 512 + 64 * i + ((x * s) % 2**64) // 2**58 for i, s in enumerate(SALT)]
    if blocked:
        nblocks = m // 512
        block = (h1 * nblocks) // 2**64
        x = fmix64(h2)
        return [block * 512 + ((x * pow(GOLD, i, 2**64)) % 2**64) // 2**55 for i in range(k)]
    return [(((h1 + i * h2) % 2**64) * m) // 2**64 for i in range(k)]


class ReferenceBloom:
    """A Bloom filter over a Python set of bit positions."""

    def __init__(self, m: int, k: int, seed: int = 0, blocked: bool | str = False):
        """``blocked``: False (standard), True (blocked) or ``"split_block"``."""
        self.m, self.k, self.seed, self.blocked = m, k, seed, blocked
        self.set_bits: set[int] = set()

    def add(self, key) -> None:
        self.set_bits.update(positions(*hash_pair(key, self.seed), self.k, self.m, self.blocked))

    def contains(self, key) -> bool:
        return all(p in self.set_bits for p in positions(*hash_pair(key, self.seed), self.k, self.m, self.blocked))

    def words(self) -> list[int]:
        """The packed uint64 words (bit p -> word p // 64, bit p % 64)."""
        out = [0] * (-(-self.m // 64))
        for p in self.set_bits:
            out[p // 64] |= 1 << (p % 64)
        return out


class ReferenceCounting:
    """A counting Bloom filter over a dict of counters (saturating at 255)."""

    def __init__(self, m: int, k: int, seed: int = 0):
        self.m, self.k, self.seed = m, k, seed
        self.c = [0] * m

    def _pos(self, key):
        return positions(*hash_pair(key, self.seed), self.k, self.m, False)

    def add(self, key) -> None:
        for p in self._pos(key):
            self.c[p] = min(255, self.c[p] + 1)

    def contains(self, key) -> bool:
        return all(self.c[p] for p in self._pos(key))

    def remove(self, key) -> bool:
        pos = self._pos(key)
        if any(self.c[p] != 255 and self.c[p] < pos.count(p) for p in pos):
            return False
        for p in pos:
            if self.c[p] != 255:
                self.c[p] -= 1
        return True
