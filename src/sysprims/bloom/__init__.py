"""Bloom filters over packed bit arrays.

* :class:`BloomFilter` - the classic primer API's ``BloomFilter(size, num_hash_functions)``
  with ``add``/``contains``/``false_positive_rate``, plus ``for_capacity``,
  batch twins, a cache-line blocked layout, set algebra and persistence;
* :class:`ScalableBloomFilter` - grows by adding stages, compound rate under target;
* :class:`CountingBloomFilter` - 8-bit saturating counters with ``remove``.
"""

from __future__ import annotations

from ._common import ReadOnlyFilterError
from .counting import CountingBloomFilter
from .filter import BloomFilter
from .scalable import ScalableBloomFilter

__all__ = ["BloomFilter", "CountingBloomFilter", "ReadOnlyFilterError", "ScalableBloomFilter"]
