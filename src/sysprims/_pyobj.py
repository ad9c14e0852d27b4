"""Read batches of Python ``str`` / ``bytes`` objects in place (the fast key path).

Turning a list of ``str`` into one UTF-8 buffer (join, encode, split) costs most
of a batch hash. Instead, the kernels in :mod:`sysprims._kernels.pyobj` read the
list's (or tuple's, or object array's) item pointers and each object's length,
state bits and characters straight from memory and hash them, bit-exact with
``mmh3`` on ``s.encode()``.

Safety rests on three things:

* **The layout is the running interpreter's, proven.** Offsets are derived
  (``sys.getsizeof`` gives the data offsets) and then checked with ``ctypes``
  reads on probe objects of every kind; then the kernels hash probe batches
  of every kind (ASCII, latin-1, UCS-2, UCS-4, empty, embedded NULs, long,
  bytes; lists, tuples, object arrays) and must match ``mmh3`` exactly, and
  must refuse a subclass, another type and a lone surrogate at the right
  index. Any doubt (not CPython, a free-threaded build, a failed check) turns
  the fast path off for the process: the safe path is always there.
* **The GIL.** The kernels never release it, so while one runs no other thread
  can resize the list or free an item; the caller's reference keeps the
  container alive; no pointer outlives the call. The list's item pointer and
  size are read inside the kernel, not before it.
* **Refusal, not guessing.** Each item's type pointer must be exactly ``str``
  (or ``bytes``), strings must be compact with a known kind; anything else
  (a subclass, a non-compact string, a lone surrogate, another type) makes the
  kernel stop and the caller redo the whole batch on the safe path, so errors
  are the safe path's, word for word.

``SYSPRIMS_SAFE_KEYS=1`` in the environment forces the safe path.
"""

from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
import threading
from typing import Any

import numpy as np

__all__ = ["disabled_reason", "murmur3_128", "murmur3_32", "murmur3_h1"]

_LOCK = threading.Lock()
_LAYOUT: np.ndarray | None = None
_REASON: str | None = "not checked yet"
_CHECKED = False
_STR_ID = id(str)
_BYTES_ID = id(bytes)
_PAIRS, _H1, _X86_32 = 0, 1, 2  # what the reader writes (sysprims._kernels.pyobj)


def disabled_reason() -> str | None:
    """``None`` when batches of str/bytes are read in place, else why not."""
    _ensure()
    return _REASON


def murmur3_128(keys: Any, seed: int) -> np.ndarray | None:
    """``(n, 2)`` MurmurHash3_x64_128 of a list/tuple/object array of exact
    ``str`` or ``bytes``, read in place; ``None`` means "take the safe path"."""
    target = _target(keys)
    if target is None:
        return None
    out = np.empty((target[4], 2), dtype=np.uint64)
    return out if _run(target, seed, _PAIRS, out, _NO_U64, _NO_U32) else None


def murmur3_h1(keys: Any, seed: int) -> np.ndarray | None:
    """Only ``h1`` (uint64, ``(n,)``) of such a batch, for the shard routers."""
    target = _target(keys)
    if target is None:
        return None
    out = np.empty(target[4], dtype=np.uint64)
    return out if _run(target, seed, _H1, _NO_U128, out, _NO_U32) else None


def murmur3_32(keys: Any, seed: int) -> np.ndarray | None:
    """MurmurHash3_x86_32 (uint32) of such a batch; ``None``: take the safe path."""
    target = _target(keys)
    if target is None:
        return None
    out = np.empty(target[4], dtype=np.uint32)
    return out if _run(target, seed, _X86_32, _NO_U128, _NO_U64, out) else None


_NO_U128 = np.empty((0, 2), dtype=np.uint64)
_NO_U64 = np.empty(0, dtype=np.uint64)
_NO_U32 = np.empty(0, dtype=np.uint32)

def _run(target: tuple, seed: int, what: int, out128: np.ndarray, out64: np.ndarray, out32: np.ndarray) -> bool:
    """One serial pass under the GIL. There is no threaded twin: numba's
    parallel launch releases the GIL while the workers run (measured: another
    Python thread runs during such a call), and then nothing would stop that
    thread from resizing the list or freeing a key under the readers."""
    from ._kernels.pyobj import pyobj_hash

    mode, addr, want, is_str, _n = target
    return pyobj_hash(mode, addr, want, is_str, _LAYOUT, np.uint64(seed), what, out128, out64, out32) == -1


