"""The binary container every persistent sysprims structure uses.

Layout (all little-endian)::

    offset  size  field
    0       8     magic b"SYSPRIMS"
    8       2     format version (uint16)
    10      2     hash id (uint16; 1 = MurmurHash3_x64_128)
    12      4     seed (uint32)
    16      16    kind (ASCII, NUL-padded), e.g. b"bloom"
    32      4     meta length M (uint32): UTF-8 JSON {"params": ..., "arrays": [...]}
    36      4     reserved (0)
    40      8     payload length P (uint64)
    48      8     total length T of the whole container, CRC included (uint64)
    56      4     CRC32 of bytes 0..56 (the header)
    60      4     reserved (0)
    64      M     meta JSON, then zero padding to a multiple of 64
    ...     P     payload: the arrays, each 64-byte aligned, little-endian
    T-4     4     CRC32 of every byte before it

Each array's entry in the meta JSON gives its name, dtype (``"<u8"``...),
shape and offset within the payload. Truncated, padded or corrupted input
raises :class:`~sysprims.errors.SerializationError`; so do an unknown version
and a kind other than the one expected. ``load(..., mmap=True)`` maps the file
read-only and returns arrays that view it without copying.
"""

from __future__ import annotations

import json
import mmap as _mmap
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from .errors import SerializationError
from .hashing import HASH_ID_MURMUR3_X64_128

__all__ = ["FORMAT_VERSION", "MAGIC", "Container", "Persistable", "load", "pack", "save", "unpack"]

MAGIC = b"SYSPRIMS"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHI16sIIQQII")
assert _HEADER.size == 64
_ALIGN = 64


def _pad(n: int) -> int:
    return (-n) % _ALIGN


@dataclass
class Container:
    """What a container holds once decoded."""

    kind: str
    seed: int
    params: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    hash_id: int = HASH_ID_MURMUR3_X64_128


def pack(
    kind: str,
    params: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
    *,
    seed: int = 0,
    hash_id: int = HASH_ID_MURMUR3_X64_128,
) -> bytes:
    """Encode a container. ``params`` must be JSON-serialisable."""
    kind_b = kind.encode("ascii")
    if not 0 < len(kind_b) <= 16:
        raise ValueError(f"kind must be 1 to 16 ASCII characters, got {kind!r}")
    entries = []
    chunks: list[bytes | memoryview] = []
    offset = 0
    for name, arr in (arrays or {}).items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf" or arr.dtype.hasobject:
            raise ValueError(f"array {name!r} has dtype {arr.dtype}; only numeric arrays are stored")
        le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        raw = memoryview(le).cast("B") if le.size else memoryview(b"")  # type: ignore[arg-type]  # ndarray is a buffer
        entries.append(
            {"name": name, "dtype": le.dtype.str, "shape": list(le.shape), "offset": offset, "nbytes": le.nbytes}
        )
        chunks.append(raw)
        pad = _pad(le.nbytes)
        if pad:
            chunks.append(b"\x00" * pad)
        offset += le.nbytes + pad
    meta = json.dumps({"params": params, "arrays": entries}, sort_keys=True, allow_nan=False).encode()
    meta += b"\x00" * _pad(len(meta))
    payload_len = offset
    total = _HEADER.size + len(meta) + payload_len + 4
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, hash_id, seed, kind_b, len(meta), 0, payload_len, total, 0, 0)
    head = head[:56] + struct.pack("<I", zlib.crc32(head[:56])) + head[60:]
    crc = zlib.crc32(head)
    crc = zlib.crc32(meta, crc)
    for c in chunks:
        crc = zlib.crc32(c, crc)
    return b"".join([head, meta, *chunks, struct.pack("<I", crc)])


