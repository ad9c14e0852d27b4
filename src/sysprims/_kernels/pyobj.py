"""Kernels that read CPython ``str`` / ``bytes`` objects in place and hash them.

These are the one exception to "no Python objects in kernels" (see
:mod:`sysprims._pyobj`, which owns the safety argument): they take the address
of a live list, tuple or object-array buffer as an int and read its item
pointers and each item's header and characters straight from memory, with the
offsets in ``layout`` (discovered and proven by :mod:`sysprims._pyobj` on the
running interpreter). They are compiled with ``nogil=False``: the GIL, held for
the whole call, is what keeps the container and its items alive and unchanged,
and no pointer outlives the call.

Every kernel returns ``-1`` when it handled the whole batch, or the index of
the first element it does not read in place (another type, a subclass, a
non-compact string, a lone surrogate, a NULL slot), or ``n`` when the
container's size is not ``n``; the wrapper then takes the safe path for the
whole batch, so errors are exactly the safe path's.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._jit import kernel
from .murmur3 import murmur3_x64_128_one, murmur3_x86_32_one

# layout indices (filled by sysprims._pyobj.discover_layout)
OB_TYPE = 0  # offset of ob_type in every object
OB_SIZE = 1  # offset of ob_size in a PyVarObject (list, tuple, bytes)
LIST_ITEMS = 2  # offset of the ob_item pointer in a list
TUPLE_ITEMS = 3  # offset of the inline item array of a tuple
STR_LENGTH = 4  # offset of a str's length (code points)
STR_STATE = 5  # offset of a str's 32-bit state word
STR_ASCII_DATA = 6  # characters of a compact ASCII str
STR_COMPACT_DATA = 7  # characters of a compact non-ASCII str
BYTES_DATA = 8  # characters of a bytes object
KIND_SHIFT = 9  # the 3-bit kind field's shift in the state word
COMPACT_BIT = 10
ASCII_BIT = 11
LAYOUT_SIZE = 12

# container modes
LIST = 0
TUPLE = 1
POINTERS = 2  # addr is the first of n PyObject* (a C-contiguous object array)


def _ptr_intrinsic(dtype, name):
    @intrinsic
    def make(typingctx, addr):
        if not isinstance(addr, types.Integer):
            return None
        sig = types.CPointer(dtype)(addr)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(dtype).as_pointer())

        return sig, codegen

    make.__name__ = name
    return make


ptr_u8 = _ptr_intrinsic(types.uint8, "ptr_u8")
ptr_u16 = _ptr_intrinsic(types.uint16, "ptr_u16")
ptr_u32 = _ptr_intrinsic(types.uint32, "ptr_u32")


def _peek_intrinsic(bits, name, doc):
    @intrinsic
    def peek(typingctx, addr):
        if not isinstance(addr, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            p = builder.inttoptr(args[0], ir.IntType(bits).as_pointer())
            return builder.load(p, align=1)

        return (types.uint64 if bits == 64 else types.uint32)(addr), codegen

    peek.__name__ = name
    peek.__doc__ = doc
    return peek


peek64 = _peek_intrinsic(64, "peek64", "The 8 bytes at address ``addr`` as a uint64 (an unaligned load).")
peek32 = _peek_intrinsic(32, "peek32", "The 4 bytes at address ``addr`` as a uint32.")


@intrinsic
def store64(typingctx, data, p, value):
    """Unaligned store of a uint64 at data[p] (C-contiguous 1-D uint8 arrays;
    the caller guarantees p + 8 <= len(data))."""
    if not (isinstance(data, types.Array) and data.ndim == 1 and data.layout == "C" and data.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(arr.data, [args[1]]), ir.IntType(64).as_pointer())
        builder.store(args[2], ptr, align=1)
        return context.get_dummy_value()

    return types.none(data, p, types.uint64), codegen


_ASCII8 = np.uint64(0x8080808080808080)
_ASCII4 = np.uint64(0xFF80FF80FF80FF80)
_ASCII2 = np.uint64(0xFFFFFF80FFFFFF80)


@kernel(inline="always")
def _put_utf8(out, p, c):
    """Write code point ``c`` (not a surrogate) as UTF-8 at out[p]; returns the new p."""
    if c < 0x80:
        out[p] = c
        return p + 1
    if c < 0x800:
        out[p] = 0xC0 | (c >> 6)
        out[p + 1] = 0x80 | (c & 0x3F)
        return p + 2
    if c < 0x10000:
        out[p] = 0xE0 | (c >> 12)
        out[p + 1] = 0x80 | ((c >> 6) & 0x3F)
        out[p + 2] = 0x80 | (c & 0x3F)
        return p + 3
    out[p] = 0xF0 | (c >> 18)
    out[p + 1] = 0x80 | ((c >> 12) & 0x3F)
    out[p + 2] = 0x80 | ((c >> 6) & 0x3F)
    out[p + 3] = 0x80 | (c & 0x3F)
    return p + 4


@kernel(inline="always")
def _transcode(data, length, kind, out):
    """UTF-8 of ``length`` code points of ``kind`` bytes each at address ``data``
    into ``out`` (room for 4 bytes per code point + 8). Runs of ASCII characters
    are copied 8 (kind 1), 4 (kind 2) or 2 (kind 4) at a time. Returns the byte
    count, or -1 for a lone surrogate."""
    p = 0
    j = 0
    if kind == 1:
        while j + 8 <= length:
            w = peek64(data + j)
            if (w & _ASCII8) == 0:
                store64(out, p, w)
                p += 8
                j += 8
            else:
                for t in range(8):
                    p = _put_utf8(out, p, np.uint32((w >> np.uint64(8 * t)) & np.uint64(0xFF)))
                j += 8
        a1 = numba.carray(ptr_u8(data), length)
        while j < length:
            p = _put_utf8(out, p, np.uint32(a1[j]))
            j += 1
        return p
    if kind == 2:
        a2 = numba.carray(ptr_u16(data), length)
        while j + 4 <= length:
            w = peek64(data + 2 * j)
            if (w & _ASCII4) == 0:
                x = (
                    (w & np.uint64(0xFF))
                    | ((w >> np.uint64(8)) & np.uint64(0xFF00))
                    | ((w >> np.uint64(16)) & np.uint64(0xFF0000))
                    | ((w >> np.uint64(24)) & np.uint64(0xFF000000))
                )
                store64(out, p, x)
                p += 4
                j += 4
            else:
                for t in range(4):
                    c = np.uint32(a2[j + t])
                    if 0xD800 <= c <= 0xDFFF:
                        return -1
                    p = _put_utf8(out, p, c)
                j += 4
        while j < length:
            c = np.uint32(a2[j])
            if 0xD800 <= c <= 0xDFFF:
                return -1
            p = _put_utf8(out, p, c)
            j += 1
        return p
    a4 = numba.carray(ptr_u32(data), length)
    while j + 2 <= length:
        w = peek64(data + 4 * j)
        if (w & _ASCII2) == 0:
            x = (w & np.uint64(0xFF)) | ((w >> np.uint64(24)) & np.uint64(0xFF00))
            store64(out, p, x)
            p += 2
            j += 2
        else:
            for t in range(2):
                c = a4[j + t]
                if (0xD800 <= c <= 0xDFFF) or c > 0x10FFFF:
                    return -1
                p = _put_utf8(out, p, c)
            j += 2
    while j < length:
        c = a4[j]
        if (0xD800 <= c <= 0xDFFF) or c > 0x10FFFF:
            return -1
        p = _put_utf8(out, p, c)
        j += 1
    return p


@kernel(inline="always")
def _in_place(addr, nbytes):
    """A uint8 view of ``nbytes`` at ``addr``. When ``addr`` is 8-aligned the view
    is rounded up to whole 8-byte words, so the hash reads its tail with word
    loads: an aligned word that holds a byte of the object cannot cross a page
    (the extra bytes are masked off by the hash, never used)."""
    if (addr & 7) == 0:
        return numba.carray(ptr_u8(addr), (nbytes + 7) & ~7)
    return numba.carray(ptr_u8(addr), nbytes)


@kernel(inline="always")
def _items(mode, addr, n, layout):
    """Address of the first item pointer, or 0 when the container's size is not n."""
    if mode == POINTERS:
        return addr
    if np.int64(peek64(addr + layout[OB_SIZE])) != n:
        return 0
    if mode == LIST:
        return np.int64(peek64(addr + layout[LIST_ITEMS]))
    return addr + layout[TUPLE_ITEMS]


