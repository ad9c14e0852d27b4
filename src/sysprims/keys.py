"""Key normalisation: the one contract every keyed structure shares.

A *key* is hashed as bytes:

* ``str`` as its UTF-8 encoding;
* ``bytes`` / ``bytearray`` / ``memoryview`` as is;
* ``int`` (Python or NumPy, not ``bool``) in ``[-2**63, 2**64)`` as its 8-byte
  little-endian two's-complement form (so ``-1`` and ``2**64 - 1`` are one key).

A *batch* of keys is a list/tuple/iterable of such keys (all ``str``/bytes-like,
or all ``int``), a NumPy array (unicode, bytes, object of str/bytes, any integer
dtype), a pyarrow ``Array``/``ChunkedArray`` (string, large_string, binary,
large_binary, their views, dictionary-encoded strings, integer types) or a pandas
Series. :func:`normalize_keys` turns any of them into a :class:`KeyBatch`: either
one ``uint8`` buffer with per-key ``starts``/``ends`` (read zero-copy from Arrow
and fixed-width NumPy bytes) or one ``uint64`` array of integer keys.
Anything else raises :class:`~sysprims.errors.KeyTypeError` naming the position
and type of the first bad element.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidParameterError, KeyTypeError

__all__ = ["KeyBatch", "key_to_bytes", "normalize_keys"]

_U64_MASK = (1 << 64) - 1
_INT_MIN = -(1 << 63)
_INT_LIMIT = 1 << 64
_BYTES_LIKE = (bytes, bytearray, memoryview)


@dataclass(frozen=True)
class KeyBatch:
    """A normalised batch of ``n`` keys.

    ``kind == "bytes"``: key ``i`` is ``data[starts[i]:ends[i]]`` (``data`` a
    C-contiguous uint8 array, ``starts``/``ends`` int64 arrays of length ``n``).
    ``kind == "int"``: key ``i`` is the 8 little-endian bytes of ``ints[i]``
    (a C-contiguous uint64 array of length ``n``).

    Kinds, dtypes and shapes are checked when a batch is built; the spans are
    checked against ``data`` whenever a batch enters :func:`normalize_keys`
    (so every public method that takes keys), since array contents can change
    after construction. A batch that fails raises
    :class:`~sysprims.errors.InvalidParameterError` and never reaches a kernel.
    """

    kind: str
    n: int
    data: np.ndarray | None = None
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    ints: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_layout(self)

    def __len__(self) -> int:
        return self.n

    def key_bytes(self, i: int) -> bytes:
        """The bytes that key ``i`` is hashed as."""
        if self.kind == "int":
            assert self.ints is not None
            return int(self.ints[i]).to_bytes(8, "little")
        assert self.data is not None and self.starts is not None and self.ends is not None
        return self.data[self.starts[i] : self.ends[i]].tobytes()

    def lengths(self) -> np.ndarray:
        """Byte length of every key (8 for integer keys)."""
        if self.kind == "int":
            return np.full(self.n, 8, dtype=np.int64)
        assert self.starts is not None and self.ends is not None
        return self.ends - self.starts


def _is_array(a: Any, dtype: type, n: int | None, contiguous: bool) -> bool:
    return (
        type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1
        and (n is None or a.shape[0] == n) and (a.flags.c_contiguous or not contiguous)
    )


def _check_layout(b: KeyBatch) -> None:
    """Kinds, dtypes and shapes of a batch (O(1))."""
    n = b.n
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidParameterError(f"KeyBatch.n must be an int >= 0, got {n!r}")
    if b.kind == "int":
        if not _is_array(b.ints, np.uint64, n, True):
            raise InvalidParameterError(
                f"KeyBatch of kind 'int' needs ints: a C-contiguous uint64 array of length n ({n}), "
                f"got {_describe(b.ints)}"
            )
    elif b.kind == "bytes":
        if not _is_array(b.data, np.uint8, None, True):
            raise InvalidParameterError(
                f"KeyBatch of kind 'bytes' needs data: a C-contiguous 1-D uint8 array, got {_describe(b.data)}"
            )
        for name, arr in (("starts", b.starts), ("ends", b.ends)):
            if not _is_array(arr, np.int64, n, False):
                raise InvalidParameterError(
                    f"KeyBatch of kind 'bytes' needs {name}: an int64 array of length n ({n}), "
                    f"got {_describe(arr)}"
                )
    else:
        raise InvalidParameterError(f"KeyBatch.kind must be 'bytes' or 'int', got {b.kind!r}")


def _check_batch(b: KeyBatch, name: str) -> KeyBatch:
    """A batch handed in by a caller: its layout again, and every span inside ``data``."""
    _check_layout(b)
    if b.kind == "bytes" and b.n:
        from ._kernels.keybuf import first_bad_span

        assert b.data is not None and b.starts is not None and b.ends is not None
        bad = int(first_bad_span(b.starts, b.ends, b.data.shape[0]))
        if bad >= 0:
            raise InvalidParameterError(
                f"{name} is a KeyBatch whose key {bad} spans [{int(b.starts[bad])}, {int(b.ends[bad])}), "
                f"outside its data of {b.data.shape[0]} bytes (need 0 <= start <= end <= len(data))"
            )
    return b


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray):
        layout = "" if a.flags.c_contiguous else "non-contiguous "
        return f"a {layout}{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def key_to_bytes(key: Any) -> bytes:
    """The bytes a single key is hashed as (see the module docstring)."""
    if type(key) is str:  # the hot case first: one C call when the str is valid UTF-8
        try:
            return key.encode()
        except UnicodeEncodeError:
            pass
    if isinstance(key, str):
        return _encode_str(key, None)
    if isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return _int_to_bytes(int(key), None)
    raise KeyTypeError(
        f"key must be str, bytes or int, got {type(key).__name__}: {_short(key)}"
    )


def normalize_keys(keys: Any, name: str = "keys") -> KeyBatch:
    """Normalise any accepted batch form into a :class:`KeyBatch`."""
    if isinstance(keys, KeyBatch):
        return _check_batch(keys, name)
    if isinstance(keys, np.ndarray):
        return _from_numpy(keys, name)
    module = type(keys).__module__
    if module.startswith("pyarrow"):
        return _from_arrow(keys, name)
    if module.startswith("pandas"):
        return normalize_keys(keys.to_numpy(), name)
    if isinstance(keys, (str, bytes, bytearray, memoryview, int)):
        raise KeyTypeError(
            f"{name} must be a batch of keys (list, tuple, NumPy or Arrow array), "
            f"got a single {type(keys).__name__}; wrap a single key in a list"
        )
    if not isinstance(keys, (list, tuple)):
        if not isinstance(keys, Iterable):
            raise KeyTypeError(
                f"{name} must be a batch of keys (list, tuple, NumPy or Arrow array), "
                f"got {type(keys).__name__}"
            )
        keys = list(keys)
    return _from_sequence(keys, name)


# ----------------------------------------------------------------- sequences


def _from_sequence(keys: list | tuple, name: str) -> KeyBatch:
    n = len(keys)
    if n == 0:
        return _empty_bytes()
    first = keys[0]
    if isinstance(first, str):
        return _from_str_sequence(keys, name)
    if isinstance(first, _BYTES_LIKE):
        return _from_bytes_sequence(keys, name)
    if isinstance(first, (int, np.integer)) and not isinstance(first, (bool, np.bool_)):
        return _from_int_sequence(keys, name)
    raise _bad_element(name, 0, first, "a str, bytes or int key")


def _from_str_sequence(keys: list | tuple, name: str) -> KeyBatch:
    len(keys)
    try:
        joined = "\x00".join(keys)
    except TypeError:
        raise _first_bad(keys, name, str, "a str (the batch started with str)") from None
    try:
        data = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    except UnicodeEncodeError:
        for i, k in enumerate(keys):
            _encode_str(k, (name, i))
        raise  # pragma: no cover - one key must have failed above
    return _split_joined(data, keys)


def _split_joined(data: np.ndarray, keys: list | tuple) -> KeyBatch:
    """Split keys joined with NUL separators (one jitted scan instead of a
    Python-level ``len`` per key); falls back when a key itself holds a NUL."""
    from ._kernels.keybuf import split_nul

    n = len(keys)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    if split_nul(data, starts, ends) != n:
        if isinstance(keys[0], str):
            return _pack([k.encode("utf-8") for k in keys])
        return _pack([bytes(k) if isinstance(k, memoryview) else k for k in keys])
    return KeyBatch("bytes", n, data=data, starts=starts, ends=ends)


def _from_bytes_sequence(keys: list | tuple, name: str) -> KeyBatch:
    try:
        joined = b"\x00".join(keys)  # type-checks every element at C speed
    except TypeError:
        raise _first_bad(keys, name, _BYTES_LIKE, "bytes-like (the batch started with bytes)") from None
    return _split_joined(np.frombuffer(joined, dtype=np.uint8), keys)


def _from_int_sequence(keys: list | tuple, name: str) -> KeyBatch:
    types = set(map(type, keys))
    if types != {int}:
        for i, k in enumerate(keys):
            if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)):
                raise _bad_element(name, i, k, "an int (the batch started with int)")
    try:
        arr = np.array(keys, dtype=np.int64)
        return KeyBatch("int", len(arr), ints=arr.view(np.uint64))
    except OverflowError:
        pass
    values = [int(k) for k in keys]
    for i, v in enumerate(values):
        if not _INT_MIN <= v < _INT_LIMIT:
            _int_to_bytes(v, (name, i))
    arr = np.array([v & _U64_MASK for v in values], dtype=np.uint64)
    return KeyBatch("int", len(arr), ints=arr)


def _pack(byte_keys: list | tuple) -> KeyBatch:
    n = len(byte_keys)
    lengths = np.fromiter(map(len, byte_keys), dtype=np.int64, count=n)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    data = np.frombuffer(b"".join(byte_keys), dtype=np.uint8)
    return KeyBatch("bytes", n, data=data, starts=starts, ends=ends)


def _empty_bytes() -> KeyBatch:
    z = np.zeros(0, dtype=np.int64)
    return KeyBatch("bytes", 0, data=np.zeros(0, dtype=np.uint8), starts=z, ends=z)


# --------------------------------------------------------------------- numpy


def _from_numpy(arr: np.ndarray, name: str) -> KeyBatch:
    if arr.ndim != 1:
        raise KeyTypeError(
            f"{name} must be one column of keys (a 1-D array), got an array of shape {arr.shape}; "
            "pass one column, e.g. df['user'] or arr[:, 0]"
        )
    kind = arr.dtype.kind
    if kind in "iu":
        if kind == "i":
            ints = arr.astype(np.int64, copy=False).view(np.uint64)
        else:
            ints = arr.astype(np.uint64, copy=False)
        return KeyBatch("int", arr.shape[0], ints=np.ascontiguousarray(ints))
    if kind == "U":
        return _from_unicode_array(arr, name)
    if kind == "S":
        return _from_fixed_bytes_array(arr)
    if kind == "O":
        return _from_sequence(arr.tolist(), name)
    if kind == "T":  # NumPy 2 StringDType
        return _from_sequence(arr.tolist(), name)
    raise KeyTypeError(
        f"{name} has dtype {arr.dtype}, which is not a key type; "
        "use str, bytes or integer keys"
    )


def _from_unicode_array(arr: np.ndarray, name: str) -> KeyBatch:
    from ._kernels.keybuf import ucs4_to_utf8, ucs4_utf8_lengths

    n = arr.shape[0]
    width = arr.dtype.itemsize // 4
    if n == 0:
        return _empty_bytes()
    if width == 0:
        z = np.zeros(n, dtype=np.int64)
        return KeyBatch("bytes", n, data=np.zeros(0, dtype=np.uint8), starts=z, ends=z)
    codes = np.ascontiguousarray(arr).view(np.uint32).reshape(n, width)
    lengths = np.empty(n, dtype=np.int64)
    bad = ucs4_utf8_lengths(codes, lengths)
    if bad >= 0:
        raise KeyTypeError(
            f"{name}[{bad}] is not valid Unicode (it holds a surrogate or a code point "
            f"beyond U+10FFFF): {_short(arr[bad])}"
        )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.empty(offsets[-1], dtype=np.uint8)
    ucs4_to_utf8(codes, offsets, data)
    return KeyBatch("bytes", n, data=data, starts=offsets[:-1], ends=offsets[1:])


def _from_fixed_bytes_array(arr: np.ndarray) -> KeyBatch:
    from ._kernels.keybuf import fixed_bytes_lengths

    n = arr.shape[0]
    width = arr.dtype.itemsize
    if n == 0 or width == 0:
        z = np.zeros(n, dtype=np.int64)
        return KeyBatch("bytes", n, data=np.zeros(0, dtype=np.uint8), starts=z, ends=z)
    rows = np.ascontiguousarray(arr).view(np.uint8).reshape(n, width)
    lengths = np.empty(n, dtype=np.int64)
    fixed_bytes_lengths(rows, lengths)
    starts = np.arange(n, dtype=np.int64) * width
    return KeyBatch("bytes", n, data=rows.reshape(-1), starts=starts, ends=starts + lengths)


# --------------------------------------------------------------------- arrow


def _from_arrow(obj: Any, name: str) -> KeyBatch:
    import pyarrow as pa

    if isinstance(obj, pa.ChunkedArray):
        obj = obj.combine_chunks() if obj.num_chunks != 1 else obj.chunk(0)
    if not isinstance(obj, pa.Array):
        raise KeyTypeError(f"{name} must be a pyarrow Array or ChunkedArray, got {type(obj).__name__}")
    t = obj.type
    if pa.types.is_dictionary(t):
        obj = obj.dictionary_decode()
        t = obj.type
    if obj.null_count:
        first_null = int(np.flatnonzero(~np.asarray(obj.is_valid()))[0])
        raise KeyTypeError(f"{name}[{first_null}] is null; keys cannot be null")
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        obj = obj.cast(pa.large_binary())
        t = obj.type
    if pa.types.is_integer(t):
        return _from_numpy(obj.to_numpy(zero_copy_only=False), name)
    if pa.types.is_string(t) or pa.types.is_binary(t):
        off_dtype = np.int32
    elif pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        off_dtype = np.int64
    else:
        raise KeyTypeError(
            f"{name} is an Arrow array of type {t}, which is not a key type; "
            "use string, binary or integer arrays"
        )
    n = len(obj)
    _validity, offsets_buf, data_buf = obj.buffers()[:3]
    offsets = np.frombuffer(offsets_buf, dtype=off_dtype)[obj.offset : obj.offset + n + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None and data_buf.size
        else np.zeros(0, dtype=np.uint8)
    )
    offsets = offsets.astype(np.int64)
    return KeyBatch("bytes", n, data=data, starts=offsets[:-1], ends=offsets[1:])


# ------------------------------------------------------------------- helpers


def _encode_str(s: str, where: tuple[str, int] | None) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        loc = f"{where[0]}[{where[1]}]" if where else "key"
        raise KeyTypeError(
            f"{loc} is a str that cannot be encoded as UTF-8 (lone surrogate): {_short(s)}"
        ) from None


def _int_to_bytes(v: int, where: tuple[str, int] | None) -> bytes:
    if not _INT_MIN <= v < _INT_LIMIT:
        loc = f"{where[0]}[{where[1]}]" if where else "key"
        raise InvalidParameterError(
            f"{loc} must be an int in [-2**63, 2**64) to be hashed as 8 bytes, got {v}"
        )
    return (v & _U64_MASK).to_bytes(8, "little")


def _first_bad(keys: Iterable[Any], name: str, ok: type | tuple[type, ...], expected: str) -> KeyTypeError:
    for i, k in enumerate(keys):
        if not isinstance(k, ok):
            return _bad_element(name, i, k, expected)
    return KeyTypeError(f"{name} holds an element that is not {expected}")  # pragma: no cover


def _bad_element(name: str, i: int, value: Any, expected: str) -> KeyTypeError:
    if value is None or type(value).__name__ in ("NAType", "NaTType") or (
        isinstance(value, (float, np.floating)) and value != value  # NaN, pandas' missing value
    ):
        return KeyTypeError(
            f"{name}[{i}] is a missing value ({_short(value)}, of type {type(value).__name__}); keys cannot be missing: "
            "drop them (e.g. s.dropna()) or fill them (e.g. s.fillna('')) first"
        )
    return KeyTypeError(
        f"{name}[{i}] must be {expected}, got {type(value).__name__}: {_short(value)}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
