"""Merging two :class:`~sysprims.countmin.TrendingTopK` trackers (Dask partitions, shards):
align both on the later bucket, add the tables, re-rank the union of candidates."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import IncompatibleError, InvalidParameterError
from ..hashing import HashedKeys

_UINT32_MAX = (1 << 32) - 1


def merge_into(self: Any, other: Any) -> Any:
    """``self.merge(other)``: see :meth:`TrendingTopK.merge`."""
    from .trending import TrendingTopK

    if not isinstance(other, TrendingTopK):
        raise IncompatibleError(f"can only merge a TrendingTopK, got {type(other).__name__}")
    if self._params_tuple() != other._params_tuple():
        raise IncompatibleError(
            "trackers differ in (k, candidates, width, depth, interval, window, history, seed, dtype): "
            f"{self._params_tuple()} vs {other._params_tuple()}"
        )
    if not other.started:
        return self
    other = other.copy()
    if not self.started:
        self.__dict__.update(other.__dict__)
        return self
    ring = [t.total - int(t._snap_tot[t._slot(t.history)]) for t in (self, other)]
    if self.dtype == "uint32" and sum(ring) > _UINT32_MAX:
        raise InvalidParameterError(
            f"the merged ring would hold {sum(ring)} events, more than uint32 counters "
            "can difference exactly: use dtype='uint64'"
        )
    self._advance_to(other.current_bucket)
    other._advance_to(self.current_bucket)
    self._win += other._win  # unsigned NumPy arithmetic wraps, as the kernels do
    self._snaps += other._snaps
    self._snap_tot += other._snap_tot
    self._tot += other._tot
    pairs: dict[tuple[int, int], Any] = {}
    for t in (self, other):
        m = len(t)
        for h1, h2, key in zip(t._h1[:m].tolist(), t._h2[:m].tolist(), t._keys, strict=True):
            pairs.setdefault((h1, h2), key)
    ps = list(pairs)
    hashed = HashedKeys(np.array(ps, dtype=np.uint64).reshape(-1, 2), self.seed)
    est = self._window_query(hashed).tolist()
    ranked = sorted(zip(est, ps, strict=True), key=lambda r: (-r[0], r[1]))[: self.capacity]
    first = min(int(self._meta[2]), int(other._meta[2]))
    self._set_candidates([p[0] for _e, p in ranked], [p[1] for _e, p in ranked], [e for e, _p in ranked],
                         [pairs[p] for _e, p in ranked], current=self.current_bucket, first=first, started=True)  # fmt: skip
    return self
