"""Dataset pipeline: a Bloom filter built from a Parquet string column, end to end,
against reading the same column with pyarrow alone (the I/O floor), same file, same run.

The file holds ``10 x n_keys`` 20-byte user ids (2M rows when measuring, 200k in
smoke mode) in row groups of 1Mi rows. Contenders (group ``pipeline: bloom from
Parquet``):

- ``pyarrow_floor``: ``ParquetFile.iter_batches`` over the column (decode only);
- ``sysprims_stream``: ``iter_column`` + ``BloomFilter.add_many``, the code path of
  ``sysprims bloom build`` (standard and ``--blocked`` layouts);
- ``sysprims_cli``: ``sysprims bloom build`` itself, in process (``cli.main``),
  so argument parsing, the capacity read from the Parquet footer and the atomic
  save of the filter are included.

``extra_info`` records rows/s and ``ratio_to_floor`` (the floor's time divided
by ours: 1.0 = as fast as reading; the issue's goal is >= 0.5).

    pytest benchmarks/bench_pipeline.py --benchmark-enable --benchmark-only --benchmark-columns=median,ops -q -s

For 10M rows, peak memory and Dask, see ``benchmarks/pipeline_scale.py``.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from pipeline_scale import write_user_parquet
from sysprims.bloom import BloomFilter
from sysprims.cli import main as cli_main
from sysprims.io import iter_column

pq = pytest.importorskip("pyarrow.parquet")

P = 0.01
BATCH = 1 << 20  # the CLI's default --batch-rows
ROUNDS = 5
FLOOR: dict[str, float] = {}  # median seconds of the I/O floor, measured first


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory, n_keys):
    rows = 10 * n_keys
    path = tmp_path_factory.mktemp("pipeline") / "users.parquet"
    write_user_parquet(path, rows, seed=3)
    return path, rows


def _record(benchmark, rows: int, name: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is None or getattr(stats, "stats", None) is None:
        return  # smoke mode: nothing timed
    median = stats.stats.median
    benchmark.extra_info["rows_per_s"] = round(rows / median)
    if name == "floor":
        FLOOR["median"] = median
    elif "median" in FLOOR:
        benchmark.extra_info["ratio_to_floor"] = round(FLOOR["median"] / median, 3)
        print(f"\n{name}: {rows / median / 1e6:.2f} M rows/s, {FLOOR['median'] / median:.2f} x the pyarrow floor "
              f"({rows / FLOOR['median'] / 1e6:.2f} M rows/s)")


def _stream_build(path, rows: int, blocked: bool) -> BloomFilter:
    bf = BloomFilter.for_capacity(rows, P, blocked=blocked)
    for arr in iter_column(path, "user", batch_rows=BATCH):
        bf.add_many(arr)
    return bf


def _warm(path) -> None:
    for blocked in (False, True):
        bf = BloomFilter.for_capacity(10, P, blocked=blocked)
        bf.add_many(next(iter_column(path, "user", batch_rows=10)))


@pytest.mark.benchmark(group="pipeline: bloom from Parquet")
def test_pyarrow_floor(benchmark, parquet_file):
    path, rows = parquet_file
    _warm(path)

    def read() -> int:
        return sum(len(b) for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["user"]))

    n = benchmark.pedantic(read, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert n == rows
    _record(benchmark, rows, "floor")


@pytest.mark.benchmark(group="pipeline: bloom from Parquet")
@pytest.mark.parametrize("blocked", [False, True], ids=["standard", "blocked"])
def test_sysprims_stream(benchmark, parquet_file, blocked):
    path, rows = parquet_file
    _warm(path)
    bf = benchmark.pedantic(_stream_build, args=(path, rows, blocked), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, rows, f"iter_column + add_many ({'blocked' if blocked else 'standard'})")
    # the streamed build equals the library API on the whole column at once
    whole = BloomFilter.for_capacity(rows, P, blocked=blocked)
    whole.add_many(pq.read_table(path, columns=["user"]).column("user"))
    assert bf.to_bytes() == whole.to_bytes()


@pytest.mark.benchmark(group="pipeline: bloom from Parquet")
def test_sysprims_cli(benchmark, parquet_file, tmp_path):
    path, rows = parquet_file
    _warm(path)
    out = tmp_path / "users.bloom"

    def run() -> str:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = cli_main(["bloom", "build", str(path), "-c", "user", "--fp", str(P), "-o", str(out)])
        assert code == 0, buf.getvalue()
        return buf.getvalue()

    text = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, rows, "sysprims bloom build (CLI, in process)")
    assert f"capacity {rows:,}" in text
    assert BloomFilter.load(out).to_bytes() == _stream_build(path, rows, False).to_bytes()
