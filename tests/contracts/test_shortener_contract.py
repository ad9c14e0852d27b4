"""The link-store contract (:class:`sysprims.shortener.LinkStore`) on every engine."""

from __future__ import annotations

from sysprims.backends.registry import open_store
from sysprims.shortener import LinkInfo, LinkStore

COMPONENT = "shortener"
NOW = 1_700_000_000_000



def test_is_a_link_store(store):
    assert isinstance(store, LinkStore)
    assert len(store) == 0


def test_counters_are_reserved_in_disjoint_runs(store):
    assert store.reserve_counter("counter", 3, 100) == 100
    assert store.reserve_counter("counter", 2, 100) == 103
    assert store.reserve_counter("permuted", 1, 0) == 0  # counters are independent
    assert store.reserve_counter("counter", 1, 0) == 105  # start applies only to a new counter


def test_create_refuses_a_live_code_and_reuses_an_expired_one(store):
    assert store.create("abc", "https://a.example/", "alias", NOW, None, NOW)
    assert not store.create("abc", "https://b.example/", "alias", NOW, None, NOW)
    assert store.create("exp", "https://c.example/", "alias", NOW, NOW + 10, NOW)
    assert not store.create("exp", "https://d.example/", "alias", NOW, None, NOW + 9)
    assert store.create("exp", "https://d.example/", "alias", NOW + 10, None, NOW + 10)
    assert store.resolve("abc", NOW) == "https://a.example/"
    assert store.resolve("exp", NOW + 11) == "https://d.example/"


def test_create_many_is_all_or_nothing(store):
    assert store.create_many(["a1", "a2"], ["https://x/1", "https://x/2"], "counter", NOW, None)
    assert not store.create_many(["b1", "a2"], ["https://x/3", "https://x/4"], "counter", NOW, None)
    assert store.resolve("b1", NOW) is None
    assert not store.create_many(["c1", "c1"], ["https://x/5", "https://x/6"], "counter", NOW, None)
    assert store.resolve("c1", NOW) is None and len(store) == 2


def test_find_codes_sees_permanent_links_of_its_strategy_only(store):
    store.create_many(["p1", "p2"], ["https://x/1", "https://x/2"], "counter", NOW, None)
    store.create("h1", "https://x/1", "hash", NOW, None, NOW)
    store.create("t1", "https://x/3", "counter", NOW, NOW + 1000, NOW)
    assert store.find_codes(["https://x/1", "https://x/2", "https://x/3", "https://x/9"], "counter") == {
        "https://x/1": "p1", "https://x/2": "p2"}
    assert store.find_codes(["https://x/1"], "hash") == {"https://x/1": "h1"}


def test_resolve_counts_clicks_and_top_ranks_them(store):
    for code in ("a", "b", "c"):
        store.create(code, f"https://x/{code}", "alias", NOW, None, NOW)
    for code, n in (("a", 1), ("b", 3), ("c", 3)):
        for _ in range(n):
            assert store.resolve(code, NOW, count_click=True) == f"https://x/{code}"
    assert store.resolve("a", NOW) == "https://x/a"  # no click counted
    top = store.top(2, NOW)
    assert [(i.code, i.clicks) for i in top] == [("b", 3), ("c", 3)]  # ties by code
    info = store.info("a", NOW)
    assert info == LinkInfo("a", "https://x/a", "alias", NOW, None, 1)
    assert store.top(0, NOW) == []


def test_resolve_many_is_resolve_in_a_batch(store):
    store.create("a", "https://x/a", "alias", NOW, None, NOW)
    store.create("e", "https://x/e", "alias", NOW, NOW + 5, NOW)
    codes = ["a", "e", "missing", "a"]
    for now in (NOW, NOW + 5):
        assert store.resolve_many(codes, now) == [store.resolve(c, now) for c in codes]


def test_delete_and_purge(store):
    store.create("a", "https://x/a", "alias", NOW, None, NOW)
    store.create("e1", "https://x/1", "alias", NOW, NOW + 5, NOW)
    store.create("e2", "https://x/2", "alias", NOW, NOW + 50, NOW)
    assert store.delete("a") and not store.delete("a")
    assert len(store) == 2
    assert store.purge_expired(NOW + 5) == 1
    assert len(store) == 1 and store.info("e2", NOW) is not None and store.info("e1", NOW) is None


def test_links_outlive_the_store_object(engine, spec, reopen_spec, store):
    store.create("a", "https://x/a", "alias", NOW, None, NOW)
    store.reserve_counter("counter", 5, 0)
    again = open_store(COMPONENT, spec)
    if reopen_spec is None:  # memory: every store is a fresh one
        assert len(again) == 0 and again.resolve("a", NOW) is None
        return
    assert again.resolve("a", NOW) == "https://x/a" and again.reserve_counter("counter", 1, 0) == 5
    again.close()