def _target(keys: Any) -> tuple[int, int, int, bool, int] | None:
    """(mode, address, wanted type id, is_str, n) for a batch the kernels read."""
    t = type(keys)
    if t is list:
        mode = 0
    elif t is tuple:
        mode = 1
    elif t is np.ndarray:
        if keys.dtype != object or keys.ndim != 1 or not keys.flags.c_contiguous:
            return None
        mode = 2
    else:
        return None
    n = len(keys)
    if n == 0:
        return None
    if _LAYOUT is None:
        if _CHECKED or not _ensure():
            return None
    first = type(keys[0])
    if first is str:
        want, is_str = _STR_ID, True
    elif first is bytes:
        want, is_str = _BYTES_ID, False
    else:
        return None
    addr = keys.ctypes.data if mode == 2 else id(keys)
    return mode, addr, want, is_str, n


# ------------------------------------------------------------------ the layout


def _ensure() -> bool:
    global _CHECKED, _LAYOUT, _REASON
    if _CHECKED:
        return _LAYOUT is not None
    with _LOCK:
        if not _CHECKED:
            layout, reason = None, None
            try:
                layout, reason = _discover()
                if layout is not None:
                    reason = _self_test(layout)
                    if reason is not None:
                        layout = None
            except Exception as exc:  # any doubt: the safe path
                layout, reason = None, f"layout check failed: {type(exc).__name__}: {exc}"
            _LAYOUT, _REASON = layout, reason
            _CHECKED = True
    return _LAYOUT is not None


def _u64(addr: int) -> int:
    return ctypes.c_uint64.from_address(addr).value


def _discover() -> tuple[np.ndarray | None, str | None]:
    """Derive the offsets and prove each with ctypes reads of probe objects."""
    from ._kernels import pyobj as K

    if os.environ.get("SYSPRIMS_SAFE_KEYS", "") not in ("", "0"):
        return None, "SYSPRIMS_SAFE_KEYS is set"
    if sys.implementation.name != "cpython":
        return None, f"not CPython ({sys.implementation.name})"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None, "a free-threaded build (no GIL to keep the items alive)"
    if sys.maxsize != (1 << 63) - 1 or sys.byteorder != "little" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None, "not a 64-bit little-endian interpreter"
    lay = np.zeros(K.LAYOUT_SIZE, dtype=np.int64)
    lay[K.OB_TYPE] = 8
    lay[K.OB_SIZE] = 16
    lay[K.LIST_ITEMS] = 24
    lay[K.TUPLE_ITEMS] = 24
    lay[K.STR_LENGTH] = 16
    lay[K.STR_STATE] = 32
    lay[K.STR_ASCII_DATA] = sys.getsizeof("") - 1
    # a fresh 3-character latin-1 str: 3 characters + NUL of one byte, no UTF-8
    # cache (the 1-character singletons of 3.12+ carry one, which getsizeof counts)
    lay[K.STR_COMPACT_DATA] = sys.getsizeof("\xe9" * 3) - 4
    lay[K.BYTES_DATA] = sys.getsizeof(b"") - 1
    lay[K.KIND_SHIFT] = 2
    lay[K.COMPACT_BIT] = 5
    lay[K.ASCII_BIT] = 6
    strs = _probe_strings()
    blobs = [s.encode("utf-8", "surrogatepass") for s in strs] + [b"", b"\x00"]
    items = [*strs, *blobs]
    seq = list(items)
    tup = tuple(items)
    for obj in (*items, seq, tup, 1.5):
        if _u64(id(obj) + int(lay[K.OB_TYPE])) != id(type(obj)):
            return None, f"ob_type is not at offset {lay[K.OB_TYPE]}"
    for obj in (seq, tup, *blobs):
        if _u64(id(obj) + int(lay[K.OB_SIZE])) != len(obj):
            return None, f"ob_size is not at offset {lay[K.OB_SIZE]}"
    item_array = _u64(id(seq) + int(lay[K.LIST_ITEMS]))
    for j, obj in enumerate(items):
        if _u64(item_array + 8 * j) != id(obj) or _u64(id(tup) + int(lay[K.TUPLE_ITEMS]) + 8 * j) != id(obj):
            return None, "list/tuple item arrays are not where expected"
    for b in blobs:
        if ctypes.string_at(id(b) + int(lay[K.BYTES_DATA]), len(b) + 1) != b + b"\x00":
            return None, "bytes data is not where expected"
    for s in strs:
        reason = _check_str(s, lay)
        if reason is not None:
            return None, reason
    return lay, None


