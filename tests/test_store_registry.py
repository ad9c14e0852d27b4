"""The one store registry: every spec form, on every component, and the errors it documents."""

from __future__ import annotations

import os
import sys

import pytest

from sysprims.backends import registry
from sysprims.errors import InvalidParameterError, MissingDependencyError
from sysprims.idempotency import IdempotencyManager, MemoryStore
from sysprims.ratelimit import MemoryBackend, RateLimiter
from sysprims.sharding import HashBasedSharding, ShardedDatabase
from sysprims.shortener import DistributedURLShortener, MemoryLinkStore, URLShortener


def _limiter(store):
    return RateLimiter("fixed_window", max_requests=2, window_seconds=1.0, store=store)


#: component -> (build with a store spec, the memory store's type)
COMPONENTS = {
    "shortener": (lambda spec: URLShortener(spec), MemoryLinkStore),
    "distributed_shortener": (lambda spec: DistributedURLShortener(1, spec), MemoryLinkStore),
    "idempotency": (lambda spec: IdempotencyManager(store=spec), MemoryStore),
    "ratelimit": (_limiter, MemoryBackend),
    "shards": (lambda spec: ShardedDatabase(2, HashBasedSharding(2), store=spec), dict),
}


def _store_of(obj):
    if isinstance(obj, RateLimiter):
        return obj.backend
    if isinstance(obj, ShardedDatabase):
        return obj.shards[0]
    return obj.store


@pytest.mark.parametrize("spec", [None, "memory", "memory://"])
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_memory_specs_give_the_memory_store_and_write_no_file(tmp_path, monkeypatch, component, spec):
    """Regression: URLShortener("memory://") and IdempotencyManager(store="memory://")
    used to create a SQLite file named "memory:" in the working folder."""
    monkeypatch.chdir(tmp_path)
    build, memory_type = COMPONENTS[component]
    obj = build(spec)
    assert type(_store_of(obj)) is memory_type
    obj.close()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("spec", ["postgres://x", "redis:/typo", "memory:", "mysql://u@h/db", "sqlite:relative.db"])
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_unknown_specs_raise_one_error_listing_the_accepted_forms(tmp_path, monkeypatch, component, spec):
    """Regression: "postgres://..." or "redis:/..." used to say "cannot open SQLite database"."""
    monkeypatch.chdir(tmp_path)
    build, _ = COMPONENTS[component]
    with pytest.raises(InvalidParameterError) as info:
        build(spec)
    message = str(info.value)
    for form in ("memory://", "sqlite:///", "redis://", "rediss://", "unix://", "redis+cluster://"):
        assert form in message, (form, message)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "spec", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1", "unix:///tmp/nowhere.sock", "redis+cluster://127.0.0.1:1"]
)
@pytest.mark.parametrize("component", ["shortener", "idempotency", "ratelimit"])
def test_a_redis_spec_without_redis_names_the_extra(monkeypatch, component, spec):
    """Regression: RateLimiter(backend="redis://...") without redis-py raised a bare ModuleNotFoundError."""
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now fails, as without the extra
    build, _ = COMPONENTS[component]
    with pytest.raises(MissingDependencyError, match=r"sysprims\[redis\]"):
        build(spec)


def test_spec_kinds():
    kinds = {
        None: "memory", "memory": "memory", "memory://": "memory",
        "sqlite:///x.db": "sqlite", "sqlite:////abs/x.db": "sqlite", "sqlite://:memory:": "sqlite",
        "links.db": "sqlite", "./data/links": "sqlite", ":memory:": "sqlite", "C:\\data\\x.db": "sqlite",
        "redis://h:1/0": "redis", "rediss://h": "redis", "unix:///s.sock": "redis",
        "redis+cluster://h:1,h:2": "redis_cluster",
    }
    for spec, kind in kinds.items():
        assert registry.spec_kind(spec) == kind, spec
    from pathlib import Path

    assert registry.spec_kind(Path("x.db")) == "sqlite"
    assert registry.spec_kind(object()) == "object"
    for bad in ("", b"links.db", "ftp://x"):
        with pytest.raises(InvalidParameterError):
            registry.spec_kind(bad)


