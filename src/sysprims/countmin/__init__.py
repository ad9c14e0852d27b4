"""Count-Min Sketch (frequency estimation), streaming top-K, and trending keys over time.

* :class:`CountMinSketch` - the classic primer API's ``CountMinSketch(width, depth)`` with
  ``update``/``query``/``top_k``, plus NumPy counter tables, batch twins,
  conservative update, merge and persistence;
* :class:`TopK` (alias :class:`HeavyHitters`) - the k heaviest keys of a stream,
  tracked over a Count-Min sketch, mergeable across partitions;
* :class:`TrendingTopK` - a sliding-window Count-Min over ``(key, timestamp)``
  events: windowed counts, windowed heavy hitters and rising keys (:class:`Trend`).
"""

from __future__ import annotations

from .sketch import CountMinSketch
from .topk import HeavyHitters, TopK
from .trending import Trend, TrendingTopK

__all__ = ["CountMinSketch", "HeavyHitters", "TopK", "Trend", "TrendingTopK"]
