"""Shared pieces of the dataset commands: input options, streaming with a
progress bar, loading structures with clear errors, atomic Parquet output."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..errors import SerializationError, SysprimsError
from ..io import atomic_output, input_info, iter_column, iter_columns, prepared, progress, readahead

FORMATS = click.Choice(["auto", "text", "csv", "tsv", "parquet"])


def _one_or_many(ctx: Any, param: Any, value: tuple[str, ...]) -> str | list[str]:
    # one INPUT stays a string (the commands' messages name it); several become a list
    return value[0] if len(value) == 1 else list(value)


def input_options(func: Callable) -> Callable:
    """INPUT... argument (files, local globs such as 'part-*.parquet', or '-') plus
    --column, --format and --batch-rows."""
    func = click.option("--batch-rows", type=click.IntRange(min=1), default=1 << 20, show_default=True,
                        help="rows per batch (memory stays bounded by this)")(func)
    func = click.option("--format", "fmt", type=FORMATS, default="auto", show_default=True,
                        help="input format (auto: by extension; text = one key per line)")(func)
    func = click.option("--column", "-c", default=None, help="column holding the keys (CSV/Parquet)")(func)
    func = click.argument("input_path", metavar="INPUT...", nargs=-1, required=True, callback=_one_or_many)(func)
    return func


def load_numba() -> None:
    """Import numba for a command that runs kernels, skipping numba's BLAS probe.

    On first import numba probes for a BLAS by importing
    ``scipy.linalg.cython_blas``, which brings scipy.linalg and numpy.f2py with it
    (0.2-0.4 s of CPU per process here), only so that ``np.dot`` in a kernel may call
    scipy's BLAS; no sysprims kernel calls it. A CLI command owns its process, so
    before numba is first imported this makes that one import fail the way Python
    documents (a ``None`` in ``sys.modules`` raises ``ImportError``) and removes the
    entry right after: numba then keeps its own ``dot`` fallback, and scipy.linalg
    imports normally later. Nothing happens when numba or scipy.linalg is already
    loaded (a library user's process is never touched: ``import sysprims`` does not
    call this).
    """
    import sys

    blas = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" in sys.modules or blas in sys.modules:
        return
    sys.modules[blas] = None  # type: ignore[assignment]
    try:
        from .. import _jit

        _jit.load_numpy_support()  # the module that probes, once
    finally:
        if sys.modules.get(blas, False) is None:
            del sys.modules[blas]


def one_key_column() -> Any:
    """A one-key Arrow string column, as the readers give, to warm the kernels on;
    built from buffers: ``pa.array`` of a list imports pandas (0.25 s) to check
    whether the list is a pandas object."""
    import numpy as np
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, 1], dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(b"k")])


#: Batches the reading thread of :func:`stream_keys` may decode ahead while
#: ``while_reading`` runs (then the preparing thread takes them one at a time).
START_READ_AHEAD = 4


def stream_keys(
    path: str | list[str],
    column: str | None,
    fmt: str,
    batch_rows: int,
    desc: str,
    prepare: Callable[[Any], Any] | None = None,
    while_reading: Callable[[], Any] | None = None,
) -> Iterator[Any]:
    """Arrow arrays of keys, batch by batch, with a progress bar on a terminal.

    The next batches are read and decoded in a background thread while the
    caller uses this one; ``prepare`` (for example hashing: anything with a
    ``len``, or a tuple whose first item is a table) runs on each batch in a second
    thread, and its result is yielded:
    reading, preparing and the caller's work then overlap (three stages, each
    at most one batch ahead of the next).

    ``while_reading`` runs in this thread once the reading thread has started and
    before any batch is prepared (loading numba and the kernels while pyarrow
    decodes the first batches, which releases the GIL); the reading thread then
    gets up to ``START_READ_AHEAD`` batches ahead, and an error it raises closes
    the reading first."""
    info = input_info(path, fmt)
    batches: Iterator[Any] = iter_column(path, column, format=fmt, batch_rows=batch_rows)
    depth = 1 if prepare is not None else 2
    if while_reading is not None:
        batches = readahead(batches, depth=depth, start=True, start_depth=START_READ_AHEAD)
        try:
            while_reading()
        except BaseException:
            batches.close()  # type: ignore[attr-defined]  # a generator
            raise
    if prepare is not None:
        batches = prepared(batches, prepare, read_ahead=while_reading is None)
    with progress(total=info.rows, desc=desc) as bar:
        for item in readahead(batches, depth=depth):
            yield item
            bar.update(item[0].num_rows if isinstance(item, tuple) else len(item))


def stream_tables(
    path: str | list[str],
    columns: list[str],
    fmt: str,
    batch_rows: int,
    desc: str,
    as_string: list[str] | None = None,
    prepare: Callable[[Any], Any] | None = None,
) -> Iterator[Any]:
    """Arrow tables of ``columns``, batch by batch, read ahead as :func:`stream_keys`
    does; with ``prepare``, ``(table, prepare(table))`` pairs (``prepare`` runs in the
    read-ahead thread)."""
    info = input_info(path, fmt)
    tables: Iterator[Any] = iter_columns(path, columns, format=fmt, batch_rows=batch_rows, as_string=as_string)
    if prepare is not None:
        tables = ((t, prepare(t)) for t in tables)
    with progress(total=info.rows, desc=desc) as bar:
        for item in readahead(tables):
            yield item
            bar.update((item[0] if prepare is not None else item).num_rows)


def check_output(path: str | None) -> None:
    """Fail before any work when the output's folder does not exist or the output is a directory."""
    if path is None:
        return
    from ..io.readers import InputError

    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {path}: folder {parent} does not exist")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory (give a file name)")


def load_structure(cls: Any, path: str, what: str, *, mmap: bool = False) -> Any:
    """``cls.load(path)`` with an error that says what the file is not."""
    if not os.path.exists(path):
        raise SysprimsError(f"{path} does not exist")
    try:
        return cls.load(path, mmap=mmap)
    except SerializationError as exc:
        raise SerializationError(f"{path} is not a sysprims {what}: {exc}") from None


def write_parquet(path: str, tables: Iterator[Any]) -> int:
    """Write a stream of Arrow tables to ``path`` atomically; returns the row count.

    The tables are produced in a background thread while this one encodes and
    writes the previous ones (pyarrow releases the GIL for both)."""
    import pyarrow.parquet as pq

    tables = readahead(tables)
    rows = 0
    with atomic_output(path) as tmp:
        writer = None
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(str(tmp), table.schema)
                writer.write_table(table)
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise SysprimsError("the input holds no rows; nothing written")
    return rows


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def rate(self, n: int) -> str:
        s = max(self.seconds, 1e-9)
        return f"{n:,} rows in {s:.2f} s ({n / s:,.0f} rows/s)"
