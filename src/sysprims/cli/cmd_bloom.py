"""``sysprims bloom build | query | dedup | info``."""

from __future__ import annotations

import click

from ._common import (
    Timer,
    check_output,
    input_options,
    load_numba,
    load_structure,
    one_key_column,
    stream_keys,
    stream_tables,
    write_parquet,
)

ORDER = 10


def _sizing_options(capacity_help: str, fp_default: float, fp_help: str):
    """--capacity and --fp, with this command's defaults and help."""

    def wrap(func):
        func = click.option("--fp", "false_positive_rate", type=float, default=fp_default, show_default=True,
                            help=fp_help)(func)  # fmt: skip
        return click.option("--capacity", "-n", type=click.IntRange(min=1), default=None, help=capacity_help)(func)

    return wrap


@click.group("bloom")
def COMMAND() -> None:
    """Bloom filters: build from a column, query a column, inspect a file."""
    if click.get_current_context().invoked_subcommand != "build":
        load_numba()  # every subcommand runs kernels; build loads them while its reading starts


@COMMAND.command("build")
@input_options
@_sizing_options("expected number of keys (default: the input's row count, read first)", 0.01,
                 "target false-positive rate")
@click.option("--blocked", is_flag=True, help="cache-line blocked layout (one cache miss per key); same as --layout blocked")
@click.option("--layout", type=click.Choice(["standard", "blocked", "split_block"]), default=None,
              help="bit layout: standard (the smallest), blocked, or split_block (the fastest on large filters) "
                   "[default: standard]")
@click.option("--seed", type=int, default=0, show_default=True, help="hash seed (filters combine only with an equal seed)")
@click.option("--scheduler", default=None,
              help="build on Dask: a scheduler address, or 'processes' for a local cluster (started only "
                   "for inputs of at least --cluster-min-rows keys)")
@click.option("--cluster-min-rows", type=click.IntRange(min=0), default=None,
              help="with --scheduler processes: below this many keys (the capacity) build in this process "
                   "instead, since a local cluster's start and per-worker kernel loading cost more than it "
                   "saves; 0 always starts it [default: about where it starts to pay on this machine's cores, "
                   "see docs/cli.md]")
@click.option("-o", "--output", required=True, help="output filter file")
def build(
    input_path,
    column,
    fmt,
    batch_rows,
    capacity,
    false_positive_rate,
    blocked,
    layout,
    seed,
    scheduler,
    cluster_min_rows,
    output,
):
    """Build a Bloom filter from the keys of INPUT ('-' for standard input)."""
    if blocked and layout not in (None, "blocked"):
        raise click.UsageError(f"--blocked and --layout {layout} name two layouts: give one")
    layout = "blocked" if blocked else (layout or "standard")
    check_output(output)
    timer = Timer()
    if capacity is None:
        capacity = _count_rows(input_path, column, fmt, batch_rows)
    if scheduler == "processes":
        from ._dask import local_cluster_pays

        if not local_cluster_pays(capacity, cluster_min_rows):
            scheduler = None
    if scheduler:
        load_numba()
        from ..dask import build_bloom_files
        from ._dask import dask_files, dask_scheduler

        files = dask_files(input_path, column, fmt)
        with dask_scheduler(scheduler) as sched:
            bf = build_bloom_files(files, capacity=capacity, false_positive_rate=false_positive_rate,
                                   column=column, format=fmt, seed=seed, layout=layout,
                                   batch_rows=batch_rows, scheduler=sched)  # fmt: skip
        rows = None
    else:
        from ..hashing import hash_keys

        made = []  # the filter, made once numba is loaded

        def make_filter():  # while the reading thread decodes the first batches
            load_numba()
            from ..bloom import BloomFilter

            made.append(BloomFilter.for_capacity(capacity, false_positive_rate, seed=seed, layout=layout))
            hash_keys(one_key_column(), seed)  # numba's first kernel load sets up its compiler, 0.2 s

        rows = 0
        # hashing runs with the reading, in the read-ahead thread; this thread sets bits
        # (hashes first and then bits is also cheaper than the fused hash-and-set loop)
        for hashed in stream_keys(input_path, column, fmt, batch_rows, "bloom build",
                                  prepare=lambda arr: hash_keys(arr, seed), while_reading=make_filter):  # fmt: skip
            made[0].add_many(hashed)
            rows += len(hashed)
        bf = made[0]
    bf.save(output)
    done = timer.rate(rows) if rows is not None else f"in {timer.seconds:.2f} s on Dask"
    click.echo(
        f"built {output}: {bf.size:,} bits, k={bf.num_hash_functions}, capacity {capacity:,}, "
        f"target fp {false_positive_rate}; {done}"
    )
    click.echo(
        f"fill {bf.fill_ratio:.3f}, ~{bf.approx_count():,.0f} distinct keys, "
        f"estimated fp now {bf.estimated_false_positive_rate():.4g}"
    )


def _count_rows(input_path, column, fmt, batch_rows) -> int:
    from ..io import input_info

    info = input_info(input_path, fmt)
    if info.rows is not None:
        return max(info.rows, 1)
    if input_path == "-":
        raise click.UsageError("--capacity is required when reading standard input")
    return max(
        sum(len(a) for a in stream_keys(input_path, column, fmt, batch_rows, "counting rows")), 1
    )


@COMMAND.command("query")
@click.argument("filter_path", metavar="FILTER")
@input_options
@click.option(
    "-o", "--output", default=None, help="write key,maybe_present rows to this Parquet file"
)
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


@COMMAND.command("dedup")
@input_options
@_sizing_options("expected number of distinct keys (default: the input's row count)", 0.001,
                 "target false-positive rate (a unique row is dropped with about this probability)")
