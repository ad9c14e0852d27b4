"""Build sketches on Dask, partition by partition, merged by tree reduction.

Each partition of a Dask DataFrame column, Series or Bag is turned into one
sketch (in the worker that holds it); the sketches are merged pairwise up a
tree (``split_every`` at a time), so no single task ever sees all the data.
Bloom filters merge by OR and Count-Min sketches by addition, so the result is
byte-identical to building the structure in one process from the same keys.

    >>> import dask.dataframe as dd
    >>> from sysprims.dask import build_bloom
    >>> bf = build_bloom(dd.read_parquet("users/"), column="user", capacity=10_000_000, false_positive_rate=0.01)

``scheduler`` is passed to ``dask.compute``: None (the default or the active
``distributed.Client``), ``"threads"``, ``"processes"``, ``"sync"`` or a
``distributed.Client``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._deps import require
from ._validate import check_int
from .errors import InvalidParameterError

__all__ = [
    "build",
    "build_bloom",
    "build_bloom_files",
    "build_countmin",
    "build_from_files",
    "build_topk",
    "build_trending",
    "file_units",
    "tree_reduce",
]


def _partition_keys(part: Any) -> Any:
    """Keys of one partition in a form every ``_many`` method takes."""
    if isinstance(part, list):
        return part
    values = getattr(part, "array", None)
    arrow = getattr(values, "_pa_array", None)  # pandas ArrowExtensionArray / ArrowStringArray
    if arrow is not None:
        return arrow
    return part.to_numpy() if hasattr(part, "to_numpy") else list(part)


def _build_partition(part: Any, factory: Callable[[], Any], method: str, prehash: bool = False) -> Any:
    sketch = factory()
    keys = _partition_keys(part)
    if len(keys):
        if prehash:  # hashing the whole partition first, then setting bits, is the faster order
            from .hashing import hash_keys

            keys = hash_keys(keys, sketch.seed)
        getattr(sketch, method)(keys)
    return sketch


def _merge_all(merge: Callable[[Any, Any], Any], *sketches: Any) -> Any:
    result = sketches[0]
    for other in sketches[1:]:
        result = merge(result, other)
    return result


def tree_reduce(parts: list[Any], merge: Callable[[Any, Any], Any], split_every: int = 8) -> Any:
    """Reduce delayed objects ``split_every`` at a time until one is left."""
    dask = require("dask")
    split_every = check_int("split_every", split_every, min=2)
    level = list(parts)
    if not level:
        raise InvalidParameterError("the collection has no partitions")
    while len(level) > 1:
        level = [
            dask.delayed(_merge_all, pure=True)(merge, *level[i : i + split_every])
            for i in range(0, len(level), split_every)
        ]
    return level[0]


def _partitions(collection: Any, column: str | None) -> list[Any]:
    dd_module = require("dask.dataframe", "dask")
    db = require("dask.bag", "dask")
    if isinstance(collection, dd_module.DataFrame):
        if column is None:
            raise InvalidParameterError("column is required for a Dask DataFrame")
        if column not in collection.columns:
            raise InvalidParameterError(
                f"column {column!r} is not in the DataFrame; available columns: {list(collection.columns)}"
            )
        collection = collection[column]
    elif column is not None and not isinstance(collection, dd_module.Series):
        raise InvalidParameterError("column only applies to a Dask DataFrame")
    if isinstance(collection, (dd_module.Series, db.Bag)):
        return list(collection.to_delayed())
    raise InvalidParameterError(
        f"collection must be a Dask DataFrame, Series or Bag, got {type(collection).__name__}"
    )


def build(
    collection: Any,
    factory: Callable[[], Any],
    *,
    column: str | None = None,
    method: str = "add_many",
    merge: Callable[[Any, Any], Any],
    split_every: int = 8,
    scheduler: Any = None,
    prehash: bool = False,
) -> Any:
    """One ``factory()`` sketch per partition fed with ``method``, merged with ``merge``;
    ``prehash``: feed it the partition's :class:`~sysprims.hashing.HashedKeys` instead of
    the keys (for sketches that accept them and keep no keys)."""
    dask = require("dask")
    parts = _partitions(collection, column)
    sketches = [dask.delayed(_build_partition, pure=True)(p, factory, method, prehash) for p in parts]
    return _compute(tree_reduce(sketches, merge, split_every), scheduler)


def _compute(result: Any, scheduler: Any) -> Any:
    if scheduler is None:
        return result.compute()
    if isinstance(scheduler, str):
        return result.compute(scheduler=scheduler)
    return scheduler.compute(result).result()


class _Factory:
    """A picklable constructor call (workers in other processes rebuild it):
    ``getattr(sysprims.<module>.<cls>, ctor)(*args, **kwargs)``."""

    def __init__(self, module: str, cls: str, ctor: str | None, *args: Any, **kwargs: Any):
        self.where = (module, cls, ctor)
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> Any:
        import importlib

        module, cls, ctor = self.where
        target = getattr(importlib.import_module(f"sysprims.{module}"), cls)
        return (getattr(target, ctor) if ctor else target)(*self.args, **self.kwargs)


def _union(a: Any, b: Any) -> Any:
    return a.union(b)


def _merge(a: Any, b: Any) -> Any:
    return a.merge(b)


def build_bloom(
    collection: Any,
    *,
    capacity: int,
    false_positive_rate: float = 0.01,
    column: str | None = None,
    seed: int = 0,
    blocked: bool = False,
    split_every: int = 8,
    scheduler: Any = None,
    layout: str | None = None,
) -> Any:
    """A :class:`~sysprims.bloom.BloomFilter` of every key in the collection
    (``layout`` as in :meth:`~sysprims.bloom.BloomFilter.for_capacity`)."""
    factory = _Factory("bloom", "BloomFilter", "for_capacity", capacity, false_positive_rate, seed=seed,
                       blocked=blocked, layout=layout)
    factory()  # validate the parameters before any task runs
    return build(
        collection,
        factory,
        column=column,
        method="add_many",
        merge=_union,
        split_every=split_every,
        scheduler=scheduler,
        prehash=True,
    )


def build_countmin(
    collection: Any,
    *,
    width: int,
    depth: int,
    column: str | None = None,
    seed: int = 0,
    dtype: str = "uint32",
    split_every: int = 8,
    scheduler: Any = None,
) -> Any:
    """A :class:`~sysprims.countmin.CountMinSketch` counting every key of the collection."""
    factory = _Factory("countmin", "CountMinSketch", None, width, depth, seed=seed, dtype=dtype)
    factory()
    return build(
        collection,
        factory,
        column=column,
        method="update_many",
        merge=_merge,
        split_every=split_every,
        scheduler=scheduler,
    )


def build_topk(
    collection: Any,
    *,
    k: int,
    width: int,
    depth: int,
    column: str | None = None,
    seed: int = 0,
    split_every: int = 8,
    scheduler: Any = None,
) -> Any:
    """A :class:`~sysprims.countmin.TopK` heavy-hitter tracker over the collection."""
    factory = _Factory("countmin", "TopK", None, k, width, depth, seed=seed)
    factory()
    return build(
        collection,
        factory,
        column=column,
        method="update_many",
        merge=_merge,
        split_every=split_every,
        scheduler=scheduler,
    )


def _build_trending_partition(part: Any, factory: Callable[[], Any], key: str, time: str) -> Any:
    sketch = factory()
    if len(part):
        sketch.update_many(_partition_keys(part[key]), part[time].to_numpy())
    return sketch


def build_trending(
    frame: Any,
    *,
    key: str,
    time: str,
    k: int,
    width: int,
    depth: int,
    split_every: int = 8,
    scheduler: Any = None,
    **options: Any,
) -> Any:
    """A :class:`~sysprims.countmin.TrendingTopK` over ``(frame[key], frame[time])``
    events (each partition in time order); ``options`` go to its constructor.
    The merged tables equal one tracker fed all events in time order."""
    dask = require("dask")
    dd_module = require("dask.dataframe", "dask")
    if not isinstance(frame, dd_module.DataFrame):
        raise InvalidParameterError(f"frame must be a Dask DataFrame, got {type(frame).__name__}")
    for name in (key, time):
        if name not in frame.columns:
            raise InvalidParameterError(f"column {name!r} is not in the DataFrame; available columns: {list(frame.columns)}")
    factory = _Factory("countmin", "TrendingTopK", None, k, width, depth, **options)
    factory()
    parts = frame[[key, time]].to_delayed()
    sketches = [dask.delayed(_build_trending_partition, pure=True)(p, factory, key, time) for p in parts]
    return _compute(tree_reduce(sketches, _merge, split_every), scheduler)


# ------------------------------------------------------------- from files


def file_units(paths: list[str], format: str = "auto", parts: int = 1) -> list[list[tuple[str, list[int] | None]]]:
    """Split local files into ``parts`` groups of about equal rows (Parquet, from the
    footers) or bytes (text, CSV): each group is a list of ``(path, row_groups)``, with
    ``row_groups`` None for a whole file. A Parquet file is cut between row groups only
    when there are fewer files than parts. Groups keep the files' order."""
    from .io import detect_format

    parts = check_int("parts", parts, min=1)
    units: list[tuple[str, list[int] | None, int]] = []
    for path in paths:
        if detect_format(path, format) == "parquet":
            pq = require("pyarrow.parquet", "arrow")
            meta = pq.ParquetFile(path).metadata
            if len(paths) < parts and meta.num_row_groups > 1:
                units.extend((path, [i], meta.row_group(i).num_rows) for i in range(meta.num_row_groups))
            else:
                units.append((path, None, meta.num_rows))
        else:
            import os

            units.append((path, None, os.path.getsize(path)))
    total = sum(u[2] for u in units) or 1
    groups: list[list[tuple[str, list[int] | None]]] = [[] for _ in range(min(parts, len(units)))]
    done = 0
    for path, rgs, size in units:
        g = min(len(groups) - 1, done * len(groups) // total)
        if groups[g] and groups[g][-1][0] == path and rgs is not None:
            last = groups[g][-1][1]
            assert last is not None  # a row-group unit follows a row-group unit of the same file
            last.extend(rgs)
        else:
            groups[g].append((path, rgs))
        done += size
    return [g for g in groups if g]


def _build_units(units: list[tuple[str, list[int] | None]], column: str | None, format: str, batch_rows: int,
                 factory: Callable[[], Any], method: str, prehash: bool) -> Any:
    """One sketch fed the keys of ``units`` in a worker: read ahead in one thread,
    hashed (``prehash``) in a second, fed to ``method`` in this one."""
    from .io import iter_column, prepared, readahead

    sketch = factory()
    feed = getattr(sketch, method)
    for path, row_groups in units:
        batches: Any = iter_column(path, column, format=format, batch_rows=batch_rows, row_groups=row_groups)
        if prehash:
            from .hashing import hash_keys

            batches = prepared(batches, lambda arr: hash_keys(arr, sketch.seed))
        for batch in readahead(batches, depth=1):
            feed(batch)
    return sketch


def build_from_files(
    paths: Any,
    factory: Callable[[], Any],
    *,
    merge: Callable[[Any, Any], Any],
    column: str | None = None,
    format: str = "auto",
    batch_rows: int | None = None,
    method: str = "add_many",
    tasks: int | None = None,
    split_every: int = 8,
    scheduler: Any = None,
    prehash: bool = False,
) -> Any:
    """One sketch per group of local files (see :func:`file_units`), read in the workers
    with :func:`sysprims.io.iter_column` (no Dask DataFrame, no pandas), merged with
    ``merge``. ``tasks`` (default: the client's workers, else the cores) is the number
    of groups: one full-size sketch per task is shipped to the merge, so fewer and
    larger tasks cost less than one per partition. The paths must be readable by
    every worker."""
    import os

    from .io import expand_inputs
    from .io.readers import DEFAULT_BATCH_ROWS

    dask = require("dask")
    files = expand_inputs(paths)
    if "-" in files:
        raise InvalidParameterError("a Dask build needs files, not standard input")
    if tasks is None:
        tasks = _workers(scheduler) or os.cpu_count() or 1
    groups = file_units(files, format, tasks)
    rows = check_int("batch_rows", DEFAULT_BATCH_ROWS if batch_rows is None else batch_rows, min=1)
    sketches = [dask.delayed(_build_units, pure=True)(g, column, format, rows, factory, method, prehash)
                for g in groups]  # fmt: skip
    return _compute(tree_reduce(sketches, merge, split_every), scheduler)


def _workers(scheduler: Any) -> int:
    info = getattr(scheduler, "scheduler_info", None)
    if info is None:
        return 0
    return len(info().get("workers", {}))


def build_bloom_files(
    paths: Any,
    *,
    capacity: int,
    false_positive_rate: float = 0.01,
    column: str | None = None,
    format: str = "auto",
    seed: int = 0,
    layout: str | None = None,
    batch_rows: int | None = None,
    tasks: int | None = None,
    scheduler: Any = None,
) -> Any:
    """:func:`build_bloom` over local files read by the workers themselves (see
    :func:`build_from_files`); byte-identical to the one-process build."""
    factory = _Factory("bloom", "BloomFilter", "for_capacity", capacity, false_positive_rate, seed=seed,
                       layout=layout)
    factory()
    return build_from_files(paths, factory, merge=_union, column=column, format=format, batch_rows=batch_rows,
                            tasks=tasks, scheduler=scheduler, prehash=True)
