"""Autocomplete: ranked prefix completion.

* :class:`Autocomplete` - the array-backed index: ``from_words(words, frequencies)``,
  exact top-k ``suggest``/``suggest_many``, incremental ``add_search``/``increment``,
  ``save``/``load``.
* :class:`Trie`, :class:`TrieNode`, :class:`AutocompleteSystem` - the classic primer API,
  backed by the same index (no subtree walk per query).
"""

from __future__ import annotations

from ._index import Autocomplete, WordTooLongError
from ._seed import AutocompleteSystem, Trie, TrieNode

__all__ = ["Autocomplete", "AutocompleteSystem", "Trie", "TrieNode", "WordTooLongError"]
