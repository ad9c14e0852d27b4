"""The dataset commands on several inputs: local globs and lists of files in one
process (no Dask), read ahead in a thread, with results identical to one file (#24)."""

from __future__ import annotations

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("click")

from sysprims.bloom import BloomFilter  # noqa: E402
from tests.test_cli_inputs import run  # noqa: E402


@pytest.fixture
def parts(tmp_path):
    """Three Parquet files of ``user`` ids (some repeated across files) and all their keys in order."""
    keys = [f"user{i % 700}" for i in range(1000)]
    paths = []
    for i, (a, b) in enumerate([(0, 400), (400, 401), (401, 1000)]):
        p = tmp_path / f"part-{i}.parquet"
        pq.write_table(pa.table({"user": keys[a:b], "n": list(range(a, b))}), p, row_group_size=128)
        paths.append(p)
    return tmp_path, paths, keys


def _expected_filter(keys, capacity, **kw):
    bf = BloomFilter.for_capacity(capacity, 0.01, **kw)
    bf.add_many(keys)
    return bf


@pytest.mark.parametrize("blocked", [False, True])
def test_build_from_a_glob_without_a_scheduler(parts, capsys, blocked):
    folder, _, keys = parts
    out = folder / "f.bloom"
    flag = ["--blocked"] if blocked else []
    code, stdout, err = run(["bloom", "build", folder / "part-*.parquet", "-c", "user", *flag,
                             "--batch-rows", 100, "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    assert f"{len(keys):,} rows" in stdout
    # capacity from the footers of all three files; bits equal to add_many of every key in order
    assert BloomFilter.load(out) == _expected_filter(keys, len(keys), blocked=blocked)


def test_build_from_several_files_equals_their_glob(parts, capsys):
    folder, paths, keys = parts
    a, b = folder / "a.bloom", folder / "b.bloom"
    assert run(["bloom", "build", *paths, "-c", "user", "-o", a], capsys)[0] == 0
    assert run(["bloom", "build", folder / "part-*.parquet", "-c", "user", "-o", b], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert BloomFilter.load(a) == _expected_filter(keys, len(keys))


def test_glob_matching_nothing_is_an_input_error(tmp_path, capsys):
    code, _, err = run(["bloom", "build", tmp_path / "none-*.parquet", "-c", "user", "-o", tmp_path / "x.bloom"], capsys)
    assert code != 0 and "no file matches" in err
    assert not (tmp_path / "x.bloom").exists()


def test_dedup_across_files_keeps_the_first_row_of_each_key(parts, capsys):
    folder, _, keys = parts
    out = folder / "first.parquet"
    code, stdout, err = run(["bloom", "dedup", folder / "part-*.parquet", "-c", "user", "--batch-rows", 64,
                             "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    got = pq.read_table(out)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    # brute force: the first occurrence of every key, every column kept (no false positive
    # at this size and fp 0.001 is checked by equality: a dropped unique row would show)
    assert got.column("user").to_pylist() == list(first)
    assert got.column("n").to_pylist() == list(first.values())
    assert f"kept {len(first):,} first-seen" in stdout


def test_query_and_cms_take_globs_too(parts, capsys):
    folder, _, keys = parts
    bf = folder / "f.bloom"
    assert run(["bloom", "build", folder / "part-0.parquet", "-c", "user", "-o", bf], capsys)[0] == 0
    code, stdout, err = run(["bloom", "query", bf, folder / "part-*.parquet", "-c", "user"], capsys)
    assert code == 0, err
    assert f"{len(keys):,} keys" in stdout


def test_a_bad_second_file_stops_the_build_with_its_name(parts, capsys):
    """An error found by the read-ahead thread surfaces as the command's error, naming
    the file, and no output is left behind."""
    folder, paths, _ = parts
    bad = folder / "part-9.parquet"
    pq.write_table(pa.table({"user": ["x", None, "y"], "n": [1, 2, 3]}), bad)
    out = folder / "f.bloom"
    code, _, err = run(["bloom", "build", paths[0], bad, "-c", "user", "--batch-rows", 2, "-o", out], capsys)
    assert code != 0
    assert "part-9.parquet" in err and "missing value at row 2" in err
    assert not out.exists()


@pytest.mark.parametrize("layout", ["standard", "blocked", "split_block"])
def test_build_takes_every_layout_and_info_names_it(parts, capsys, layout):
    folder, _, keys = parts
    out = folder / "f.bloom"
    code, _, err = run(["bloom", "build", folder / "part-*.parquet", "-c", "user", "--layout", layout,
                        "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    bf = BloomFilter.load(out)
    assert bf.layout == layout and bf == _expected_filter(keys, len(keys), layout=layout)
    code, stdout, _ = run(["bloom", "info", out], capsys)
    assert code == 0
    label = {"standard": "standard", "blocked": "blocked (512-bit)", "split_block": "split-block"}[layout]
    assert label in stdout


def test_blocked_flag_and_another_layout_is_a_usage_error(parts, capsys):
    folder, _, _ = parts
    code, _, err = run(["bloom", "build", folder / "part-0.parquet", "-c", "user", "--blocked",
                        "--layout", "split_block", "-o", folder / "x.bloom"], capsys)  # fmt: skip
    assert code == 2 and "--blocked" in err


def test_scheduler_processes_below_the_cluster_size_builds_in_this_process(parts, capsys, monkeypatch):
    folder, _, keys = parts
    out = folder / "f.bloom"

    def no_cluster(spec):  # a LocalCluster must not start for 1,000 keys
        raise AssertionError(f"a cluster was started for {spec}")

    monkeypatch.setattr("sysprims.cli._dask.dask_scheduler", no_cluster)
    code, stdout, err = run(["bloom", "build", folder / "part-*.parquet", "-c", "user", "--scheduler", "processes",
                             "--cluster-min-rows", 1001, "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    assert "below --cluster-min-rows 1,001" in err and f"{len(keys):,} rows in" in stdout
    assert BloomFilter.load(out) == _expected_filter(keys, len(keys))


def test_default_cluster_size_grows_as_cores_shrink():
    from sysprims.cli._dask import CLUSTER_MIN_ROWS_PER_EXTRA_CORE, default_cluster_min_rows

    assert default_cluster_min_rows(2) == CLUSTER_MIN_ROWS_PER_EXTRA_CORE
    assert default_cluster_min_rows(5) == CLUSTER_MIN_ROWS_PER_EXTRA_CORE // 4
    assert default_cluster_min_rows(1) > 10**18  # one core: never
