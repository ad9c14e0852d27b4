"""Atomic outputs and progress bars for long-running commands."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "progress"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto
    ``path``, on any error it is removed, so an interrupted run leaves no
    half-written file (and an older file at ``path`` stays intact). The
    temporary is locked while in use, and those a killed run left behind are
    removed by the next run. The file keeps the permissions of the one it
    replaces, or gets those a plain ``open()`` gives under the umask."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        from .readers import InputError

        raise InputError(f"cannot write {target}: folder {parent} does not exist")
    from .._format import locked_temporary, replacement_mode

    with locked_temporary(target, ".partial") as (_fh, tmp):
        yield Path(tmp)
        os.chmod(tmp, replacement_mode(target))
        os.replace(tmp, target)


def progress(total: int | None = None, unit: str = "rows", desc: str = "", enabled: bool | None = None) -> Any:
    """A tqdm bar with rate and ETA on stderr; silent when stderr is not a terminal."""
    from .._deps import require

    tqdm = require("tqdm", "cli").tqdm
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, disable=not enabled, file=sys.stderr, leave=False)
