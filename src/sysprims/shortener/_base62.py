"""Base62 (the classic primer API's alphabet: digits, lowercase, uppercase), scalar and batch,
and the keyed Feistel permutation that makes counter codes non-enumerable."""

from __future__ import annotations

import string
from typing import Any

import mmh3
import numpy as np

from .._kernels.base62 import (
    _ALPHABET,
    _RANK,
    decode_base62_spans,
    encode_base62_lines,
    feistel_permute,
)
from .._validate import check_int
from ..errors import InvalidParameterError, KeyTypeError
from ..keys import normalize_keys

__all__ = ["BASE62", "FeistelPermutation", "decode_base62", "decode_base62_many", "encode_base62", "encode_base62_many"]

BASE62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
_INDEX = {c: i for i, c in enumerate(BASE62)}
_U64_MAX = (1 << 64) - 1


def encode_base62(num: int, width: int = 0) -> str:
    """``num >= 0`` in base62, left-padded with ``"0"`` to ``width`` characters.

    ``encode_base62(12345) == "3d7"`` (3*62**2 + 13*62 + 7, 'd' is digit 13).
    """
    if isinstance(num, (bool, np.bool_)) or not isinstance(num, (int, np.integer)):
        raise InvalidParameterError(f"num must be an int >= 0, got {type(num).__name__}: {num!r}")
    num = int(num)
    if num < 0:
        raise InvalidParameterError(f"num must be >= 0, got {num}")
    if num == 0:
        out = BASE62[0]
    else:
        digits = []
        while num > 0:
            num, r = divmod(num, 62)
            digits.append(BASE62[r])
        out = "".join(reversed(digits))
    return out.rjust(width, "0") if width else out


def decode_base62(code: str) -> int:
    """Inverse of :func:`encode_base62` (leading ``"0"`` digits are ignored)."""
    if not isinstance(code, str):
        raise InvalidParameterError(f"code must be a str, got {type(code).__name__}: {code!r}")
    if not code:
        raise InvalidParameterError("code must be a non-empty base62 string, got ''")
    num = 0
    for pos, char in enumerate(code):
        d = _INDEX.get(char)
        if d is None:
            raise InvalidParameterError(f"code must use the characters 0-9a-zA-Z, got {char!r} at position {pos} of {code!r}")
        num = num * 62 + d
    return num


