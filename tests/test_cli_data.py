"""Dataset subcommands on small generated files: results equal the library API's."""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.bloom import BloomFilter  # noqa: E402
from sysprims.cli import main  # noqa: E402
from sysprims.countmin import CountMinSketch, TopK  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(11)
    users = [f"user-{r}" for r in (rng.zipf(1.4, size=20_000) % 3_000).tolist()]
    probes = [f"user-{i}" for i in range(0, 6_000, 3)]
    pq.write_table(pa.table({"user": users, "ts": np.arange(len(users), dtype=np.float64) / 100}), d / "events.parquet")
    (d / "events.csv").write_text("user,ts\n" + "".join(f"{u},{i / 100}\n" for i, u in enumerate(users)))
    (d / "events.txt").write_text("\n".join(users) + "\n")
    (d / "probes.txt").write_text("\n".join(probes) + "\n")
    return d, users, probes


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("source, column", [("events.parquet", "user"), ("events.csv", "user"), ("events.txt", None)])
def test_bloom_build_equals_library(data, tmp_path, capsys, source, column):
    d, users, probes = data
    out = tmp_path / "u.bloom"
    args = ["bloom", "build", d / source, "--capacity", 5000, "--fp", 0.01, "--batch-rows", 3000, "-o", out]
    if column:
        args += ["--column", column]
    code, stdout, _ = run(args, capsys)
    assert code == 0 and "built" in stdout
    expected = BloomFilter.for_capacity(5000, 0.01)
    expected.add_many(users)
    assert BloomFilter.load(out) == expected


def test_bloom_query_summary_and_parquet(data, tmp_path, capsys):
    d, users, probes = data
    flt = tmp_path / "u.bloom"
    assert run(["bloom", "build", d / "events.parquet", "-c", "user", "-o", flt], capsys)[0] == 0
    bf = BloomFilter.load(flt)
    expected = bf.contains_many(probes)
    code, stdout, _ = run(["bloom", "query", flt, d / "probes.txt"], capsys)
    assert code == 0
    assert f"{len(probes):,} keys: {int(expected.sum()):,} maybe present" in stdout
    res = tmp_path / "r.parquet"
    assert run(["bloom", "query", flt, d / "probes.txt", "-o", res], capsys)[0] == 0
    table = pq.read_table(res)
    assert table.column("key").to_pylist() == probes
    assert table.column("maybe_present").to_pylist() == expected.tolist()
    present = set(users)
    assert all(hit for key, hit in zip(probes, expected.tolist(), strict=True) if key in present)


def test_bloom_capacity_defaults_to_row_count(data, tmp_path, capsys):
    d, users, _ = data
    out = tmp_path / "u.bloom"
    assert run(["bloom", "build", d / "events.txt", "-o", out], capsys)[0] == 0
    assert BloomFilter.load(out).capacity == len(users)


def test_bloom_info_and_errors(data, tmp_path, capsys):
    d, _, _ = data
    flt = tmp_path / "u.bloom"
    run(["bloom", "build", d / "events.parquet", "-c", "user", "-o", flt], capsys)
    code, stdout, _ = run(["bloom", "info", flt], capsys)
    assert code == 0 and "hash functions" in stdout and "capacity" in stdout
    code, _, err = run(["bloom", "info", d / "events.csv"], capsys)
    assert code == 1 and "is not a sysprims Bloom filter" in err
    code, _, err = run(["bloom", "build", d / "events.parquet", "-c", "usr", "-o", tmp_path / "x.bloom"], capsys)
    assert code == 1 and "available columns: 'user', 'ts'" in err
    assert not (tmp_path / "x.bloom").exists()
    code, _, err = run(["bloom", "build", d / "nope.parquet", "-c", "user", "-o", tmp_path / "x.bloom"], capsys)
    assert code == 1 and "does not exist" in err
    code, _, err = run(["bloom", "build", d / "events.parquet", "-c", "user", "--fp", 1.5, "-o", tmp_path / "x.bloom"], capsys)
    assert code == 1 and "false_positive_rate must be in (0, 1), got 1.5" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.bloom"]  # no partial files left


def test_bad_csv_row_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,ts\na,1\nb\n")
    code, _, err = run(["bloom", "build", bad, "-c", "user", "--capacity", 10, "-o", tmp_path / "b.bloom"], capsys)
    assert code == 1 and "Row #3" in err
    assert not (tmp_path / "b.bloom").exists()


def test_cms_count_top_query(data, tmp_path, capsys):
    d, users, _ = data
    out = tmp_path / "c.cms"
    code, stdout, _ = run(["cms", "count", d / "events.csv", "-c", "user", "--epsilon", 0.001, "--delta", 0.01, "-o", out], capsys)
    assert code == 0 and "total 20,000" in stdout
    expected = CountMinSketch.from_error(0.001, 0.01)
    expected.update_many(users)
    assert CountMinSketch.load(out) == expected
    code, stdout, _ = run(["cms", "query", out, "user-1", "user-2"], capsys)
    assert stdout.split() == ["user-1", str(expected.query("user-1")), "user-2", str(expected.query("user-2"))]
    code, stdout, _ = run(["cms", "top", d / "events.parquet", "-c", "user", "--k", 3, "--epsilon", 0.001], capsys)
    assert code == 0
    tk = TopK(3, expected.width, expected.depth)
    tk.update_many(users)
    lines = stdout.splitlines()[1:4]
    assert [ln.split()[0] for ln in lines] == [k for k, _ in tk.top()]
    code, _, err = run(["cms", "info", d / "events.csv"], capsys)
    assert code == 1 and "is not a sysprims Count-Min sketch" in err