@kernel(inline="always")
def _key(obj, want, is_str, layout, scratch):
    """(view, nbytes) of one object's key bytes, or nbytes -1 to fall back.

    ``scratch`` receives the UTF-8 of non-ASCII strings (the caller sized it)."""
    empty = numba.carray(ptr_u8(obj), 0)  # no meminfo: no reference counting per key
    if obj == 0 or np.int64(peek64(obj + layout[OB_TYPE])) != want:
        return empty, -1
    if not is_str:
        nb = np.int64(peek64(obj + layout[OB_SIZE]))
        return _in_place(obj + layout[BYTES_DATA], nb), nb
    state = np.int64(peek32(obj + layout[STR_STATE]))
    length = np.int64(peek64(obj + layout[STR_LENGTH]))
    if (state >> layout[COMPACT_BIT]) & 1 == 0:
        return empty, -1
    kind = (state >> layout[KIND_SHIFT]) & 7
    if (state >> layout[ASCII_BIT]) & 1:
        if kind != 1:
            return empty, -1
        return _in_place(obj + layout[STR_ASCII_DATA], length), length
    if kind != 1 and kind != 2 and kind != 4:
        return empty, -1
    if scratch.shape[0] < 4 * length + 16:
        return empty, -2  # the caller grows scratch and retries this key
    nb = _transcode(obj + layout[STR_COMPACT_DATA], length, kind, scratch)
    return scratch, nb


