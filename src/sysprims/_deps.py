"""Lazy imports of optional dependencies with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

_EXTRA_OF = {
    "pyarrow": "arrow",
    "redis": "redis",
    "dask": "dask",
    "distributed": "dask",
    "starlette": "service",
    "uvicorn": "service",
    "httpx": "service",
    "matplotlib": "notebooks",
    "click": "cli",
    "tqdm": "cli",
}


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised with a fake module name
        extra = extra or _EXTRA_OF.get(module.split(".")[0], "dev")
        raise MissingDependencyError(
            f"{module} is required for this feature; install it with "
            f'pip install "sysprims[{extra}]"'
        ) from exc


def optional(module: str) -> ModuleType | None:
    """Return ``module`` if it is importable, else None (no error)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
