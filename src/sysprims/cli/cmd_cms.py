"""``sysprims cms count | top | query | info``."""

from __future__ import annotations

import click

from ._common import Timer, check_output, input_options, load_structure, stream_keys

ORDER = 20


def _sketch_options(func):
    func = click.option("--seed", type=int, default=0, show_default=True, help="hash seed (sketches merge only with an equal seed)")(func)
    func = click.option("--delta", type=float, default=0.01, show_default=True, help="failure probability (depth = ceil(ln 1/delta))")(func)
    func = click.option("--epsilon", type=float, default=0.0001, show_default=True, help="error as a fraction of the total (width = ceil(e/epsilon))")(func)
    return func


@click.group("cms")
def COMMAND() -> None:
    """Count-Min sketches and heavy hitters over a column."""


@COMMAND.command("count")
@input_options
@_sketch_options
@click.option("--scheduler", default=None, help="count on Dask: a scheduler address, or 'processes' for a local cluster")
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
            cms = build_countmin(dask_collection(input_path, column, fmt), width=proto.width, depth=proto.depth,
                                 seed=seed, scheduler=sched)
    else:
        cms = proto
        for arr in stream_keys(input_path, column, fmt, batch_rows, "cms count"):
            cms.update_many(arr)
    cms.save(output)
    click.echo(f"built {output}: {cms.depth} x {cms.width} counters, total {cms.total:,}; "
               f"error <= {cms.error_bound():,.1f} with probability {1 - delta:g}; {timer.rate(cms.total)}")


@COMMAND.command("top")
@input_options
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=20, show_default=True, help="how many heavy hitters")
@_sketch_options
def top(input_path, column, fmt, batch_rows, k, epsilon, delta, seed):
    """Print the K most frequent keys of INPUT with their estimated counts."""
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