def test_cluster_urls_are_parsed_strictly():
    from sysprims.backends.redis import _cluster_nodes, connect

    assert _cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert _cluster_nodes("redis+cluster://[::1]:7000") == [("::1", 7000)]
    for bad in ("redis+cluster://", "redis+cluster://host", "redis+cluster://h:0", "redis+cluster://h:1,:2"):
        with pytest.raises(InvalidParameterError, match="host:port"):
            connect(bad)


def test_an_engine_a_component_lacks_is_named():
    with pytest.raises(InvalidParameterError, match="no sqlite engine") as info:
        _limiter("sqlite:///limits.db")
    assert "redis://" in str(info.value) and "sqlite:///" not in str(info.value).split("accepted:")[1]


class _HalfLinkStore:
    def create(self, *a):
        return True


@pytest.mark.parametrize("component", ["shortener", "idempotency", "ratelimit"])
def test_an_object_that_is_not_a_store_is_refused_by_name(component):
    build, _ = COMPONENTS[component]
    with pytest.raises(InvalidParameterError, match="_HalfLinkStore lacks") as info:
        build(_HalfLinkStore())
    missing = str(info.value).split("lacks ")[1].split(" (")[0].split(", ")
    assert "create" not in missing and missing == sorted(missing) and len(missing) >= 2


def test_ready_store_objects_are_used_as_they_are(tmp_path):
    links = MemoryLinkStore()
    assert URLShortener(links).store is links
    records = MemoryStore()
    assert IdempotencyManager(store=records).store is records
    backend = _limiter(None).backend
    assert _limiter(backend).backend is backend

    class Duck:  # a third-party idempotency store: the Protocol's methods, no base class
        persistent = False

    duck = Duck()
    for name in ("begin", "complete", "release", "get", "delete", "cleanup", "clear", "records", "close"):
        setattr(duck, name, getattr(records, name))
    assert IdempotencyManager(store=duck).store is duck


def test_store_options_do_not_apply_to_objects():
    with pytest.raises(InvalidParameterError, match="apply to a store spec"):
        registry.open_store("shortener", MemoryLinkStore(), table="x")


def test_store_and_its_old_name_together_are_refused():
    with pytest.raises(InvalidParameterError, match="not both"):
        RateLimiter("fixed_window", max_requests=1, window_seconds=1.0, store="memory", backend="memory")
    with pytest.raises(InvalidParameterError, match="not both"):
        ShardedDatabase(2, HashBasedSharding(2), store="memory", backend="memory")


def test_old_names_still_work(tmp_path):
    with RateLimiter("fixed_window", max_requests=1, window_seconds=1.0, backend="memory") as rl:
        assert type(rl.backend) is MemoryBackend
    with ShardedDatabase(2, HashBasedSharding(2), backend="sqlite", path=tmp_path) as db:
        db.put("k", ("v", 1))
        assert db.get("k") == ("v", 1) and db.backend == "sqlite"


class _ClosingBackend:
    def __init__(self):
        self.closed = 0

    def allow_many(self, hashes, ts, costs):
        raise AssertionError("not called")

    def allow_one(self, hk, now, cost):
        return True

    def decide(self, hk, now, cost):
        return (True, 0.0, 0.0, 0.0)

    def close(self):
        self.closed += 1


def test_every_component_closes_its_store_and_is_a_context_manager(tmp_path):
    backend = _ClosingBackend()
    with RateLimiter("fixed_window", max_requests=1, window_seconds=1.0, store=backend) as rl:
        assert rl.allow("k")
    assert backend.closed == 1
    with URLShortener(f"sqlite:///{tmp_path / 'links.db'}") as s:
        code = s.shorten("https://example.com/")
    with pytest.raises(Exception, match="closed"):
        s.expand(code)
    with IdempotencyManager(store=str(tmp_path / "idem.db")) as m:
        m.execute("k", lambda: 1)
    with pytest.raises(Exception, match="closed"):
        m.execute("k2", lambda: 2)
    with ShardedDatabase(1, HashBasedSharding(1), store=str(tmp_path)) as db:
        db.put("k", 1)
    with pytest.raises(Exception, match="closed"):
        db.get("k")
