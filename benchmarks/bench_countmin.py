"""Count-Min Sketch and top-K: sysprims vs bounter, datasketches, pyprobables,
``collections.Counter``, a naive md5 Count-Min and the floors (a pyarrow read
of the keys, ``np.bincount`` of int ids), on the same Zipf(1.1) stream.

The contenders (adapters, call shapes, checks: a sketch never underestimates,
top-K recall) come from the one registry, ``sysprims.bench.cases.case_countmin``,
that ``sysprims bench`` and the tour use. This file adds sysprims-only key forms
(pyarrow strings, ``HashedKeys``) and the conservative update.

    pytest benchmarks/bench_countmin.py --benchmark-only --benchmark-columns=median,ops -q
"""

from __future__ import annotations

import pytest

from peers import registry_test
from sysprims import hash_keys
from sysprims.bench.cases import case_countmin
from sysprims.countmin import CountMinSketch, TopK

EPS, DELTA = case_countmin.EPS, case_countmin.DELTA


def _data(n_keys):
    return case_countmin.data(5 * n_keys)  # 100,000 items in the smoke run, 1M measured


test_registry = registry_test(case_countmin, _data, rounds=3)


@pytest.fixture(scope="module")
def registry_data(n_keys):
    return test_registry.data(n_keys)


# -------------------------------------------------------------------- sysprims key forms


@pytest.fixture(scope="module")
def stream(registry_data):
    return registry_data["stream"]


@pytest.fixture(scope="module")
def arrow_stream(stream):
    pa = pytest.importorskip("pyarrow")
    return pa.array(stream, type=pa.string())


def _run(benchmark, func):
    return benchmark.pedantic(func, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="countmin update (Zipf stream of str) [batch]: key forms")
@pytest.mark.parametrize("form", ["arrow", "arrow conservative", "HashedKeys"])
def test_update_forms(benchmark, stream, arrow_stream, form):
    keys = hash_keys(stream) if form == "HashedKeys" else arrow_stream
    cms = CountMinSketch.from_error(EPS, DELTA, conservative=form.endswith("conservative"))
    _run(benchmark, lambda: cms.update_many(keys))
    assert cms.total >= len(stream)


@pytest.mark.benchmark(group="countmin query (distinct keys) [batch]: key forms")
@pytest.mark.parametrize("form", ["arrow", "HashedKeys"])
def test_query_forms(benchmark, registry_data, form):
    pa = pytest.importorskip("pyarrow")
    keys = case_countmin.distinct(registry_data)
    cms = CountMinSketch.from_error(EPS, DELTA)
    cms.update_many(registry_data["stream"])
    q = hash_keys(keys) if form == "HashedKeys" else pa.array(keys, type=pa.string())
    est = _run(benchmark, lambda: cms.query_many(q))
    benchmark.extra_info.update(case_countmin.errors(est, registry_data))


@pytest.mark.benchmark(group="countmin top-100 [batch]: key forms")
def test_topk_arrow(benchmark, registry_data, arrow_stream):
    def run():
        t = TopK(case_countmin.TOP, case_countmin.WIDTH, case_countmin.DEPTH)
        t.update_many(arrow_stream)
        return t

    t = _run(benchmark, run)
    benchmark.extra_info.update(case_countmin.recall([k for k, _ in t.top()], registry_data))
