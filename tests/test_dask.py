"""Sketches built partition by partition on a real Dask LocalCluster equal local builds."""

from __future__ import annotations

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from sysprims import InvalidParameterError  # noqa: E402
from sysprims.bloom import BloomFilter  # noqa: E402
from sysprims.countmin import CountMinSketch, TopK  # noqa: E402
from sysprims.dask import build_bloom, build_countmin, build_topk  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(5)
    ranks = rng.zipf(1.3, size=60_000) % 5_000
    users = [f"user-{r}" for r in ranks.tolist()]
    pdf = pd.DataFrame({"user": users, "n": np.arange(len(users))})
    return pdf, dd.from_pandas(pdf, npartitions=7)


def test_bloom_is_byte_identical_to_local(client, frame):
    pdf, ddf = frame
    local = BloomFilter.for_capacity(10_000, 0.01, seed=3)
    local.add_many(pdf["user"].tolist())
    built = build_bloom(ddf, column="user", capacity=10_000, false_positive_rate=0.01, seed=3, scheduler=client, split_every=2)
    assert built.to_bytes() == local.to_bytes()
    assert built.contains_many(pdf["user"].tolist()).all()


def test_countmin_is_byte_identical_to_local(client, frame):
    pdf, ddf = frame
    local = CountMinSketch(2_000, 4, seed=1)
    local.update_many(pdf["user"].tolist())
    built = build_countmin(ddf["user"], width=2_000, depth=4, seed=1, scheduler=client)
    assert built.to_bytes() == local.to_bytes()
    assert built.total == len(pdf)


def test_topk_finds_the_same_heavy_hitters(client, frame):
    pdf, ddf = frame
    exact = pdf["user"].value_counts()
    built = build_topk(ddf, column="user", k=10, width=4_000, depth=5, scheduler=client)
    local = TopK(10, 4_000, 5)
    local.update_many(pdf["user"].tolist())
    top_keys = [k for k, _ in built.top()]
    assert top_keys[:5] == list(exact.index[:5])
    assert [k for k, _ in local.top()][:5] == top_keys[:5]
    for key, est in built.top():
        assert est >= exact[key]  # Count-Min never underestimates


def test_bag_and_threads_scheduler(frame):
    pdf, _ = frame
    bag = db.from_sequence(pdf["user"].tolist(), npartitions=5)
    built = build_bloom(bag, capacity=10_000, scheduler="threads")
    local = BloomFilter.for_capacity(10_000, 0.01)
    local.add_many(pdf["user"].tolist())
    assert built == local


def test_bad_arguments(frame):
    _, ddf = frame
    with pytest.raises(InvalidParameterError, match="available columns"):
        build_bloom(ddf, column="nope", capacity=10)
    with pytest.raises(InvalidParameterError, match="column is required"):
        build_bloom(ddf, capacity=10)
    with pytest.raises(InvalidParameterError, match="false_positive_rate"):
        build_bloom(ddf, column="user", capacity=10, false_positive_rate=2.0)
    with pytest.raises(InvalidParameterError, match="Dask DataFrame, Series or Bag"):
        build_bloom([1, 2, 3], capacity=10)
    with pytest.raises(InvalidParameterError, match="split_every"):
        build_countmin(ddf["user"], width=10, depth=2, split_every=1)


def _parquet_parts(tmp_path, sizes, row_group):
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths, keys, start = [], [], 0
    for i, n in enumerate(sizes):
        p = tmp_path / f"part-{i}.parquet"
        ks = [f"user-{j}" for j in range(start, start + n)]
        pq.write_table(pa.table({"user": ks}), p, row_group_size=row_group)
        paths.append(str(p))
        keys += ks
        start += n
    return paths, keys


def test_file_units_cover_every_row_group_once_in_balanced_groups(tmp_path):
    from sysprims.dask import file_units

    paths, _ = _parquet_parts(tmp_path, [1000, 1000, 1000, 1000], row_group=250)
    groups = file_units(paths, parts=2)
    assert groups == [[(paths[0], None), (paths[1], None)], [(paths[2], None), (paths[3], None)]]
    one = file_units(paths[:1], parts=2)  # fewer files than parts: cut between row groups
    assert one == [[(paths[0], [0, 1])], [(paths[0], [2, 3])]]
    assert file_units(paths[:1], parts=8) == [[(paths[0], [i])] for i in range(4)]
    assert file_units(paths, parts=1) == [[(p, None) for p in paths]]


@pytest.mark.parametrize("sizes, tasks", [([3000, 1, 2500, 0], None), ([5000], 3)])
def test_bloom_from_files_is_byte_identical_to_local(client, tmp_path, sizes, tasks):
    from sysprims.dask import build_bloom_files

    paths, keys = _parquet_parts(tmp_path, sizes, row_group=700)
    local = BloomFilter.for_capacity(len(keys), 0.01, seed=4, layout="split_block")
    local.add_many(keys)
    built = build_bloom_files(paths, capacity=len(keys), column="user", seed=4, layout="split_block",
                              batch_rows=512, tasks=tasks, scheduler=client)  # fmt: skip
    assert built.to_bytes() == local.to_bytes()


def test_countmin_from_files_equals_local(tmp_path):
    from sysprims.dask import _Factory, _merge, build_from_files

    paths, keys = _parquet_parts(tmp_path, [900, 1100], row_group=300)
    paths.append(paths[0])  # the first file twice: its keys count twice
    built = build_from_files(paths, _Factory("countmin", "CountMinSketch", None, 500, 3, seed=2), merge=_merge,
                             column="user", method="update_many", tasks=2, scheduler="threads")  # fmt: skip
    expect = CountMinSketch(500, 3, seed=2)
    expect.update_many(keys)
    expect.update_many(keys[:900])
    assert built.to_bytes() == expect.to_bytes() and built.total == len(keys) + 900
