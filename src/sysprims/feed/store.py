"""``FeedStore``: the array engine behind the fan-out service (dense user ids)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._kernels import feed as _k
from .._loadcheck import get_int, refusing
from .._memory import check_fits
from .._validate import check_choice, check_int
from ..clock import resolve_clock
from ..errors import (
    CapacityError,
    ClockMovedBackwardsError,
    InvalidParameterError,
    NotFoundError,
)
from .graph import MAX_USERS, FollowGraph

__all__ = ["FeedStore", "MODELS"]

MODELS = ("push", "pull", "hybrid")
_MODE = {"push": 0, "pull": 1, "hybrid": 2}
_NEVER = (1 << 62)
MAX_POSTS = (1 << 31) - 1


def _grow(arr: np.ndarray, n: int, fill: Any) -> np.ndarray:
    """``arr`` with at least ``n`` rows (capacity doubled), new rows = ``fill``."""
    if arr.shape[0] >= n:
        return arr
    new_len = max(n, 2 * arr.shape[0], 16)
    if fill == 0:  # calloc: untouched pages of a big timeline matrix cost nothing
        out = np.zeros((new_len,) + arr.shape[1:], dtype=arr.dtype)
    else:
        out = np.empty((new_len,) + arr.shape[1:], dtype=arr.dtype)
        out[arr.shape[0]:] = fill
    out[: arr.shape[0]] = arr
    return out


def _as_ids(name: str, values: Any) -> np.ndarray:
    """A 1-D int64 array from a sequence/array of integers (clear errors otherwise)."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidParameterError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise InvalidParameterError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.max() > np.iinfo(np.int64).max:
        raise InvalidParameterError(f"{name} holds values above 2**63-1")
    return arr.astype(np.int64, copy=False)