def _ex_hash():
    """Canonical argument types: a list of str under a placeholder layout (warmup
    runs it on an empty batch, which reads no object)."""
    layout = np.zeros(LAYOUT_SIZE, dtype=np.int64)
    return (
        np.int64(POINTERS), np.int64(0), np.int64(0), True, layout, np.uint64(0),
        np.empty((0, 2), dtype=np.uint64), np.empty(0, dtype=np.uint32),
    )


@kernel(_ex_hash, nogil=False)
def pyobj_murmur3(mode, addr, want, is_str, layout, seed, out128, out32):
    """MurmurHash3 of every item's key bytes, read in place: x64_128 into
    ``out128`` (n, 2) if it has rows, else x86_32 into ``out32`` (n,).

    ``addr``: the list/tuple (``mode`` LIST/TUPLE) or the first item pointer
    (POINTERS); ``want``: the address of the exact type every item must have.
    Returns -1, or the index to fall back at (see the module docstring)."""
    wide = out128.shape[0] > 0
    n = out128.shape[0] if wide else out32.shape[0]
    items = _items(mode, addr, n, layout)
    if items == 0:
        return n
    scratch = np.empty(256, dtype=np.uint8)
    i = 0
    while i < n:
        obj = np.int64(peek64(items + 8 * i))
        view, nb = _key(obj, want, is_str, layout, scratch)
        if nb == -2:
            length = np.int64(peek64(obj + layout[STR_LENGTH]))
            scratch = np.empty(8 * length + 16, dtype=np.uint8)
            continue
        if nb < 0:
            return i
        if wide:
            h1, h2 = murmur3_x64_128_one(view, 0, nb, seed)
            out128[i, 0] = h1
            out128[i, 1] = h2
        else:
            out32[i] = np.uint32(murmur3_x86_32_one(view, 0, nb, seed))
        i += 1
    return -1
