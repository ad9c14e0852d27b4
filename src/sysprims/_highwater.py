"""A high-water-mark file: the timestamp a Snowflake generator has reserved, kept on disk
so that a restart never issues a timestamp at or below it (written atomically, fsynced)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InvalidParameterError


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HighWaterMark:
    """One integer (a Unix millisecond) in a small text file."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def read(self) -> int | None:
        """The recorded mark, or None when the file does not exist yet."""
        try:
            text = self.path.read_text("ascii").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidParameterError(f"state_file {self.path} cannot be read: {exc}") from exc
        try:
            return int(text)
        except ValueError as exc:
            raise InvalidParameterError(
                f"state_file {self.path} does not hold a timestamp: {text[:40]!r}"
            ) from exc

    def write(self, mark: int) -> None:
        """Replace the mark atomically: a temporary file, fsync, rename, fsync the folder."""
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(str(mark))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_folder(self.path.parent)

    def __repr__(self) -> str:
        return f"HighWaterMark({str(self.path)!r})"
