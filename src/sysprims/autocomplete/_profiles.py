"""The parts of :class:`~sysprims.autocomplete.ContextualAutocomplete`'s state: sparse
profiles (word -> boost), checked weight attributes, and per-``(user, region)``
query plans."""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

import numpy as np

from .._validate import check_number
from ..errors import InvalidParameterError
from ._index import Autocomplete

_VERSIONS = itertools.count(1)
_SET_CHARS = 8  # prefixes up to this many characters are answered from a set


class _Weight:
    """A weight attribute: checked (finite, >= 0) when set, stored as ``_uw``, ``_rw`` or
    ``_tw``; every change makes the plans of queries be made again."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_" + name[0] + "w"

    def __get__(self, obj: Any, objtype: Any = None) -> float:
        if obj is None:
            return self  # type: ignore[return-value]  # the descriptor, on the class
        return float(getattr(obj, self.slot))

    def __set__(self, obj: Any, value: float) -> None:
        setattr(obj, self.slot, _weight(self.name, value))
        obj._epoch = getattr(obj, "_epoch", 0) + 1


class _Profile:
    """Sparse word -> boost (>= 0); sorted words and their boosts as an array, and
    every short prefix of its words with the positions ``[lo, hi)`` of the sorted
    words under it, rebuilt on the first query after a change. ``version`` is
    unique to each state of each profile."""

    __slots__ = ("scores", "_words", "_vals", "_prefixes", "version", "ids", "packed")

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self._words: list[str] | None = []
        self._vals = np.zeros(0)
        self._prefixes: dict[str, tuple[int, int]] = {}
        self.version = next(_VERSIONS)
        # (index serial, version, ids of the sorted words in that static index or -1)
        self.ids: tuple[int, int, list[int]] | None = None
        # (index serial, version, (word bytes, offsets, boosts, static ids)) for the kernel
        self.packed: tuple[int, int, tuple[np.ndarray, ...]] | None = None

    def add(self, word: str, by: float) -> None:
        self._words = None
        self.version = next(_VERSIONS)
        self.scores[word] = self.scores.get(word, 0.0) + by

    def arrays(self) -> tuple[list[str], np.ndarray]:
        if self._words is None:
            self._words = sorted(self.scores)
            self._vals = np.array([self.scores[w] for w in self._words], dtype=np.float64)
            # the words under a prefix are contiguous in sorted order: the first and
            # the last word that has it give its range
            first: dict[str, int] = {}
            last: dict[str, int] = {}
            for i, w in enumerate(self._words):
                for j in range(min(len(w), _SET_CHARS) + 1):
                    first.setdefault(w[:j], i)
                    last[w[:j]] = i
            self._prefixes = {q: (lo, last[q] + 1) for q, lo in first.items()}
        return self._words, self._vals

    def prefix_ranges(self) -> dict[str, tuple[int, int]]:
        """Every prefix of at most ``_SET_CHARS`` characters of a word -> its range."""
        if self._words is None:
            self.arrays()
        return self._prefixes

    def range(self, prefix: str) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of the sorted words that start with ``prefix``."""
        words, _ = self.arrays()
        lo = bisect.bisect_left(words, prefix)
        if not prefix:
            return lo, len(words)
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return lo, bisect.bisect_left(words, prefix[:-1] + chr(last + 1), lo)
        hi = lo
        while hi < len(words) and words[hi].startswith(prefix):
            hi += 1
        return lo, hi



class _Plan:
    """What a ``(user, region)`` query needs, made once per state of the profiles and
    weights (``epoch``): the profiles in use and their short prefixes' ranges; for an
    :class:`Autocomplete`, the kernel and its leading arguments (made again when the
    index's static arrays or delta are replaced); and the kept answers of short
    prefixes (cleared when the index's ``version`` moves)."""

    __slots__ = (
        "epoch", "index", "python", "profiles", "active", "ranges", "static", "delta", "head", "fn", "answers", "version",
    )  # fmt: skip

    def __init__(self, epoch: int, index: Any, profiles: tuple[_Profile | None, _Profile | None, _Profile | None]) -> None:
        self.epoch = epoch
        self.index = index
        self.python = type(index) is not Autocomplete  # the pruned search in Python, no kernel
        self.profiles = profiles
        active = [prof for prof in profiles if prof is not None]
        self.active = active or None
        # per profile (user, region, trending; {} when not in use): short prefix -> range
        self.ranges = tuple(prof.prefix_ranges() if prof is not None else {} for prof in profiles)
        self.static: Any = None
        self.delta: Any = None
        self.head: tuple[Any, ...] = ()
        self.fn: Any = None
        self.answers: dict[tuple[str, int], tuple[list[str], list[float]]] = {}
        self.version = -1


def _boost(value: Any, name: str, position: int) -> float:
    v = check_number(name, value)
    if v < 0 or not math.isfinite(v):
        raise InvalidParameterError(
            f"{name} must be finite and >= 0, got {value!r} at position {position}"
        )
    return v


def _weight(name: str, value: Any) -> float:
    return check_number(name, value, min=0.0)
