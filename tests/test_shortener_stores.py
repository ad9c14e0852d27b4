"""The link-store contract, on memory, SQLite and a real redis-server;
persistence across restarts and concurrent writers (threads and processes)."""

from __future__ import annotations

import multiprocessing as mp
import threading

import pytest

from sysprims.backends.shortener_redis import RedisLinkStore
from sysprims.backends.shortener_sqlite import SQLiteLinkStore
from sysprims.clock import ManualClock
from sysprims.errors import BackendError, InvalidParameterError
from sysprims.shortener import (
    AliasTakenError,
    MemoryLinkStore,
    URLShortener,
    encode_base62,
    open_link_store,
)

T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request, tmp_path):
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/links.db"
    return request.getfixturevalue("redis_url")


@pytest.fixture
def short(store_url):
    s = URLShortener(store_url, clock=ManualClock(T0), secret=b"k")
    yield s
    s.close()


def test_open_link_store_kinds(store_url):
    store = open_link_store(store_url)
    kind = {None: MemoryLinkStore}.get(store_url) or (RedisLinkStore if store_url.startswith("redis") else SQLiteLinkStore)
    assert isinstance(store, kind)
    store.close()


def test_round_trip_and_dedupe(short):
    codes = [short.shorten_counter_based(f"https://e.com/{i}") for i in range(5)]
    assert codes == ["q0U", "q0V", "q0W", "q0X", "q0Y"]
    assert short.shorten_counter_based("https://e.com/3") == "q0X"
    h = short.shorten_hash_based("https://e.com/3")
    assert short.shorten_hash_based("https://e.com/3") == h and h not in codes
    p = short.shorten_permuted("https://e.com/3")
    assert len(p) == 7 and short.shorten_permuted("https://e.com/3") == p
    assert len(short) == 7
    assert [short.expand(c) for c in codes] == [f"https://e.com/{i}" for i in range(5)]
    assert short.expand_many([*codes, "missing", h]).tolist() == [*[f"https://e.com/{i}" for i in range(5)], None, "https://e.com/3"]


def test_batch_equals_loop_on_every_store(store_url, tmp_path):
    urls = [f"https://e.com/{i % 40}" for i in range(120)]
    a = URLShortener(store_url, secret=b"k", chunk_size=16)
    a.shorten("https://pre.example", alias="q0Z")
    got = a.shorten_many(urls).tolist()
    b = URLShortener(secret=b"k")
    b.shorten("https://pre.example", alias="q0Z")
    assert got == [b.shorten(u) for u in urls]
    for strategy in ["permuted", "hash"]:
        assert a.shorten_many(urls, strategy=strategy).tolist() == [b.shorten(u, strategy=strategy) for u in urls]
    a.close()


def test_alias_and_expiry(short):
    clock = short.clock
    assert short.shorten("https://e.com/a", alias="promo", ttl=10) == "promo"
    with pytest.raises(AliasTakenError):
        short.shorten("https://e.com/b", alias="promo")
    t1 = short.shorten("https://e.com/a", ttl=5)
    t2 = short.shorten("https://e.com/a", ttl=5)
    assert t1 != t2  # expiring links are never shared
    clock.advance(5.0)
    assert short.expand(t1) is None and short.expand("promo") == "https://e.com/a"
    clock.advance(5.0)
    assert short.expand("promo") is None and short.click("promo") is None
    # an expired alias can be taken again
    assert short.shorten("https://e.com/c", alias="promo") == "promo"
    assert short.expand("promo") == "https://e.com/c"
    assert short.purge_expired() == 2
    assert len(short) == 1


def test_clicks_and_top(short):
    codes = [short.shorten(f"https://e.com/{i}") for i in range(6)]
    for i, code in enumerate(codes):
        for _ in range(i % 4):
            assert short.click(code) == f"https://e.com/{i}"
    assert short.clicks(codes[3]) == 3 and short.clicks(codes[0]) == 0
    top = short.top(3)
    # clicks: [0, 1, 2, 3, 0, 1] -> 3, 2, then the tie at 1 broken by code
    assert [t.clicks for t in top] == [3, 2, 1]
    assert [t.code for t in top] == [codes[3], codes[2], min(codes[1], codes[5])]
    assert short.expand(codes[3]) and short.clicks(codes[3]) == 3  # expand does not count
    assert short.info(codes[2]).url == "https://e.com/2"
    assert short.delete(codes[3]) and not short.delete(codes[3])
    assert short.expand(codes[3]) is None
    assert [t.code for t in short.top(1)] == [codes[2]]
    # a deleted permanent link is no longer returned for its URL
    assert short.shorten("https://e.com/3") not in codes


