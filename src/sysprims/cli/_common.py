"""Shared pieces of the dataset commands: input options, streaming with a
progress bar, loading structures with clear errors, atomic Parquet output."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..errors import SerializationError, SysprimsError
from ..io import atomic_output, input_info, iter_column, iter_columns, progress

FORMATS = click.Choice(["auto", "text", "csv", "tsv", "parquet"])


def input_options(func: Callable) -> Callable:
    """INPUT argument plus --column, --format and --batch-rows."""
    func = click.option("--batch-rows", type=click.IntRange(min=1), default=1 << 20, show_default=True,
                        help="rows per batch (memory stays bounded by this)")(func)
    func = click.option("--format", "fmt", type=FORMATS, default="auto", show_default=True,
                        help="input format (auto: by extension; text = one key per line)")(func)
    func = click.option("--column", "-c", default=None, help="column holding the keys (CSV/Parquet)")(func)
    func = click.argument("input_path", metavar="INPUT")(func)
    return func


def stream_keys(path: str, column: str | None, fmt: str, batch_rows: int, desc: str) -> Iterator[Any]:
    """Arrow arrays of keys, batch by batch, with a progress bar on a terminal."""
    info = input_info(path, fmt)
    with progress(total=info.rows, desc=desc) as bar:
        for arr in iter_column(path, column, format=fmt, batch_rows=batch_rows):
            yield arr
            bar.update(len(arr))


def stream_tables(
    path: str, columns: list[str], fmt: str, batch_rows: int, desc: str, as_string: list[str] | None = None
) -> Iterator[Any]:
    info = input_info(path, fmt)
    with progress(total=info.rows, desc=desc) as bar:
        for table in iter_columns(path, columns, format=fmt, batch_rows=batch_rows, as_string=as_string):
            yield table
            bar.update(table.num_rows)


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
    """Write a stream of Arrow tables to ``path`` atomically; returns the row count."""
    import pyarrow.parquet as pq

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
