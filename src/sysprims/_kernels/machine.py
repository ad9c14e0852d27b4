"""Machine operations numba does not spell: ``prefetch(array, index)``, a
software prefetch of ``array[index]``'s cache line; ``mulhi(a, b)``, the high
64 bits of a 128-bit product in one multiply; and :func:`split_block_ops`, a
split-block Bloom filter's eight-lane probe of one cache line as vector code.

Batch kernels over tables far beyond the caches (Bloom bit arrays, Count-Min
rows) compute the addresses of a small block of keys first, prefetch them, and
only then touch them, so the block's cache misses overlap instead of one
stalling the next. The hint (LLVM's ``llvm.prefetch``: write intent, high
locality) never faults and changes no result; an index past the end is never
formed because callers prefetch only indexes they then use.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["mulhi", "prefetch", "split_block_ops"]


@intrinsic
def prefetch(typingctx, arr, idx):
    """Prefetch (for writing) the cache line holding ``arr[idx]`` of a 1-d array."""
    if not isinstance(arr, types.Array) or arr.ndim != 1 or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def mulhi(typingctx, a, b):
    """``(a * b) >> 64`` for uint64 ``a``, ``b`` as one 64x64->128 multiply
    (LLVM's i128, one ``mul`` on x86-64): equal to
    :func:`sysprims._kernels.murmur3.mulhi64`, which builds it from four 32-bit
    products (tests check the two agree)."""
    if not (a == types.uint64 and b == types.uint64):
        return None
    sig = types.uint64(a, b)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        prod = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(prod, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


def split_block_ops(salts: tuple[int, ...]) -> tuple[Any, Any]:
    """``(block_or, block_test)``: the split-block Bloom filter's one-line
    probe as eight-lane vector code, for the eight odd 64-bit ``salts``.

    For uint64 ``x`` the mask of lane ``i`` is ``1 << ((x * salts[i] mod
    2**64) >> 58)``. ``block_or(bits, w, x)`` ORs the eight masks into
    ``bits[w..w+8]``; ``block_test(bits, w, x)`` is True when every mask's bit
    is set there. numba does not SLP-vectorise the unrolled scalar loop; one
    8 x 64-bit multiply, shift, load and OR (AVX-512's ``vpmullq`` here; split
    into narrower vectors by LLVM where the CPU has none) replaces eight
    scalar rounds. The caller keeps ``w + 8 <= len(bits)``.
    """
    if len(salts) != 8:
        raise ValueError("a split block has eight lanes")

    def masks(builder: Any, x: Any) -> Any:
        i32 = ir.IntType(32)
        vty = ir.VectorType(ir.IntType(64), 8)
        one = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(i32, 0))
        xv = builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(i32, 8), [0] * 8))
        idx = builder.lshr(builder.mul(xv, ir.Constant(vty, list(salts))), ir.Constant(vty, [58] * 8))
        return builder.shl(ir.Constant(vty, [1] * 8), idx)

    def block_ptr(context: Any, builder: Any, aryty: Any, ary_val: Any, w: Any) -> Any:
        ary = context.make_array(aryty)(context, builder, ary_val)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [w], wraparound=False)
        return builder.bitcast(ptr, ir.VectorType(ir.IntType(64), 8).as_pointer())

    def line_op(restype: Any, body: Any) -> Any:
        """An intrinsic ``(bits, w, x) -> restype`` running ``body(context,
        builder, line_pointer, masks)``."""

        @intrinsic
        def op(typingctx, arr, w, x):
            if not (
                isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and arr.dtype == types.uint64
                and isinstance(w, types.Integer) and x == types.uint64
            ):
                return None

            def codegen(context, builder, signature, args):
                vptr = block_ptr(context, builder, signature.args[0], args[0], args[1])
                return body(context, builder, vptr, masks(builder, args[2]))

            return restype(arr, w, x), codegen

        return op

    def or_body(context: Any, builder: Any, vptr: Any, mask: Any) -> Any:
        builder.store(builder.or_(builder.load(vptr, align=8), mask), vptr, align=8)
        return context.get_dummy_value()

    def test_body(context: Any, builder: Any, vptr: Any, mask: Any) -> Any:
        hit = builder.icmp_unsigned("==", builder.and_(builder.load(vptr, align=8), mask), mask)
        return builder.icmp_unsigned("==", builder.bitcast(hit, ir.IntType(8)), ir.Constant(ir.IntType(8), 0xFF))

    return line_op(types.void, or_body), line_op(types.boolean, test_body)
