"""Streaming readers: text, CSV and Parquet in bounded memory.

:func:`iter_column` yields one pyarrow array per batch for a column of a file
(or of standard input with ``"-"``), so memory stays bounded by the batch size
whatever the file size. Every array can be passed straight to a ``_many``
method (Arrow strings are hashed zero-copy).

Formats: ``text`` (one key per line, ``\\n`` or ``\\r\\n``; the line is the key;
a leading UTF-8 byte-order mark is dropped; a file whose first 8 KiB hold a NUL
byte, such as a saved filter or a Parquet file, is refused as binary),
``csv`` (with a header row) and ``parquet``; ``auto`` picks by extension
(``.csv``/``.tsv``, ``.parquet``/``.pq``, anything else is text).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._deps import require
from ..errors import InputError, InvalidParameterError
from .sources import expand_inputs

__all__ = ["InputError", "InputInfo", "detect_format", "input_info", "iter_column", "iter_columns"]

DEFAULT_BATCH_ROWS = 1 << 20
_TEXT_CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class InputInfo:
    """What is known up front about an input (for progress bars)."""

    format: str
    rows: int | None  # known for Parquet
    bytes: int | None  # known for regular files


def detect_format(path: str | os.PathLike[str], format: str = "auto") -> str:
    if format not in ("auto", "text", "csv", "tsv", "parquet"):
        raise InvalidParameterError(f"format must be one of auto, text, csv, tsv, parquet, got {format!r}")
    if format != "auto":
        return format
    suffix = Path(str(path)).suffix.lower()
    if suffix in (".csv",):
        return "csv"
    if suffix in (".tsv",):
        return "tsv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "text"


def input_info(path: Any, format: str = "auto") -> InputInfo:
    """Format, rows (Parquet) and bytes of an input: one file, ``"-"``, a glob or a list
    of them (rows and bytes summed over the files)."""
    paths = expand_inputs(path)
    fmts = {detect_format(p, format) for p in paths}
    if len(fmts) > 1:
        raise InputError(f"the inputs mix formats ({', '.join(sorted(fmts))}): give files of one format")
    fmt = fmts.pop()
    if paths == ["-"]:
        return InputInfo(fmt, None, None)
    rows: int | None = 0 if fmt == "parquet" else None
    size = 0
    for p in paths:
        _check_exists(p)
        size += os.path.getsize(p)
        if fmt == "parquet":
            pq = require("pyarrow.parquet", "arrow")
            try:
                rows += pq.ParquetFile(p).metadata.num_rows  # type: ignore[operator]
            except Exception as exc:  # pyarrow raises ArrowInvalid and friends
                raise InputError(f"{p} is not a readable Parquet file: {exc}") from None
    return InputInfo(fmt, rows, size)


def iter_column(
    path: Any,
    column: str | None = None,
    *,
    format: str = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    row_groups: list[int] | None = None,
) -> Iterator[Any]:
    """Yield the values of ``column`` as pyarrow arrays of at most ``batch_rows``.

    ``path`` is a file, ``"-"``, a local glob or a list of them (read one after the
    other, in the order :func:`~sysprims.io.sources.expand_inputs` gives).
    For text input ``column`` must be None (each line is a key). For CSV and
    Parquet it is required; a missing column names the available ones.
    ``row_groups`` (one Parquet file only) reads just those row groups, in that order.
    """
    paths = expand_inputs(path)
    if len(paths) > 1:
        if row_groups is not None:
            raise InvalidParameterError("row_groups applies to one Parquet file, not several inputs")
        for p in paths:
            yield from iter_column(p, column, format=format, batch_rows=batch_rows)
        return
    path = paths[0]
    fmt = detect_format(path, format)
    if fmt == "text":
        if column is not None:
            raise InputError(f"--column does not apply to a text input (one key per line): {path}")
        yield from _iter_text(path, batch_rows)
        return
    if column is None:
        raise InputError(f"a {fmt} input needs a column name (--column)")
    row = 0
    for table in iter_columns(path, [column], format=fmt, batch_rows=batch_rows, row_groups=row_groups):
        arr = _one_array(table.column(0))
        _check_key_column(path, column, arr, row)
        row += len(arr)
        yield arr


def _one_array(col: Any) -> Any:
    """A column of a batch as one Arrow array: its only chunk as it is (combining a
    one-chunk column copies it, 4 ms per million 20-byte keys here), else the chunks
    joined."""
    if not hasattr(col, "combine_chunks"):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _check_key_column(path: str | os.PathLike[str], column: str, arr: Any, row: int) -> None:
    """Refuse, naming the column, a column that holds no keys or a missing value."""
    pa = require("pyarrow", "arrow")
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
        or pa.types.is_large_binary(t) or pa.types.is_integer(t)
        or pa.types.is_string_view(t) or pa.types.is_binary_view(t)
    ):
        raise InputError(
            f"column {column!r} of {path} holds {arr.type} values, which are not keys; "
            "keys are strings, bytes or integers (cast the column first)"
        )
    if arr.null_count:
        first = int(np.flatnonzero(~np.asarray(arr.is_valid()))[0])
        raise InputError(
            f"column {column!r} of {path} has a missing value at row {row + first + 1}; "
            "keys cannot be missing (drop or fill them first)"
        )


def iter_columns(
    path: Any,
    columns: list[str],
    *,
    format: str = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    as_string: list[str] | None = None,
    row_groups: list[int] | None = None,
) -> Iterator[Any]:
    """Yield pyarrow Tables holding ``columns`` (in that order), batch by batch.

    CSV columns named in ``as_string`` (default: all of them) are read as
    strings (keys are keys: ``007`` stays ``"007"``); the others are typed by
    pyarrow's inference (numbers, timestamps). ``path`` may name several files, as
    for :func:`iter_column` (and ``row_groups`` as there).
    """
    paths = expand_inputs(path)
    if len(paths) > 1:
        if row_groups is not None:
            raise InvalidParameterError("row_groups applies to one Parquet file, not several inputs")
        for p in paths:
            yield from iter_columns(p, columns, format=format, batch_rows=batch_rows, as_string=as_string)
        return
    path = paths[0]
    fmt = detect_format(path, format)
    if batch_rows < 1:
        raise InvalidParameterError(f"batch_rows must be >= 1, got {batch_rows}")
    if row_groups is not None and fmt != "parquet":
        raise InvalidParameterError(f"row_groups applies to a Parquet input, not {fmt}")
    if fmt == "parquet":
        yield from _iter_parquet(path, columns, batch_rows, row_groups)
    elif fmt in ("csv", "tsv"):
        strings = columns if as_string is None else as_string
        yield from _iter_csv(path, columns, batch_rows, "\t" if fmt == "tsv" else ",", strings)
    else:
        raise InputError(f"a text input has no columns; use a CSV or Parquet file for {columns}")


# ----------------------------------------------------------------------- text


def _open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    if str(path) == "-":
        return sys.stdin.buffer
    _check_exists(path)
    return open(path, "rb")  # noqa: SIM115 - closed by the caller


def _check_exists(path: str | os.PathLike[str]) -> None:
    if not os.path.exists(path):
        raise InputError(f"input file {path} does not exist")
    if os.path.isdir(path):
        raise InputError(f"input {path} is a folder, not a file")


_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192


def _iter_text(path: str | os.PathLike[str], batch_rows: int) -> Iterator[Any]:
    pa = require("pyarrow", "arrow")
    fh = _open_binary(path)
    try:
        rest = b""
        first = True
        while True:
            chunk = fh.read(_TEXT_CHUNK_BYTES)
            if not chunk:
                break
            if first:
                first = False
                chunk = _check_text(path, chunk)
            buf = rest + chunk
            cut = buf.rfind(b"\n")
            if cut < 0:
                rest = buf
                continue
            rest = buf[cut + 1 :]
            yield from _split_batches(_lines_to_arrow(pa, buf[: cut + 1]), batch_rows)
        if rest:
            yield from _split_batches(_lines_to_arrow(pa, rest + b"\n"), batch_rows)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _check_text(path: str | os.PathLike[str], head: bytes) -> bytes:
    """The first chunk of a text input without its UTF-8 byte-order mark;
    binary data (a NUL byte near the start, as git and grep decide) is refused."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if b"\x00" in head[:_SNIFF_BYTES]:
        from .._format import MAGIC

        what = (
            "a saved sysprims structure (use it as FILTER/SKETCH, not as INPUT)" if head.startswith(MAGIC)
            else "a Parquet file (name it .parquet or pass --format parquet)" if head.startswith(b"PAR1")
            else "binary data (or text in UTF-16/32; save it as UTF-8)"
        )
        raise InputError(f"{path} is not a text input of one key per line: it looks like {what}")
    return head


