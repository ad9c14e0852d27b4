"""Snowflake IDs and the URL shortener against naive plain-Python versions,
``uuid4``, a plain dict and per-row SQLite INSERTs, on the same data in the same
run, with floors where one means something (building the output strings,
storing the URLs in a dict, one ``executemany`` into SQLite).

The registry of this component: :func:`data` and ``CONTENDERS`` (each once,
with its adapter, call shape and check); ``sysprims bench``,
``benchmarks/bench_ids.py`` and the tour's ids step use them.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..naive import NaiveShortener, NaiveSnowflake, base62
from ..registry import BATCH, FLOOR, NAIVE, SINGLE, Contender, measure_all

NAME = "ids"
TITLE = "Snowflake IDs and URL shortener"
ORDER = 40
REQUIRES = ("sysprims.ids", "sysprims.shortener")
GEN, B62 = "generate n IDs", "base62 encode n counters"
SHORT, SQL = "shorten n URLs (memory)", "shorten n URLs into SQLite"
FIRST = 100_000  # the first counter value; base62(100_000) == "q0U"
MAX_URLS = 1_000_000


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """``n`` counters from 100,000 and ``min(n, 1M)`` distinct URLs."""
    m = min(n, MAX_URLS)
    return {"n": n, "vals": list(range(FIRST, FIRST + n)),
            "urls": [f"https://example.com/articles/{i:09d}?utm_source=bench" for i in range(m)]}


def _urls(d: dict[str, Any]) -> list[str]:
    return d["urls"][: d["n"]]


def _count_urls(d: dict[str, Any]) -> int:
    return min(d["n"], len(d["urls"]))


def _unique_ids(kind: str) -> Any:
    """Every id distinct; sysprims' ids also increase (its generator refuses a
    clock that steps back rather than repeat or reorder ids: the naive one does
    not, so only its uniqueness is checked)."""

    def check(ids, _state, d):
        vals = [x.int for x in ids] if kind == "uuid" else [int(x) for x in ids]
        share = len(set(vals)) / max(len(vals), 1)
        assert share == 1.0, f"{1 - share:.2%} duplicate ids"
        if kind == "sysprims":
            assert bool((np.diff(np.asarray(vals, dtype=np.int64)) > 0).all()), "ids of one generator are not increasing"
        return {"unique": share}

    return check


def _codes(codes, _state, d) -> dict[str, float]:
    """The codes are the base 62 of the counters from 100,000 (one per distinct URL)."""
    codes = list(codes)
    k = min(len(codes), 2_000)
    assert codes[:k] == [base62(FIRST + i) for i in range(k)], "codes differ from base62 of the counter"
    share = len(set(codes)) / max(len(codes), 1)
    assert share == 1.0, "two URLs got the same code"
    return {"unique": share}


def _tmp_db(name: str) -> tuple[Any, Path]:
    folder = tempfile.TemporaryDirectory(prefix="sysprims-bench-ids-")
    return folder, Path(folder.name) / name


def _sqlite_shortener(_mod: Any, d: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    from ...shortener import URLShortener

    folder, path = _tmp_db("links.db")
    return URLShortener(f"sqlite:///{path}"), folder, _urls(d)


def _per_row_setup(_mod: Any, d: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    from ...backends.sqlite import connect

    folder, path = _tmp_db("base.db")
    conn = connect(path)  # the same WAL / synchronous=NORMAL settings as sysprims' store
    conn.execute("CREATE TABLE links (code TEXT PRIMARY KEY, url TEXT NOT NULL)")
    return conn, folder, _urls(d)


def _per_row_loop(state: tuple[Any, Any, list[str]], _d: dict[str, Any]) -> list[str]:
    conn, _folder, urls = state
    s = NaiveShortener(FIRST)
    out = []
    for u in urls:  # one INSERT per URL, each its own transaction (the connection autocommits)
        code = s.shorten(u)
        conn.execute("INSERT INTO links (code, url) VALUES (?, ?)", (code, u))
        out.append(code)
    return out


def _executemany(state: tuple[Any, Any, list[str]], _d: dict[str, Any]) -> int:
    conn, _folder, urls = state
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO links (code, url) VALUES (?, ?)", ((str(i), u) for i, u in enumerate(urls)))
    conn.execute("COMMIT")
    return len(urls)


def _close_db(state: tuple[Any, Any, list[str]]) -> None:
    state[0].close()
    state[1].cleanup()


def _naive_shorten(s: NaiveShortener, d: dict[str, Any]) -> list[str]:
    return [s.shorten(u) for u in _urls(d)]


def _snowflake(worker: int) -> Any:
    from ...ids import SnowflakeID

    return SnowflakeID(worker)


def _contenders() -> list[Contender]:
    ids, naive_ids, uuids = _unique_ids("sysprims"), _unique_ids("int"), _unique_ids("uuid")
    return [
        Contender(GEN, "sysprims SnowflakeID.generate_many", "sysprims", BATCH, setup=lambda _m, d: _snowflake(1),
                  call=lambda g, d: g.generate_many(d["n"]), check=ids,
                  note="bounded by the protocol: 4096 IDs per ms = 244 ns/ID, whatever the machine"),
        Contender(GEN, "sysprims SnowflakeID.generate loop", "sysprims", SINGLE, size="slow",
                  setup=lambda _m, d: _snowflake(2), call=lambda g, d: [g.generate() for _ in range(d["n"])],
                  check=ids),
        Contender(GEN, "naive Snowflake generate loop", NAIVE, SINGLE, size="slow",
                  setup=lambda _m, d: NaiveSnowflake(3), call=lambda g, d: [g.generate() for _ in range(d["n"])],
                  check=naive_ids),
        Contender(GEN, "uuid.uuid4 loop", "python", SINGLE, size="slow",
                  call=lambda _s, d: [uuid.uuid4() for _ in range(d["n"])], check=uuids,
                  note="128-bit random, not time-ordered"),
        Contender(B62, "sysprims encode_base62_many", "sysprims", BATCH,
                  call=lambda _s, d: _encode(d["vals"]), check=_codes),
        Contender(B62, "naive base62 loop", NAIVE, SINGLE, size="loop",
                  call=lambda _s, d: [base62(v) for v in d["vals"]], check=_codes),
        Contender(B62, "floor: build n str (list(map(str, ints)))", FLOOR, BATCH,
                  call=lambda _s, d: list(map(str, d["vals"])),
                  note="makes one short Python str per value: the cost of returning a list of str"),
        Contender(SHORT, "sysprims URLShortener.shorten_many", "sysprims", BATCH, size=MAX_URLS, count=_count_urls,
                  setup=lambda _m, d: (_shortener(), _urls(d)), call=lambda st, d: st[0].shorten_many(st[1]),
                  check=_codes),
        Contender(SHORT, "naive counter + two dicts loop", NAIVE, SINGLE, size="loop", count=_count_urls,
                  setup=lambda _m, d: NaiveShortener(FIRST), call=_naive_shorten, check=_codes),
        Contender(SHORT, "floor: dict.fromkeys(urls)", FLOOR, BATCH, size=MAX_URLS, count=_count_urls,
                  setup=lambda _m, d: _urls(d), call=lambda urls, d: dict.fromkeys(urls),
                  note="every URL hashed and stored in a dict once"),
        Contender(SQL, "sysprims URLShortener.shorten_many (sqlite)", "sysprims", BATCH, size=200_000,
                  count=_count_urls, setup=_sqlite_shortener, call=lambda st, d: st[0].shorten_many(st[2]),
                  teardown=_close_db, check=_codes),
        Contender(SQL, "dict + per-row INSERT loop", NAIVE, SINGLE, size="slow", count=_count_urls,
                  setup=_per_row_setup, call=_per_row_loop, teardown=_close_db, check=_codes,
                  note="one INSERT and commit per URL, same WAL/synchronous=NORMAL settings"),
        Contender(SQL, "floor: executemany INSERT (one transaction)", FLOOR, BATCH, size=200_000,
                  count=_count_urls, setup=_per_row_setup, call=_executemany, teardown=_close_db,
                  note="the rows written by SQLite alone, no code computed"),
    ]


def _encode(vals: list[int]) -> list[str]:
    from ...shortener import encode_base62_many

    return encode_base62_many(vals)


def _shortener() -> Any:
    from ...shortener import URLShortener

    return URLShortener()


CONTENDERS = _contenders()


def run(ctx) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
