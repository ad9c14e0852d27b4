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
or hash id, a kind other than the one expected, metadata that is not what the
writer writes (non-finite numbers, arrays that overlap, lie outside the payload
or are not 64-byte aligned). ``load(..., mmap=True)`` maps the file read-only
and returns arrays that view it without copying.

The CRCs detect corruption, not tampering: anyone can write a file with valid
CRCs, so every structure validates what it loads (``docs/format.md``).

Kinds are lowercase ASCII words joined by ``_`` (``bloom_counting``); the
spellings sysprims 0.1 wrote (``bloom-counting``, ``countmin``...) are read
as their new names (:data:`LEGACY_KINDS`).
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap as _mmap
import os
import re
import stat as _stat
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from .errors import SerializationError
from .hashing import HASH_ID_MURMUR3_X64_128

__all__ = [
    "FORMAT_VERSION",
    "LEGACY_KINDS",
    "MAGIC",
    "Container",
    "Persistable",
    "load",
    "pack",
    "save",
    "unpack",
]

MAGIC = b"SYSPRIMS"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHI16sIIQQII")
assert _HEADER.size == 64
_ALIGN = 64
_KIND_RE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")

#: Kind spellings written by sysprims 0.1 -> the kind they are read as.
LEGACY_KINDS = {
    "bloom-counting": "bloom_counting",
    "bloom-scalable": "bloom_scalable",
    "countmin": "count_min",
    "topk": "top_k",
    "ratelimiter": "rate_limiter",
    "feedstore": "feed_store",
}


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
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind) or len(kind) > 16:
        raise SerializationError(
            f"kind must be 1 to 16 lowercase ASCII words joined by '_' (e.g. 'bloom_counting'), got {kind!r}"
        )
    kind_b = kind.encode("ascii")
    entries = []
    chunks: list[bytes | memoryview] = []
    offset = 0
    for name, arr in (arrays or {}).items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf" or arr.dtype.hasobject:
            raise SerializationError(f"array {name!r} has dtype {arr.dtype}; only numeric arrays are stored")
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
    if _HEADER.size + meta_len + payload_len + 4 != total or meta_len % _ALIGN:
        raise SerializationError("the container header is inconsistent (lengths do not add up)")
    stored_crc = struct.unpack_from("<I", buf, size - 4)[0]
    if zlib.crc32(buf[: size - 4]) != stored_crc:
        raise SerializationError("the container is corrupted (CRC32 mismatch)")
    if hash_id != HASH_ID_MURMUR3_X64_128:
        raise SerializationError(
            f"container hash id {hash_id} is not supported (this sysprims hashes with "
            f"{HASH_ID_MURMUR3_X64_128} = MurmurHash3_x64_128)"
        )
    found_kind = bytes(kind_b).rstrip(b"\x00").decode("ascii", "replace")
    found_kind = LEGACY_KINDS.get(found_kind, found_kind)
    if kind is not None and found_kind != LEGACY_KINDS.get(kind, kind):
        raise SerializationError(f"expected a {kind!r} container, got {found_kind!r}")
    params, entries = _read_meta(bytes(buf[_HEADER.size : _HEADER.size + meta_len]))
    base = _HEADER.size + meta_len
    arrays: dict[str, np.ndarray] = {}
    end_of_previous = 0
    for name, dtype, shape, off, nbytes in sorted(entries, key=lambda e: (e[3], e[4])):
        if off % _ALIGN or off < end_of_previous or off + nbytes > payload_len:
            raise SerializationError(
                f"array {name!r} overlaps another array, lies outside the payload or is not aligned"
            )
        end_of_previous = off + nbytes
        arr = np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=base + off).reshape(shape)
        if dtype.byteorder == ">" or (dtype.byteorder == "=" and not np.little_endian):
            arr = arr.astype(dtype.newbyteorder("="))
        elif copy:
            arr = arr.copy()
        arrays[name] = arr
    return Container(found_kind, seed, params, arrays, version, hash_id)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} does not fit a float")
    return value