def _as_u64(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (list, tuple, range)):
        for pos, v in enumerate(values):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v <= _U64_MAX:
                raise InvalidParameterError(f"{name}[{pos}] must be an int in [0, 2**64 - 1], got {v!r}")
        return np.array(values, dtype=np.uint64)
    arr = np.asarray(values)
    if arr.dtype == object and arr.size:
        try:
            arr = np.asarray([int(v) for v in arr.ravel()], dtype=np.uint64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidParameterError(f"{name} must hold integers in [0, 2**64 - 1]: {exc}") from exc
    if arr.size == 0:
        return np.empty(0, dtype=np.uint64)
    if arr.dtype.kind not in "iu":
        raise InvalidParameterError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.min() < 0:
        raise InvalidParameterError(f"{name} must be >= 0, got {int(arr.min())}")
    return np.ascontiguousarray(arr.ravel(), dtype=np.uint64)


def encode_base62_many(values: Any, width: int = 0) -> list[str]:
    """Batch :func:`encode_base62` over integers in ``[0, 2**64)``: a list of str."""
    width = check_int("width", width, min=0, max=64)
    vals = _as_u64(values, "values")
    if vals.shape[0] == 0:
        return []
    buf = np.empty(vals.shape[0] * (max(width, 11) + 1), dtype=np.uint8)
    used = encode_base62_lines(vals, np.int64(width), _ALPHABET, buf)
    return buf[: used - 1].tobytes().decode("ascii").split("\n")


def decode_base62_many(codes: Any) -> np.ndarray:
    """Batch :func:`decode_base62`: uint64 array; raises on any invalid code
    (empty, outside the alphabet, above 2**64 - 1) naming its position."""
    try:
        batch = normalize_keys(codes)
    except (KeyTypeError, TypeError) as exc:
        raise InvalidParameterError(f"codes must be strings: {exc}") from exc
    if batch.kind != "bytes":
        raise InvalidParameterError("codes must be strings, got integers")
    assert batch.data is not None and batch.starts is not None and batch.ends is not None  # kind "bytes"
    n = batch.starts.shape[0]
    out = np.empty(n, dtype=np.uint64)
    ok = np.empty(n, dtype=np.bool_)
    decode_base62_spans(batch.data, batch.starts, batch.ends, _RANK, out, ok)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raw = bytes(batch.data[batch.starts[bad] : batch.ends[bad]])
        raise InvalidParameterError(
            f"codes[{bad}] must be a non-empty base62 string (0-9a-zA-Z) worth at most 2**64 - 1, got {raw!r}"
        )
    return out


class FeistelPermutation:
    """A keyed bijection of ``[0, 62**length)``: balanced Feistel network
    (``rounds`` rounds, fmix64 round function keyed by MurmurHash3 of the secret)
    over the smallest even bit width covering the domain, with cycle walking.

    Counter values 0, 1, 2, ... map to fixed-length codes that look random and
    cannot be enumerated without the secret; :meth:`inverse` recovers the counter.
    """

    def __init__(self, length: int, secret: bytes | str | int, rounds: int = 8):
        self.length = check_int("length", length, min=1, max=10)
        self.rounds = check_int("rounds", rounds, min=4, max=32)
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        elif isinstance(secret, int) and not isinstance(secret, bool):
            secret = secret.to_bytes(16, "little", signed=True)
        if not isinstance(secret, (bytes, bytearray)):
            raise InvalidParameterError(f"secret must be bytes, str or int, got {type(secret).__name__}")
        self.domain = 62**self.length
        bits = max((self.domain - 1).bit_length(), 2)
        self.half_bits = (bits + 1) // 2
        self._mask = (1 << self.half_bits) - 1
        keys = []
        for r in range(self.rounds):
            h1, _ = mmh3.hash64(bytes(secret) + b"|feistel|" + r.to_bytes(4, "little"), 0, signed=False)
            keys.append(h1)
        self.round_keys = np.array(keys, dtype=np.uint64)
        self._keys = keys

    @staticmethod
    def _f(x: int, k: int) -> int:
        h = x ^ k
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & _U64_MAX
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & _U64_MAX
        h ^= h >> 33
        return h

    def _walk(self, v: int, inverse: bool) -> int:
        hb, mask, f = self.half_bits, self._mask, self._f
        keys = self._keys[::-1] if inverse else self._keys
        while True:
            left, right = v >> hb, v & mask
            if inverse:
                for k in keys:
                    left, right = right ^ (f(left, k) & mask), left
            else:
                for k in keys:
                    left, right = right, left ^ (f(right, k) & mask)
            v = (left << hb) | right
            if v < self.domain:
                return v

    def _check(self, value: int) -> int:
        return check_int("value", value, min=0, max=self.domain - 1)

    def forward(self, value: int) -> int:
        return self._walk(self._check(value), False)

    def inverse(self, value: int) -> int:
        return self._walk(self._check(value), True)

    def forward_many(self, values: Any) -> np.ndarray:
        return self._many(values, False)

    def inverse_many(self, values: Any) -> np.ndarray:
        return self._many(values, True)

    def _many(self, values: Any, inverse: bool) -> np.ndarray:
        vals = _as_u64(values, "values")
        if vals.size and int(vals.max()) >= self.domain:
            raise InvalidParameterError(f"values must be < 62**{self.length} = {self.domain}, got {int(vals.max())}")
        out = np.empty_like(vals)
        feistel_permute(vals, self.round_keys, np.int64(self.half_bits), np.uint64(self.domain), np.bool_(inverse), out)
        return out

    def __repr__(self) -> str:
        return f"FeistelPermutation(length={self.length}, rounds={self.rounds}, domain=62**{self.length})"
