"""Lazy imports of optional dependencies with an error that names the extra."""

from __future__ import annotations

import importlib
import re
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
            f"{module} is required for this feature; install it with {install_hint(extra)}"
        ) from exc


def install_hint(extra: str) -> str:
    """How to install the optional ``extra``, for error messages.

    sysprims is installed from a clone or a wheel, not from a package index, so
    the hint names the packages the extra holds (read from the installed
    metadata) and the two ways to install the extra itself.
    """
    from ._version import __version__

    packages = " ".join(f'"{p}"' if set(p) & set(" <>=[],;") else p for p in _extra_requirements(extra))
    direct = f"pip install {packages}, or " if packages else ""
    return (
        f'{direct}the sysprims[{extra}] extra: pip install -e ".[{extra}]" in a clone of sysprims, '
        f'or pip install "dist/sysprims-{__version__}-py3-none-any.whl[{extra}]" with a built wheel'
    )


def _extra_requirements(extra: str) -> list[str]:
    """The requirement strings of ``extra`` in the installed metadata (may be empty)."""
    try:
        from importlib.metadata import PackageNotFoundError, requires

        reqs = requires("sysprims") or []
    except (ImportError, PackageNotFoundError):  # running from a source tree
        return []
    marker = re.compile(r"""extra\s*==\s*["']""" + re.escape(extra) + r"""["']""")
    return [r.split(";", 1)[0].strip() for r in reqs if ";" in r and marker.search(r.split(";", 1)[1])]


def optional(module: str) -> ModuleType | None:
    """Return ``module`` if it is importable, else None (no error)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