def _read_meta(raw: bytes) -> tuple[dict[str, Any], list[tuple[str, np.dtype, tuple[int, ...], int, int]]]:
    """The params dict and the array entries ``(name, dtype, shape, offset, nbytes)``
    of the meta JSON, checked for exactly the types the writer writes."""
    try:
        meta = json.loads(raw.rstrip(b"\x00"), parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise SerializationError(f"the container metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("params"), dict) or not isinstance(
        meta.get("arrays"), list
    ):
        raise SerializationError("the container metadata must hold a params object and an arrays list")
    entries = []
    names: set[str] = set()
    for e in meta["arrays"]:
        try:
            name, shape, off, nbytes = e["name"], e["shape"], e["offset"], e["nbytes"]
            dtype = np.dtype(e["dtype"]) if isinstance(e["dtype"], str) else None
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"the container metadata has a bad array entry: {exc!r}") from None
        if (
            not isinstance(name, str)
            or name in names
            or dtype is None
            or dtype.kind not in "biuf"
            or dtype.byteorder not in "<>|="
            or not isinstance(shape, list)
            or not all(type(s) is int and s >= 0 for s in shape)
            or type(off) is not int
            or type(nbytes) is not int
            or math.prod(shape) * dtype.itemsize != nbytes
        ):
            raise SerializationError(f"array {str(e.get('name'))[:40]!r} has a bad entry in the metadata")
        names.add(name)
        entries.append((name, dtype, tuple(shape), off, nbytes))
    return meta["params"], entries


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (restored at once)
    os.umask(mask)
    return mask


def replacement_mode(path: str | os.PathLike[str]) -> int:
    """The permission bits an atomic write onto ``path`` should leave: those of
    the file it replaces, else what a plain ``open(path, "w")`` would create
    under the current umask (``mkstemp`` alone gives 0600 whatever the umask)."""
    try:
        return _stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def save(path: str | os.PathLike[str], blob: bytes) -> None:
    """Write ``blob`` to ``path`` atomically (temporary file + rename).

    The temporary (``.NAME.XXXXXXXX.tmp`` beside ``path``) is locked while it is
    written; temporaries of the same target left by a writer that was killed
    (unlocked ones) are removed first, so repeated kills do not fill the disk.
    The file keeps the permissions of the one it replaces, or gets those a plain
    ``open()`` gives under the umask (:func:`replacement_mode`).
    """
    path = Path(path)
    with locked_temporary(path, ".tmp") as (fh, tmp):
        fh.write(blob)
        fh.flush()
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), replacement_mode(path))
        os.fsync(fh.fileno())
        os.replace(tmp, path)


def _try_lock(fd: int, blocking: bool) -> bool:
    """An exclusive advisory lock on ``fd`` (True without fcntl: nothing to coordinate)."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def remove_stale_temporaries(path: str | os.PathLike[str], suffix: str) -> int:
    """Remove ``.NAME.*SUFFIX`` files beside ``path`` that no live writer holds
    locked (their writer died mid-write); returns how many were removed."""
    path = Path(path)
    parent = path.parent
    prefix = f".{path.name}."
    if fcntl is None:  # pragma: no cover - Windows: no way to tell a live writer's file
        return 0
    removed = 0
    try:
        names = [n for n in os.listdir(parent) if n.startswith(prefix) and n.endswith(suffix)]
    except OSError:
        return 0
    for name in names:
        cand = parent / name
        try:
            fd = os.open(cand, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode) or not _try_lock(fd, blocking=False):
                continue
            same = os.stat(cand, follow_symlinks=False)
            if (same.st_ino, same.st_dev) == (st.st_ino, st.st_dev):
                os.unlink(cand)
                removed += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def locked_temporary(path: str | os.PathLike[str], suffix: str) -> Iterator[tuple[Any, str]]:
    """A new temporary file beside ``path`` (``.NAME.XXXXXXXX`` + ``suffix``), opened
    for writing and locked for as long as the block runs; removed on any error
    (and when the block did not move it). Stale temporaries are cleaned first."""
    path = Path(path)
    remove_stale_temporaries(path, suffix)
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        _try_lock(fd, blocking=True)
        if os.fstat(fd).st_nlink:  # else a cleaner removed it before we held the lock
            break
        os.close(fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


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
