"""Two machine operations numba does not spell: ``prefetch(array, index)``, a
software prefetch of ``array[index]``'s cache line, and ``mulhi(a, b)``, the
high 64 bits of a 128-bit product in one multiply.

Batch kernels over tables far beyond the caches (Bloom bit arrays, Count-Min
rows) compute the addresses of a small block of keys first, prefetch them, and
only then touch them, so the block's cache misses overlap instead of one
stalling the next. The hint (LLVM's ``llvm.prefetch``: write intent, high
locality) never faults and changes no result; an index past the end is never
formed because callers prefetch only indexes they then use.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["mulhi", "prefetch"]


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
