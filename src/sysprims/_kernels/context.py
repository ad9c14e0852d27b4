"""Batch exact lookups in an autocomplete index's sorted word arrays
(``sysprims.autocomplete.ContextualAutocomplete`` asks for many words at once)."""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .autocomplete import find_exact


def _ro(a):
    a = a.view()
    a.flags.writeable = False
    return a


def _ex():
    data = _ro(np.frombuffer(b"abcabd", dtype=np.uint8))
    offsets = _ro(np.array([0, 3, 6], dtype=np.int64))
    q = _ro(np.frombuffer(b"abdzz", dtype=np.uint8))
    return (data, offsets, q, np.array([0, 3], np.int64), np.array([3, 5], np.int64), np.empty(2, np.int64))


@kernel(_ex)
def find_many(data, offsets, q, starts, ends, out):
    """``out[i]``: index of the word equal to ``q[starts[i]:ends[i]]``, or -1."""
    for i in range(starts.shape[0]):
        out[i] = find_exact(data, offsets, q, starts[i], ends[i])
