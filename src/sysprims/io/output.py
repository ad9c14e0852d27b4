"""Atomic outputs and progress bars for long-running commands."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "progress"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto
    ``path``, on any error it is removed, so an interrupted run leaves no
    half-written file (and an older file at ``path`` stays intact)."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        from .readers import InputError

        raise InputError(f"cannot write {target}: folder {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def progress(total: int | None = None, unit: str = "rows", desc: str = "", enabled: bool | None = None) -> Any:
    """A tqdm bar with rate and ETA on stderr; silent when stderr is not a terminal."""
    from .._deps import require

    tqdm = require("tqdm", "cli").tqdm
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, disable=not enabled, file=sys.stderr, leave=False)
