"""Tour step: Bloom filter batch build and query against rbloom (the bench's Bloom case)."""

from __future__ import annotations

from . import Show

NAME = "bloom"
ORDER = 10
COMPONENT = "bloom"


def _fpr(r, b) -> str:
    out = f"measured FPR {r.accuracy.get('fpr', float('nan')):.4f} (target 0.01)"
    if b is not None and "fpr" in b.accuracy:
        out += f", {b.contender.split()[0]} {b.accuracy['fpr']:.4f}"
    return out


SHOW = [
    Show("add (list of str)", "sysprims add_many", "rbloom batch add", "BloomFilter.add_many(list of str)",
         lambda r, b: f"{8 * r.memory_bytes / r.n:.2f} bits/key" if r.memory_bytes else ""),
    Show("contains (half present)", "sysprims contains_many", "rbloom contains loop",
         "BloomFilter.contains_many(list of str)", _fpr),
    Show("contains (half present)", "sysprims contains loop", "rbloom contains loop", "BloomFilter.contains(str) loop",
         _fpr),
]