def _lines_to_arrow(pa: Any, block: bytes) -> Any:
    """Lines of ``block`` (each ending in ``\\n``) as one Arrow large_string array,
    built with vectorised NumPy (no Python object per line)."""
    data = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(data == 10)
    starts = np.empty(nl.shape[0], dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.copy()
    has_cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13)
    ends -= has_cr
    keep = np.ones(data.shape[0], dtype=bool)
    keep[nl] = False
    keep[ends[has_cr]] = False
    removed_before = starts - (np.arange(starts.shape[0], dtype=np.int64) + np.cumsum(has_cr) - has_cr)
    offsets = np.empty(starts.shape[0] + 1, dtype=np.int64)
    offsets[:-1] = removed_before
    offsets[-1] = int(keep.sum())
    payload = data[keep]
    try:
        payload.tobytes().decode("utf-8")
        typ = pa.large_string()
    except UnicodeDecodeError:
        typ = pa.large_binary()
    return pa.Array.from_buffers(typ, starts.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(payload)])


def _split_batches(arr: Any, batch_rows: int) -> Iterator[Any]:
    for start in range(0, len(arr), batch_rows):
        yield arr.slice(start, batch_rows)


# -------------------------------------------------------------------- parquet


def _iter_parquet(
    path: str | os.PathLike[str], columns: list[str], batch_rows: int, row_groups: list[int] | None = None
) -> Iterator[Any]:
    pa = require("pyarrow", "arrow")
    pq = require("pyarrow.parquet", "arrow")
    source: Any = path
    if str(path) == "-":
        source = io.BytesIO(sys.stdin.buffer.read())
    else:
        _check_exists(path)
    try:
        # pre_buffer=False: pyarrow's default read-ahead buffers a whole column
        # chunk up front, which makes memory grow with the file, not the batch
        pf = pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 20)
    except Exception as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from None
    available = pf.schema_arrow.names
    _check_columns(path, columns, available)
    meta = pf.metadata
    if row_groups is None:
        row_groups = list(range(meta.num_row_groups))
    for i in row_groups:
        if not 0 <= i < meta.num_row_groups:
            raise InvalidParameterError(f"{path} has {meta.num_row_groups} row groups; there is no row group {i}")
        if meta.row_group(i).num_rows <= batch_rows:
            # a whole row group at once: about half the CPU of iter_batches, which
            # decodes into batch_size pieces and reassembles them, for the same memory bound
            table = pf.read_row_group(i, columns=columns, use_threads=False)
            if table.num_rows:
                yield table.select(columns)
            continue
        for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[i], columns=columns, use_threads=False):
            yield pa.Table.from_batches([batch]).select(columns)


