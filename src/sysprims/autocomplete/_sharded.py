"""A prefix index split across shards by a hash of each word's first characters.

Every word goes to the shard of ``hash(first prefix_chars characters)`` (after
the index's folding). A prefix at least ``prefix_chars`` long therefore lives
on exactly one shard, which answers alone; a shorter prefix asks every shard
for its own top ``limit`` and merges them. Both give exactly the answer of one
index holding every word (same order, same ties by word): the global top
``limit`` of a prefix is, shard by shard, inside each shard's top ``limit``.

Across processes or machines the same rule holds: route with
:meth:`ShardedAutocomplete.shard_of` (the hash is MurmurHash3 with a fixed
seed, stable across runs and languages), let each server hold one
:class:`Autocomplete`, and merge the ``suggest_with_scores`` answers of the
servers a short prefix needs with :func:`merge_ranked`. With Redis, a shard is
a server (or a hash slot: name keys ``ac:{<shard>}:...``), its index a saved
file or a sorted set per prefix; the merge stays on the client.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from .._validate import check_int
from ..errors import InvalidParameterError
from ..hashing import check_seed, hash128
from ._index import Autocomplete

__all__ = ["ShardedAutocomplete", "merge_ranked"]


def merge_ranked(answers: Iterable[list[tuple[str, float]]], limit: int) -> list[tuple[str, float]]:
    """The best ``limit`` of several ``(word, score)`` lists, each already ranked
    best first (score desc, then word); words are distinct across lists."""
    return heapq.nsmallest(
        limit, (row for rows in answers for row in rows), key=lambda r: (-r[1], r[0])
    )


class ShardedAutocomplete:
    """``shards`` :class:`Autocomplete` indexes routed by the first ``prefix_chars``
    characters of each word; answers equal one index's (tested)."""

    def __init__(
        self, shards: int, *, prefix_chars: int = 2, seed: int = 0, **index_options: Any
    ) -> None:
        self.n_shards = check_int("shards", shards, min=1, max=1 << 16)
        self.prefix_chars = check_int("prefix_chars", prefix_chars, min=1, max=64)
        self.seed = check_seed(seed)
        self.shards = [Autocomplete(**index_options) for _ in range(self.n_shards)]

    @classmethod
    def from_words(
        cls, words: Iterable[str], frequencies: Any = None, *, shards: int, prefix_chars: int = 2, seed: int = 0,
        **index_options: Any,
    ) -> ShardedAutocomplete:  # fmt: skip
        """Build every shard in one call (as :meth:`Autocomplete.from_words`)."""
        self = cls(shards, prefix_chars=prefix_chars, seed=seed, **index_options)
        words = list(words)
        freq = [1.0] * len(words) if frequencies is None else list(frequencies)
        if len(freq) != len(words):
            raise InvalidParameterError(
                f"frequencies must hold one value per word ({len(words)}), got {len(freq)}"
            )
        probe = self.shards[0]
        groups: list[tuple[list[str], list[float]]] = [([], []) for _ in range(self.n_shards)]
        for i, w in enumerate(words):
            g = groups[self._route(probe._clean_word(w, i))]
            g[0].append(w)
            g[1].append(freq[i])
        opts = {**index_options}
        self.shards = [Autocomplete.from_words(ws, fs, **opts) for ws, fs in groups]
        return self

    # ------------------------------------------------------------ routing

    def _route(self, folded: str) -> int:
        h1, _ = hash128(folded[: self.prefix_chars], self.seed)
        return (h1 * self.n_shards) >> 64

    def shard_of(self, word: str) -> int:
        """The shard that holds ``word`` (and every word sharing its first characters)."""
        return self._route(self.shards[0]._clean_word(word))

    def _clean_word(self, word: Any, position: int | None = None) -> str:
        return self.shards[0]._clean_word(word, position)

    def _clean_prefix(self, prefix: Any) -> bytes:
        return self.shards[0]._clean_prefix(prefix)

    def _fold(self, s: str) -> str:
        return self.shards[0]._fold(s)

    # ------------------------------------------------------------ updates

    def increment(self, word: str, by: float = 1) -> float:
        return self.shards[self.shard_of(word)].increment(word, by)

    def add_search(self, query: str) -> None:
        self.shards[self.shard_of(query)].add_search(query)

    def add_many(self, words: Iterable[str], by: Any = 1) -> None:
        """``increment`` for each word in order (``by``: one number or one per word)."""
        words = list(words)
        bys = list(by) if not isinstance(by, (int, float)) else [by] * len(words)
        for w, b in zip(words, bys, strict=True):
            self.increment(w, b)

    # ------------------------------------------------------------ queries

    def suggest_with_scores(self, prefix: str, limit: int = 10) -> list[tuple[str, float]]:
        """Exactly what one index of every word answers."""
        limit = check_int("limit", limit, min=0)
        p = self._clean_prefix(prefix).decode("utf-8")
        if len(p) >= self.prefix_chars:
            return self.shards[self._route(p)].suggest_with_scores(prefix, limit)
        return merge_ranked((s.suggest_with_scores(prefix, limit) for s in self.shards), limit)

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        return [w for w, _ in self.suggest_with_scores(prefix, limit)]

    def suggest_many(self, prefixes: Iterable[str], limit: int = 10) -> list[list[str]]:
        return [self.suggest(p, limit) for p in prefixes]

    def frequency(self, word: str) -> float:
        return self.shards[self.shard_of(word)].frequency(word)

    @property
    def version(self) -> int:
        """Bumped by every update of any shard (the sum of the shards' versions)."""
        return sum(s.version for s in self.shards)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.shards[self.shard_of(word)]

    def __len__(self) -> int:
        return sum(len(s) for s in self.shards)

    def items(self) -> list[tuple[str, float]]:
        return sorted(row for s in self.shards for row in s.items())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{len(s):,}" for s in self.shards)
        return f"ShardedAutocomplete({self.n_shards} shards by the first {self.prefix_chars} characters: {sizes} words)"