class FeedStore(Persistable):
    """Timelines, posts and the follow graph over dense user ids ``0..n_users-1``.

    * posts are dense indices in post order; columns ``post_author``,
      ``post_timestamp``; timestamps never decrease, so a feed is ordered by post
      index (newest first) without any sort;
    * every user's timeline is a ring buffer of ``capacity`` int32 post indices (the
      newest ``capacity`` pushed posts are kept, older ones are overwritten);
    * a post is fanned out (pushed) to every follower unless its author has more
      than ``celebrity_threshold`` followers at post time (``None``: never a
      celebrity); such posts go to the author's own timeline only and hybrid
      reads pull them.

    Parameters
    ----------
    n_users: initial number of users (more with :meth:`add_users`).
    timeline_capacity: timeline length per user (default 800), as in
        :class:`FanoutService`; ``capacity=`` is its older name, still accepted.
        The store's ``capacity`` and ``timeline_capacity`` attributes are one value.
    celebrity_threshold: follower count above which posts are pulled, or None.
    clock: clock for posts without explicit timestamps (system clock by default).

    Persistence: ``to_bytes``/``from_bytes``/``save``/``load`` (the clock is not
    saved: a loaded store uses the system clock, set ``store.clock`` to change it).
    """

    _KIND = "feed_store"

    def __init__(self, n_users: int = 0, *, timeline_capacity: int | None = None,
                 celebrity_threshold: int | None = None, clock: Any = None, capacity: int | None = None):
        from .._validate import renamed

        n_users = check_int("n_users", n_users, min=0, max=MAX_USERS)
        timeline_capacity = renamed("timeline_capacity", timeline_capacity, "capacity", capacity, 800)
        self.capacity = check_int("timeline_capacity", timeline_capacity, min=1, max=1 << 20)
        if celebrity_threshold is not None:
            celebrity_threshold = check_int("celebrity_threshold", celebrity_threshold, min=0, max=_NEVER)
        self.celebrity_threshold = celebrity_threshold
        self._clock = resolve_clock(clock)
        self.graph = FollowGraph(0)
        self._n_users = 0
        self._tl = np.zeros((0, self.capacity), dtype=np.int32)  # post indices < 2**31: half the memory traffic
        self._tl_count = np.zeros(0, dtype=np.int64)
        self._author_last = np.zeros(0, dtype=np.int64)
        self._author_last_unpushed = np.zeros(0, dtype=np.int64)
        self._n_posts = 0
        self._post_author = np.zeros(0, dtype=np.int64)
        self._post_ts = np.zeros(0, dtype=np.float64)
        self._post_prev = np.zeros(0, dtype=np.int64)
        self._post_pushed = np.zeros(0, dtype=np.uint8)
        self._prev_unpushed = np.zeros(0, dtype=np.int64)
        self._last_ts = -np.inf
        self.timeline_writes = 0
        if n_users:
            self.add_users(n_users)

    @property
    def timeline_capacity(self) -> int:
        """Timeline length per user (the same value as ``capacity``)."""
        return self.capacity

    # -- users -----------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self._n_users

    @property
    def n_posts(self) -> int:
        return self._n_posts

    def add_users(self, count: int = 1) -> np.ndarray:
        """Create ``count`` users; returns their dense ids."""
        count = check_int("count", count, min=0)
        first, n = self._n_users, self._n_users + count
        if n > MAX_USERS:
            raise InvalidParameterError(f"n_users must be <= {MAX_USERS}, got {n}")
        check_fits(f"a FeedStore of {n} users with timelines of capacity={self.capacity}", n * (4 * self.capacity + 48))
        if n > self._tl.shape[0]:
            self._tl = _grow(self._tl, n, 0)
            self._tl_count = _grow(self._tl_count, n, 0)
            self._author_last = _grow(self._author_last, n, -1)
            self._author_last_unpushed = _grow(self._author_last_unpushed, n, -1)
        self.graph.resize(n)
        self._n_users = n
        return np.arange(first, n, dtype=np.int64)

    def _user(self, name: str, u: Any) -> int:
        u = check_int(name, u, min=0)
        if u >= self._n_users:
            raise NotFoundError(f"{name} must be a user id in [0, {self._n_users}), got {u}")
        return u

    def _users(self, name: str, users: Any) -> np.ndarray:
        arr = _as_ids(name, users)
        if arr.size and (arr.min() < 0 or arr.max() >= self._n_users):
            bad = arr[(arr < 0) | (arr >= self._n_users)][0]
            raise NotFoundError(f"{name} must hold user ids in [0, {self._n_users}), got {int(bad)}")
        return arr

    # -- graph -----------------------------------------------------------
    def follow(self, follower: int, followee: int) -> bool:
        """``follower`` follows ``followee``; True if the edge is new. Only
        later posts are pushed to the follower (pull reads see older ones too)."""
        u, v = self._user("follower", follower), self._user("followee", followee)
        if u == v:
            raise InvalidParameterError(f"a user cannot follow themselves, got follower == followee == {u}")
        return self.graph.follow(u, v)

    def unfollow(self, follower: int, followee: int) -> bool:
        """Remove the edge; True if it existed. Posts already pushed stay in the
        follower's timeline; pull and hybrid reads stop showing the followee's."""
        u, v = self._user("follower", follower), self._user("followee", followee)
        return self.graph.unfollow(u, v)

    def _pairs(self, followers: Any, followees: Any) -> tuple[np.ndarray, np.ndarray]:
        u, v = self._users("followers", followers), self._users("followees", followees)
        if u.shape != v.shape:
            raise InvalidParameterError(f"followers and followees must have the same length, got {u.size} and {v.size}")
        if np.any(u == v):
            i = int(np.flatnonzero(u == v)[0])
            raise InvalidParameterError(f"a user cannot follow themselves, got follower == followee == {int(u[i])} at position {i}")
        return u, v

    def follow_many(self, followers: Any, followees: Any) -> int:
        """Add many edges at once (one vectorised CSR rebuild); returns the number of new edges."""
        return self.graph.follow_many(*self._pairs(followers, followees))

    def unfollow_many(self, followers: Any, followees: Any) -> int:
        """Remove many edges at once; returns how many existed."""
        u, v = self._users("followers", followers), self._users("followees", followees)
        if u.shape != v.shape:
            raise InvalidParameterError(f"followers and followees must have the same length, got {u.size} and {v.size}")
        return self.graph.unfollow_many(u, v)

    def is_following(self, follower: int, followee: int) -> bool:
        return self.graph.is_following(self._user("follower", follower), self._user("followee", followee))

    def followers(self, user: int) -> np.ndarray:
        return self.graph.followers(self._user("user", user)).copy()

    def following(self, user: int) -> np.ndarray:
        return self.graph.following(self._user("user", user)).copy()

    def follower_count(self, user: int) -> int:
        return self.graph.follower_count(self._user("user", user))

    # -- posts -----------------------------------------------------------
    @property
    def post_author(self) -> np.ndarray:
        """Author of every post (read-only view)."""
        v = self._post_author[: self._n_posts].view()
        v.flags.writeable = False
        return v

    @property
    def post_timestamp(self) -> np.ndarray:
        """Timestamp of every post (read-only view)."""
        v = self._post_ts[: self._n_posts].view()
        v.flags.writeable = False
        return v

    def _reserve_posts(self, n: int) -> None:
        if n > MAX_POSTS:
            raise CapacityError(f"a FeedStore holds at most {MAX_POSTS} posts (int32 timelines), asked for {n}")
        if n > self._post_author.shape[0]:
            self._post_author = _grow(self._post_author, n, -1)
            self._post_ts = _grow(self._post_ts, n, 0.0)
            self._post_prev = _grow(self._post_prev, n, -1)
            self._post_pushed = _grow(self._post_pushed, n, 0)
            self._prev_unpushed = _grow(self._prev_unpushed, n, -1)

    def _timestamps(self, n: int, timestamps: Any) -> np.ndarray:
        if timestamps is None:
            now = max(float(self._clock.time()), self._last_ts)  # a clock step back is clamped
            return np.full(n, now, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.ndim == 0:
            ts = np.full(n, float(ts))
        if ts.shape != (n,):
            raise InvalidParameterError(f"timestamps must have one value per post ({n}), got shape {ts.shape}")
        if n == 0:
            return ts
        if not np.all(np.isfinite(ts)):
            raise InvalidParameterError("timestamps must be finite")
        if ts[0] < self._last_ts or np.any(np.diff(ts) < 0):
            raise ClockMovedBackwardsError(
                f"timestamps must not decrease (feeds are kept in post order); last post at {self._last_ts}, "
                f"got {ts[0] if ts[0] < self._last_ts else ts[np.flatnonzero(np.diff(ts) < 0)[0] + 1]}")
        return ts

    def post(self, author: int, timestamp: float | None = None) -> int:
        """Publish one post (timestamp from the clock if None); returns its post index."""
        a = self._user("author", author)
        ts = float(self._timestamps(1, None if timestamp is None else [timestamp])[0])
        p = self._n_posts
        self._reserve_posts(p + 1)
        self._post_author[p] = a
        self._post_ts[p] = ts
        self._post_prev[p] = self._author_last[a]
        self._author_last[a] = p
        cap = self.capacity
        c = self._tl_count[a]
        self._tl[a, c % cap] = p
        self._tl_count[a] = c + 1
        writes = 1
        fol = self.graph.followers(a)
        thr = _NEVER if self.celebrity_threshold is None else self.celebrity_threshold
        if fol.shape[0] > thr:
            self._post_pushed[p] = 0
            self._prev_unpushed[p] = self._author_last_unpushed[a]
            self._author_last_unpushed[a] = p
        else:
            self._post_pushed[p] = 1
            self._prev_unpushed[p] = -1
            if fol.shape[0]:
                pos = self._tl_count[fol]
                self._tl[fol, pos % cap] = p
                self._tl_count[fol] = pos + 1
                writes += fol.shape[0]
        self.timeline_writes += writes
        self._n_posts = p + 1
        self._last_ts = ts
        return p

    def post_many(self, authors: Any, timestamps: Any = None) -> np.ndarray:
        """Publish posts by ``authors`` in order with one jitted fan-out; same
        result as calling :meth:`post` in a loop. Returns the post indices."""
        a = self._users("authors", authors)
        ts = self._timestamps(a.shape[0], timestamps)
        n = a.shape[0]
        first = self._n_posts
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        self.graph.compact()
        self._reserve_posts(first + n)
        self._post_author[first:first + n] = a
        self._post_ts[first:first + n] = ts
        thr = _NEVER if self.celebrity_threshold is None else self.celebrity_threshold
        writes = _k.fanout_many(a, np.int64(first), self.graph.followers_indptr, self.graph.followers_indices,
                                np.int64(thr), self._post_prev, self._post_pushed, self._prev_unpushed,
                                self._author_last, self._author_last_unpushed, self._tl, self._tl_count)
        self.timeline_writes += int(writes)
        self._n_posts = first + n
        self._last_ts = float(ts[-1])
        return np.arange(first, first + n, dtype=np.int64)

    def is_pushed(self, post: int) -> bool:
        """Whether the post was fanned out (False: its author was a celebrity)."""
        p = check_int("post", post, min=0)
        if p >= self._n_posts:
            raise NotFoundError(f"post must be a post index in [0, {self._n_posts}), got {p}")
        return bool(self._post_pushed[p])

    # -- reads -----------------------------------------------------------
    def _limit(self, limit: Any) -> int:
        return min(check_int("limit", limit, min=0), self.capacity)

    def timeline(self, user: int, limit: int = 20) -> np.ndarray:
        """The newest ``limit`` (at most ``capacity``) posts pushed to the user, newest first."""
        if type(user) is int and 0 <= user < self._n_users:  # fast path of the validation
            u = user
        else:
            u = self._user("user", user)
        if type(limit) is not int or limit < 0:
            limit = check_int("limit", limit, min=0)
        if limit > self.capacity:
            limit = self.capacity
        return self._ring(u, limit).astype(np.int64)

    def _ring(self, u: int, limit: int) -> np.ndarray:
        """Newest ``limit`` (<= capacity) entries of row ``u`` (int32, newest first)."""
        c = int(self._tl_count[u])
        k = min(limit, c)
        end = c % self.capacity
        row = self._tl[u]
        if k <= end:
            return row[end - k:end][::-1]
        return np.concatenate([row[:end][::-1], row[self.capacity - (k - end):][::-1]])

    def feed(self, user: int, limit: int = 20, model: str = "push") -> np.ndarray:
        """The user's newest ``limit`` posts (at most ``capacity``) under ``model``:
        ``push`` (timeline), ``pull`` (k-way merge of the followed authors' and
        the user's own posts) or ``hybrid`` (timeline merged with the unpushed
        posts of followed celebrities)."""
        check_choice("model", model, MODELS)
        if model == "push":
            return self.timeline(user, limit)
        u = self._user("user", user)
        limit = self._limit(limit)
        following = self.graph.following(u)
        if not following.flags.c_contiguous:
            following = np.ascontiguousarray(following)
        out = np.empty(limit, dtype=np.int64)
        heap = np.empty(following.shape[0] + 1, dtype=np.int64)
        if model == "pull":
            k = _k.merge_one(following, np.int64(0), np.int64(following.shape[0]), np.int64(u), self._author_last,
                             self._post_prev, self._tl[u], np.int64(0), np.int64(0), np.int64(limit), out, heap)
        else:
            c = int(self._tl_count[u])
            k = _k.merge_one(following, np.int64(0), np.int64(following.shape[0]), np.int64(-1),
                             self._author_last_unpushed, self._prev_unpushed, self._tl[u],
                             np.int64(min(c, self.capacity)), np.int64(c), np.int64(limit), out, heap)
        return out[:k]

    def get_feeds(self, user_ids: Any, limit: int = 20, model: str = "push") -> tuple[np.ndarray, np.ndarray]:
        """Feeds of many users in one kernel call: ``(posts, counts)`` where
        ``posts`` is ``(n, min(limit, capacity))`` int64 (newest first, padded
        with -1) and ``counts[i]`` the number of valid entries of row ``i``.
        Row ``i`` equals ``feed(user_ids[i], limit, model)``."""
        check_choice("model", model, MODELS)
        users = self._users("user_ids", user_ids)
        limit = self._limit(limit)
        self.graph.compact()
        g = self.graph
        check_fits(f"get_feeds of {users.shape[0]} users with limit={limit}", 8 * users.shape[0] * limit)
        out = np.full((users.shape[0], limit), -1, dtype=np.int64)
        counts = np.zeros(users.shape[0], dtype=np.int64)
        if users.shape[0] == 0:
            return out, counts
        max_deg = int(np.diff(g.following_indptr).max()) if self._n_users else 0
        heap = np.empty(max_deg + 1, dtype=np.int64)
        _k.feeds_many(users, np.int64(_MODE[model]), g.following_indptr, g.following_indices, self._author_last,
                      self._post_prev, self._author_last_unpushed, self._prev_unpushed, self._tl, self._tl_count,
                      out, counts, heap)
        return out, counts

    @property
    def clock(self) -> Any:
        return self._clock

    @clock.setter
    def clock(self, clock: Any) -> None:
        self._clock = resolve_clock(clock)

    # -- persistence -----------------------------------------------------
    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        self.graph.compact()
        n, p = self._n_users, self._n_posts
        params: dict[str, Any] = {
            "n_users": n, "capacity": self.capacity, "celebrity_threshold": self.celebrity_threshold,
            "n_posts": p, "last_ts": None if p == 0 else self._last_ts, "timeline_writes": self.timeline_writes,
        }
        arrays: dict[str, np.ndarray] = {
            "tl": self._tl[:n], "tl_count": self._tl_count[:n], "author_last": self._author_last[:n],
            "author_last_unpushed": self._author_last_unpushed[:n],
            "post_author": self._post_author[:p], "post_ts": self._post_ts[:p], "post_prev": self._post_prev[:p],
            "post_pushed": self._post_pushed[:p], "prev_unpushed": self._prev_unpushed[:p],
            "following_indptr": self.graph.following_indptr, "following_indices": self.graph.following_indices,
        }
        return params, arrays, 0

    @classmethod
    def _from_state(cls, container: Container) -> FeedStore:
        from ._loadcheck import check_arrays

        prm = container.params
        with refusing("feedstore state"):
            n = get_int(prm, "n_users", min=0, max=MAX_USERS)
            p = get_int(prm, "n_posts", min=0, max=MAX_POSTS)
            cap = get_int(prm, "capacity", min=1, max=1 << 20)
            store = cls(0, capacity=cap, celebrity_threshold=get_int(prm, "celebrity_threshold", min=0, max=_NEVER, optional=True))
            writes = get_int(prm, "timeline_writes", min=0)
            arr = check_arrays(container.arrays, n, p, cap, prm.get("last_ts"), writes)
        store.add_users(n)
        store._tl[:n] = arr["tl"]
        store._tl_count[:n] = arr["tl_count"]
        store._author_last[:n] = arr["author_last"]
        store._author_last_unpushed[:n] = arr["author_last_unpushed"]
        store._reserve_posts(p)
        for name, attr in (("post_author", "_post_author"), ("post_ts", "_post_ts"), ("post_prev", "_post_prev"),
                           ("post_pushed", "_post_pushed"), ("prev_unpushed", "_prev_unpushed")):
            getattr(store, attr)[:p] = arr[name]
        store._n_posts = p
        store._last_ts = -np.inf if p == 0 else float(prm["last_ts"])
        store.timeline_writes = writes
        ptr, idx = arr["following_indptr"], arr["following_indices"]
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
        keys = (rows << np.int64(32)) | idx
        store.graph._set_keys(keys)
        return store

    # -- display ---------------------------------------------------------
    def _summary(self) -> list[tuple[str, Any]]:
        return [
            ("users", f"{self._n_users:,}"),
            ("follow edges", f"{self.graph.n_edges:,}"),
            ("posts", f"{self._n_posts:,}"),
            ("timeline capacity", self.capacity),
            ("celebrity_threshold", self.celebrity_threshold),
            ("timeline writes", f"{self.timeline_writes:,}"),
            ("writes per post", f"{self.timeline_writes / max(self._n_posts, 1):.2f}"),
        ]

    def __repr__(self) -> str:
        return (f"FeedStore(n_users={self._n_users}, capacity={self.capacity}, "
                f"celebrity_threshold={self.celebrity_threshold}, posts={self._n_posts}, "
                f"edges={self.graph.n_edges})")

    def _repr_html_(self) -> str:
        return html_table("FeedStore", self._summary())