@pytest.mark.slow
def test_dask_scheduler_gives_identical_filter(data, tmp_path, capsys):
    pytest.importorskip("distributed")
    d, users, _ = data
    local, dist = tmp_path / "l.bloom", tmp_path / "d.bloom"
    run(["bloom", "build", d / "events.parquet", "-c", "user", "--capacity", 5000, "-o", local], capsys)
    code, _, err = run(["bloom", "build", d / "events.parquet", "-c", "user", "--capacity", 5000, "--scheduler", "threads", "-o", dist], capsys)
    assert code == 0, err
    assert dist.read_bytes() == local.read_bytes()


def test_output_into_a_missing_folder_fails_before_any_work(data, tmp_path, capsys):
    d, _, _ = data
    for args in (
        ["bloom", "build", d / "events.parquet", "-c", "user", "-o", tmp_path / "no" / "u.bloom"],
        ["cms", "count", d / "events.parquet", "-c", "user", "-o", tmp_path / "no" / "c.cms"],
        ["shard", "route", d / "events.parquet", "-c", "user", "--shards", 2, "-o", tmp_path / "no" / "r.parquet"],
    ):
        code, _, err = run(args, capsys)
        assert code == 1 and "does not exist" in err


def test_dask_scheduler_reads_keys_like_the_local_reader(tmp_path, capsys):
    pytest.importorskip("dask.dataframe")
    csv = tmp_path / "k.csv"
    csv.write_text("user,n\n,1\nNA,2\nalice,3\n")
    txt = tmp_path / "k.txt"
    txt.write_bytes(b"a\r\r\nb\nc\r\n")
    for src, col in ((csv, ["-c", "user"]), (txt, [])):
        local, dist = tmp_path / "l.bloom", tmp_path / "d.bloom"
        assert run(["bloom", "build", src, *col, "--capacity", 100, "-o", local], capsys)[0] == 0
        code, _, err = run(["bloom", "build", src, *col, "--capacity", 100, "--scheduler", "threads", "-o", dist], capsys)
        assert code == 0, err
        assert dist.read_bytes() == local.read_bytes()
    keys = BloomFilter.load(local)
    assert keys.contains_many(["a\r", "b", "c"]).all()


def test_build_loads_numba_while_reading_without_its_blas_probe(data, tmp_path):
    """bloom build starts reading before numba loads (in this thread, while pyarrow
    decodes in the reading thread); numba still loads without its BLAS probe, the
    kernels' warm-up imports nothing more (pandas), and the filter is the library's."""
    from tests.test_cli import _run_python

    d, users, _ = data
    out = tmp_path / "u.bloom"
    code = (
        "import sys\n"
        "from sysprims.cli import main\n"
        f"assert main(['bloom', 'build', {str(d / 'events.parquet')!r}, '-c', 'user', '--capacity', '5000',\n"
        f"             '--batch-rows', '1000', '-o', {str(out)!r}]) == 0\n"
        "assert 'numba' in sys.modules and 'scipy.linalg' not in sys.modules\n"
        "assert 'pandas' not in sys.modules  # nothing of the build needs it\n"
    )
    _run_python(code)  # asserts it exits 0
    expected = BloomFilter.for_capacity(5000, 0.01)
    expected.add_many(users)
    assert BloomFilter.load(out) == expected


def test_an_error_while_loading_the_kernels_is_raised_and_stops_the_reading(data, tmp_path, capsys, monkeypatch):
    """What loading numba raises while the first batches are read comes out of the
    command as it did when numba loaded first (the same exception; a sysprims error as
    the same message and exit code), the reading thread is stopped and nothing is written."""
    import threading

    from sysprims.cli import cmd_bloom

    d, _, _ = data
    out = tmp_path / "u.bloom"

    def broken():
        raise ImportError("numba is broken here")

    monkeypatch.setattr(cmd_bloom, "load_numba", broken)
    with pytest.raises(ImportError, match="numba is broken here"):
        main(["bloom", "build", str(d / "events.parquet"), "-c", "user", "--batch-rows", "1000", "-o", str(out)])
    assert not any(t.name == "sysprims-readahead" and t.is_alive() for t in threading.enumerate())
    assert not out.exists()
    monkeypatch.undo()
    code, _, err = run(["bloom", "build", d / "events.parquet", "-c", "user", "--fp", 0, "-o", out], capsys)
    assert code == 1 and "false_positive_rate must be in (0, 1), got 0" in err
    assert not any(t.name == "sysprims-readahead" and t.is_alive() for t in threading.enumerate())
    assert sorted(p.name for p in tmp_path.iterdir()) == []