def _probe_strings() -> list[str]:
    """Fresh (not interned) strings of every kind, built at run time."""
    parts = [
        "", "a", "abc", "hello world", "ascii key of more than sixteen bytes", "nul\x00inside",
        "caf\xe9", "\xff" * 9, "latin-1 \xe0 la mode, longer than sixteen",
        "\u0101", "\u20ac price", "\u4e2d\u6587 key of some length, mostly ascii",
        "\U0001f600", "emoji \U0001f600 in the middle of a longer key", "\U0010ffff\u0101\xe9a",
    ]
    return ["".join([p, ""]) if len(p) < 2 else p[:1] + p[1:] for p in parts]


def _check_str(s: str, lay: np.ndarray) -> str | None:
    from ._kernels import pyobj as K

    addr = id(s)
    if _u64(addr + int(lay[K.STR_LENGTH])) != len(s):
        return "str length is not where expected"
    state = ctypes.c_uint32.from_address(addr + int(lay[K.STR_STATE])).value
    top = max(map(ord, s), default=0)
    width = 4 if top > 0xFFFF else 2 if top > 0xFF else 1
    ascii_ = s.isascii()
    kind = (state >> int(lay[K.KIND_SHIFT])) & 7
    if (state >> int(lay[K.COMPACT_BIT])) & 1 != 1 or (state >> int(lay[K.ASCII_BIT])) & 1 != ascii_:
        return f"str state bits are not where expected (state {state:#x} for {s!r})"
    if kind != width:
        return f"str kind bits are not where expected (state {state:#x} for {s!r})"
    codec = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[width]
    data = int(lay[K.STR_ASCII_DATA] if ascii_ else lay[K.STR_COMPACT_DATA])
    if ctypes.string_at(addr + data, len(s) * width) != s.encode(codec):
        return f"str characters are not where expected for {s!r}"
    return None


def _self_test(lay: np.ndarray) -> str | None:
    """Hash probe batches of every kind with the kernels; they must equal mmh3
    and must refuse what they cannot read, at the right index."""
    import mmh3

    from ._kernels.pyobj import pyobj_hash

    strs = _probe_strings() + ["x" * 1000 + "\u0101", "\xe9" * 300]
    blobs = [s.encode() for s in strs] + [b"\x00\x00", bytes(range(256))]
    for batch in (strs, blobs):
        expect128 = [mmh3.hash64(k, 7, signed=False) for k in batch]
        expect32 = [mmh3.hash(k, 7, signed=False) for k in batch]
        arr = np.empty(len(batch), dtype=object)
        arr[:] = batch
        want = _STR_ID if type(batch[0]) is str else _BYTES_ID
        for mode, container in ((0, list(batch)), (1, tuple(batch)), (2, arr)):
            addr = arr.ctypes.data if mode == 2 else id(container)
            out = np.empty((len(batch), 2), dtype=np.uint64)
            out64 = np.empty(len(batch), dtype=np.uint64)
            out32 = np.empty(len(batch), dtype=np.uint32)
            is_str = want == _STR_ID
            seven = np.uint64(7)
            for what, o128, o64, o32 in ((_PAIRS, out, _NO_U64, _NO_U32), (_H1, _NO_U128, out64, _NO_U32),
                                         (_X86_32, _NO_U128, _NO_U64, out32)):
                if pyobj_hash(mode, addr, want, is_str, lay, seven, what, o128, o64, o32) != -1:
                    return "the in-place reader refused a probe batch"
            if [tuple(r) for r in out.tolist()] != expect128 or out32.tolist() != expect32:
                return "the in-place reader disagrees with mmh3 on the probes"
            if out64.tolist() != [h[0] for h in expect128]:
                return "the in-place reader disagrees with mmh3 on the probes"

    class Sub(str):
        pass

    for bad, at in ((["ok", Sub("x")], 1), (["ok", "fine", "bad\udc80"], 2), (["a", b"b"], 1), (["a", "\ud800\U0001f600"], 1)):
        out = np.empty((len(bad), 2), dtype=np.uint64)
        if pyobj_hash(0, id(bad), _STR_ID, True, lay, np.uint64(0), _PAIRS, out, _NO_U64, _NO_U32) != at:
            return "the in-place reader did not refuse a subclass, a surrogate or another type"
    short = ["a", "b"]
    if pyobj_hash(0, id(short), _STR_ID, True, lay, np.uint64(0), _PAIRS, np.empty((3, 2), dtype=np.uint64), _NO_U64, _NO_U32) != 3:
        return "the in-place reader did not check the list's size"
    return None
