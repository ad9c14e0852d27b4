"""Several inputs as one, and reading ahead of the consumer.

:func:`expand_inputs` turns what a user typed (one path, several, local globs such
as ``data/part-*.parquet``) into the list of files to read, in a stable order.
:func:`readahead` runs a batch iterator in a background thread a few batches ahead,
so decoding the next batch (pyarrow releases the GIL) overlaps with hashing the
current one (the kernels release it too): on two or more cores a build costs
about the slower of the two instead of their sum, with memory bounded by
``depth + 2`` batches.
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

from ..errors import InputError, InvalidParameterError

__all__ = ["expand_inputs", "has_glob", "prepared", "readahead"]

T = TypeVar("T")
_GLOB_CHARS = frozenset("*?[")


def has_glob(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds a glob pattern (``*``, ``?`` or ``[``) and names no file."""
    text = str(path)
    return bool(_GLOB_CHARS & set(text)) and not os.path.exists(text)


def expand_inputs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """The files named by ``paths``: each entry a file, ``"-"`` (standard input, alone) or a
    local glob (matches sorted by name; ``**`` recurses). A glob that matches nothing, and
    standard input mixed with files, raise :class:`~sysprims.errors.InputError`."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise InputError("no input given")
    out: list[str] = []
    for item in items:
        text = os.fspath(item)
        if has_glob(text):
            matches = sorted(m for m in glob.glob(text, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"no file matches {text}")
            out.extend(matches)
        else:
            out.append(text)
    if "-" in out and len(out) > 1:
        raise InputError("standard input ('-') cannot be combined with other inputs")
    return out


_DONE = object()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


def readahead(
    batches: Iterable[T], depth: int = 2, *, start: bool = False, start_depth: int | None = None
) -> Generator[T, None, None]:
    """Yield the items of ``batches``, produced by a background thread up to ``depth``
    items ahead. An exception of the producer is raised here, at the item where it
    happened; closing this generator early stops the producer at its next item.

    The thread starts at the first item asked for, or at once with ``start=True``
    (the producer then works while the caller does something else first; a started
    generator that is never iterated stops its thread when it is closed or collected).
    ``start_depth`` lets the producer get that many items ahead until the first item
    is asked for (then ``depth``): room to work ahead while the caller is busy elsewhere."""
    for name, value in (("depth", depth), ("start_depth", depth if start_depth is None else start_depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidParameterError(f"{name} must be an int >= 1, got {value!r}")
    items = _readahead(batches, depth, start_depth or depth, start)
    if start:
        next(items)  # runs up to the started thread
    return items


_STARTED = object()


def _readahead(batches: Iterable[Any], depth: int, start_depth: int, start: bool) -> Generator[Any, None, None]:
    q: queue.Queue[Any] = queue.Queue(maxsize=start_depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(batches)
        try:
            for item in it:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # a generator's files close in the thread that runs it
                close()
        put(_DONE)

    worker = threading.Thread(target=produce, name="sysprims-readahead", daemon=True)
    worker.start()
    try:
        if start:
            yield _STARTED
        while True:
            if q.maxsize != depth:  # the first item is asked for: from now on the bound is depth
                with q.mutex:
                    q.maxsize = depth
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


def prepared(batches: Iterable[Any], prepare: Callable[[Any], T], *, read_ahead: bool = True
             ) -> Generator[T, None, None]:
    """``prepare`` of every batch, the batches read one ahead in their own thread (with
    :func:`readahead` around it, reading, preparing and the caller's work overlap);
    ``read_ahead=False`` when ``batches`` is a :func:`readahead` already."""
    source = readahead(batches, depth=1) if read_ahead else iter(batches)
    try:
        for batch in source:
            yield prepare(batch)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # stops the reading thread when the caller stops early
