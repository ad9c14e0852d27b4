"""One array index of :class:`~sysprims.autocomplete.Autocomplete`: the sorted words,
their frequencies, the segment tree, the heavy-prefix table, and the words
decoded so far.

The kernels (``sysprims._kernels.autocomplete`` and ``..autocomplete_table``)
take these arrays; words and offsets go to them read-only (one compiled
variant, and the same type as arrays mapped from a file).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._kernels import autocomplete as _k
from .._kernels import autocomplete_table as _t
from .._loadcheck import get_array, non_decreasing, require
from ..errors import SerializationError

_EMPTY_U8 = np.frombuffer(b"", dtype=np.uint8)
_SERIALS = itertools.count(1)


def _u8(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint8)


def _readonly(a: np.ndarray) -> np.ndarray:
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


class _Arrays:
    """Sorted words in a buffer, offsets, frequencies, segment tree, heavy-prefix table.

    ``names`` caches the words already returned as ``str`` (``None`` where not
    decoded yet, ``decoded`` says which): an answer decodes each of its words
    once, later answers reuse the objects. The cache grows with the words ever
    suggested (the top words of the prefixes asked), not with the vocabulary.
    """

    __slots__ = ("data", "offsets", "freq", "tree", "slots", "heavy", "blob", "names", "decoded", "args", "entries", "serial")

    def __init__(self, data: np.ndarray, offsets: np.ndarray, freq: np.ndarray) -> None:
        self.blob = data.base if isinstance(data.base, bytes) else data.tobytes()
        self.data = _readonly(data)
        self.offsets = _readonly(offsets)
        self.freq = freq
        self.tree = np.zeros(_k.tree_size(freq.shape[0]), dtype=np.int64)
        if freq.shape[0]:
            _k.tree_build(freq, self.tree)
        self.slots, self.heavy = _t.table_build(self.data, self.offsets, self.freq, self.tree)
        self.names = np.empty(freq.shape[0], dtype=object)  # None until decoded
        self.decoded = np.zeros(freq.shape[0], dtype=bool)
        # the six arrays every query and update kernel takes, in their order
        self.args = (self.data, self.offsets, self.freq, self.tree, self.slots, self.heavy)
        # compiled query kernels for exactly these arrays' types (``fast_entry``), by name
        self.entries: dict[str, Any] = {}
        self.serial = next(_SERIALS)  # unique to this index: ids stay valid while it is in use

    @classmethod
    def empty(cls) -> _Arrays:
        return cls(_EMPTY_U8, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.float64))

    @classmethod
    def from_sorted(cls, words: list[str], freq: Iterable[float]) -> _Arrays:
        """From words already sorted by code point (unique) and their frequencies."""
        encoded = [w.encode("utf-8") for w in words]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        if encoded:
            np.cumsum(
                np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:]
            )
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, offsets, np.fromiter(freq, dtype=np.float64, count=len(encoded)))

    @classmethod
    def from_container(cls, arrays: dict[str, np.ndarray], max_length: int | None) -> _Arrays:
        """The index saved in a container's arrays, every array checked (a
        ``SerializationError`` for anything a query or update could trip over)."""
        data = get_array(arrays, "data", np.uint8, (None,))
        freq = get_array(arrays, "freq", np.float64, (None,))
        n = freq.shape[0]
        offsets = get_array(arrays, "offsets", np.int64, (n + 1,))
        require(
            offsets[0] == 0 and offsets[-1] == data.shape[0] and non_decreasing(offsets),
            "autocomplete container offsets are not valid",
        )
        require(bool(np.all(np.isfinite(freq) & (freq >= 0))), "autocomplete container frequencies are not finite and >= 0")
        require(_k.strictly_sorted(data, offsets), "autocomplete container words are not sorted and unique")
        try:
            data.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise SerializationError("autocomplete container words are not valid UTF-8") from None
        # every word starts on a character boundary (so each word alone is valid UTF-8)
        starts = offsets[:-1][offsets[:-1] < data.shape[0]]
        require(not np.any((data[starts] & 0xC0) == 0x80), "an autocomplete word does not start on a character boundary")
        if max_length is not None and n:
            chars = np.concatenate([[0], np.cumsum((data & 0xC0) != 0x80, dtype=np.int64)])
            longest = int(np.max(chars[offsets[1:]] - chars[offsets[:-1]]))
            require(longest <= max_length, f"an autocomplete word is longer than max_length={max_length}")
        return cls(data, offsets, np.array(freq, dtype=np.float64))  # freq copied: stays writable

    def __len__(self) -> int:
        return self.freq.shape[0]

    def word(self, i: int) -> str:
        w = self.names[i]
        if w is None:
            w = self.blob[int(self.offsets[i]) : int(self.offsets[i + 1])].decode("utf-8")
            self.names[i] = w
            self.decoded[i] = True
        return w

    def words(self, ids: np.ndarray) -> list[str]:
        """The words of ``ids`` (a few: a single answer), decoding once those not seen before."""
        out = self.names.take(ids).tolist()
        if None in out:
            out = [w if w is not None else self.word(int(i)) for w, i in zip(out, ids.tolist(), strict=True)]
        return out

    def words_many(self, ids: np.ndarray) -> list[str]:
        """:meth:`words` for many ids (the not-yet-decoded ones found by array ops)."""
        missing = np.flatnonzero(~self.decoded.take(ids))
        if missing.size:
            for i in np.unique(ids[missing]).tolist():
                self.word(i)
        return self.names.take(ids).tolist()

    def find(self, key: np.ndarray) -> int:
        if not self.freq.shape[0]:
            return -1
        return int(_k.find_exact(self.data, self.offsets, key, np.int64(0), np.int64(key.shape[0])))

    def set_frequency(self, i: int, value: float) -> None:
        _t.set_frequency(*self.args, np.int64(i), np.float64(value))

    def nbytes(self) -> int:
        """Bytes of the arrays and the word buffer (the decoded-word cache not counted)."""
        shared = isinstance(self.data.base, bytes) and self.data.base is self.blob
        return sum(a.nbytes for a in self.args) + (0 if shared else len(self.blob))
