"""``--scheduler`` support: read an input as a Dask collection and pick a scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._deps import require
from ..io import detect_format, expand_inputs
from ..io.readers import InputError


def _strip_eol(line: str) -> str:
    """Drop one line ending (``\n`` or ``\r\n``), as the local text reader does."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def dask_collection(path: str | list[str], column: str | None, fmt: str) -> Any:
    """The keys of ``path`` as a Dask Series (CSV/Parquet) or Bag (text)."""
    paths = expand_inputs(path)
    if "-" in paths:
        raise InputError("--scheduler needs a file (or a glob of files), not standard input")
    kind = detect_format(paths[0], fmt)
    path = paths if len(paths) > 1 else paths[0]
    if kind == "text":
        db = require("dask.bag", "dask")
        return db.read_text(path, blocksize="64MiB", linedelimiter="\n").map(_strip_eol)
    dd = require("dask.dataframe", "dask")
    if column is None:
        raise InputError(f"a {kind} input needs a column name (--column)")
    if kind == "parquet":
        frame = dd.read_parquet(path)
    else:
        # keys are keys: an empty field or "NA" is a key, as in the local reader
        frame = dd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                            sep="\t" if kind == "tsv" else ",", blocksize="64MiB")
    if column not in frame.columns:
        raise InputError(f"column {column!r} is not in {path}; available columns: {', '.join(map(repr, frame.columns))}")
    return frame[column]


@contextlib.contextmanager
def dask_scheduler(spec: str) -> Iterator[Any]:
    """'processes' starts a LocalCluster; 'threads'/'sync' are Dask's local
    schedulers; anything else is a distributed scheduler address."""
    if spec in ("threads", "sync"):
        yield spec
        return
    distributed = require("distributed", "dask")
    if spec == "processes":
        with distributed.LocalCluster(processes=True, dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            yield client
        return
    with distributed.Client(spec) as client:
        yield client
