"""Checks shared by every loader (``_from_state``).

A container's CRCs prove only that the bytes are the ones written, not that a
sysprims wrote them, so each structure checks what it loads before any kernel
sees it: the same limits as its constructor, every array's dtype and shape,
every index a kernel will follow, and how much memory the load may allocate
beyond what the file itself holds. Every failure is a
:class:`~sysprims.errors.SerializationError`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import SerializationError

__all__ = [
    "MAX_UNBACKED_BYTES",
    "get_array",
    "get_bool",
    "get_choice",
    "get_float",
    "get_int",
    "non_decreasing",
    "refusing",
    "require",
    "require_budget",
]

#: The most memory (bytes) a load may allocate beyond 16 times the arrays the
#: file holds: a few hundred bytes cannot claim gigabytes.
MAX_UNBACKED_BYTES = 64 << 20

_MISSING = object()


@contextlib.contextmanager
def refusing(what: str) -> Iterator[None]:
    """Turn any error raised while decoding ``what`` into a SerializationError."""
    try:
        yield
    except SerializationError:
        raise
    except (
        ArithmeticError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        RecursionError,
        TypeError,
        UnicodeError,
        ValueError,
    ) as exc:
        raise SerializationError(f"not a valid {what}: {exc}") from None


def require(ok: Any, message: str) -> None:
    """Raise SerializationError(message) unless ``ok``."""
    if not ok:
        raise SerializationError(message)


def _get(params: Any, name: str, default: Any) -> Any:
    if not isinstance(params, dict):
        raise SerializationError(f"parameters must be a JSON object, got {type(params).__name__}")
    if name not in params:
        if default is _MISSING:
            raise SerializationError(f"the container lacks the parameter {name!r}")
        return default
    return params[name]


def get_int(
    params: Any,
    name: str,
    *,
    min: int | None = None,
    max: int | None = None,
    optional: bool = False,
    default: Any = _MISSING,
) -> Any:
    """An int parameter (not bool) in [min, max]; None allowed when ``optional``."""
    value = _get(params, name, None if optional and default is _MISSING else default)
    if value is None and optional:
        return None
    if type(value) is not int:
        raise SerializationError(f"parameter {name!r} must be an int, got {type(value).__name__}: {value!r:.60}")
    if (min is not None and value < min) or (max is not None and value > max):
        raise SerializationError(f"parameter {name!r} must be in [{min}, {max}], got {value}")
    return value


def get_float(
    params: Any,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    optional: bool = False,
) -> Any:
    """A finite number parameter (int or float, not bool) within the bounds, as float."""
    value = _get(params, name, None if optional else _MISSING)
    if value is None and optional:
        return None
    if type(value) not in (int, float):
        raise SerializationError(f"parameter {name!r} must be a number, got {type(value).__name__}: {value!r:.60}")
    try:
        value = float(value)
    except OverflowError:
        raise SerializationError(f"parameter {name!r} does not fit a float") from None
    bad = not math.isfinite(value)
    if min is not None:
        bad = bad or value < min or (not min_inclusive and value == min)
    if max is not None:
        bad = bad or value > max or (not max_inclusive and value == max)
    if bad:
        lo = "[" if min_inclusive else "("
        hi = "]" if max_inclusive else ")"
        raise SerializationError(f"parameter {name!r} must be finite and in {lo}{min}, {max}{hi}, got {value}")
    return value


def get_bool(params: Any, name: str, *, default: Any = _MISSING) -> bool:
    value = _get(params, name, default)
    if type(value) is not bool:
        raise SerializationError(f"parameter {name!r} must be a bool, got {type(value).__name__}: {value!r:.60}")
    return value


def get_choice(params: Any, name: str, choices: tuple[Any, ...]) -> Any:
    value = _get(params, name, _MISSING)
    if type(value) not in (str, type(None)) or value not in choices:
        raise SerializationError(f"parameter {name!r} must be one of {list(choices)}, got {value!r:.60}")
    return value


def get_array(
    arrays: dict[str, np.ndarray],
    name: str,
    dtype: Any,
    shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Array ``name`` of exactly ``dtype`` and ``shape`` (None entries: any length)."""
    arr = arrays.get(name)
    if arr is None:
        raise SerializationError(f"the container lacks the array {name!r}")
    if arr.dtype != np.dtype(dtype):
        raise SerializationError(f"array {name!r} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    if shape is not None and (
        arr.ndim != len(shape) or any(w is not None and w != s for w, s in zip(shape, arr.shape, strict=True))
    ):
        want = tuple("*" if w is None else w for w in shape)
        raise SerializationError(f"array {name!r} must have shape {want}, got {arr.shape}")
    return arr


def non_decreasing(a: np.ndarray) -> bool:
    """True when ``a[i] <= a[i + 1]`` everywhere (compared, not subtracted: no overflow)."""
    return bool(np.all(a[1:] >= a[:-1]))


def require_budget(what: str, nbytes: int, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a load that would allocate ``nbytes`` more than its file justifies
    (:data:`MAX_UNBACKED_BYTES` plus 16 times the arrays it holds)."""
    held = sum(int(a.nbytes) for a in arrays.values())
    limit = MAX_UNBACKED_BYTES + 16 * held
    if nbytes > limit:
        raise SerializationError(
            f"{what} would allocate {nbytes:,} bytes from a file holding {held:,} bytes of arrays "
            f"(a load may allocate at most {limit:,}); the file is not one sysprims wrote"
        )
