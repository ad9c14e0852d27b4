"""Autocomplete: ranked prefix completion.

* :class:`Autocomplete` - the array-backed index: ``from_words(words, frequencies)``,
  exact top-k ``suggest``/``suggest_many``, incremental ``add_search``/``increment``,
  ``save``/``load``.
* :class:`ContextualAutocomplete` - per-user history, per-region weights and
  trending boosts applied at query time over a shared index, still exact.
* :class:`ShardedAutocomplete` - words routed across indexes by a hash of their
  first characters; answers identical to one index (:func:`merge_ranked` merges).
* :class:`Trie`, :class:`TrieNode`, :class:`AutocompleteSystem` - the classic
  primer API, backed by the same index (no subtree walk per query).
"""

from __future__ import annotations

from ._classic import AutocompleteSystem, Trie, TrieNode
from ._context import ContextualAutocomplete
from ._index import Autocomplete, WordTooLongError
from ._sharded import ShardedAutocomplete, merge_ranked

__all__ = [
    "Autocomplete",
    "AutocompleteSystem",
    "ContextualAutocomplete",
    "ShardedAutocomplete",
    "Trie",
    "TrieNode",
    "WordTooLongError",
    "merge_ranked",
]
