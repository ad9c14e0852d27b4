"""Build containers the way an attacker would: any header, any metadata, any
payload, with valid CRCs (the CRC detects corruption, not tampering).

Written from the layout in ``docs/format.md``, independently of ``sysprims._format``.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEADER = struct.Struct("<8sHHI16sIIQQII")


@dataclass
class Raw:
    """A decoded container, every field editable."""

    kind: bytes
    seed: int
    params: Any
    entries: list[dict[str, Any]]
    payload: bytearray
    version: int = 1
    hash_id: int = 1
    magic: bytes = b"SYSPRIMS"
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def array(self, name: str) -> np.ndarray:
        """A writable copy of array ``name``."""
        e = next(e for e in self.entries if e["name"] == name)
        dt = np.dtype(e["dtype"])
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        return np.frombuffer(bytes(self.payload), dtype=dt, count=count, offset=e["offset"]).reshape(e["shape"]).copy()

    def set_array(self, name: str, arr: np.ndarray) -> None:
        """Replace array ``name`` (appended at the end of the payload, 64-byte aligned)."""
        arr = np.ascontiguousarray(arr)
        arr = arr.astype(arr.dtype.newbyteorder("<"))
        self.entries = [e for e in self.entries if e["name"] != name]
        self.payload += b"\x00" * ((-len(self.payload)) % 64)
        off = len(self.payload)
        self.payload += arr.tobytes()
        self.payload += b"\x00" * ((-len(self.payload)) % 64)
        self.entries.append(
            {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": off, "nbytes": arr.nbytes}
        )

    def meta_bytes(self) -> bytes:
        meta = {"params": self.params, "arrays": self.entries, **self.extra_meta}
        raw = json.dumps(meta, sort_keys=True).encode()
        return raw + b"\x00" * ((-len(raw)) % 64)

    def encode(self, meta: bytes | None = None) -> bytes:
        meta = self.meta_bytes() if meta is None else meta
        payload = bytes(self.payload)
        total = HEADER.size + len(meta) + len(payload) + 4
        head = bytearray(
            HEADER.pack(self.magic, self.version, self.hash_id, self.seed, self.kind, len(meta), 0, len(payload), total, 0, 0)
        )
        struct.pack_into("<I", head, 56, zlib.crc32(bytes(head[:56])))
        body = bytes(head) + meta + payload
        return body + struct.pack("<I", zlib.crc32(body))


def decode(blob: bytes) -> Raw:
    magic, version, hash_id, seed, kind, meta_len, _r, payload_len, _t, _c, _r2 = HEADER.unpack_from(blob, 0)
    meta = json.loads(blob[64 : 64 + meta_len].rstrip(b"\x00"))
    payload = bytearray(blob[64 + meta_len : 64 + meta_len + payload_len])
    return Raw(kind.rstrip(b"\x00"), seed, meta["params"], meta["arrays"], payload, version, hash_id, magic)
