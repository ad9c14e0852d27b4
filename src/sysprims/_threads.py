"""The shared runner of every threaded read path, and the one check of a
``threads=`` argument.

Read-only batch calls (``contains_many``, ``query_many``, ``get_shards``,
``murmur3_128``) take ``threads=``; they all go through :func:`run_sliced`,
which runs the serial kernel over contiguous, equal slices of the batch on a
pool of reader threads kept for the process (:func:`read_pool`). The kernels
release the GIL and only read shared state, so the answers are the serial
call's. Writes (``add_many(threads=)``) split the filter instead of the batch;
see :mod:`sysprims.bloom._writes`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InvalidParameterError

__all__ = [
    "MAX_THREADS", "MIN_KEYS_PER_THREAD", "SLICE_ALIGN", "check_threads", "chunks_for", "key_slicing",
    "read_pool", "run_read_kernel", "run_sliced", "slices",
]

#: The most threads a ``threads=`` argument may ask for.
MAX_THREADS = 256
#: Below this many keys per thread a threaded call runs serially (starting
#: the workers costs more than it saves).
MIN_KEYS_PER_THREAD = 16_384
#: Slice boundaries are multiples of this many keys (a cache line of int64 output).
SLICE_ALIGN = 64


def check_threads(threads: Any) -> int:
    """Validate a ``threads=`` argument (an int from 1 to :data:`MAX_THREADS`) and return it."""
    if (
        isinstance(threads, (bool, np.bool_))
        or not isinstance(threads, (int, np.integer))
        or not 1 <= threads <= MAX_THREADS
    ):
        raise InvalidParameterError(f"threads must be an int from 1 to {MAX_THREADS}, got {threads!r}")
    return int(threads)


def chunks_for(n: int, threads: int) -> int:
    """How many chunks a threaded kernel splits ``n`` keys into: ``threads``,
    fewer when a chunk would hold under ``MIN_KEYS_PER_THREAD`` keys (1: serial)."""
    return max(1, min(threads, n // MIN_KEYS_PER_THREAD))


def slices(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``range(n)``, none empty
    (fewer when ``n < parts``), as equal as ``align`` allows (each boundary
    within ``align / 2`` of its ideal place): every boundary but
    ``n`` is a multiple of ``align`` (so threads writing neighbouring slices of
    an output never share a cache line)."""
    parts = max(1, min(parts, n))
    if n == 0:
        return []
    cuts = [0]
    for p in range(1, parts):
        c = (n * p // parts + align // 2) // align * align  # the nearest multiple of align
        if cuts[-1] < c < n:
            cuts.append(c)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=False))


_pool_state: dict[str, Any] = {}


def _forget_pool() -> None:
    """After a fork the child has none of the parent's worker threads: it starts its own pool."""
    _pool_state.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def read_pool() -> Any:
    """The process's one pool of reader threads (a ``ThreadPoolExecutor``),
    started on first use and kept: a threaded call hands its slices to idle
    workers instead of starting threads, and the pool grows only when more
    slices run at once than it has idle workers."""
    pool = _pool_state.get("pool")
    if pool is None or _pool_state.get("pid") != os.getpid():
        import threading
        from concurrent.futures import ThreadPoolExecutor

        lock = _pool_state.setdefault("lock", threading.Lock())
        with lock:
            pool = _pool_state.get("pool")
            if pool is None or _pool_state.get("pid") != os.getpid():
                pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="sysprims-read")
                _pool_state.update(pool=pool, pid=os.getpid())
    return pool


def run_sliced(kernel: Any, args: tuple, sliced: tuple, out: np.ndarray, threads: int) -> None:
    """The shared runner of every threaded read path: ``kernel(*args, out)``,
    on ``threads`` threads over contiguous, equal slices of the batch's
    ``n = len(out)`` keys. ``args[i]`` is cut to the slice where ``sliced[i]``
    (the per-key arrays), the rest are passed whole (tables, seeds).

    The calling thread runs the first slice itself and workers of
    :func:`read_pool` the others, each with the serial kernel (which releases
    the GIL and only reads shared state), so every key costs what it costs
    serially and the result is the serial one. Each slice writes, and so
    first-touches, its own part of ``out``; boundaries are multiples of
    :data:`SLICE_ALIGN` keys. Fewer threads run when a slice would hold under
    :data:`MIN_KEYS_PER_THREAD` keys (one: the serial call)."""
    n = out.shape[0]
    parts = chunks_for(n, threads)
    if parts == 1:
        kernel(*args, out)
        return

    def part(lo: int, hi: int) -> None:
        kernel(*[a[lo:hi] if cut else a for a, cut in zip(args, sliced, strict=True)], out[lo:hi])

    first, *rest = slices(n, parts, SLICE_ALIGN)
    pool = read_pool()
    futures = [pool.submit(part, lo, hi) for lo, hi in rest]
    try:
        part(*first)
    finally:
        for f in futures:
            f.result()


def key_slicing(mode: int, extra: int) -> tuple:
    """``sliced`` of :func:`run_sliced` for the key arguments ``(mode, hashes or h1,
    ints, data, starts, ends, seed)`` of a batch in form ``mode``, then ``extra`` whole ones."""
    return (False, mode == 0, mode == 1, False, mode == 2, mode == 2, False) + (False,) * extra


def run_read_kernel(kernel: Any, kk: Any, out: np.ndarray, threads: int, tail: tuple) -> None:
    """Run a read-only batch kernel ``kernel(mode, hashes, ints, data, starts,
    ends, seed, *tail, out)`` over the :class:`~sysprims.hashing.KernelKeys`
    ``kk`` with :func:`run_sliced` (``threads`` threads over slices of the batch)."""
    if kk.n == 0:
        return
    args = (np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(kk.seed), *tail)
    run_sliced(kernel, args, key_slicing(kk.mode, len(tail)), out, threads)