def test_create_many_is_all_or_nothing(store_url):
    store = open_link_store(store_url)
    assert store.create("abc", "https://e.com/1", "alias", 0, None, 0)
    assert not store.create_many(["x1", "abc"], ["https://e.com/2", "https://e.com/3"], "counter", 0, None)
    assert not store.create_many(["x2", "x2"], ["https://e.com/2", "https://e.com/3"], "counter", 0, None)
    assert store.resolve_many(["x1", "x2", "abc"], 0) == [None, None, "https://e.com/1"]
    assert store.create_many(["x1", "x2"], ["https://e.com/2", "https://e.com/3"], "counter", 0, None)
    assert len(store) == 3
    assert store.reserve_counter("c", 5, 10) == 10 and store.reserve_counter("c", 1, 10) == 15
    store.close()


def test_sqlite_survives_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/links.db"
    with URLShortener(url, secret=b"k") as s:
        codes = s.shorten_many([f"https://e.com/{i}" for i in range(1000)])
        s.shorten("https://e.com/x", alias="keep")
        s.click("keep")
    with URLShortener(url, secret=b"k") as s:
        assert s.expand_many(codes).tolist() == [f"https://e.com/{i}" for i in range(1000)]
        assert s.clicks("keep") == 1
        # the counter carries on; re-shortening returns the stored code
        assert s.shorten("https://e.com/new") == encode_base62(100000 + 1000)
        assert s.shorten("https://e.com/5") == codes[5]


def test_redis_survives_a_new_client_and_script_flush(redis_url, redis_client):
    s = URLShortener(redis_url)
    code = s.shorten("https://e.com/a")
    redis_client.script_flush()
    s2 = URLShortener(redis_url)
    assert s2.expand(code) == "https://e.com/a"
    assert s2.shorten("https://e.com/b") == "q0V"


def test_threads_never_share_a_code(store_url):
    s = URLShortener(store_url, secret=b"k")
    out: list[list[str]] = [[] for _ in range(4)]

    def work(t: int) -> None:
        for i in range(100):
            out[t].append(s.shorten(f"https://e.com/{t}/{i}", strategy=("counter", "permuted")[i % 2]))
        out[t].extend(s.shorten_many([f"https://e.com/{t}/b{i}" for i in range(200)]).tolist())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    flat = [c for part in out for c in part]
    assert len(set(flat)) == len(flat) == 1200
    assert s.expand(out[2][7]) == "https://e.com/2/7"
    s.close()


def _process_writer(args: tuple[str, int]) -> list[tuple[str, str]]:
    url, worker = args
    s = URLShortener(url, secret=b"k")
    urls = [f"https://e.com/{worker}/{i}" for i in range(150)]
    pairs = [(s.shorten(u), u) for u in urls[:50]]
    pairs += list(zip(s.shorten_many(urls[50:], strategy="permuted").tolist(), urls[50:], strict=False))
    s.close()
    return pairs


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_processes_never_share_a_code(kind, tmp_path, request):
    url = f"sqlite:///{tmp_path}/links.db" if kind == "sqlite" else request.getfixturevalue("redis_url")
    URLShortener(url).close()  # create the schema once
    with mp.get_context("fork").Pool(3) as pool:
        parts = pool.map(_process_writer, [(url, w) for w in range(3)])
    pairs = [p for part in parts for p in part]
    codes = [c for c, _ in pairs]
    assert len(set(codes)) == len(codes) == 450
    with URLShortener(url) as s:
        assert s.expand_many(codes).tolist() == [u for _, u in pairs]


