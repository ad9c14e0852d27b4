"""Tour step: batch MurmurHash3 against the per-key ``mmh3`` loop."""

from __future__ import annotations

import mmh3
import numpy as np

from ..hashing import murmur3_128
from . import Row, timed

NAME = "hashing"
ORDER = 0


def run(size: int, rng: np.random.Generator) -> list[Row]:
    ids = rng.integers(0, 2**62, size=size, dtype=np.int64)
    words = [f"user:{i:015d}" for i in ids.tolist()]  # ~20-byte ASCII keys
    encoded = [w.encode() for w in words]
    hash64 = mmh3.hash64

    loop_s, expected = timed(lambda: [hash64(w, 0, signed=False) for w in words])
    rows = []
    t, got = timed(lambda: murmur3_128(words), repeat=2)
    check = [tuple(r) for r in got[:1000].tolist()] == expected[:1000]
    rows.append(Row(NAME, "murmur3_128(list of str)", size, t, "bit-exact" if check else "MISMATCH", loop_s, "mmh3 loop"))
    t, _ = timed(lambda: murmur3_128(encoded), repeat=2)
    rows.append(Row(NAME, "murmur3_128(list of bytes)", size, t, "", loop_s, "mmh3 loop"))
    try:
        import pyarrow as pa

        arr = pa.array(words, type=pa.string())
        t, _ = timed(lambda: murmur3_128(arr), repeat=2)
        rows.append(Row(NAME, "murmur3_128(arrow strings)", size, t, "zero-copy", loop_s, "mmh3 loop"))
    except ImportError:
        rows.append(Row(NAME, "murmur3_128(arrow strings)", 0, 0.0, "skipped: pyarrow not installed"))
    ints = [int(i) for i in ids[: min(size, 200_000)]]
    int_loop_s, _ = timed(lambda: [hash64(i.to_bytes(8, "little"), 0, signed=False) for i in ints])
    int_loop_s *= size / len(ints)
    t, _ = timed(lambda: murmur3_128(ids), repeat=2)
    rows.append(Row(NAME, "murmur3_128(int64 array)", size, t, "", int_loop_s, "mmh3 loop"))
    return rows
