"""Snowflake IDs and the URL shortener against naive plain-Python versions, uuid4,
a plain dict and per-row SQLite INSERTs, on the same data in the same run.

Figures land in ``extra_info``: ns per ID / URL, the Snowflake ceiling
(1e6 / 4096 = 244 ns per ID for 12 sequence bits) and ratios to the baselines.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from sysprims.backends.sqlite import connect
from sysprims.bench.naive import NaiveShortener, NaiveSnowflake, base62
from sysprims.ids import SnowflakeID
from sysprims.shortener import URLShortener, encode_base62_many

CEILING_NS = 1e6 / 4096


def _smoke(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_disable", False)) and not cfg.getoption("benchmark_enable", False)


@pytest.fixture(scope="module")
def n_ids(request) -> int:
    return 20_000 if _smoke(request) else 2_000_000


@pytest.fixture(scope="module")
def n_urls(request) -> int:
    return 10_000 if _smoke(request) else 1_000_000


@pytest.fixture(scope="module")
def urls(n_urls) -> list[str]:
    return [f"https://example.com/articles/{i:09d}?utm_source=bench" for i in range(n_urls)]


def _per(benchmark, n: int) -> float:
    stats = getattr(benchmark, "stats", None)
    if stats is None or not getattr(stats, "stats", None):
        return float("nan")
    return stats.stats.median / n * 1e9


# -- IDs ------------------------------------------------------------------------
def test_generate_many(benchmark, n_ids):
    benchmark.group = "ids: n IDs"
    g = SnowflakeID(1)
    ids = benchmark.pedantic(g.generate_many, args=(n_ids,), rounds=3, iterations=1)
    assert len(ids) == n_ids
    ns = _per(benchmark, n_ids)
    benchmark.extra_info.update(ns_per_id=ns, ceiling_ns=CEILING_NS, fraction_of_ceiling=CEILING_NS / ns if ns else None)


@pytest.mark.parametrize("make", [SnowflakeID, NaiveSnowflake], ids=["sysprims", "naive"])
def test_generate_loop(benchmark, n_ids, make):
    """One generate() call per ID, in a loop (call shape: single)."""
    benchmark.group = "ids: n IDs"
    g = make(1)
    n = n_ids // 4
    ids = benchmark.pedantic(lambda: [g.generate() for _ in range(n)], rounds=3, iterations=1)
    assert len(set(ids)) == n
    benchmark.extra_info.update(ns_per_id=_per(benchmark, n), n=n, shape="single")


def test_uuid4_loop(benchmark, n_ids):
    benchmark.group = "ids: n IDs"
    n = n_ids // 4
    benchmark.pedantic(lambda: [uuid.uuid4() for _ in range(n)], rounds=3, iterations=1)
    benchmark.extra_info.update(ns_per_id=_per(benchmark, n), n=n)


def test_single_generate_below_ceiling(benchmark):
    """One ID per call at a rate under the ceiling (a fresh ms every 4096 calls
    is not reached): our thread-safe generate() against the naive one."""
    benchmark.group = "ids: single generate()"
    g = SnowflakeID(1)
    benchmark(g.generate)


def test_single_naive_generate(benchmark):
    benchmark.group = "ids: single generate()"
    g = NaiveSnowflake(1)
    benchmark(g.generate)


# -- base62 -----------------------------------------------------------------------
def test_encode_base62_many(benchmark, n_urls):
    benchmark.group = "base62: encode n"
    vals = list(range(100000, 100000 + n_urls))
    out = benchmark.pedantic(encode_base62_many, args=(vals,), rounds=3, iterations=1)
    assert out[0] == "q0U"
    benchmark.extra_info["ns_per_code"] = _per(benchmark, n_urls)


def test_naive_base62_loop(benchmark, n_urls):
    benchmark.group = "base62: encode n"
    out = benchmark.pedantic(lambda: [base62(v) for v in range(100000, 100000 + n_urls)], rounds=3, iterations=1)
    assert out[0] == "q0U"
    benchmark.extra_info["ns_per_code"] = _per(benchmark, n_urls)


# -- shortener in memory -------------------------------------------------------------
def test_shorten_many_memory(benchmark, urls):
    benchmark.group = "shortener: n URLs in memory"

    def run():
        return URLShortener().shorten_many(urls)

    codes = benchmark.pedantic(run, rounds=2, iterations=1)
    assert codes[0] == "q0U"
    benchmark.extra_info["urls_per_s"] = 1e9 / _per(benchmark, len(urls))


def test_naive_shortener_dict_loop(benchmark, urls):
    benchmark.group = "shortener: n URLs in memory"

    def run():
        s = NaiveShortener()
        return [s.shorten(u) for u in urls]

    codes = benchmark.pedantic(run, rounds=2, iterations=1)
    assert codes[0] == "q0U"
    benchmark.extra_info["urls_per_s"] = 1e9 / _per(benchmark, len(urls))


def test_md5_loop_floor(benchmark, urls):
    benchmark.group = "shortener: n URLs in memory"
    n = len(urls) // 10
    benchmark.pedantic(lambda: [hashlib.md5(u.encode()).hexdigest() for u in urls[:n]], rounds=2, iterations=1)
    benchmark.extra_info.update(n=n, note="md5 alone, the floor of a hash-based loop", urls_per_s=1e9 / _per(benchmark, n))


# -- shortener into SQLite -------------------------------------------------------------
def test_shorten_many_sqlite(benchmark, urls, tmp_path_factory):
    benchmark.group = "shortener: n URLs into SQLite"

    def setup():
        path = tmp_path_factory.mktemp("sq") / "links.db"
        return (URLShortener(f"sqlite:///{path}"),), {}

    def run(s):
        codes = s.shorten_many(urls)
        s.close()
        return codes

    codes = benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    assert codes[0] == "q0U"
    benchmark.extra_info["urls_per_s"] = 1e9 / _per(benchmark, len(urls))


def test_dict_plus_per_row_insert_sqlite(benchmark, urls, tmp_path_factory):
    """The baseline of the issue: a dict and one INSERT (one transaction) per URL,
    on the same WAL/synchronous=NORMAL connection settings. Run on 1/20 of the
    URLs (it is slow); compare URLs per second."""
    benchmark.group = "shortener: n URLs into SQLite"
    part = urls[: max(len(urls) // 20, 1000)]

    def setup():
        conn = connect(tmp_path_factory.mktemp("sq") / "base.db")
        conn.execute("CREATE TABLE links (code TEXT PRIMARY KEY, url TEXT NOT NULL)")
        return (conn,), {}

    def run(conn):
        s = NaiveShortener()
        for u in part:
            if u in s.code_of:
                continue
            code = s.shorten(u)
            conn.execute("INSERT INTO links (code, url) VALUES (?, ?)", (code, u))
        conn.close()
        return s

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    benchmark.extra_info.update(n=len(part), urls_per_s=1e9 / _per(benchmark, len(part)))
