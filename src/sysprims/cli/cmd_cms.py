"""``sysprims cms count | top [--window] | query | info``."""

from __future__ import annotations

import click

from ._common import (
    Timer,
    check_output,
    input_options,
    load_numba,
    load_structure,
    stream_keys,
    stream_tables,
    write_parquet,
)

ORDER = 20


def _sketch_options(func):
    func = click.option("--seed", type=int, default=0, show_default=True, help="hash seed (sketches merge only with an equal seed)")(func)
    func = click.option("--delta", type=float, default=0.01, show_default=True, help="failure probability (depth = ceil(ln 1/delta))")(func)
    func = click.option("--epsilon", type=float, default=0.0001, show_default=True, help="error as a fraction of the total (width = ceil(e/epsilon))")(func)
    return func


@click.group("cms")
def COMMAND() -> None:
    """Count-Min sketches and heavy hitters over a column."""
    load_numba()  # every subcommand runs kernels


@COMMAND.command("count")
@input_options
@_sketch_options
@click.option(
    "--scheduler",
    default=None,
    help="count on Dask: a scheduler address, or 'processes' for a local cluster",
)
@click.option("-o", "--output", required=True, help="output sketch file")
def count(input_path, column, fmt, batch_rows, epsilon, delta, seed, scheduler, output):
    """Count every key of INPUT into a Count-Min sketch."""
    check_output(output)
    from ..countmin import CountMinSketch

    timer = Timer()
    proto = CountMinSketch.from_error(epsilon, delta, seed=seed)
    if scheduler:
        from ..dask import build_countmin
        from ._dask import dask_collection, dask_scheduler

        with dask_scheduler(scheduler) as sched:
            cms = build_countmin(
                dask_collection(input_path, column, fmt),
                width=proto.width,
                depth=proto.depth,
                seed=seed,
                scheduler=sched,
            )
    else:
        cms = proto
        for arr in stream_keys(input_path, column, fmt, batch_rows, "cms count"):
            cms.update_many(arr)
    cms.save(output)
    click.echo(
        f"built {output}: {cms.depth} x {cms.width} counters, total {cms.total:,}; "
        f"error <= {cms.error_bound():,.1f} with probability {1 - delta:g}; {timer.rate(cms.total)}"
    )


@COMMAND.command("top")
@input_options
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=20, show_default=True, help="how many heavy hitters")
@_sketch_options
@click.option(
    "--window", default=None, help="heavy hitters per time window: 60s, 5m, 1h, 250ms or seconds"
)
@click.option(
    "--time-column",
    default=None,
    help="column of event times (seconds or timestamps), with --window",
)
@click.option(
    "-o",
    "--output",
    default=None,
    help="with --window: write window_start,rank,key,count rows to Parquet",
)
def top(input_path, column, fmt, batch_rows, k, epsilon, delta, seed, window, time_column, output):
    """Print the K most frequent keys of INPUT with their estimated counts.

    With --window and --time-column, the K heaviest keys of every window of
    that length (the abuse and DDoS recipe), in time order; rows must come in
    time order (a late row counts in the current window). Counts never undercount."""
    check_output(output)
    if window is None:
        if time_column or output:
            raise click.UsageError("--time-column and --output need --window")
        return _top_all(input_path, column, fmt, batch_rows, k, epsilon, delta, seed)
    if not time_column:
        raise click.UsageError("--window needs --time-column")
    if column is None:
        raise click.UsageError("--window needs --column (the key column of a CSV or Parquet input)")
    rows = _top_windows(
        input_path, column, fmt, batch_rows, k, epsilon, delta, seed, _seconds(window), time_column
    )
    if output:
        n = write_parquet(output, rows)
        click.echo(f"wrote {n:,} rows to {output}")
    else:
        for table in rows:
            for start, rank, key, est in zip(
                *(table.column(c).to_pylist() for c in table.column_names), strict=True
            ):
                click.echo(f"{start}\t{rank}\t{key}\t{est}")


