"""``--scheduler`` support: read an input as a Dask collection and pick a scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

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


def dask_files(path: str | list[str], column: str | None, fmt: str) -> list[str]:
    """The files of ``path`` for a Dask build whose workers read them, checked here
    first (the column of the first file), so a mistake fails before a cluster starts."""
    from ..io import iter_column

    paths = expand_inputs(path)
    if "-" in paths:
        raise InputError("--scheduler needs a file (or a glob of files), not standard input")
    for _ in iter_column(paths[0], column, format=fmt, batch_rows=1):
        break
    return paths


#: Keys per core beyond the first from which ``--scheduler processes`` (a LocalCluster of
#: one worker per core) starts a cluster. Below it the cluster's start and teardown and
#: each worker's imports and kernel loading cost more than the extra cores save, since one
#: process already overlaps reading, hashing and setting bits in three threads. On this
#: project's shared 2-core machine benchmarks/pipeline_scale.py --main-job found no size
#: where the cluster pays (docs/cli.md), hence a default that keeps 2 cores in one process
#: up to 1G keys; ``--cluster-min-rows 0`` forces a cluster.
CLUSTER_MIN_ROWS_PER_EXTRA_CORE = 1_000_000_000


def default_cluster_min_rows(cores: int | None = None) -> int:
    """The default ``--cluster-min-rows`` for ``cores`` (default: this machine's)."""
    import os

    extra = max((cores or os.cpu_count() or 1) - 1, 0)
    if extra == 0:
        return 2**63 - 1  # one core: a cluster never pays
    return CLUSTER_MIN_ROWS_PER_EXTRA_CORE // extra


def local_cluster_pays(keys: int, min_rows: int | None) -> bool:
    """Whether ``--scheduler processes`` should start a local cluster for ``keys`` keys;
    when not, says so on standard error (the build then runs in this process)."""
    limit = default_cluster_min_rows() if min_rows is None else min_rows
    if keys >= limit:
        return True
    click.echo(f"--scheduler processes: {keys:,} keys is below --cluster-min-rows {limit:,} (a local cluster's "
               "start and per-worker kernel loading would cost more than its workers save); building in this "
               "process, to the same file (--cluster-min-rows 0 forces a cluster)", err=True)  # fmt: skip
    return False


@contextlib.contextmanager
def dask_scheduler(spec: str) -> Iterator[Any]:
    """'processes' starts a LocalCluster; 'threads'/'sync' are Dask's local
    schedulers; anything else is a distributed scheduler address."""
    if spec in ("threads", "sync"):
        yield spec
        return
    distributed = require("distributed", "dask")
    if spec == "processes":
        # workers start loading the build's kernels at once (see _dask_worker)
        with distributed.LocalCluster(processes=True, dashboard_address=None, preload=[f"{__package__}._dask_worker"]) \
                as cluster, distributed.Client(cluster) as client:  # fmt: skip
            yield client
        return
    with distributed.Client(spec) as client:
        yield client
