"""Count-Min Sketch (frequency estimation) and a streaming top-K heavy-hitter tracker.

* :class:`CountMinSketch` - the classic primer API's ``CountMinSketch(width, depth)`` with
  ``update``/``query``/``top_k``, plus NumPy counter tables, batch twins,
  conservative update, merge and persistence;
* :class:`TopK` (alias :class:`HeavyHitters`) - the k heaviest keys of a stream,
  tracked over a Count-Min sketch, mergeable across partitions.
"""

from __future__ import annotations

from .sketch import CountMinSketch
from .topk import HeavyHitters, TopK

__all__ = ["CountMinSketch", "HeavyHitters", "TopK"]
