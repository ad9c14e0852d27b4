"""How results travel to and from the persistent stores.

The SQLite and Redis stores keep each result as bytes made by a *serializer*:
an object with ``dumps(obj) -> bytes`` and ``loads(data) -> obj``.

* :class:`JSONSerializer` (the default) writes UTF-8 JSON. It round-trips
  ``None``, ``bool``, ``int``, ``float``, ``str``, lists and dicts with string
  keys, plus ``bytes`` (tagged as ``{"$bytes": "<base64>"}``). Tuples come back
  as lists. Anything else raises :class:`~sysprims.errors.SerializationError`.
* :class:`PickleSerializer` round-trips any picklable object. Unpickling runs
  code chosen by whoever wrote the bytes, so use it only with a store nobody
  else can write to. It is never the default.

The in-memory store keeps Python objects as they are and uses no serializer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Protocol, runtime_checkable

from ..errors import SerializationError

__all__ = ["JSONSerializer", "PickleSerializer", "Serializer", "fingerprint_of"]


@runtime_checkable
class Serializer(Protocol):
    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _hook(d: dict[str, Any]) -> Any:
    if len(d) == 1 and "$bytes" in d and isinstance(d["$bytes"], str):
        return base64.b64decode(d["$bytes"])
    return d


class JSONSerializer:
    """UTF-8 JSON with ``bytes`` support; safe to read from an untrusted store."""

    name = "json"

    def dumps(self, obj: Any) -> bytes:
        try:
            return json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"result of type {type(obj).__name__} cannot be stored as JSON ({exc}); return plain "
                "data (dict/list/str/int/float/bool/None/bytes) or pass serializer=PickleSerializer() "
                "for a store only you can write to"
            ) from exc

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data, object_hook=_hook)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SerializationError(f"stored result is not valid JSON: {exc}") from exc

    def __repr__(self) -> str:
        return "JSONSerializer()"


class PickleSerializer:
    """Pickle: any picklable result. Only for stores that nobody else can write to."""

    name = "pickle"

    def __init__(self, protocol: int | None = None):
        import pickle

        self._pickle = pickle
        self.protocol = pickle.HIGHEST_PROTOCOL if protocol is None else protocol

    def dumps(self, obj: Any) -> bytes:
        try:
            return self._pickle.dumps(obj, protocol=self.protocol)
        except Exception as exc:  # pickling errors come in many types
            raise SerializationError(f"result of type {type(obj).__name__} cannot be pickled: {exc}") from exc

    def loads(self, data: bytes) -> Any:
        try:
            return self._pickle.loads(data)
        except Exception as exc:
            raise SerializationError(f"stored result cannot be unpickled: {exc}") from exc

    def __repr__(self) -> str:
        return f"PickleSerializer(protocol={self.protocol})"


def fingerprint_of(request: Any) -> str:
    """A SHA-256 hex digest that identifies a request's content.

    ``bytes`` and ``str`` are hashed as they are (``str`` as UTF-8, so ``"a"``
    and ``b"a"`` agree); anything else as canonical JSON (sorted keys, no
    spaces; ``bytes`` inside are base64-tagged), e.g. ``(method, path, body)``
    or a dict of parameters. Dicts that differ only in key order agree.
    """
    if isinstance(request, (bytes, bytearray, memoryview)):
        data = bytes(request)
    elif isinstance(request, str):
        data = request.encode("utf-8")
    else:
        try:
            data = json.dumps(request, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"fingerprint must be str, bytes or JSON-serialisable data, got {type(request).__name__}: {exc}"
            ) from exc
    return hashlib.sha256(data).hexdigest()
