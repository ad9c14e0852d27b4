"""Stream deduplication over a Bloom filter's bit array: test and add in one pass.

``bloom_test_and_add`` walks the keys in order: a key whose probes are all set
is reported as (maybe) seen before; otherwise its probes are set. Serial, so a
duplicate inside one batch is caught by its first occurrence, exactly as the
loop of ``contains`` then ``add`` would. Probes are those of
:mod:`sysprims._kernels.bloom` (standard or blocked layout).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .bloom import _set_probes, _test_probes


def _ex():
    h = np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)
    return [
        (h, np.int64(3), np.uint64(m), np.int64(b), np.zeros(16, np.uint64), np.zeros(3, np.bool_))
        for m, b in ((1024, 0), (2, 1))
    ]


@kernel(_ex)
def bloom_test_and_add(hashes, k, m, blocked, bits, seen):
    """``seen[i]``: key i's probes were all set before it; otherwise they are set now."""
    for i in range(hashes.shape[0]):
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        if _test_probes(h1, h2, k, m, blocked, bits):
            seen[i] = True
        else:
            seen[i] = False
            _set_probes(h1, h2, k, m, blocked, bits)
