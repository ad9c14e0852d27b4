"""``sysprims bloom build | query | info``."""

from __future__ import annotations

import click

from ._common import Timer, check_output, input_options, load_structure, stream_keys, write_parquet

ORDER = 10


@click.group("bloom")
def COMMAND() -> None:
    """Bloom filters: build from a column, query a column, inspect a file."""


@COMMAND.command("build")
@input_options
@click.option("--capacity", "-n", type=click.IntRange(min=1), default=None,
              help="expected number of keys (default: the input's row count, read first)")
@click.option("--fp", "false_positive_rate", type=float, default=0.01, show_default=True, help="target false-positive rate")
@click.option("--blocked", is_flag=True, help="cache-line blocked layout (one cache miss per key)")
@click.option("--seed", type=int, default=0, show_default=True, help="hash seed (filters combine only with an equal seed)")
@click.option("--scheduler", default=None, help="build on Dask: a scheduler address, or 'processes' for a local cluster")
@click.option("-o", "--output", required=True, help="output filter file")
def build(input_path, column, fmt, batch_rows, capacity, false_positive_rate, blocked, seed, scheduler, output):
    """Build a Bloom filter from the keys of INPUT ('-' for standard input)."""
    check_output(output)
    from ..bloom import BloomFilter

    timer = Timer()
    if capacity is None:
        capacity = _count_rows(input_path, column, fmt, batch_rows)
    if scheduler:
        from ..dask import build_bloom
        from ._dask import dask_collection, dask_scheduler

        with dask_scheduler(scheduler) as sched:
            bf = build_bloom(dask_collection(input_path, column, fmt), column=None, capacity=capacity,
                             false_positive_rate=false_positive_rate, seed=seed, blocked=blocked, scheduler=sched)
        rows = None
    else:
        bf = BloomFilter.for_capacity(capacity, false_positive_rate, seed=seed, blocked=blocked)
        rows = 0
        for arr in stream_keys(input_path, column, fmt, batch_rows, "bloom build"):
            bf.add_many(arr)
            rows += len(arr)
    bf.save(output)
    done = timer.rate(rows) if rows is not None else f"in {timer.seconds:.2f} s on Dask"
    click.echo(f"built {output}: {bf.size:,} bits, k={bf.num_hash_functions}, capacity {capacity:,}, "
               f"target fp {false_positive_rate}; {done}")
    click.echo(f"fill {bf.fill_ratio:.3f}, ~{bf.approx_count():,.0f} distinct keys, "
               f"estimated fp now {bf.estimated_false_positive_rate():.4g}")


def _count_rows(input_path, column, fmt, batch_rows) -> int:
    from ..io import input_info

    info = input_info(input_path, fmt)
    if info.rows is not None:
        return max(info.rows, 1)
    if input_path == "-":
        raise click.UsageError("--capacity is required when reading standard input")
    return max(sum(len(a) for a in stream_keys(input_path, column, fmt, batch_rows, "counting rows")), 1)


@COMMAND.command("query")
@click.argument("filter_path", metavar="FILTER")
@input_options
@click.option("-o", "--output", default=None, help="write key,maybe_present rows to this Parquet file")
def query(filter_path, input_path, column, fmt, batch_rows, output):
    """Ask FILTER about every key of INPUT; print a summary or write a Parquet file."""
    check_output(output)
    import pyarrow as pa

    from ..bloom import BloomFilter

    bf = load_structure(BloomFilter, filter_path, "Bloom filter", mmap=True)
    timer = Timer()
    totals = {"rows": 0, "present": 0}

    def results():
        for arr in stream_keys(input_path, column, fmt, batch_rows, "bloom query"):
            hits = bf.contains_many(arr)
            totals["rows"] += len(arr)
            totals["present"] += int(hits.sum())
            yield pa.table({"key": arr, "maybe_present": pa.array(hits)})

    if output:
        write_parquet(output, results())
    else:
        for _ in results():
            pass
    n, hit = totals["rows"], totals["present"]
    click.echo(f"{n:,} keys: {hit:,} maybe present, {n - hit:,} definitely absent; {timer.rate(n)}")
    if output:
        click.echo(f"wrote {output}")


@COMMAND.command("info")
@click.argument("filter_path", metavar="FILTER")
def info(filter_path):
    """Describe a Bloom filter file."""
    from ..bloom import BloomFilter

    bf = load_structure(BloomFilter, filter_path, "Bloom filter", mmap=True)
    rows = [
        ("layout", "blocked (512-bit blocks)" if bf.blocked else "standard"),
        ("bits", f"{bf.size:,} ({bf.nbytes:,} bytes)"),
        ("hash functions", bf.num_hash_functions),
        ("seed", bf.seed),
        ("capacity", f"{bf.capacity:,}" if bf.capacity else "unknown"),
        ("target fp", bf.target_false_positive_rate if bf.target_false_positive_rate else "unknown"),
        ("fill", f"{bf.fill_ratio:.4f}"),
        ("approx distinct keys", f"{bf.approx_count():,.0f}"),
        ("estimated fp now", f"{bf.estimated_false_positive_rate():.4g}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")
