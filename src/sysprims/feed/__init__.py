"""News feed fan-out on array-backed timelines: push, pull and hybrid.

* :class:`FanoutService` and :class:`Post`: the classic primer API over external user ids.
* :class:`FeedStore`: the array engine over dense ids (CSR follow graph,
  post columns, ring-buffer timelines, jitted fan-out and k-way merge).
* :func:`simulate`: write amplification against read latency per strategy.
"""

from __future__ import annotations

from .graph import FollowGraph
from .service import FanoutService, Post
from .simulator import power_law_graph, simulate
from .store import MODELS, FeedStore

__all__ = ["FanoutService", "FeedStore", "FollowGraph", "MODELS", "Post", "power_law_graph", "simulate"]