def test_bad_store_arguments(tmp_path):
    with pytest.raises(InvalidParameterError):
        URLShortener(store=3.5)
    with pytest.raises(BackendError):
        URLShortener(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(InvalidParameterError):
        SQLiteLinkStore(":memory:", table="drop table")


# ------------------------------------------------------------------ Redis key layout


def test_redis_key_encoding_is_injective_on_adversarial_names():
    """``backends.redis.key`` maps every (name, parts) to its own key, whose hash tag
    is exactly the encoded name: 100k adversarial names (braces, colons, slashes,
    newlines, glob characters and the escape sequences themselves)."""
    import random

    from sysprims.backends import redis as layer

    rng = random.Random(5)
    alphabet = ["{", "}", ":", "%", "/", "\\", "*", "?", "[", "]", "(", ")", "\n", " ", "é", "\ud800",
                "%7B", "%7D", "%3A", "%25", "%u", "a", "Z"]
    names = {"team{a}", "team(a)", "a:b", "a", "b", ""}
    while len(names) < 100_000:
        names.add("".join(rng.choices(alphabet, k=rng.randrange(1, 13))))
    assert len(names) >= 100_000
    seen: dict[str, str] = {}
    for name in names:
        k = layer.key("sysprims", "short", name, "l", name)
        assert seen.setdefault(k, name) == name, f"{name!r} and {seen[k]!r} share {k!r}"
        tag = k[k.index("{") + 1 : k.index("}")]
        assert layer.unescape(tag) == name
        k.encode("utf-8")  # lone surrogates are escaped too: every key can be sent
    assert layer.key("ns", "short", ("a", "b:c")) != layer.key("ns", "short", ("a:b", "c"))
    assert layer.key("ns", "short", "x", "a", "b") != layer.key("ns", "short", "x", "a:b")
    with pytest.raises(InvalidParameterError, match="namespace"):
        layer.key("ns{x}", "short", "x")


def test_redis_link_store_names_are_distinct_stores_offline():
    names = ["team{a}", "team(a)", "team%7Ba%7D", "t:x", "t", "links"]
    built = [RedisLinkStore("redis://127.0.0.1:9/0", name=n) for n in names]
    keys = [s._link("abc") for s in built] + [s._index for s in built] + [s._k("counter", "counter") for s in built]
    assert len(set(keys)) == len(keys)


@pytest.mark.redis
def test_redis_link_stores_with_similar_names_do_not_share_links(redis_url):
    a = URLShortener(RedisLinkStore(redis_url, name="team{a}"), clock=ManualClock(T0))
    b = URLShortener(RedisLinkStore(redis_url, name="team(a)"), clock=ManualClock(T0))
    code = a.shorten_counter_based("https://a.example/x")
    assert b.expand(code) is None and len(b) == 0
    assert b.shorten_counter_based("https://b.example/y") == code  # its own counter
    assert a.expand(code) == "https://a.example/x" and b.expand(code) == "https://b.example/y"


@pytest.mark.redis
def test_links_written_by_0_1_are_refused_until_migrated(redis_url, redis_client):
    s = URLShortener(redis_url, clock=ManualClock(T0))
    codes = [s.shorten_counter_based(f"https://e.com/{i}") for i in range(5)]
    codes.append(s.shorten("https://e.com/5", alias="my-alias", ttl=3600))
    s.close()
    # what sysprims 0.1 wrote for the same store: ns:short:{links}:... (no layout version)
    for k in redis_client.keys("sysprims:v2:short:*"):
        redis_client.rename(k, k.decode().replace("sysprims:v2:short:", "sysprims:short:", 1))
    assert not redis_client.keys("sysprims:v2:*")
    with pytest.raises(BackendError, match="0.1.*migrate_from_v01"):
        URLShortener(redis_url, clock=ManualClock(T0)).expand(codes[0])
    moved = RedisLinkStore.migrate_from_v01(redis_url)
    assert moved >= 5 and not redis_client.keys("sysprims:short:*")
    again = URLShortener(redis_url, clock=ManualClock(T0))
    assert [again.expand(c) for c in codes] == [f"https://e.com/{i}" for i in range(6)]
    assert again.shorten_counter_based("https://e.com/new") not in codes  # the counter moved too
    assert len(again) == len(codes) + 1
    with pytest.raises(BackendError, match="already holds links"):
        RedisLinkStore.migrate_from_v01(redis_url)


@pytest.mark.slow
def test_redis_link_keys_are_injective_over_store_name_and_code():
    """(store name, code) -> Redis key is one-to-one: 100k adversarial pairs (braces,
    colons, newlines, the escape character itself) give 100k distinct keys, and every
    key of one store carries that store's one hash tag (one Cluster slot)."""
    import random

    rng = random.Random(18)
    nasty = ["{", "}", ":", "%", "%7B", "%7D", "%3A", "\n", "(", ")", "a", "é", "\\", "*"]

    def words(n):
        return sorted({"".join(rng.choices(nasty, k=rng.randrange(1, 8))) for _ in range(n)})

    names = ["links", "links{x}", "links(x)", "links:x", *words(360)]
    codes = ["q0U", "{q0U}", *words(360)]
    seen: dict[str, tuple[str, str]] = {}
    for name in names:
        store = RedisLinkStore("redis://127.0.0.1:9/0", name=name)  # builds keys without connecting
        tags = set()
        for code in codes:
            rk = store._link(code)
            assert seen.setdefault(rk, (name, code)) == (name, code), f"{(name, code)} and {seen[rk]} share {rk!r}"
            tags.add(rk[rk.index("{") + 1 : rk.index("}")])
        tags.update(k[k.index("{") + 1 : k.index("}")] for k in (store._index, store._count, store._expz, store._top))
        assert len(tags) == 1
    assert len(seen) >= 100_000
