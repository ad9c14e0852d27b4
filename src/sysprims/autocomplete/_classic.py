"""The classic primer API's ``TrieNode`` / ``Trie`` / ``AutocompleteSystem``, kept and fixed.

``Trie`` keeps the classic primer API's methods and meaning but stores its words in an
:class:`~sysprims.autocomplete.Autocomplete` index, so ``autocomplete`` ranks a
prefix in ``O(limit log n)`` instead of walking the prefix's whole subtree.
Fixes over the textbook implementation: ties are broken by the word (the textbook implementation's order depended
on insertion order), ``AutocompleteSystem``'s cache no longer serves a short
answer to a later call with a larger ``limit``, ``add_search`` also
invalidates the cached empty prefix, and user text is bounded: words, queries
and prefixes longer than ``max_length`` (1024 characters by default) raise
:class:`~sysprims.autocomplete.WordTooLongError`, and ``add_search`` looks up
only the prefixes as long as a cached one (the textbook version built every prefix of the
query: quadratic work).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import require
from .._validate import check_int
from ..errors import KeyTypeError
from ._index import Autocomplete, WordTooLongError

__all__ = ["AutocompleteSystem", "Trie", "TrieNode"]

DEFAULT_MAX_LENGTH = 1024  # characters of a word, query or prefix


def _check_prefix(name: str, prefix: Any, max_length: int | None) -> str:
    if not isinstance(prefix, str):
        raise KeyTypeError(f"{name} must be a str, got {type(prefix).__name__}: {prefix!r:.60}")
    if max_length is not None and len(prefix) > max_length:
        raise WordTooLongError(f"{name} must be at most max_length={max_length} characters, got {len(prefix)}")
    return prefix


class TrieNode:
    """A node of the classic primer API's pointer trie (``Trie.root`` materialises these)."""

    __slots__ = ("children", "is_end_of_word", "frequency")

    def __init__(self) -> None:
        self.children: dict[str, TrieNode] = {}
        self.is_end_of_word = False
        self.frequency = 0

    def __repr__(self) -> str:
        return f"TrieNode(children={len(self.children)}, is_end_of_word={self.is_end_of_word}, frequency={self.frequency})"


