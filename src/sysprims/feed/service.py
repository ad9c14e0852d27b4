"""The classic primer API: ``Post`` and ``FanoutService`` over external user ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .._html import html_table
from .._validate import check_int
from ..errors import InvalidParameterError, KeyTypeError, NotFoundError
from .store import MODELS, FeedStore

__all__ = ["Post", "FanoutService"]


@dataclass
class Post:
    """One post, as in the classic primer API (``timestamp`` is a timezone-aware UTC datetime)."""

    post_id: int
    author_id: Any
    content: str
    timestamp: datetime

    def __lt__(self, other: Post) -> bool:
        return self.timestamp > other.timestamp  # reversed: newest first in a min-heap


def _check_user_id(name: str, value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, str)):
        raise KeyTypeError(f"{name} must be an int or a str, got {type(value).__name__}: {value!r}")
    return int(value) if isinstance(value, np.integer) else value


class FanoutService:
    """News feed with fan-out on write (push), on read (pull) and hybrid.

    The classic primer API over any external user ids (int or str), mapped to dense
    ids of a :class:`~sysprims.feed.FeedStore` (``self.store``) on first use.

    Differences from the textbook implementation (its flaws, fixed): feeds are never re-sorted
    (timelines are kept in post order); each timeline keeps the newest
    ``timeline_capacity`` posts; an author with more than
    ``celebrity_threshold`` followers when posting is not fanned out and
    hybrid reads pull those posts exactly once; a user cannot follow themselves.
    """

    def __init__(self, celebrity_threshold: int | None = 1_000_000, *, timeline_capacity: int = 800,
                 clock: Any = None):
        self.store = FeedStore(0, capacity=timeline_capacity, celebrity_threshold=celebrity_threshold, clock=clock)
        self._dense: dict[Any, int] = {}
        self._external: list[Any] = []
        self._contents: list[str] = []
        self._posts: list[Post | None] = []  # Post objects, built once on first read
        self._post_ids = np.zeros(0, dtype=np.int64)

    @property
    def celebrity_threshold(self) -> int | None:
        return self.store.celebrity_threshold

    @property
    def timeline_capacity(self) -> int:
        return self.store.capacity

    # -- ids -------------------------------------------------------------
    def user_index(self, user_id: Any, *, create: bool = False) -> int:
        """Dense id of an external user id (``create`` registers unknown ones)."""
        user_id = _check_user_id("user_id", user_id)
        d = self._dense.get(user_id)
        if d is None:
            if not create:
                raise NotFoundError(f"unknown user_id {user_id!r}")
            d = int(self.store.add_users(1)[0])
            self._dense[user_id] = d
            self._external.append(user_id)
        return d

    def user_indices(self, user_ids: Any, *, create: bool = False) -> np.ndarray:
        """Dense ids of many external ids (int64 array)."""
        if isinstance(user_ids, np.ndarray) and user_ids.ndim != 1:
            raise InvalidParameterError(f"user_ids must be 1-dimensional, got shape {user_ids.shape}")
        items = user_ids.tolist() if isinstance(user_ids, np.ndarray) else list(user_ids)
        for i, u in enumerate(items):  # validate every id before registering any
            if isinstance(u, (bool, np.bool_)) or not isinstance(u, (int, np.integer, str)):
                raise KeyTypeError(f"user_ids[{i}] must be an int or a str, got {type(u).__name__}: {u!r}")
        return np.array([self.user_index(u, create=create) for u in items], dtype=np.int64)

    def user_id(self, index: int) -> Any:
        """External id of a dense id."""
        index = check_int("index", index, min=0)
        if index >= len(self._external):
            raise NotFoundError(f"index must be in [0, {len(self._external)}), got {index}")
        return self._external[index]

    # -- classic primer API ---------------------------------------------
    def follow(self, follower_id: Any, followee_id: Any) -> bool:
        """User follows another user; True if the edge is new."""
        _check_user_id("follower_id", follower_id)
        _check_user_id("followee_id", followee_id)
        if follower_id == followee_id:
            raise InvalidParameterError(f"a user cannot follow themselves, got {follower_id!r}")
        return self.store.follow(self.user_index(follower_id, create=True), self.user_index(followee_id, create=True))

    def unfollow(self, follower_id: Any, followee_id: Any) -> bool:
        """Remove a follow; True if it existed (unknown users: False)."""
        _check_user_id("follower_id", follower_id)
        _check_user_id("followee_id", followee_id)
        u, v = self._dense.get(follower_id), self._dense.get(followee_id)
        if u is None or v is None:
            return False
        return self.store.unfollow(u, v)

    def _record_posts(self, post_ids: np.ndarray, contents: list[str]) -> None:
        n = self.store.n_posts
        if self._post_ids.shape[0] < n:
            grown = np.zeros(max(n, 2 * self._post_ids.shape[0], 16), dtype=np.int64)
            grown[: self._post_ids.shape[0]] = self._post_ids
            self._post_ids = grown
        self._post_ids[n - post_ids.shape[0]:n] = post_ids
        self._contents.extend(contents)
        self._posts.extend([None] * len(contents))

    def post_fan_out_on_write(self, user_id: Any, content: str, post_id: int) -> Post:
        """Publish a post and push it to every follower's timeline (unless the
        author is a celebrity, see ``celebrity_threshold``). Returns the Post."""
        if not isinstance(content, str):
            raise InvalidParameterError(f"content must be a str, got {type(content).__name__}")
        post_id = check_int("post_id", post_id, min=-(1 << 63), max=(1 << 63) - 1)
        a = self.user_index(user_id, create=True)
        p = self.store.post(a)
        self._record_posts(np.array([post_id], dtype=np.int64), [content])
        return self._post(p)

    def post_many(self, authors: Any, timestamps: Any = None, *, contents: Any = None, post_ids: Any = None) -> np.ndarray:
        """Publish many posts (external author ids) with one jitted fan-out;
        the same as a loop of :meth:`post_fan_out_on_write`. ``post_ids``
        default to the internal post indices. Returns the post ids."""
        if isinstance(authors, np.ndarray) and authors.ndim != 1:
            raise InvalidParameterError(f"authors must be 1-dimensional, got shape {authors.shape}")
        authors = authors.tolist() if isinstance(authors, np.ndarray) else list(authors)
        n = len(authors)
        if contents is None:
            contents = [""] * n
        else:
            contents = list(contents)
            if len(contents) != n or not all(isinstance(c, str) for c in contents):
                raise InvalidParameterError(f"contents must be {n} strings")
        first = self.store.n_posts
        if post_ids is None:
            ids = np.arange(first, first + n, dtype=np.int64)
        else:
            ids = np.asarray(post_ids)
            if ids.shape != (n,) or (n and ids.dtype.kind not in "iu"):
                raise InvalidParameterError(f"post_ids must be {n} integers, got shape {ids.shape} dtype {ids.dtype}")
            ids = ids.astype(np.int64)
        ts = None if timestamps is None else self.store._timestamps(n, timestamps)  # validated up front
        dense = self.user_indices(authors, create=True)
        self.store.post_many(dense, ts)
        self._record_posts(ids, contents)
        return ids

    def _post(self, p: int) -> Post:
        post = self._posts[p]
        if post is None:
            s = self.store
            ts = datetime.fromtimestamp(float(s._post_ts[p]), tz=timezone.utc)
            post = Post(int(self._post_ids[p]), self._external[int(s._post_author[p])], self._contents[p], ts)
            self._posts[p] = post
        return post

    def _feed(self, user_id: Any, limit: int, model: str) -> list[Post]:
        if type(user_id) is not int and type(user_id) is not str:
            user_id = _check_user_id("user_id", user_id)
        if type(limit) is not int or limit < 0:
            limit = check_int("limit", limit, min=0)
        u = self._dense.get(user_id)
        if u is None:
            return []  # as in the classic primer API: a user never seen has an empty feed
        s = self.store
        if model == "push":
            idx = s._ring(u, min(limit, s.capacity)).tolist()
        else:
            idx = s.feed(u, limit, model).tolist()
        posts, make = self._posts, self._post
        return [posts[p] or make(p) for p in idx]

    def get_feed_push_model(self, user_id: Any, limit: int = 10) -> list[Post]:
        """Newest first from the pre-built timeline (no sort: O(limit))."""
        return self._feed(user_id, limit, "push")

    def get_feed_pull_model(self, user_id: Any, limit: int = 10) -> list[Post]:
        """k-way merge of the followed users' and the user's own posts, O(k + limit log k)."""
        return self._feed(user_id, limit, "pull")

    def get_feed_hybrid(self, user_id: Any, limit: int = 10) -> list[Post]:
        """Timeline merged with the posts of followed celebrities that were not
        pushed; every post appears once, newest first."""
        return self._feed(user_id, limit, "hybrid")

    def get_feeds(self, user_ids: Any, limit: int = 10, model: str = "push") -> tuple[np.ndarray, np.ndarray]:
        """Feeds of many users: ``(post_ids, counts)``, ``post_ids`` is
        ``(n, min(limit, capacity))`` int64 external post ids newest first;
        entries at or past ``counts[i]`` are -1 padding. Unknown users get 0."""
        if model not in MODELS:
            raise InvalidParameterError(f"model must be one of {list(MODELS)}, got {model!r}")
        items = user_ids.tolist() if isinstance(user_ids, np.ndarray) else list(user_ids)
        dense = np.array([self._dense.get(_check_user_id("user_ids", u), -1) for u in items], dtype=np.int64)
        known = dense >= 0
        posts, counts = self.store.get_feeds(dense[known], limit, model)
        out = np.full((dense.shape[0], posts.shape[1]), -1, dtype=np.int64)
        all_counts = np.zeros(dense.shape[0], dtype=np.int64)
        mask = posts >= 0
        mapped = np.where(mask, self._post_ids[np.where(mask, posts, 0)], -1)
        out[known] = mapped
        all_counts[known] = counts
        return out, all_counts

    # -- display ---------------------------------------------------------
    def __repr__(self) -> str:
        s = self.store
        return (f"FanoutService(users={s.n_users}, posts={s.n_posts}, edges={s.graph.n_edges}, "
                f"celebrity_threshold={s.celebrity_threshold}, timeline_capacity={s.capacity})")

    def _repr_html_(self) -> str:
        return html_table("FanoutService", self.store._summary())
