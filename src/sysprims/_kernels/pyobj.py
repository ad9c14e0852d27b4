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
from numba.core import cgutils
from numba.extending import intrinsic

from .._jit import kernel
from .murmur3 import block128, finish128, mix_k1, mix_k2, murmur3_x86_32_one

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


@intrinsic
def prefetch(typingctx, addr):
    """A hint to fetch the cache line at ``addr`` (``llvm.prefetch``, read,
    high locality): it never faults, whatever the address."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0"
        )
        builder.call(fn, [builder.inttoptr(args[0], i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(addr), codegen
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


_ONE = np.uint64(1)
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
def murmur3_128_at(a, length, seed, tail_words):
    """MurmurHash3_x64_128 of the ``length`` bytes at address ``a``; (h1, h2).

    Read straight from memory with 8-byte loads: no array is built per key.
    The tail is read with whole words when ``tail_words`` (the caller knows
    the bytes after the key are readable) or when ``a`` is 8-aligned (an
    aligned word that holds a byte of the object cannot cross a page); the
    bytes past the key are masked off, never used. Else byte by byte."""
    h1 = seed
    h2 = seed
    p = a
    end = a + (length & ~15)
    while p < end:
        h1, h2 = block128(h1, h2, peek64(p), peek64(p + 8))
        p += 16
    rem = length & 15
    if rem > 0:
        if tail_words or (p & 7) == 0:
            if rem > 8:
                h2 ^= mix_k2(peek64(p + 8) & ((_ONE << np.uint64(8 * (rem - 8))) - _ONE))
                k1 = peek64(p)
            elif rem == 8:
                k1 = peek64(p)
            else:
                k1 = peek64(p) & ((_ONE << np.uint64(8 * rem)) - _ONE)
        else:
            b = numba.carray(ptr_u8(p), rem)
            if rem > 8:
                k2 = np.uint64(0)
                for i in range(rem - 1, 7, -1):
                    k2 |= np.uint64(b[i]) << np.uint64(8 * (i - 8))
                h2 ^= mix_k2(k2)
            k1 = np.uint64(0)
            for i in range(min(rem, 8) - 1, -1, -1):
                k1 |= np.uint64(b[i]) << np.uint64(8 * i)
        h1 ^= mix_k1(k1)
    return finish128(h1, h2, length)


# ---------------------------------------------------------------- bit tricks


def _fast_bmi2() -> bool:
    """Whether the code numba emits here may use BMI2's ``pdep``/``pext`` and
    they are fast: an x86-64 host that has them, numba targeting the host
    itself (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` unset), and not AMD's
    Zen 1/2 or older, where they are microcoded (tens to hundreds of cycles).
    Elsewhere :func:`pdep`/:func:`pext` are plain loops (correct, slow) and
    the latin-1 transcoder builds its words character by character."""
    from llvmlite import binding as ll

    cfg = numba.config
    if getattr(cfg, "CPU_NAME", None) is not None or getattr(cfg, "CPU_FEATURES", None) is not None:
        return False
    if not ll.get_process_triple().startswith("x86_64"):
        return False
    name = ll.get_host_cpu_name()
    if name in ("znver1", "znver2") or name.startswith(("bdver", "btver")):
        return False
    return bool(ll.get_host_cpu_features().get("bmi2"))


FAST_BMI2 = _fast_bmi2()


def _bmi2_intrinsic(llvm_name, name, doc):
    @intrinsic
    def op(typingctx, x, mask):
        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, i64]), llvm_name)
            return builder.call(fn, [args[0], args[1]])

        return types.uint64(types.uint64, types.uint64), codegen

    op.__name__ = name
    op.__doc__ = doc
    return op


@kernel(inline="always")
def _bmi2_loop(x, mask, deposit):
    """``pdep`` (``deposit``: the low bits of ``x`` go to the set bits of
    ``mask``) or ``pext`` (the bits of ``x`` at the set bits of ``mask``,
    packed low) by hand, one set bit of ``mask`` at a time."""
    r = np.uint64(0)
    bit = _ONE
    while mask != 0:
        low = mask & (~mask + _ONE)
        if deposit:
            if x & bit:
                r |= low
        elif x & low:
            r |= bit
        bit <<= _ONE
        mask &= mask - _ONE
    return r


@kernel(inline="always")
def _pdep_loop(x, mask):
    return _bmi2_loop(x, mask, True)


@kernel(inline="always")
def _pext_loop(x, mask):
    return _bmi2_loop(x, mask, False)


if FAST_BMI2:
    pdep = _bmi2_intrinsic("llvm.x86.bmi.pdep.64", "pdep", "BMI2 ``pdep`` (uint64).")
    pext = _bmi2_intrinsic("llvm.x86.bmi.pext.64", "pext", "BMI2 ``pext`` (uint64).")
else:
    pdep, pext = _pdep_loop, _pext_loop


@intrinsic
def popcount(typingctx, x):
    """The number of set bits of a uint64 (``llvm.ctpop``), as an int64."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.ctpop.i64")
        return builder.call(fn, [builder.zext(args[0], i64) if args[0].type.width < 64 else args[0]])

    return types.int64(x), codegen


# ------------------------------------------------------------- latin-1 keys

_LO4 = np.uint64(0x80808080)
_LANES = np.uint64(0x00FF00FF00FF00FF)
_LANE_HI = np.uint64(0x0080008000800080)


@kernel(inline="always")
def _latin1_4_bits(h):
    """UTF-8 of the 4 latin-1 characters in the low 32 bits of ``h``, packed
    low (4 + the number of characters >= 0x80 bytes), with no branch: spread
    the characters into 16-bit lanes (``pdep``), build each non-ASCII lane's
    two bytes ``0xC0 | c >> 6``, ``0x80 | c & 0x3F`` and keep the ASCII
    lanes' low byte only (``pext``)."""
    y = pdep(h, _LANES)
    f = (y & _LANE_HI) >> np.uint64(7)
    m = (f << np.uint64(16)) - f  # 0xFFFF in each non-ASCII lane
    e = (
        np.uint64(0x80C080C080C080C0)
        | ((y >> np.uint64(6)) & np.uint64(0x0003000300030003))
        | ((y << np.uint64(8)) & np.uint64(0x3F003F003F003F00))
    )
    return pext(y ^ ((y ^ e) & m), _LANES | (m & ~_LANES))


@kernel(inline="always")
def _latin1_utf8(c):
    """UTF-8 of one latin-1 character ``c`` (uint64 < 256): (value, byte count)."""
    if c < np.uint64(0x80):
        return c, 1
    return (np.uint64(0xC0) | (c >> np.uint64(6))) | ((np.uint64(0x80) | (c & np.uint64(0x3F))) << np.uint64(8)), 2


@kernel(inline="always")
def _latin1_4_chars(h):
    """:func:`_latin1_4_bits` character by character (hosts without fast BMI2)."""
    v0, n0 = _latin1_utf8(h & np.uint64(0xFF))
    v1, n1 = _latin1_utf8((h >> np.uint64(8)) & np.uint64(0xFF))
    v2, n2 = _latin1_utf8((h >> np.uint64(16)) & np.uint64(0xFF))
    v3, _ = _latin1_utf8((h >> np.uint64(24)) & np.uint64(0xFF))
    s1 = n0
    s2 = s1 + n1
    s3 = s2 + n2
    return v0 | (v1 << np.uint64(8 * s1)) | (v2 << np.uint64(8 * s2)) | (v3 << np.uint64(8 * s3))


@kernel(inline="always")
def _latin1_half(h, bits):
    """UTF-8 of 4 latin-1 characters (low 32 bits of ``h``): themselves when
    ASCII; else by :func:`_latin1_4_bits` (``bits``) or character by character."""
    if (h & _LO4) == 0:
        return h
    if bits:
        return _latin1_4_bits(h)
    return _latin1_4_chars(h)


@kernel(inline="always")
def latin1_word(x, cnt, bits):
    """UTF-8 of the ``cnt`` (1..8) latin-1 characters in ``x`` (the bytes past
    them zero): (k1, k2, n), its ``n`` (cnt..16) bytes little-endian in k1
    then k2."""
    hb = x & _ASCII8
    if hb == 0:
        return x, np.uint64(0), cnt
    lo = _latin1_half(x & np.uint64(0xFFFFFFFF), bits)
    hi = _latin1_half(x >> np.uint64(32), bits)
    nlo = min(cnt, 4) + popcount(hb & _LO4)
    n = cnt + popcount(hb)
    if nlo == 8:
        return lo, hi, n
    s = np.uint64(8 * nlo)  # 8..56
    return lo | (hi << s), hi >> (np.uint64(64) - s), n


@kernel(inline="always")
def _put_word(h1, h2, k1, have, w):
    """A finished 8-byte word of the key's UTF-8 into the hash: the first of a
    16-byte block waits in ``k1``, the second runs the block."""
    if have:
        h1, h2 = block128(h1, h2, k1, w)
        return h1, h2, k1, False
    return h1, h2, w, True


@kernel(inline="always")
def _append(h1, h2, k1, have, w, wf, v, nb):
    """Append the ``nb`` (0..8) low bytes of ``v`` to the word ``w`` holding
    ``wf`` (0..7) bytes; a word that fills goes into the hash."""
    w |= v << np.uint64(8 * wf)
    if wf + nb >= 8:
        h1, h2, k1, have = _put_word(h1, h2, k1, have, w)
        w = (v >> _ONE) >> np.uint64(8 * (8 - wf) - 1)  # v >> 8*(8-wf), also for a shift of 64
        wf = wf + nb - 8
    else:
        wf += nb
    return h1, h2, k1, have, w, wf


@kernel(inline="always")
def _latin1_x(data, j, length):
    """The (up to) 8 latin-1 characters at data[j:length] as a word, the bytes
    past the key zeroed, and their count."""
    x = peek64(data + j)
    cnt = length - j
    if cnt < 8:
        return x & ((_ONE << np.uint64(8 * cnt)) - _ONE), cnt
    return x, 8


@kernel(inline="always")
def murmur3_128_latin1(data, length, seed, bits=FAST_BMI2):
    """MurmurHash3_x64_128 of the UTF-8 of ``length`` latin-1 characters at the
    8-aligned address ``data``, with no scratch buffer: leading 16-character
    blocks of ASCII are hashed in place (their UTF-8 is themselves); a short
    rest (<= 8 characters, the usual tail) becomes murmur's last block or tail
    directly (:func:`latin1_word`); a longer one is built 8 bytes at a time in
    a register and each word goes straight into the hash state. Words are read
    whole (the last one masked): aligned, they cannot cross a page. ``bits``:
    use :func:`_latin1_4_bits` (the default where BMI2 is fast)."""
    h1 = seed
    h2 = seed
    j = 0
    while j + 16 <= length:
        a = peek64(data + j)
        b = peek64(data + j + 8)
        if ((a | b) & _ASCII8) != 0:
            break
        h1, h2 = block128(h1, h2, a, b)
        j += 16
    if length - j <= 8:
        if j == length:
            return finish128(h1, h2, length)
        x, cnt = _latin1_x(data, j, length)
        k1, k2, n = latin1_word(x, cnt, bits)
        if n == 16:
            h1, h2 = block128(h1, h2, k1, k2)
        else:
            if n > 8:
                h2 ^= mix_k2(k2)
            h1 ^= mix_k1(k1)
        return finish128(h1, h2, j + n)
    total = j
    k1 = np.uint64(0)
    have = False
    w = np.uint64(0)
    wf = 0
    while j < length:
        x, cnt = _latin1_x(data, j, length)
        v1, v2, n = latin1_word(x, cnt, bits)
        h1, h2, k1, have, w, wf = _append(h1, h2, k1, have, w, wf, v1, min(n, 8))
        if n > 8:
            h1, h2, k1, have, w, wf = _append(h1, h2, k1, have, w, wf, v2, n - 8)
        total += n
        j += 8
    if have:  # murmur's tail: bytes 8..15 of the last block in k2, 0..7 in k1
        if wf > 0:
            h2 ^= mix_k2(w)
        h1 ^= mix_k1(k1)
    elif wf > 0:
        h1 ^= mix_k1(w)
    return finish128(h1, h2, total)


def _ex_latin1_words():
    return (np.zeros(1, dtype=np.uint64), np.ones(1, dtype=np.int64), True, np.empty((1, 3), dtype=np.uint64))


@kernel(_ex_latin1_words)
def latin1_words(xs, cnts, bits, out):
    """:func:`latin1_word` of each word (for the tests of both transcoders)."""
    for i in range(xs.shape[0]):
        k1, k2, n = latin1_word(xs[i], cnts[i], bits)
        out[i, 0] = k1
        out[i, 1] = k2
        out[i, 2] = np.uint64(n)


@kernel(inline="always")
def murmur3_32_at(a, length, seed):
    """MurmurHash3_x86_32 of the ``length`` bytes at address ``a``."""
    return murmur3_x86_32_one(numba.carray(ptr_u8(a), length), 0, length, seed)


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


#: how many keys ahead the reader prefetches each object (measured: ~1.2x at 1M fresh keys)
AHEAD = 12

# what a reader writes per key
PAIRS = 0  # out128[i] = (h1, h2)
H1 = 1  # out64[i] = h1
X86_32 = 2  # out32[i] = MurmurHash3_x86_32


@kernel(inline="always")
def _offsets(is_str, layout):
    """The layout as scalars, read once per call: loads from ``layout`` inside
    the per-key loop could not be hoisted (the output may alias it, as far as
    the compiler knows). (type, size, data, state, mask, ascii state)."""
    c = np.int64(1) << layout[COMPACT_BIT]
    asc = np.int64(1) << layout[ASCII_BIT]
    mask = c | asc | (np.int64(7) << layout[KIND_SHIFT])
    want_state = c | asc | (np.int64(1) << layout[KIND_SHIFT])
    if is_str:
        return layout[OB_TYPE], layout[STR_LENGTH], layout[STR_ASCII_DATA], layout[STR_STATE], mask, want_state
    # bytes: no state word to test (mask 0 == 0)
    return layout[OB_TYPE], layout[OB_SIZE], layout[BYTES_DATA], layout[OB_TYPE], np.int64(0), np.int64(0)


@kernel(inline="always")
def _slow_str(obj, layout, scratch):
    """UTF-8 of the str at ``obj`` that is not compact ASCII into ``scratch``:
    its byte count; -1 to fall back (not compact, a lone surrogate, an unknown
    kind), -2 when ``scratch`` is too small (the caller grows it, asks again)."""
    state = np.int64(peek32(obj + layout[STR_STATE]))
    if (state >> layout[COMPACT_BIT]) & 1 == 0 or (state >> layout[ASCII_BIT]) & 1:
        return -1
    kind = (state >> layout[KIND_SHIFT]) & 7
    if kind != 1 and kind != 2 and kind != 4:
        return -1
    length = np.int64(peek64(obj + layout[STR_LENGTH]))
    if scratch.shape[0] < 4 * length + 16:
        return -2
    return _transcode(obj + layout[STR_COMPACT_DATA], length, kind, scratch)


@kernel(inline="always")
def _bigger(obj, layout):
    """A scratch buffer for the UTF-8 of the str at ``obj`` (4 bytes per code
    point, room to grow, and >= 16 spare bytes, so its tail is read in words)."""
    return np.empty(max(256, 8 * np.int64(peek64(obj + layout[STR_LENGTH])) + 16), dtype=np.uint8)


@kernel(inline="always")
def _read_range(items, lo, hi, want, is_str, layout, seed, what, out128, out64, out32):
    """Hash items[lo:hi] in place; -1, or the index to fall back at.

    The hot case (an exact ``bytes`` or compact ASCII ``str``) costs a type
    test, one masked test of the state word and the hash read straight from
    the object; a compact latin-1 str (unless 32-bit hashes are asked for)
    goes through :func:`murmur3_128_latin1`, anything else through
    :func:`_slow_str` and the scratch buffer."""
    ty, size_at, data_at, state_at, mask, want_state = _offsets(is_str, layout)
    # a compact latin-1 (kind 1, not ASCII) str: hashed by murmur3_128_latin1
    latin1_state = (np.int64(1) << layout[COMPACT_BIT]) | (np.int64(1) << layout[KIND_SHIFT]) if is_str else np.int64(-1)
    latin1_at = layout[STR_COMPACT_DATA]
    scratch = np.empty(0, dtype=np.uint8)
    i = lo
    while i < hi:
        if i + AHEAD < hi:  # the object AHEAD keys on: its header reaches the cache meanwhile
            prefetch(np.int64(peek64(items + 8 * (i + AHEAD))))
        obj = np.int64(peek64(items + 8 * i))
        if obj == 0 or np.int64(peek64(obj + ty)) != want:
            return i
        nb = np.int64(peek64(obj + size_at))
        a = obj + data_at
        spare = False
        state = np.int64(peek32(obj + state_at)) & mask
        if state != want_state:
            if state == latin1_state and what != X86_32 and ((obj + latin1_at) & 7) == 0:
                h1, h2 = murmur3_128_latin1(obj + latin1_at, nb, seed)
                if what == PAIRS:
                    out128[i, 0] = h1
                    out128[i, 1] = h2
                else:
                    out64[i] = h1
                i += 1
                continue
            nb = _slow_str(obj, layout, scratch)
            if nb == -2:
                scratch = _bigger(obj, layout)
                continue
            if nb < 0:
                return i
            a = np.int64(scratch.ctypes.data)
            spare = True
        if what == PAIRS:
            h1, h2 = murmur3_128_at(a, nb, seed, spare)
            out128[i, 0] = h1
            out128[i, 1] = h2
        elif what == H1:
            out64[i] = murmur3_128_at(a, nb, seed, spare)[0]
        else:
            out32[i] = np.uint32(murmur3_32_at(a, nb, seed))
        i += 1
    return -1


@kernel(inline="always")
def _n_out(what, out128, out64, out32):
    if what == PAIRS:
        return out128.shape[0]
    if what == H1:
        return out64.shape[0]
    return out32.shape[0]


def _ex_hash():
    """Canonical argument types: a list of str under a placeholder layout (warmup
    runs it on an empty batch, which reads no object)."""
    layout = np.zeros(LAYOUT_SIZE, dtype=np.int64)
    return (
        np.int64(POINTERS), np.int64(0), np.int64(0), True, layout, np.uint64(0), np.int64(PAIRS),
        np.empty((0, 2), dtype=np.uint64), np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32),
    )


@kernel(_ex_hash, nogil=False)
def pyobj_hash(mode, addr, want, is_str, layout, seed, what, out128, out64, out32):
    """MurmurHash3 of every item's key bytes, read in place, in one pass:
    ``what`` PAIRS -> ``out128`` (n, 2); H1 -> ``out64`` (n,); X86_32 -> ``out32``.

    ``addr``: the list/tuple (``mode`` LIST/TUPLE) or the first item pointer
    (POINTERS); ``want``: the address of the exact type every item must have.
    Returns -1, or the index to fall back at (see the module docstring)."""
    n = _n_out(what, out128, out64, out32)
    items = _items(mode, addr, n, layout)
    if items == 0:
        return n
    return _read_range(items, 0, n, want, is_str, layout, seed, what, out128, out64, out32)
