"""Base62 and keyed-permutation kernels for the URL shortener.

* ``encode_base62_lines`` writes each uint64 as base62 digits followed by a
  newline into one flat byte buffer, so the wrapper turns a whole batch into
  Python strings with one ``bytes.decode().split()``.
* ``decode_base62_spans`` parses codes laid out as (uint8 buffer, int64
  starts/ends), flagging invalid characters and uint64 overflow.
* ``feistel_permute`` applies a keyed bijection of ``[0, domain)``: a balanced
  Feistel network over ``2 * half_bits`` bits with cycle walking.

Alphabet order is the classic primer API's: digits, lowercase, uppercase.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel

_ALPHABET = np.frombuffer(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8
).copy()


def _rank_table() -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(_ALPHABET.tolist()):
        table[c] = i
    return table


_RANK = _rank_table()
_U62 = np.uint64(62)
_MAX_DIGITS = 11  # 62**11 > 2**64


def _examples_encode():
    vals = np.array([0, 61, 62, 2**64 - 1], dtype=np.uint64)
    return [
        (vals, np.int64(0), _ALPHABET, np.empty(vals.shape[0] * 12, dtype=np.uint8)),
        (vals[:3], np.int64(7), _ALPHABET, np.empty(3 * 12, dtype=np.uint8)),
    ]


def _examples_decode():
    data = np.frombuffer(b"0zZ10", dtype=np.uint8).copy()
    starts = np.array([0, 1, 3], dtype=np.int64)
    ends = np.array([1, 3, 5], dtype=np.int64)
    return (data, starts, ends, _RANK, np.empty(3, dtype=np.uint64), np.empty(3, dtype=np.bool_))


def _examples_feistel():
    keys = np.arange(1, 9, dtype=np.uint64)
    vals = np.arange(5, dtype=np.uint64)
    return (vals, keys, np.int64(21), np.uint64(62**7), np.bool_(False), np.empty(5, dtype=np.uint64))


@kernel(_examples_encode)
def encode_base62_lines(values, width, alphabet, out):
    """Write each value's base62 digits (left-padded with '0' to ``width`` if
    ``width > 0``) and a newline into ``out``; returns the number of bytes used.
    ``out`` needs ``len(values) * (max(width, 11) + 1)`` bytes."""
    pos = 0
    digits = np.empty(_MAX_DIGITS, dtype=np.uint8)
    for i in range(values.shape[0]):
        v = values[i]
        nd = 0
        if v == 0:
            digits[0] = alphabet[0]
            nd = 1
        while v > 0:
            digits[nd] = alphabet[np.int64(v % _U62)]
            v = v // _U62
            nd += 1
        for _ in range(width - nd):
            out[pos] = alphabet[0]
            pos += 1
        for j in range(nd - 1, -1, -1):
            out[pos] = digits[j]
            pos += 1
        out[pos] = 10
        pos += 1
    return pos


@kernel(_examples_decode)
def decode_base62_spans(data, starts, ends, rank, out, ok):
    """Parse each span as base62; ``ok[i]`` is False for empty spans, characters
    outside the alphabet, or values above 2**64 - 1."""
    limit = np.uint64(0xFFFFFFFFFFFFFFFF)
    for i in range(starts.shape[0]):
        acc = np.uint64(0)
        good = ends[i] > starts[i]
        for p in range(starts[i], ends[i]):
            r = rank[data[p]]
            if r < 0:
                good = False
                break
            d = np.uint64(r)
            # acc * 62 + d must stay <= 2**64 - 1
            if acc > (limit - d) // _U62:
                good = False
                break
            acc = acc * _U62 + d
        out[i] = acc if good else np.uint64(0)
        ok[i] = good


@kernel(inline="always")
def _round(x, k):
    # fmix64 of (x xor round key): a keyed pseudo-random round function
    h = x ^ k
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@kernel(inline="always")
def feistel_one(v, round_keys, half_bits, domain, inverse):
    mask = (np.uint64(1) << np.uint64(half_bits)) - np.uint64(1)
    hb = np.uint64(half_bits)
    rounds = round_keys.shape[0]
    while True:
        left = v >> hb
        right = v & mask
        if not inverse:
            for r in range(rounds):
                left, right = right, left ^ (_round(right, round_keys[r]) & mask)
        else:
            for r in range(rounds - 1, -1, -1):
                left, right = right ^ (_round(left, round_keys[r]) & mask), left
        v = (left << hb) | right
        if v < domain:
            return v


@kernel(_examples_feistel)
def feistel_permute(values, round_keys, half_bits, domain, inverse, out):
    """Keyed bijection of ``[0, domain)`` (inverse when ``inverse``); inputs must be < domain."""
    for i in range(values.shape[0]):
        out[i] = feistel_one(values[i], round_keys, half_bits, domain, inverse)
