"""Pure jitted kernels over NumPy arrays (layer 0).

No Python objects, no I/O, no clock, no globals read at run time. Every kernel
is declared through :func:`sysprims._jit.kernel` and trusts its inputs: the
public wrappers validate and convert dtypes once before calling it.
"""
