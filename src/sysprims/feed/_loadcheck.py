"""Validation of a saved ``FeedStore``: every index the fan-out and merge
kernels follow, and the linked lists and rings exactly as posting builds them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._loadcheck import get_array, non_decreasing
from .._loadcheck import require as _require


def require(ok: Any, message: str) -> None:
    _require(ok, f"feedstore arrays are inconsistent: {message}")


def _chain(authors: np.ndarray, member: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(prev, last) of the per-author linked lists of the posts where ``member``:
    ``prev[p]`` the author's previous member post (-1), ``last[a]`` the newest."""
    p = authors.shape[0]
    prev = np.full(p, -1, dtype=np.int64)
    last = np.full(n_users, -1, dtype=np.int64)
    idx = np.flatnonzero(member)
    if idx.size:
        order = idx[np.argsort(authors[idx], kind="stable")]
        a = authors[order]
        same = a[1:] == a[:-1]
        prev[order[1:][same]] = order[:-1][same]
        np.maximum.at(last, a, order)
    return prev, last


def check_arrays(
    arrays: dict[str, np.ndarray], n: int, p: int, cap: int, last_ts: Any, writes: int
) -> dict[str, np.ndarray]:
    """The checked arrays of a store of ``n`` users, ``p`` posts and timelines of ``cap``."""
    want = {
        "tl": ((n, cap), np.int32), "tl_count": ((n,), np.int64), "author_last": ((n,), np.int64),
        "author_last_unpushed": ((n,), np.int64), "post_author": ((p,), np.int64),
        "post_ts": ((p,), np.float64), "post_prev": ((p,), np.int64), "post_pushed": ((p,), np.uint8),
        "prev_unpushed": ((p,), np.int64), "following_indptr": ((n + 1,), np.int64),
        "following_indices": ((None,), np.int64),
    }
    a = {name: get_array(arrays, name, dtype, shape) for name, (shape, dtype) in want.items()}
    ptr, idx = a["following_indptr"], a["following_indices"]
    require(ptr[0] == 0 and ptr[-1] == idx.shape[0] and non_decreasing(ptr), "follow graph offsets are not valid")
    require(idx.size == 0 or (idx.min() >= 0 and idx.max() < n), "a followed user id is out of range")
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
    require(not np.any(rows == idx), "the follow graph holds a self-follow")
    keys = (rows << np.int64(32)) | idx
    require(bool(np.all(keys[1:] > keys[:-1])), "the follow graph's rows are not sorted and unique")
    authors, ts, pushed = a["post_author"], a["post_ts"], a["post_pushed"]
    require(p == 0 or (authors.min() >= 0 and authors.max() < n), "a post's author is out of range")
    require(bool(np.all(np.isfinite(ts))) and non_decreasing(ts), "post timestamps are not finite and in order")
    require(
        (p == 0 and last_ts is None)
        or (p > 0 and type(last_ts) in (int, float) and last_ts == ts[-1]),
        f"last_ts {last_ts!r:.40} does not match the posts",
    )
    require(bool(np.all(pushed <= 1)), "post_pushed must hold 0 or 1")
    prev, last = _chain(authors, np.ones(p, dtype=bool), n)
    require(np.array_equal(prev, a["post_prev"]) and np.array_equal(last, a["author_last"]), "the authors' post lists are not valid")
    prev, last = _chain(authors, pushed == 0, n)
    require(
        np.array_equal(prev, a["prev_unpushed"]) and np.array_equal(last, a["author_last_unpushed"]),
        "the celebrities' unpushed post lists are not valid",
    )
    # every live ring entry is a post, strictly newer than the entry before it
    count, tl = a["tl_count"], a["tl"]
    require(bool(np.all(count >= 0)) and int(count.sum(dtype=object)) == writes, "timeline counts do not add up to timeline_writes")
    if p == 0:
        require(not np.any(count), "timelines hold entries but there are no posts")
        return a
    j = np.arange(cap, dtype=np.int64)
    step = max(1, (1 << 20) // cap)  # users per chunk: about 2**20 ring slots at a time
    for lo in range(0, n, step):
        c = count[lo : lo + step]
        live = np.minimum(c, cap)
        pos = (c[:, None] - live[:, None] + j[None, :]) % cap
        ordered = np.take_along_axis(tl[lo : lo + step], pos, axis=1).astype(np.int64)
        mask = j[None, :] < live[:, None]
        require(not np.any(mask & ((ordered < 0) | (ordered >= p))), "a timeline entry is not a post")
        require(not np.any(mask[:, 1:] & (ordered[:, 1:] <= ordered[:, :-1])), "a timeline is not in post order")
        safe = np.where(mask, ordered, 0)
        own = authors[safe] == np.arange(lo, lo + c.shape[0], dtype=np.int64)[:, None]
        require(not np.any(mask & ~own & (pushed[safe] == 0)), "a timeline holds a post that was never pushed")
    return a
