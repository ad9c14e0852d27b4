"""The follow graph: CSR arrays in both directions plus a buffer of pending
follows and unfollows, merged into the arrays in one vectorised pass."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["FollowGraph"]

_SHIFT = np.int64(32)
_MASK = np.int64((1 << 32) - 1)
MAX_USERS = (1 << 31) - 1


def _empty_csr(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _csr_from_keys(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``row << 32 | col`` keys -> (indptr, indices)."""
    rows = keys >> _SHIFT
    cols = keys & _MASK
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols.astype(np.int64, copy=False)


class FollowGraph:
    """Directed graph ``follower -> followee`` over dense user ids ``0..n-1``.

    Two CSR views (``following``: row = follower, ``followers``: row =
    followee), each row sorted. ``follow``/``unfollow`` are buffered in sets and
    visible immediately; :meth:`compact` merges the buffer into the arrays (done
    automatically when the buffer passes ``max(4096, edges / 4)`` and before every
    batch kernel). Self-follows are rejected.
    """

    def __init__(self, n_users: int = 0):
        self._n = int(n_users)
        self.following_indptr, self.following_indices = _empty_csr(self._n)
        self.followers_indptr, self.followers_indices = _empty_csr(self._n)
        self._add: set[tuple[int, int]] = set()
        self._del: set[tuple[int, int]] = set()
        # per-user views of the buffer
        self._add_out: dict[int, set[int]] = defaultdict(set)  # follower -> followees added
        self._del_out: dict[int, set[int]] = defaultdict(set)
        self._add_in: dict[int, set[int]] = defaultdict(set)  # followee -> followers added
        self._del_in: dict[int, set[int]] = defaultdict(set)

    # -- size ------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self._n

    def resize(self, n_users: int) -> None:
        """Grow to ``n_users`` (new users follow nobody)."""
        if n_users > MAX_USERS:
            raise InvalidParameterError(f"n_users must be <= {MAX_USERS}, got {n_users}")
        extra = n_users - self._n
        if extra <= 0:
            return
        for name in ("following_indptr", "followers_indptr"):
            ptr = getattr(self, name)
            setattr(self, name, np.concatenate([ptr, np.full(extra, ptr[-1], dtype=np.int64)]))
        self._n = n_users

    @property
    def n_edges(self) -> int:
        return int(self.following_indices.shape[0]) + len(self._add) - len(self._del)

    @property
    def pending(self) -> int:
        """Buffered changes not yet merged into the CSR arrays."""
        return len(self._add) + len(self._del)

    # -- scalar ----------------------------------------------------------
    def _in_base(self, u: int, v: int) -> bool:
        lo, hi = self.following_indptr[u], self.following_indptr[u + 1]
        if lo == hi:
            return False
        row = self.following_indices[lo:hi]
        i = int(np.searchsorted(row, v))
        return i < row.shape[0] and int(row[i]) == v

    def is_following(self, u: int, v: int) -> bool:
        if (u, v) in self._add:
            return True
        if (u, v) in self._del:
            return False
        return self._in_base(u, v)

    def follow(self, u: int, v: int) -> bool:
        """Add the edge; True if it was new."""
        if (u, v) in self._del:
            self._del.discard((u, v))
            self._del_out[u].discard(v)
            self._del_in[v].discard(u)
            return True
        if (u, v) in self._add or self._in_base(u, v):
            return False
        self._add.add((u, v))
        self._add_out[u].add(v)
        self._add_in[v].add(u)
        self._maybe_compact()
        return True

    def unfollow(self, u: int, v: int) -> bool:
        """Remove the edge; True if it existed."""
        if (u, v) in self._add:
            self._add.discard((u, v))
            self._add_out[u].discard(v)
            self._add_in[v].discard(u)
            return True
        if (u, v) in self._del or not self._in_base(u, v):
            return False
        self._del.add((u, v))
        self._del_out[u].add(v)
        self._del_in[v].add(u)
        self._maybe_compact()
        return True

    def _row(self, indptr, indices, u, add, dele) -> np.ndarray:
        row = indices[indptr[u]:indptr[u + 1]]
        d = dele.get(u)
        if d:
            row = row[~np.isin(row, np.fromiter(d, dtype=np.int64, count=len(d)))]
        a = add.get(u)
        if a:
            row = np.concatenate([row, np.fromiter(a, dtype=np.int64, count=len(a))])
        return row

    def following(self, u: int) -> np.ndarray:
        """Users that ``u`` follows (int64 array; a view, do not modify)."""
        return self._row(self.following_indptr, self.following_indices, u, self._add_out, self._del_out)

    def followers(self, v: int) -> np.ndarray:
        """Users that follow ``v`` (int64 array; a view, do not modify)."""
        return self._row(self.followers_indptr, self.followers_indices, v, self._add_in, self._del_in)

    def follower_count(self, v: int) -> int:
        base = int(self.followers_indptr[v + 1] - self.followers_indptr[v])
        return base + len(self._add_in.get(v, ())) - len(self._del_in.get(v, ()))

    def follower_counts(self) -> np.ndarray:
        self.compact()
        return np.diff(self.followers_indptr)

    def following_counts(self) -> np.ndarray:
        self.compact()
        return np.diff(self.following_indptr)

    # -- buffer ----------------------------------------------------------
    def _maybe_compact(self) -> None:
        if self.pending > max(4096, self.following_indices.shape[0] // 4):
            self.compact()

    def _base_keys(self) -> np.ndarray:
        rows = np.repeat(np.arange(self._n, dtype=np.int64), np.diff(self.following_indptr))
        return (rows << _SHIFT) | self.following_indices

    @staticmethod
    def _pair_keys(pairs) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.int64)
        arr = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
        return (arr[:, 0] << _SHIFT) | arr[:, 1]

    def _set_keys(self, keys: np.ndarray) -> None:
        """Install sorted unique edge keys as the CSR arrays; clears the buffer."""
        self.following_indptr, self.following_indices = _csr_from_keys(keys, self._n)
        rev = np.sort(((keys & _MASK) << _SHIFT) | (keys >> _SHIFT))
        self.followers_indptr, self.followers_indices = _csr_from_keys(rev, self._n)
        self._add.clear()
        self._del.clear()
        for d in (self._add_out, self._del_out, self._add_in, self._del_in):
            d.clear()

    def compact(self) -> None:
        """Merge the buffered follows/unfollows into the CSR arrays."""
        if not self._add and not self._del:
            return
        keys = self._base_keys()
        if self._del:
            keys = keys[~np.isin(keys, self._pair_keys(self._del))]
        if self._add:
            keys = np.union1d(keys, self._pair_keys(self._add))
        self._set_keys(keys)

    # -- batch -----------------------------------------------------------
    def follow_many(self, followers: np.ndarray, followees: np.ndarray) -> int:
        """Add many edges (validated int64 arrays); returns how many were new."""
        self.compact()
        before = self.following_indices.shape[0]
        keys = np.union1d(self._base_keys(), (followers << _SHIFT) | followees)
        self._set_keys(keys)
        return int(keys.shape[0] - before)

    def unfollow_many(self, followers: np.ndarray, followees: np.ndarray) -> int:
        """Remove many edges; returns how many existed."""
        self.compact()
        keys = self._base_keys()
        keep = ~np.isin(keys, (followers << _SHIFT) | followees)
        removed = int(keys.shape[0] - np.count_nonzero(keep))
        if removed:
            self._set_keys(keys[keep])
        return removed
