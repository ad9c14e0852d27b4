"""Plain-Python twins of ``sysprims._kernels.sharding``, written from the papers:

* jump: Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm"
  (2014), figure 1, with C's uint64 wraparound and double arithmetic;
* ring: Karger et al. consistent hashing, successor point found with ``bisect``;
* rendezvous: Thaler & Ravishankar's highest random weight, weighted as in
  Schindelhauer & Schomaker (score ``-w / ln(u)``).
Hashes come from the ``mmh3`` package, not from sysprims.
"""

from __future__ import annotations

import bisect
import math

import mmh3

M64 = (1 << 64) - 1


def key_bytes(key) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    return (int(key) & M64).to_bytes(8, "little")


def h1(key, seed: int = 0) -> int:
    return mmh3.hash64(key_bytes(key), seed, signed=False)[0]


def jump(key: int, num_buckets: int) -> int:
    """int32_t JumpConsistentHash(uint64_t key, int32_t num_buckets) from the paper."""
    b, j = -1, 0
    while j < num_buckets:
        b = j
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def hash_mod(key, n: int, seed: int = 0) -> int:
    return h1(key, seed) % n


def ring_points(nodes_with_ids, vnodes: int, seed: int = 0, weights=None):
    """Sorted (point, node id) pairs of a ring built from (name, id) pairs."""
    pts = []
    for idx, (name, nid) in enumerate(nodes_with_ids):
        w = 1.0 if weights is None else weights[idx]
        k = max(1, int(round(vnodes * w)))
        base = key_bytes(name) + b"#"
        for i in range(k):
            pts.append((mmh3.hash64(base + i.to_bytes(4, "little"), seed, signed=False)[0], nid))
    pts.sort()
    return pts


def ring_lookup(points, key, seed: int = 0) -> int:
    hs = [p for p, _ in points]
    i = bisect.bisect_left(hs, h1(key, seed))
    return points[i % len(points)][1]


def fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    k ^= k >> 33
    return k


def rendezvous(key, nodes_with_ids, seed: int = 0, weights=None) -> int:
    h = h1(key, seed)
    best, best_s = None, None
    for idx, (name, nid) in enumerate(nodes_with_ids):
        s = fmix64(h ^ h1(name, seed))
        if weights is not None:
            u = ((s >> 11) + 0.5) * 2.0**-53
            s = -weights[idx] / math.log(u)
        if best_s is None or s > best_s:
            best, best_s = nid, s
    return best
