"""A safe, typed encoding of Python values for stores that persist them (the SQLite shards).

:func:`dumps` writes UTF-8 JSON in which what JSON cannot say is tagged:
``bytes`` as ``{"$b": "<base64>"}``, tuples as ``{"$t": [...]}``, and a dict
whose keys are not all plain strings (or that could be mistaken for a tag) as
``{"$d": [[key, value], ...]}``. So ``None``, ``bool``, ``int`` (any size),
``float`` (NaN and infinities included), ``str``, ``bytes``, lists, tuples and
dicts of these come back equal and of the same types. :func:`loads` builds
only those types: reading a crafted file cannot run code. Anything else raises
:class:`~sysprims.errors.SerializationError`.

Pickle is available only where a store is told ``allow_pickle=True``: rows are
then pickled when this encoding cannot hold the value, and pickled rows (a
first byte ``0x80``, which JSON text never starts with) are unpickled. Only
for files nobody else can write to.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..errors import SerializationError

__all__ = ["dumps", "is_pickle", "loads"]

_TAGS = ("$b", "$t", "$d")


def _enc(v: Any) -> Any:
    t = type(v)
    if v is None or t in (bool, int, float, str):
        return v
    if t is list:
        return [_enc(x) for x in v]
    if t is tuple:
        return {"$t": [_enc(x) for x in v]}
    if t in (bytes, bytearray, memoryview):
        return {"$b": base64.b64encode(bytes(v)).decode("ascii")}
    if t is dict:
        if all(type(k) is str for k in v) and not (len(v) == 1 and next(iter(v)) in _TAGS):
            return {k: _enc(x) for k, x in v.items()}
        return {"$d": [[_enc(k), _enc(x)] for k, x in v.items()]}
    raise TypeError(f"{t.__name__} has no safe encoding")


def _key(k: Any) -> Any:
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (tag, body), = v.items()
            if tag == "$b" and isinstance(body, str):
                return base64.b64decode(body)
            if tag == "$t" and isinstance(body, list):
                return tuple(_dec(x) for x in body)
            if tag == "$d" and isinstance(body, list):
                try:
                    return {_key(_dec(k)): _dec(x) for k, x in body}
                except (TypeError, ValueError) as exc:
                    raise SerializationError(f"stored dict is malformed: {exc}") from exc
        return {k: _dec(x) for k, x in v.items()}
    return v


def dumps(value: Any) -> bytes:
    """``value`` as typed JSON bytes; :class:`SerializationError` if it has no safe encoding."""
    try:
        return json.dumps(_enc(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"a value of type {type(value).__name__} cannot be stored safely ({exc}): store None, bool, int, "
            "float, str, bytes, or lists/tuples/dicts of them, or open the store with allow_pickle=True "
            "(only for files nobody else can write to)"
        ) from exc


def is_pickle(data: bytes) -> bool:
    """True for bytes written by pickle (protocol 2 or later)."""
    return bool(data) and data[:1] == b"\x80"


def loads(data: bytes) -> Any:
    """The value :func:`dumps` wrote; never runs code."""
    try:
        return _dec(json.loads(bytes(data).decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SerializationError(f"stored value is not sysprims' typed JSON: {exc}") from exc