def unpack(data: bytes | bytearray | memoryview | _mmap.mmap, *, kind: str | None = None, copy: bool = True) -> Container:
    """Decode and verify a container; ``kind`` (if given) must match.

    With ``copy=False`` the arrays view ``data`` (read-only if ``data`` is).
    """
    buf = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
    size = len(buf)
    if size < _HEADER.size + 4:
        raise SerializationError(f"data is too short to be a sysprims container ({size} bytes)")
    magic, version, hash_id, seed, kind_b, meta_len, _r1, payload_len, total, head_crc, _r2 = _HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise SerializationError(f"not a sysprims container: magic is {bytes(magic)!r}, expected {MAGIC!r}")
    if zlib.crc32(buf[:56]) != head_crc:
        raise SerializationError("the container header is corrupted (header CRC mismatch)")
    if version > FORMAT_VERSION or version < 1:
        raise SerializationError(
            f"container format version {version} is not supported by this sysprims (reads 1..{FORMAT_VERSION})"
        )
    if total != size:
        raise SerializationError(
            f"container is {'truncated' if size < total else 'followed by extra bytes'}: "
            f"header says {total} bytes, got {size}"
        )
    if _HEADER.size + meta_len + payload_len + 4 != total:
        raise SerializationError("the container header is inconsistent (lengths do not add up)")
    stored_crc = struct.unpack_from("<I", buf, size - 4)[0]
    if zlib.crc32(buf[: size - 4]) != stored_crc:
        raise SerializationError("the container is corrupted (CRC32 mismatch)")
    found_kind = bytes(kind_b).rstrip(b"\x00").decode("ascii", "replace")
    if kind is not None and found_kind != kind:
        raise SerializationError(f"expected a {kind!r} container, got {found_kind!r}")
    try:
        meta = json.loads(bytes(buf[_HEADER.size : _HEADER.size + meta_len]).rstrip(b"\x00"))
        params = meta["params"]
        entries = meta["arrays"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SerializationError(f"the container metadata is not valid: {exc}") from None
    base = _HEADER.size + meta_len
    arrays: dict[str, np.ndarray] = {}
    for e in entries:
        try:
            dtype = np.dtype(e["dtype"])
            shape = tuple(int(s) for s in e["shape"])
            off = int(e["offset"])
            nbytes = int(e["nbytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"the container metadata is not valid: {exc}") from None
        count = int(np.prod(shape)) if shape else 1
        if dtype.kind not in "biuf" or count * dtype.itemsize != nbytes or off < 0 or off + nbytes > payload_len:
            raise SerializationError(f"array {e.get('name')!r} lies outside the payload or has a bad shape")
        arr = np.frombuffer(buf, dtype=dtype, count=count, offset=base + off).reshape(shape)
        if dtype.byteorder == ">" or (dtype.byteorder == "=" and not np.little_endian):
            arr = arr.astype(dtype.newbyteorder("="))
        elif copy:
            arr = arr.copy()
        arrays[e["name"]] = arr
    return Container(found_kind, seed, params, arrays, version, hash_id)


def save(path: str | os.PathLike[str], blob: bytes) -> None:
    """Write ``blob`` to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load(path: str | os.PathLike[str], *, kind: str | None = None, mmap: bool = False) -> Container:
    """Read and verify a container file. ``mmap=True`` maps it read-only."""
    with open(path, "rb") as fh:
        if not mmap:
            return unpack(fh.read(), kind=kind)
        if os.fstat(fh.fileno()).st_size == 0:
            raise SerializationError(f"{path} is empty")
        mapped = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
    return unpack(mapped, kind=kind, copy=False)


_P = TypeVar("_P", bound="Persistable")


class Persistable:
    """Mixin: ``to_bytes``/``from_bytes``/``save``/``load`` and pickling.

    A subclass sets ``_KIND`` and implements ``_to_state() -> (params, arrays,
    seed)`` and ``_from_state(container) -> instance``.
    """

    _KIND: ClassVar[str] = ""

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, container: Container) -> Any:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        params, arrays, seed = self._to_state()
        return pack(self._KIND, params, arrays, seed=seed)

    @classmethod
    def from_bytes(cls: type[_P], data: bytes | bytearray | memoryview) -> _P:
        return cls._from_state(unpack(data, kind=cls._KIND))

    def save(self, path: str | os.PathLike[str]) -> None:
        save(path, self.to_bytes())

    @classmethod
    def load(cls: type[_P], path: str | os.PathLike[str], mmap: bool = False) -> _P:
        return cls._from_state(load(path, kind=cls._KIND, mmap=mmap))

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (type(self).from_bytes, (self.to_bytes(),))