@click.option("--seed", type=int, default=0, show_default=True, help="hash seed (filters combine only with an equal seed)")
@click.option(
    "-o",
    "--output",
    default=None,
    help="write the first-seen rows (every column) to this Parquet file",
)
def dedup(input_path, column, fmt, batch_rows, capacity, false_positive_rate, seed, output):
    """Keep only the first row of each key of INPUT (streaming, bounded memory).

    Each key is tested and added to a Bloom filter in one pass, in row order: a
    row is dropped when the filter answers 'maybe seen'. A key is therefore never
    kept twice; a unique row is dropped only by a false positive, and the share
    expected is reported."""
    check_output(output)
    import numpy as np
    import pyarrow as pa

    from ..bloom import BloomFilter
    from ..hashing import hashes_for

    if capacity is None:
        capacity = _count_rows(input_path, column, fmt, batch_rows)
    bf = BloomFilter.for_capacity(capacity, false_positive_rate, seed=seed)
    timer = Timer()
    totals = {"rows": 0, "kept": 0, "false_drops": 0.0}
    key_column = column or "key"

    def hashed(table):  # runs in the read-ahead thread, while this one tests the previous batch
        return hashes_for(table.column(key_column), seed, "bloom dedup")

    def kept_tables():
        from .._kernels.dedup import bloom_test_and_add

        k, m = np.int64(bf.num_hash_functions), np.uint64(bf._marg)
        layout_id, bits = bf._b, bf._bits
        fp_now = bf.estimated_false_positive_rate()
        for table, hashes in _stream_rows(input_path, column, fmt, batch_rows, every_column=bool(output),
                                          prepare=hashed):  # fmt: skip
            seen = np.zeros(hashes.shape[0], dtype=np.bool_)
            bloom_test_and_add(hashes, k, m, layout_id, bits, seen)
            keep = ~seen
            kept = int(keep.sum())
            fp_before, fp_now = fp_now, bf.estimated_false_positive_rate()
            fp = (fp_before + fp_now) / 2  # each new key of the batch met a filter between the two
            totals["rows"] += len(seen)
            totals["kept"] += kept
            totals["false_drops"] += kept * fp / (1.0 - fp) if fp < 1 else float(kept)
            yield table.filter(pa.array(keep))

    if output:
        write_parquet(output, kept_tables())
    else:
        for _ in kept_tables():
            pass
    n, kept, fd = totals["rows"], totals["kept"], totals["false_drops"]
    share = fd / (kept + fd) if kept + fd else 0.0
    click.echo(f"{n:,} rows: kept {kept:,} first-seen, dropped {n - kept:,}; {timer.rate(n)}")
    click.echo(
        f"expected unique rows dropped by false positives: {fd:,.1f} ({share:.3%} of unique rows; "
        f"filter {bf.size:,} bits, estimated fp now {bf.estimated_false_positive_rate():.3g})"
    )
    if output:
        click.echo(f"wrote {output}")


def _stream_rows(input_path, column, fmt, batch_rows, *, every_column=True, prepare=None):
    """``(table, prepare(table))`` of every column of INPUT (or just the key column),
    batch by batch, ``prepare`` running in the read-ahead thread (a text input is one
    column, ``key``)."""
    import pyarrow as pa

    from ..io import detect_format, expand_inputs

    first = expand_inputs(input_path)[0]
    kind = detect_format(first, fmt)
    if kind == "text":
        if column is not None:
            raise click.UsageError("--column does not apply to a text input (one key per line)")

        def one_column(arr):
            table = pa.table({"key": arr})
            return table, prepare(table)

        yield from stream_keys(input_path, None, fmt, batch_rows, "bloom dedup", prepare=one_column)
        return
    if column is None:
        raise click.UsageError(f"a {kind} input needs --column")
    columns = _all_columns(first, kind, column) if every_column else [column]
    yield from stream_tables(input_path, columns, fmt, batch_rows, "bloom dedup", prepare=prepare)


def _all_columns(path, kind, column):
    """The input's column names (header or schema), the key column checked."""
    from ..io.readers import InputError

    if path == "-":
        return [column]  # standard input cannot be read twice: only the key column
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(path).schema_arrow.names
        except Exception as exc:
            raise InputError(f"{path} is not a readable Parquet file: {exc}") from None
    else:
        import csv

        with open(path, newline="", encoding="utf-8-sig") as fh:
            names = next(csv.reader(fh, delimiter="\t" if kind == "tsv" else ","), [])
    if column not in names:
        raise InputError(
            f"column {column!r} is not in {path}; available columns: {', '.join(map(repr, names))}"
        )
    return names


@COMMAND.command("info")
@click.argument("filter_path", metavar="FILTER")
def info(filter_path):
    """Describe a Bloom filter file."""
    from ..bloom import BloomFilter
    from ..bloom.filter import _LAYOUT_LABELS

    bf = load_structure(BloomFilter, filter_path, "Bloom filter", mmap=True)
    rows = [
        ("layout", _LAYOUT_LABELS[bf.layout]),
        ("bits", f"{bf.size:,} ({bf.nbytes:,} bytes)"),
        ("hash functions", bf.num_hash_functions),
        ("seed", bf.seed),
        ("capacity", f"{bf.capacity:,}" if bf.capacity else "unknown"),
        (
            "target fp",
            bf.target_false_positive_rate if bf.target_false_positive_rate else "unknown",
        ),
        ("fill", f"{bf.fill_ratio:.4f}"),
        ("approx distinct keys", f"{bf.approx_count():,.0f}"),
        ("estimated fp now", f"{bf.estimated_false_positive_rate():.4g}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")
