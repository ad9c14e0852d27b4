"""Parameter validation shared by the public wrappers.

Each helper returns the normalised value or raises
:class:`~sysprims.errors.InvalidParameterError` with a message that names the
parameter, the rule and the value received.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InvalidParameterError

__all__ = ["check_int", "check_number", "check_probability", "check_choice", "renamed"]


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """An integer (Python or NumPy, not bool) within [min, max]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    value = int(value)
    if min is not None and value < min:
        raise InvalidParameterError(f"{name} must be >= {min}, got {value}")
    if max is not None and value > max:
        raise InvalidParameterError(f"{name} must be <= {max}, got {value}")
    return value


def check_number(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """A finite real number within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be finite, got {value}")
    if min is not None and (value < min or (not min_inclusive and value == min)):
        op = ">=" if min_inclusive else ">"
        raise InvalidParameterError(f"{name} must be {op} {min}, got {value}")
    if max is not None and (value > max or (not max_inclusive and value == max)):
        op = "<=" if max_inclusive else "<"
        raise InvalidParameterError(f"{name} must be {op} {max}, got {value}")
    return value


def check_probability(name: str, value: Any) -> float:
    """A probability strictly inside (0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be in (0, 1), got {type(value).__name__}: {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise InvalidParameterError(f"{name} must be in (0, 1), got {value}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def renamed(name: str, value: Any, old_name: str, old_value: Any, default: Any) -> Any:
    """The value of a parameter that also answers to an older name (an alias
    kept for compatibility): either one, not both; ``default`` when neither."""
    if old_value is None:
        return default if value is None else value
    if value is not None:
        raise InvalidParameterError(f"{old_name} is the old name of {name}; give one of them, not both")
    return old_value
