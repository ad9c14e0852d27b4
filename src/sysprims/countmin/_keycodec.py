"""Keys as the user gave them (str, bytes, int) in three arrays, and back.

Trackers that return keys (top-K, trending) persist them this way: a type code
per key, int64 offsets and one byte buffer. Decoding validates every offset and
code, so a damaged file raises :class:`~sysprims.errors.SerializationError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SerializationError
from ..keys import key_to_bytes

KEY_STR, KEY_BYTES, KEY_INT = 0, 1, 2


def encode_keys(keys: list[Any]) -> dict[str, np.ndarray]:
    types = np.zeros(len(keys), np.uint8)
    blobs = []
    for i, key in enumerate(keys):
        if isinstance(key, str):
            blobs.append(key.encode("utf-8", "surrogatepass"))
        elif isinstance(key, (int, np.integer)):
            types[i] = KEY_INT
            blobs.append(str(int(key)).encode())
        else:
            types[i] = KEY_BYTES
            blobs.append(key_to_bytes(key))
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return {
        "key_types": types,
        "key_offsets": offsets,
        "key_data": np.frombuffer(b"".join(blobs), dtype=np.uint8),
    }


def decode_keys(arrays: dict[str, np.ndarray], m: int, what: str) -> list[Any]:
    try:
        types, offsets, data = arrays["key_types"], arrays["key_offsets"], arrays["key_data"]
    except KeyError as exc:
        raise SerializationError(f"invalid {what} state: missing array {exc}") from None
    ok = (
        types.shape == (m,)
        and types.dtype == np.uint8
        and offsets.shape == (m + 1,)
        and offsets.dtype == np.int64
        and data.ndim == 1
        and data.dtype == np.uint8
        and offsets[0] == 0
        and bool(np.all(np.diff(offsets) >= 0))
        and offsets[-1] == data.shape[0]
    )
    if not ok:
        raise SerializationError(f"the {what} key arrays are inconsistent")
    raw = data.tobytes()
    keys: list[Any] = []
    bounds = offsets.tolist()
    try:
        for i, t in enumerate(types.tolist()):
            b = raw[bounds[i] : bounds[i + 1]]
            if t == KEY_STR:
                keys.append(b.decode("utf-8", "surrogatepass"))
            elif t == KEY_BYTES:
                keys.append(b)
            elif t == KEY_INT:
                keys.append(int(b.decode("ascii")))
            else:
                raise ValueError(f"unknown key type {t}")
    except ValueError as exc:
        raise SerializationError(f"invalid {what} keys: {exc}") from None
    return keys
