"""Plain-Python twins of the Count-Min and top-K kernels (``sysprims._kernels.countmin``).

Hashes come from the ``mmh3`` package, not from sysprims; positions follow the
documented rule: row r uses ``fmix64((h1 + r*h2) mod 2**64) * width // 2**64``,
with fmix64 written here from the MurmurHash3 reference (Appleby's C++ source).
"""

from __future__ import annotations

import mmh3

M64 = (1 << 64) - 1


def key_bytes(key) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    return (int(key) & M64).to_bytes(8, "little")


def hash_pair(key, seed: int) -> tuple[int, int]:
    return mmh3.hash64(key_bytes(key), seed, signed=False)


def fmix64(k: int) -> int:
    # MurmurHash3.cpp: k ^= k >> 33; k *= 0xff51afd7ed558ccd; ... (mod 2**64)
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) % 2**64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) % 2**64
    k ^= k >> 33
    return k


def positions(h1: int, h2: int, depth: int, width: int) -> list[int]:
    return [fmix64((h1 + r * h2) % 2**64) * width // 2**64 for r in range(depth)]


class ReferenceCMS:
    def __init__(self, width: int, depth: int, seed: int = 0, cap: int = 2**32 - 1, conservative: bool = False):
        self.width, self.depth, self.seed, self.cap = width, depth, seed, cap
        self.conservative = conservative
        self.table = [[0] * width for _ in range(depth)]

    def update_hash(self, h1: int, h2: int, count: int = 1) -> int:
        cols = positions(h1, h2, self.depth, self.width)
        if self.conservative:
            target = min(min(self.table[r][j] for r, j in enumerate(cols)) + count, self.cap)
            for r, j in enumerate(cols):
                self.table[r][j] = max(self.table[r][j], target)
            return target
        for r, j in enumerate(cols):
            self.table[r][j] = min(self.table[r][j] + count, self.cap)
        return min(self.table[r][j] for r, j in enumerate(cols))

    def update(self, key, count: int = 1) -> int:
        return self.update_hash(*hash_pair(key, self.seed), count)

    def query(self, key) -> int:
        cols = positions(*hash_pair(key, self.seed), self.depth, self.width)
        return min(self.table[r][j] for r, j in enumerate(cols))


class ReferenceTopK:
    """The tracker's rule, with linear scans instead of a heap and a hash index.

    A candidate's value is the sketch estimate when it entered plus its exact
    count since. A key enters when the set is not full or its sketch estimate
    beats the smallest (value, slot); the evicted slot is that smallest one."""

    def __init__(self, k: int, width: int, depth: int, seed: int = 0, cap: int = 2**32 - 1):
        self.k = k
        self.cap = cap
        self.cms = ReferenceCMS(width, depth, seed, cap=cap)
        self.slots: list[list] = []  # [h1, h2, value, key]

    def update(self, key, count: int = 1) -> None:
        h1, h2 = hash_pair(key, self.cms.seed)
        est = self.cms.update_hash(h1, h2, count)
        for slot in self.slots:
            if slot[0] == h1 and slot[1] == h2:
                slot[2] = min(slot[2] + count, self.cap)
                return
        if len(self.slots) < self.k:
            self.slots.append([h1, h2, est, key])
            return
        s = min(range(self.k), key=lambda i: (self.slots[i][2], i))
        if est > self.slots[s][2]:
            self.slots[s] = [h1, h2, est, key]

    def top(self, n: int | None = None) -> list[tuple]:
        rows = sorted(self.slots, key=lambda r: (-r[2], r[0], r[1]))
        return [(key, value) for _h1, _h2, value, key in rows][:n]
