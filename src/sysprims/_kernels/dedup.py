"""Stream deduplication over a Bloom filter's bit array: test and add in one pass.

``bloom_test_and_add`` walks the keys in order: a key whose probes are all set
is reported as (maybe) seen before; otherwise its probes are set. Each key is
tested after every earlier key of the batch was added, so a duplicate inside
one batch is caught by its first occurrence, exactly as the loop of
``contains`` then ``add`` would.

The words of key ``i + AHEAD`` are prefetched while key ``i`` is tested and
set, so the cache misses of about ``AHEAD`` keys overlap. Prefetching only
touches memory: the tests and sets themselves stay serial, in row order.
(Staging whole blocks of 16 keys, as the add and query kernels of
:mod:`sysprims._kernels.bloom` do, measured slower here: a test stops at the
first clear bit, so most of a block's prefetched words are not read before
they are set.) Probes are those of :mod:`sysprims._kernels.bloom` (every layout).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .bloom import _set_probes, _test_probes
from .machine import mulhi, prefetch

#: Keys between the one prefetched and the one tested (measured best at 4-8
#: for k = 7-10 on a filter beyond the caches).
AHEAD = 6

_U3 = np.uint64(3)
_U6 = np.uint64(6)


def _ex():
    h = np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)
    return [
        (h, np.int64(3), np.uint64(m), np.int64(b), np.zeros(16, np.uint64), np.zeros(3, np.bool_))
        for m, b in ((1024, 0), (2, 1), (2, 2))
    ]


@kernel(inline="always")
def _prefetch_probes(h1, h2, k, m, layout, bits):
    """Prefetch every word a key's probes touch (its block for layouts 1 and 2)."""
    if layout == 0:
        h = h1
        for _ in range(k):
            prefetch(bits, mulhi(h, m) >> _U6)
            h = h + h2
    else:
        prefetch(bits, mulhi(h1, m) << _U3)


@kernel(_ex)
def bloom_test_and_add(hashes, k, m, layout, bits, seen):
    """``seen[i]``: key i's probes were all set before it (after keys ``0..i-1``
    were added); otherwise they are set now. ``m`` and ``layout`` as in
    :func:`sysprims._kernels.bloom.bloom_add` (0 standard, 1 blocked, 2 split-block)."""
    n = hashes.shape[0]
    for j in range(min(AHEAD, n)):
        _prefetch_probes(hashes[j, 0], hashes[j, 1], k, m, layout, bits)
    for i in range(n):
        j = i + AHEAD
        if j < n:
            _prefetch_probes(hashes[j, 0], hashes[j, 1], k, m, layout, bits)
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        if _test_probes(h1, h2, k, m, layout, bits):
            seen[i] = True
        else:
            seen[i] = False
            _set_probes(h1, h2, k, m, layout, bits)
