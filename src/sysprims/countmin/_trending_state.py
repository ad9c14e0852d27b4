"""Rebuilding a :class:`~sysprims.countmin.TrendingTopK` from a container.

Everything the kernels will index is checked here: table and snapshot shapes
and dtypes against the parameters, the clock, the candidate arrays, the key
arrays, and the event totals (non-decreasing along the ring, within the
counters' range). Candidate values are not trusted: they are recomputed from
the tables. Anything else raises :class:`~sysprims.errors.SerializationError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._format import Container
from ..errors import InvalidParameterError, SerializationError
from ._keycodec import decode_keys
from ._trending_time import MAX_BUCKET


def restore(cls: Any, container: Container) -> Any:
    p, a = container.params, container.arrays
    try:
        new = cls(
            p["k"], p["width"], p["depth"], interval=p["interval"], window=p["window"],
            history=p["history"], seed=container.seed, dtype=p["dtype"], candidates=p["candidates"],
        )  # fmt: skip
        current, first, started = p["current"], p["first"], p["started"]
        win, snaps, snap_tot, tot = a["window_table"], a["snaps"], a["snap_tot"], a["tot"]
        h1, h2, est = a["h1"], a["h2"], a["est"]
    except (KeyError, TypeError, InvalidParameterError) as exc:
        raise SerializationError(f"invalid trending state: {exc}") from None
    clock_ok = all(type(v) is int and abs(v) < MAX_BUCKET for v in (current, first))
    if not clock_ok or type(started) is not bool:
        raise SerializationError("invalid trending clock (current, first, started)")
    if first > current or (not started and (current, first) != (0, 0)):
        raise SerializationError("invalid trending clock: first bucket after the current one")
    m = h1.shape[0] if h1.ndim == 1 else -1
    ok = (
        win.dtype == snaps.dtype == new._win.dtype
        and win.shape == new._win.shape
        and snaps.shape == new._snaps.shape
        and snap_tot.dtype == tot.dtype == np.uint64
        and snap_tot.shape == (new.history,)
        and tot.shape == (1,)
        and 0 <= m <= new.capacity
        and h1.dtype == h2.dtype == est.dtype == np.uint64
        and h2.shape == est.shape == (m,)
        and len(set(zip(h1.tolist(), h2.tolist(), strict=True))) == m
    )
    if not ok:
        raise SerializationError("the trending arrays do not match their parameters")
    ring = [
        int(snap_tot[(current - new.history + 1 + i) % new.history]) for i in range(new.history)
    ]
    ring.append(int(tot[0]))
    if any(x > y for x, y in zip(ring, ring[1:], strict=False)) or ring[-1] - ring[0] > int(
        new._mask
    ):
        raise SerializationError("the trending event totals are inconsistent")
    keys = decode_keys(a, m, "trending")
    new._win, new._snaps = np.array(win), np.array(snaps)
    new._snap_tot, new._tot = np.array(snap_tot), np.array(tot)
    new._set_candidates(
        h1.tolist(), h2.tolist(), est.tolist(), keys, current=current, first=first, started=started
    )
    return new