def _top_all(input_path, column, fmt, batch_rows, k, epsilon, delta, seed):
    from ..countmin import CountMinSketch, TopK

    proto = CountMinSketch.from_error(epsilon, delta)
    tk = TopK(k, proto.width, proto.depth, seed=seed)
    timer = Timer()
    for arr in stream_keys(input_path, column, fmt, batch_rows, "cms top"):
        tk.update_many(arr)
    rows = tk.top()
    width = max([len(str(key)) for key, _ in rows] + [3])
    click.echo(f"{'key'.ljust(width)}  estimate")
    for key, est in rows:
        click.echo(f"{str(key).ljust(width)}  {est:,}")
    click.echo(f"({timer.rate(tk.total)}; estimates never undercount)")


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(text: str) -> float:
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|min|m|h|d)?\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise click.BadParameter(
            f"expected a positive duration such as 60s, 5m, 1h or 250ms, got {text!r}",
            param_hint="--window",
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _top_windows(
    input_path, column, fmt, batch_rows, k, epsilon, delta, seed, interval, time_column
):
    """Arrow tables of (window_start, rank, key, count), one per batch with closed windows."""
    import numpy as np
    import pyarrow as pa

    from ..countmin import CountMinSketch, TrendingTopK

    proto = CountMinSketch.from_error(epsilon, delta)
    tr = TrendingTopK(
        k, proto.width, proto.depth, interval=interval, window=1, history=2, seed=seed
    )
    out: dict[str, list] = {"window_start": [], "rank": [], "key": [], "count": []}
    timestamp_type = None

    def close(bucket: int) -> None:
        for rank, (key, est) in enumerate(tr.top(), 1):
            out["window_start"].append(bucket * interval)
            out["rank"].append(rank)
            out["key"].append(key)
            out["count"].append(est)

    def flush():
        t = pa.table({"window_start": pa.array(out["window_start"], pa.float64()), "rank": pa.array(out["rank"], pa.int32()),
                      "key": pa.array(out["key"]), "count": pa.array(out["count"], pa.uint64())})  # fmt: skip
        if timestamp_type is not None:  # report window starts in the input's own time type
            ns = (np.asarray(out["window_start"]) * 1e9).round().astype("int64")
            t = t.set_column(
                0, "window_start", pa.array(ns.astype("datetime64[ns]")).cast(timestamp_type)
            )
        for v in out.values():
            v.clear()
        return t

    for table in stream_tables(
        input_path, [column, time_column], fmt, batch_rows, "cms top --window", as_string=[column]
    ):
        keys = table.column(0).combine_chunks()
        times_col = table.column(1).combine_chunks()
        if pa.types.is_timestamp(times_col.type):
            timestamp_type = times_col.type
            times = times_col.cast(pa.timestamp("ns", times_col.type.tz)).to_numpy(
                zero_copy_only=False
            )
            times = times.astype("datetime64[ns]").astype("int64") / 1e9
        elif pa.types.is_integer(times_col.type) or pa.types.is_floating(times_col.type):
            times = times_col.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            from ..io.readers import InputError

            raise InputError(
                f"--time-column {time_column!r} must hold numbers (seconds) or timestamps, got {times_col.type}"
            )
        if times_col.null_count:
            from ..io.readers import InputError

            raise InputError(f"--time-column {time_column!r} holds empty values")
        buckets = np.floor(times / interval)
        cur = tr.current_bucket if tr.started else None
        # split where the running maximum of the bucket grows: a window closes there
        run = np.maximum.accumulate(buckets) if len(buckets) else buckets
        cuts = np.flatnonzero(np.diff(run) > 0) + 1
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(buckets)], strict=True):
            if hi <= lo:
                continue
            b = int(run[lo])
            if cur is not None and b > cur:
                close(cur)
            tr.update_many(keys.slice(lo, hi - lo), times[lo:hi])
            cur = tr.current_bucket
        if out["key"]:
            yield flush()
    if tr.started:
        close(tr.current_bucket)
        yield flush()


@COMMAND.command("query")
@click.argument("sketch_path", metavar="SKETCH")
@click.argument("keys", nargs=-1, required=True)
def query(sketch_path, keys):
    """Print the estimated count of each KEY in SKETCH."""
    from ..countmin import CountMinSketch

    cms = load_structure(CountMinSketch, sketch_path, "Count-Min sketch", mmap=True)
    for key, est in zip(keys, cms.query_many(list(keys)).tolist(), strict=True):
        click.echo(f"{key}\t{est}")


@COMMAND.command("info")
@click.argument("sketch_path", metavar="SKETCH")
def info(sketch_path):
    """Describe a Count-Min sketch file."""
    from ..countmin import CountMinSketch

    cms = load_structure(CountMinSketch, sketch_path, "Count-Min sketch", mmap=True)
    click.echo(repr(cms))
    click.echo(f"total {cms.total:,}; error bound {cms.error_bound():,.1f}")
