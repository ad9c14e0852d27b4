"""Kernels that turn fixed-width NumPy string arrays into (data, starts, ends)."""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .murmur3 import load64

_LO = np.uint64(0x0101010101010101)
_HI = np.uint64(0x8080808080808080)


def _ex_ucs4():
    codes = np.array([[104, 233, 0], [0x1F600, 0, 0]], dtype=np.uint32)
    return (codes, np.empty(2, dtype=np.int64))


def _ex_fixed():
    return (np.frombuffer(b"ab\x00c\x00\x00", dtype=np.uint8).reshape(2, 3).copy(), np.empty(2, dtype=np.int64))


@kernel(_ex_ucs4)
def ucs4_utf8_lengths(codes, out_lengths):
    """UTF-8 byte length of each row of UCS-4 codes (trailing NULs dropped, as
    NumPy does). Returns the index of the first row with an invalid code point
    (a surrogate or > 0x10FFFF), or -1."""
    n, w = codes.shape
    for i in range(n):
        end = w
        while end > 0 and codes[i, end - 1] == 0:
            end -= 1
        total = 0
        for j in range(end):
            c = codes[i, j]
            if c < 0x80:
                total += 1
            elif c < 0x800:
                total += 2
            elif c < 0x10000:
                if 0xD800 <= c <= 0xDFFF:
                    return i
                total += 3
            elif c <= 0x10FFFF:
                total += 4
            else:
                return i
        out_lengths[i] = total
    return -1


def _ex_encode():
    codes = np.array([[104, 233, 0], [0x1F600, 0, 0]], dtype=np.uint32)
    return (codes, np.array([0, 3, 7], dtype=np.int64), np.empty(7, dtype=np.uint8))


@kernel(_ex_encode)
def ucs4_to_utf8(codes, offsets, out):
    """Encode each row of UCS-4 codes as UTF-8 into out[offsets[i]:offsets[i+1]]."""
    n, w = codes.shape
    for i in range(n):
        p = offsets[i]
        stop = offsets[i + 1]
        j = 0
        while p < stop:
            c = codes[i, j]
            j += 1
            if c < 0x80:
                out[p] = c
                p += 1
            elif c < 0x800:
                out[p] = 0xC0 | (c >> 6)
                out[p + 1] = 0x80 | (c & 0x3F)
                p += 2
            elif c < 0x10000:
                out[p] = 0xE0 | (c >> 12)
                out[p + 1] = 0x80 | ((c >> 6) & 0x3F)
                out[p + 2] = 0x80 | (c & 0x3F)
                p += 3
            else:
                out[p] = 0xF0 | (c >> 18)
                out[p + 1] = 0x80 | ((c >> 12) & 0x3F)
                out[p + 2] = 0x80 | ((c >> 6) & 0x3F)
                out[p + 3] = 0x80 | (c & 0x3F)
                p += 4


@kernel(_ex_fixed)
def fixed_bytes_lengths(rows, out_lengths):
    """Length of each fixed-width bytes row without its trailing NULs."""
    n, w = rows.shape
    for i in range(n):
        end = w
        while end > 0 and rows[i, end - 1] == 0:
            end -= 1
        out_lengths[i] = end


def _ex_split():
    data = np.frombuffer(b"ab\x00\x00cdefghijk\x00l", dtype=np.uint8)
    return (data, np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64))


@kernel(_ex_split)
def split_nul(data, starts, ends):
    """Split ``data`` at NUL bytes into the spans ``starts[i]:ends[i]``.

    Returns the number of spans, or -1 if there are more than ``len(starts)``.
    Reads 8 bytes at a time and looks at single bytes only in words that hold
    a zero byte (the classic ``(w - 0x01..) & ~w & 0x80..`` test).
    """
    n = starts.shape[0]
    size = data.shape[0]
    k = 0
    starts[0] = 0
    p = 0
    while p + 8 <= size:
        w = load64(data, p)
        if ((w - _LO) & ~w & _HI) != 0:
            for j in range(p, p + 8):
                if data[j] == 0:
                    if k + 1 >= n:
                        return -1
                    ends[k] = j
                    k += 1
                    starts[k] = j + 1
        p += 8
    while p < size:
        if data[p] == 0:
            if k + 1 >= n:
                return -1
            ends[k] = p
            k += 1
            starts[k] = p + 1
        p += 1
    ends[k] = size
    return k + 1


def _ex_spans():
    return (np.array([0, 1], dtype=np.int64), np.array([1, 3], dtype=np.int64), 3)


@kernel(_ex_spans)
def first_bad_span(starts, ends, size):
    """Index of the first span outside ``[0, size]`` or reversed, or -1."""
    for i in range(starts.shape[0]):
        s = starts[i]
        e = ends[i]
        if s < 0 or e < s or e > size:
            return i
    return -1
