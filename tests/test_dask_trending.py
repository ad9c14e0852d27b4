"""TrendingTopK built partition by partition on Dask equals one tracker fed the whole stream."""

from __future__ import annotations

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

from sysprims.countmin import TrendingTopK  # noqa: E402
from sysprims.dask import build_trending  # noqa: E402
from sysprims.errors import InvalidParameterError  # noqa: E402


def test_trending_on_dask_equals_local():
    rng = np.random.default_rng(8)
    n = 20_000
    ts = np.sort(rng.uniform(0, 1000, n))
    users = [f"user-{r}" for r in (rng.zipf(1.3, n) % 2000).tolist()]
    pdf = pd.DataFrame({"user": users, "ts": ts})
    opts = dict(interval=10.0, window=6, history=30, seed=4)
    built = build_trending(dd.from_pandas(pdf, npartitions=5), key="user", time="ts", k=10, width=1024, depth=4,
                           scheduler="sync", split_every=2, **opts)  # fmt: skip
    local = TrendingTopK(10, 1024, 4, **opts)
    local.update_many(users, ts)
    probe = sorted(set(users))
    np.testing.assert_array_equal(built.query_many(probe), local.query_many(probe))
    np.testing.assert_array_equal(built.baseline_many(probe), local.baseline_many(probe))
    assert built.total == n and [k for k, _ in built.top(5)] == [k for k, _ in local.top(5)]
    with pytest.raises(InvalidParameterError):
        build_trending(
            dd.from_pandas(pdf, npartitions=2), key="nope", time="ts", k=1, width=8, depth=1
        )
