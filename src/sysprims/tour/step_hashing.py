"""Tour step: batch MurmurHash3 against the per-key ``mmh3`` loop (the bench's hashing case)."""

from __future__ import annotations

from . import Show

NAME = "hashing"
ORDER = 0
COMPONENT = "hashing"


def _exact(r, _b) -> str:
    return "bit-exact with mmh3" if r.accuracy.get("bit_exact_vs_mmh3") == 1.0 else "MISMATCH with mmh3"


SHOW = [
    Show("hash list of str", "sysprims murmur3_128", "mmh3.hash64 loop", "murmur3_128(list of str)", _exact),
    Show("hash pre-encoded bytes / arrow", "sysprims murmur3_128(bytes)", "mmh3.hash64 loop",
         "murmur3_128(list of bytes)"),
    Show("hash pre-encoded bytes / arrow", "sysprims murmur3_128(arrow)", "mmh3.hash64 loop",
         "murmur3_128(arrow strings)", lambda r, b: "zero-copy"),
    Show("hash int64 array", "sysprims murmur3_128", "mmh3.hash64 loop", "murmur3_128(int64 array)"),
]