# ------------------------------------------------------------------------ csv


def _iter_csv(
    path: str | os.PathLike[str], columns: list[str], batch_rows: int, delimiter: str, strings: list[str]
) -> Iterator[Any]:
    pa = require("pyarrow", "arrow")
    csv = require("pyarrow.csv", "arrow")
    fh = _open_binary(path)
    try:
        header_line = fh.readline()
        _check_columns(path, columns, _parse_header(header_line, path, delimiter))
        if fh is sys.stdin.buffer:
            source: Any = io.BufferedReader(_Prepend(header_line, fh))
        else:
            fh.seek(0)
            source = fh
        try:
            yield from _csv_batches(pa, csv, source, columns, batch_rows, delimiter, strings)
        except pa.ArrowInvalid as exc:
            # pyarrow's message names the row ("Row #3: Expected 2 columns, got 1")
            raise InputError(f"{path}: malformed CSV: {exc}") from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _csv_batches(
    pa: Any, csv: Any, source: Any, columns: list[str], batch_rows: int, delimiter: str, strings: list[str]
) -> Iterator[Any]:
    reader = csv.open_csv(
        source,
        read_options=csv.ReadOptions(block_size=1 << 22, use_threads=False),
        parse_options=csv.ParseOptions(delimiter=delimiter),
        convert_options=csv.ConvertOptions(
            include_columns=columns,
            column_types={c: pa.large_string() for c in strings},
            strings_can_be_null=False,
        ),
    )
    pending: list[Any] = []
    pending_rows = 0
    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= batch_rows:
            table = pa.Table.from_batches(pending).select(columns)
            yield table.slice(0, batch_rows)
            rest = table.slice(batch_rows)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending).select(columns)


class _Prepend(io.RawIOBase):
    """Standard input with its already-consumed header line put back in front."""

    def __init__(self, header_bytes: bytes, raw: BinaryIO):
        self._head = header_bytes
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(b))
        b[: len(data)] = data
        return len(data)


def _parse_header(line: bytes, path: str | os.PathLike[str], delimiter: str) -> list[str]:
    import csv as pycsv

    if not line:
        raise InputError(f"{path} is empty: a CSV input needs a header row")
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the CSV header is not UTF-8") from None
    return next(pycsv.reader([text], delimiter=delimiter))


def _check_columns(path: str | os.PathLike[str], wanted: list[str], available: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise InputError(
            f"column {missing[0]!r} is not in {path}; available columns: {', '.join(map(repr, available))}"
        )
