"""How :meth:`BloomFilter.add_many` sets a batch's bits: the pipelined kernel,
the bucketed one (standard layout, filters beyond the last-level cache), and
partitioned writes on several threads.

Parallel bit writes to one word would lose bits (two read-modify-writes of the
same word race), so threads never share a word: thread ``t`` of ``T`` owns a
contiguous ``1/T`` of the filter (words, or 512-bit blocks, or the bucketed
kernel's regions), walks the whole batch and sets only the probes that fall in
its part. The parts are disjoint and cover the filter, so the threads together
set exactly the bits of the serial call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The bucketed kernel (:func:`sysprims._kernels.bloom.bloom_add_bucketed`) groups
#: this many keys' probes by region before setting them.
BUCKET_CHUNK = 1 << 20
#: ... and pays only for a filter beyond the last-level cache (32 MiB here) whose
#: cache lines each get at least this many probes per chunk; below that a line
#: is fetched once per chunk for too few probes and the pipelined kernel wins.
BUCKETED_MIN_BYTES = 32 << 20
BUCKETED_MIN_PROBES_PER_LINE = 4


def use_bucketed(layout: str, nbytes: int, n: int, k: int) -> bool:
    """Whether the bucketed kernel is the faster one for this filter and batch."""
    lines = nbytes // 64
    return layout == "standard" and nbytes >= BUCKETED_MIN_BYTES and min(n, BUCKET_CHUNK) * k >= (
        BUCKETED_MIN_PROBES_PER_LINE * lines
    )


def add_batch(kern: Any, kk: Any, threads: int, bucketed: bool, tail: tuple, bits: np.ndarray) -> None:
    """Set the probes of the :class:`~sysprims.hashing.KernelKeys` ``kk``.

    ``tail`` is ``(k, m, layout)``; ``bits`` the filter's words. One thread and
    not bucketed: the pipelined ``bloom_add``; otherwise each of ``threads``
    parts (one when serial) runs ``bloom_add_bucketed`` or ``bloom_add_part``.
    """
    mode, seed = np.int64(kk.mode), np.uint64(kk.seed)
    keys = (mode, kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, seed)
    k, m, layout = tail
    if kk.n == 0:
        return
    if threads <= 1 and not bucketed:
        kern.bloom_add(*keys, k, m, layout, bits)
        return
    parts = np.int64(threads)
    if bucketed:
        def part(t: int) -> None:
            kern.bloom_add_bucketed(*keys, k, m, bits, np.int64(BUCKET_CHUNK), np.int64(t), parts)
    else:
        def part(t: int) -> None:
            kern.bloom_add_part(*keys, k, m, layout, bits, np.int64(t), parts)
    if threads <= 1:
        part(0)
        return
    from .._threads import read_pool

    futures = [read_pool().submit(part, t) for t in range(1, threads)]  # the process's kept pool
    try:
        part(0)  # the calling thread owns part 0
    finally:
        for f in futures:
            f.result()
