"""The only place that configures Numba.

Kernels are declared with :func:`kernel`, which jit-compiles them with the
project's defaults (on-disk cache, no Python objects, GIL released) and records
a factory of tiny canonical arguments so :func:`sysprims.warmup` can compile or
load every kernel once. Compilation stays lazy: importing a kernel module
compiles nothing.

The on-disk cache lives in ``__pycache__`` next to the kernel sources. Where
that folder is not writable (a read-only site-packages), Numba itself falls
back to the user's cache folder (``$XDG_CACHE_HOME/numba``, else
``~/.cache/numba``), or to ``NUMBA_CACHE_DIR`` when set; ``.ci/wheel_smoke.sh``
runs the tour from a read-only install to check it.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["JIT_OPTIONS", "fast_entry", "kernel", "registered_kernels", "warmup"]

JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "nopython": True}

# name -> (dispatcher, factory of example argument tuples)
_REGISTRY: dict[str, tuple[Any, Callable[[], list[tuple]]]] = {}


def kernel(example_args: Callable[[], list[tuple] | tuple] | None = None, **options: Any):
    """Decorator: jit a kernel with the project defaults and register it.

    ``example_args`` returns one argument tuple (or a list of them) with the
    canonical dtypes the public wrapper passes; warmup calls the kernel with each.
    """

    def wrap(func: Callable) -> Any:
        opts = dict(JIT_OPTIONS)
        opts.update(options)
        dispatcher = numba.jit(**opts)(func)
        if example_args is not None:
            name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"

            def factory() -> list[tuple]:
                ex = example_args()
                return ex if isinstance(ex, list) else [ex]

            _REGISTRY[name] = (dispatcher, factory)
        return dispatcher

    return wrap


def fast_entry(dispatcher: Any, *args: Any) -> Callable:
    """The compiled entry point of ``dispatcher`` for exactly the types of ``args``.

    Compiles (or loads from the cache) without running anything. Calling the
    entry point skips the dispatcher's per-call type resolution, about 300 ns
    of a scalar call here; it must only ever be called with arguments of those
    same types (hot scalar paths whose argument types are fixed per object).
    """
    return dispatcher.compile(tuple(numba.typeof(a) for a in args))


def load_numpy_support() -> None:
    """Import numba's NumPy implementations (``numba.np.arraymath``) now, which numba
    otherwise imports at the first compile or cache load; at import that module
    probes for a BLAS (see :func:`sysprims.cli._common.load_numba`)."""
    import numba.np.arraymath  # noqa: F401


def registered_kernels() -> dict[str, Any]:
    """Import every kernel module and return ``{name: dispatcher}``."""
    _import_all_kernel_modules()
    return {name: entry[0] for name, entry in sorted(_REGISTRY.items())}


def _import_all_kernel_modules() -> None:
    from . import _kernels

    for info in pkgutil.iter_modules(_kernels.__path__):
        importlib.import_module(f"{_kernels.__name__}.{info.name}")


def warmup() -> dict[str, float]:
    """Compile (or load from the on-disk cache) every registered kernel.

    Returns ``{kernel name: seconds}``; the total is the sum of the values.
    """
    _import_all_kernel_modules()
    timings: dict[str, float] = {}
    for name, (dispatcher, factory) in sorted(_REGISTRY.items()):
        start = time.perf_counter()
        for args in factory():
            dispatcher(*args)
        timings[name] = time.perf_counter() - start
    return timings