class Trie(Persistable):
    """Prefix tree with ranked completions (the classic primer API).

    Words are taken exactly as given (no case folding, no normalisation), as
    in the classic primer API; words and prefixes longer than ``max_length`` characters raise
    :class:`~sysprims.autocomplete.WordTooLongError`. Frequencies are
    non-negative ints and add up on repeated inserts.
    """

    _KIND = "trie"

    def __init__(self, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        max_length = check_int("max_length", max_length, min=1)
        self._index = Autocomplete(casefold=False, normalize=None, max_length=max_length)

    @property
    def max_length(self) -> int | None:
        """The longest word or prefix accepted (``None``: a trie saved by sysprims 0.1)."""
        return self._index.max_length

    def insert(self, word: str, frequency: int = 1) -> None:
        """Insert ``word`` (or add ``frequency`` to it)."""
        frequency = check_int("frequency", frequency, min=0, max=2**53)
        if not isinstance(word, str):
            raise KeyTypeError(f"word must be a str, got {type(word).__name__}: {word!r:.60}")
        self._index.increment(word, frequency)

    def search(self, word: str) -> bool:
        """True when ``word`` was inserted."""
        return isinstance(word, str) and word in self._index

    def starts_with(self, prefix: str) -> bool:
        """True when some word starts with ``prefix`` (the empty prefix always matches, as in the classic primer API)."""
        _check_prefix("prefix", prefix, self._index.max_length)
        return prefix == "" or self._index.has_prefix(prefix)

    def autocomplete(self, prefix: str, limit: int = 10) -> list[tuple]:
        """Top ``limit`` ``(word, frequency)`` pairs for ``prefix``, by frequency
        (descending), ties by word."""
        _check_prefix("prefix", prefix, self._index.max_length)
        return [(w, int(f)) for w, f in self._index.suggest_with_scores(prefix, limit)]

    # -- the classic primer API's node view, built on demand (O(total characters))
    @property
    def root(self) -> TrieNode:
        """The words as the classic primer API's pointer trie (a snapshot built on each access)."""
        root = TrieNode()
        for word, freq in self._index.items():
            node = root
            for ch in word:
                nxt = node.children.get(ch)
                if nxt is None:
                    nxt = node.children[ch] = TrieNode()
                node = nxt
            node.is_end_of_word = True
            node.frequency = int(freq)
        return root

    def _find_node(self, prefix: str) -> TrieNode | None:
        node = self.root
        for ch in prefix:
            if ch not in node.children:
                return None
            node = node.children[ch]
        return node

    def _dfs_words(self, node: TrieNode, current_word: str, results: list[tuple]) -> None:
        # the textbook recursive walk, with an explicit stack: a long word would
        # exceed Python's recursion limit, and each word is joined once at its end
        path: list[str] = [current_word]
        stack: list[Any] = [iter([("", node)])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                path.pop()
                continue
            ch, child = step
            path.append(ch)
            if child.is_end_of_word:
                results.append(("".join(path), child.frequency))
            stack.append(iter(child.children.items()))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._index

    def _to_state(self) -> tuple[dict[str, Any], dict[str, Any], int]:
        return self._index._to_state()

    @classmethod
    def _from_state(cls, container: Container) -> Trie:
        self = cls()
        index = Autocomplete._from_state(container)
        freq = index._static.freq
        require(
            (index.casefold, index.normalize) == (False, None),
            "a trie keeps words as given (casefold false, normalize null)",
        )
        require(bool(np.all((freq == np.floor(freq)) & (freq <= 2**53))), "trie frequencies must be whole numbers <= 2**53")
        self._index = index
        return self

    def __repr__(self) -> str:
        return f"Trie(words={len(self)})"

    def _repr_html_(self) -> str:
        return html_table(
            "Trie", [("words", f"{len(self):,}"), ("memory", f"{self._index.nbytes / 1e6:.2f} MB")]
        )


class AutocompleteSystem:
    """Search-history autocomplete with a prefix cache (the classic primer API).

    Queries are lower-cased. ``suggest`` answers from ``cache`` when it can;
    ``add_search`` invalidates the cached entries of every prefix of the query
    (the empty prefix included), so a cached answer is never stale. Queries and
    prefixes longer than ``max_length`` characters (after lower-casing) raise
    :class:`~sysprims.autocomplete.WordTooLongError`.
    """

    def __init__(self, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self.trie = Trie(max_length=max_length)
        self.max_length: int = self.trie._index.max_length  # type: ignore[assignment]
        self.cache: dict[str, list[tuple]] = {}
        self._complete: set[str] = set()  # cached prefixes whose list holds every completion
        self._longest_cached = 0  # no cached prefix is longer (only grows)

    def add_search(self, query: str) -> None:
        """Record one search for ``query``."""
        if not isinstance(query, str):
            raise KeyTypeError(f"query must be a str, got {type(query).__name__}: {query!r:.60}")
        q = query.lower()
        self.trie.insert(q, frequency=1)
        self._invalidate_cache(q)

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """The ``limit`` most searched queries starting with ``prefix``."""
        limit = check_int("limit", limit, min=0)
        prefix = _check_prefix("prefix", _check_prefix("prefix", prefix, None).lower(), self.max_length)
        cached = self.cache.get(prefix)
        if cached is not None and (limit <= len(cached) or prefix in self._complete):
            return [word for word, _ in cached[:limit]]
        results = self.trie.autocomplete(prefix, limit)
        self.cache[prefix] = results
        self._longest_cached = max(self._longest_cached, len(prefix))
        if len(results) < limit:
            self._complete.add(prefix)
        else:
            self._complete.discard(prefix)
        return [word for word, _ in results]

    def _invalidate_cache(self, query: str) -> None:
        """Drop the cached answers of every prefix of ``query``, ``""`` included.
        Only prefixes up to the longest cached one can be cached: the work is
        bounded by that length, not by the query's."""
        for i in range(min(len(query), self._longest_cached) + 1):
            prefix = query[:i]
            if prefix in self.cache:
                del self.cache[prefix]
                self._complete.discard(prefix)

    def __repr__(self) -> str:
        return f"AutocompleteSystem(queries={len(self.trie)}, cached_prefixes={len(self.cache)})"

    def _repr_html_(self) -> str:
        return html_table(
            "AutocompleteSystem",
            [("queries", f"{len(self.trie):,}"), ("cached prefixes", len(self.cache))],
        )
