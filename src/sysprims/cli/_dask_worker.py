"""Dask worker preload for ``--scheduler processes``: load the kernels a build uses
(numba's import and the cached Bloom and hash kernels, about a second of CPU per
worker) in a background thread as soon as the worker process starts, so that it
overlaps with the cluster's start and the client's graph instead of delaying the
first task. Only the kernels a build calls are loaded."""

from __future__ import annotations

import threading
from typing import Any


def _load_kernels() -> None:
    from ..bloom import BloomFilter
    from ..hashing import hash_keys
    from ._common import one_key_column

    BloomFilter.for_capacity(10, 0.01).add_many(hash_keys(one_key_column()))


def dask_setup(worker: Any) -> None:
    threading.Thread(target=_load_kernels, name="sysprims-kernel-preload", daemon=True).start()
