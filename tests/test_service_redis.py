"""The shortener service on a real redis-server: several instances sharing one state."""

from __future__ import annotations

import asyncio
import threading
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("redis")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sysprims.clock import ManualClock
from sysprims.ids import decode
from sysprims.service import MachineLease, create_app

pytestmark = pytest.mark.redis

T0 = 1_700_000_000.0


def _lease_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sysprims-lease-") and t.is_alive()}


@pytest.fixture(autouse=True)
def no_lease_left_running():
    """Every test closes the services it starts: a lease thread left renewing outlives
    the session's redis-server and logs "lease renewal failed" after pytest's summary."""
    before = _lease_threads()
    yield
    left = _lease_threads() - before
    assert not left, f"machine-id lease threads still renewing after the test: {sorted(t.name for t in left)}"


def instance(redis_url, clock, **kw):
    kw.setdefault("rate_capacity", 10_000)
    app = create_app(redis_url, clock=clock, **kw)
    return app, TestClient(app, follow_redirects=False)


def test_two_instances_never_issue_the_same_code(redis_url):
    clock = ManualClock(T0)  # one millisecond for every ID: only machine id and sequence separate them
    (a, ca), (b, cb) = instance(redis_url, clock), instance(redis_url, clock)
    sa, sb = a.state.service, b.state.service
    try:
        assert sa.strategy == sb.strategy == "snowflake"
        assert sa.machine_id != sb.machine_id
        codes: dict[str, list[str]] = {"a": [], "b": []}

        def work(name, client, n):
            for i in range(n):
                r = client.post("/api/links", json={"url": f"https://example.com/{name}/{i}"})
                assert r.status_code == 201, r.text
                codes[name].append(r.json()["code"])

        threads = [threading.Thread(target=work, args=("a", ca, 60)), threading.Thread(target=work, args=("b", cb, 60))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        all_codes = codes["a"] + codes["b"]
        assert len(all_codes) == 120 and len(set(all_codes)) == 120
        assert {decode(int(_b62(c))).machine_id for c in codes["a"]} == {sa.machine_id}
        assert {decode(int(_b62(c))).machine_id for c in codes["b"]} == {sb.machine_id}
        assert len(sa.store) == 120
        # every link resolves on the other instance; clicks add up in the shared store
        for i, code in enumerate(codes["a"][:5]):
            assert cb.get(f"/{code}").headers["location"] == f"https://example.com/a/{i}"
            assert ca.get(f"/{code}").status_code == 302
        assert ca.get(f"/api/links/{codes['a'][0]}").json()["clicks"] == 2
        assert [x["clicks"] for x in cb.get("/api/top", params={"k": 3}).json()["links"]] == [2, 2, 2]
    finally:
        sa.close()
        sb.close()


def _b62(code):
    from sysprims.shortener import decode_base62

    return decode_base62(code)


def test_rate_limit_and_idempotency_shared(redis_url):
    clock = ManualClock(T0)
    (a, ca), (b, cb) = (instance(redis_url, clock, rate_capacity=3, rate_refill=1) for _ in range(2))
    try:
        h = {"Idempotency-Key": "pay-1"}
        r1 = ca.post("/api/links", json={"url": "https://example.com/x"}, headers=h)
        r2 = cb.post("/api/links", json={"url": "https://example.com/x"}, headers=h)
        assert r1.status_code == r2.status_code == 201
        assert r2.json() == r1.json() and r2.headers["idempotent-replayed"] == "true"
        r3 = cb.post("/api/links", json={"url": "https://example.com/y"}, headers=h)
        assert r3.status_code == 422 and r3.json()["code"] == "idempotency_key_reused"
        # the 4th request of this client, on either instance, is over the shared bucket
        r4 = ca.get("/api/top")
        assert r4.status_code == 429 and r4.headers["retry-after"] == "1"
        assert r4.headers["ratelimit-remaining"] == "0" and r4.json()["code"] == "rate_limited"
        assert len(a.state.service.store) == 1
        clock.advance(1)
        assert cb.get("/api/top").status_code == 200
    finally:
        a.state.service.close()
        b.state.service.close()


def test_alias_taken_across_instances(redis_url):
    clock = ManualClock(T0)
    (a, ca), (b, cb) = instance(redis_url, clock), instance(redis_url, clock)
    try:
        assert ca.post("/api/links", json={"url": "https://a.example/", "alias": "launch"}).status_code == 201
        r = cb.post("/api/links", json={"url": "https://b.example/", "alias": "launch"})
        assert r.status_code == 409 and r.json()["code"] == "alias_taken"
        assert cb.get("/launch").headers["location"] == "https://a.example/"
    finally:
        a.state.service.close()
        b.state.service.close()


def test_machine_lease_distinct_renew_release(redis_client):
    leases = [MachineLease(redis_client, "t", "svc", ttl=5, ids=4) for _ in range(4)]
    try:
        assert sorted(lease.machine_id for lease in leases) == [0, 1, 2, 3]
        from sysprims.errors import CapacityError

        with pytest.raises(CapacityError, match="all 4"):
            MachineLease(redis_client, "t", "svc", ttl=5, ids=4)
        assert leases[0].renew()
        freed = leases[1].machine_id
        leases[1].close()
        again = MachineLease(redis_client, "t", "svc", ttl=5, ids=4)
        assert again.machine_id == freed
        leases[1] = again
        # a vanished key (Redis restarted) is taken back; one taken over reports the loss
        redis_client.delete(leases[3]._key(leases[3].machine_id))
        assert leases[3].renew() and redis_client.get(leases[3]._key(leases[3].machine_id)).decode() == leases[3].token
        redis_client.set(leases[2]._key(leases[2].machine_id), "someone-else")
        assert not leases[2].renew() and leases[2].lost
    finally:
        for lease in leases:
            lease.close()


def test_redis_down_is_503_json_then_recovers(own_redis):
    clock = ManualClock(T0)
    app, c = instance(own_redis.url, clock)
    try:
        code = c.post("/api/links", json={"url": "https://example.com/r"}).json()["code"]
        own_redis.proc.terminate()  # down, keeping its folder so that restart() works
        own_redis.proc.wait(5)
        for resp in (c.get(f"/{code}"), c.post("/api/links", json={"url": "https://example.com/s"}),
                     c.get(f"/api/links/{code}")):
            assert resp.status_code == 503, resp.text
            err = resp.json()
            assert err["code"] == "backend_unavailable" and "unavailable" in err["detail"]
        own_redis.restart()
        # the data of a restarted non-persistent redis is gone: the code is now unknown, the service answers
        assert c.get(f"/{code}").status_code in (302, 404)
        assert c.post("/api/links", json={"url": "https://example.com/t"}).status_code == 201
    finally:
        app.state.service.close()


def test_same_machine_id_still_unique_codes(redis_url):
    """Misconfigured: two instances forced onto one machine id and one frozen clock generate
    the same Snowflake IDs; the store refuses the taken code and the loser draws the next ID."""
    clock = ManualClock(T0)
    (a, ca), (b, cb) = instance(redis_url, clock, machine_id=5), instance(redis_url, clock, machine_id=5)
    try:
        codes = []
        for i in range(20):
            for name, client in (("a", ca), ("b", cb)):
                r = client.post("/api/links", json={"url": f"https://example.com/{name}/{i}"})
                assert r.status_code == 201
                codes.append((r.json()["code"], r.json()["url"]))
        assert len({c for c, _ in codes}) == 40
        for code, url in codes:  # each code still leads to its own URL
            assert ca.get(f"/{code}").headers["location"] == url
    finally:
        a.state.service.close()
        b.state.service.close()


def test_async_redirects_count_where_blocking_ones_do(redis_url):
    """The default app awaits the store's resolve script on redis.asyncio; an inline
    (blocking) app on the same Redis counts into the same totals, buckets and expiry."""
    clock = ManualClock(T0)
    app_async, c_async = instance(redis_url, clock)
    app_sync, c_sync = instance(redis_url, clock, threadpool=False)
    try:
        code = c_async.post("/api/links", json={"url": "https://example.com/both", "ttl_seconds": 10}).json()["code"]
        for c in (c_async, c_sync, c_async):
            r = c.get(f"/{code}")
            assert r.status_code == 302 and r.headers["location"] == "https://example.com/both"
        assert c_sync.get(f"/api/links/{code}").json()["clicks"] == 3
        # written by this instance (the other still buffers its one)
        assert sum(c_async.get(f"/api/links/{code}/clicks").json()["per_minute"]) == 2
        assert app_async.state.service._stats_snapshot()["redirects"] == 2
        assert c_async.get("/nosuchcode").status_code == 404
        clock.advance(10.5)
        assert c_async.get(f"/{code}").status_code == 404  # expired: the script's check, as the blocking path
        assert c_sync.get(f"/{code}").status_code == 404
    finally:
        app_async.state.service.close()
        app_sync.state.service.close()


def test_the_apps_shutdown_stops_its_lease_thread_and_frees_the_id(redis_url, redis_client):
    """The lifespan's end closes the service: the renewal thread has stopped (joined,
    not just told to stop) and the machine id's key is gone, so another instance may
    lease it at once."""
    app = create_app(redis_url, clock=ManualClock(T0), rate_capacity=0)
    svc = app.state.service
    lease = svc.lease
    key = lease._key(lease.machine_id)
    assert lease._thread.is_alive() and redis_client.get(key).decode() == lease.token
    with TestClient(app):
        pass
    assert not lease._thread.is_alive()
    assert redis_client.get(key) is None
    svc.close()  # idempotent


def test_closing_a_lease_stops_its_thread_before_the_release(redis_client):
    """A renewal after the release would find the key gone and take the id back for a
    whole ttl; close() joins the renewal thread first."""
    lease = MachineLease(redis_client, "t", "svc-close", ttl=5, ids=4)
    key = lease._key(lease.machine_id)
    lease.close()
    assert not lease._thread.is_alive()
    assert redis_client.get(key) is None


def _resolver(redis_url, redis_client):
    from sysprims.backends.aio_links import AsyncLinkResolver
    from sysprims.backends.registry import engine

    store = engine("shortener", "redis")(redis_client, name="batch", namespace="t")
    for i in range(6):
        store.create(f"c{i}", f"https://e.com/{i}", "alias", 0, None, 0)
    return store, AsyncLinkResolver(store, redis_url)


def test_redirects_started_together_go_as_one_pipeline_and_count_once(redis_url, redis_client):
    store, resolver = _resolver(redis_url, redis_client)

    async def main():
        codes = ["c0", "c1", "c2", "c0", "nope", "c5"]
        got = await asyncio.gather(*(resolver.resolve(c, 1, True) for c in codes))
        lone = await resolver.resolve("c3", 1, True)
        redis_client.script_flush()  # Redis forgot the script: the pipeline loads it and runs those again
        again = await asyncio.gather(*(resolver.resolve(c, 1, True) for c in ("c4", "c4", "c1")))
        await resolver.aclose()
        return got, lone, again

    got, lone, again = asyncio.run(main())
    assert got == ["https://e.com/0", "https://e.com/1", "https://e.com/2", "https://e.com/0", None, "https://e.com/5"]
    assert lone == "https://e.com/3" and again == ["https://e.com/4", "https://e.com/4", "https://e.com/1"]
    assert (resolver.batches, resolver.batched) == (3, 10)  # 6 in one pipeline, 1 alone, 3 in one
    assert [store.info(f"c{i}", 1).clicks for i in range(6)] == [2, 2, 1, 1, 2, 1]


def test_a_batch_whose_gatherer_is_cancelled_still_answers_the_others(redis_url, redis_client):
    store, resolver = _resolver(redis_url, redis_client)

    async def main():
        lead = asyncio.ensure_future(resolver.resolve("c0", 1, True))
        await asyncio.sleep(0)  # the first one is gathering
        others = [asyncio.ensure_future(resolver.resolve(c, 1, True)) for c in ("c1", "c2")]
        await asyncio.sleep(0)  # they joined its batch
        lead.cancel()  # before it sent anything
        got = await asyncio.gather(*others)
        await resolver.aclose()
        return lead, got

    lead, got = asyncio.run(main())
    assert lead.cancelled() and got == ["https://e.com/1", "https://e.com/2"]
    assert [store.info(f"c{i}", 1).clicks for i in range(3)] == [0, 1, 1]  # nothing twice, the cancelled one not at all


def test_redis_down_fails_every_redirect_of_a_batch_with_backend_error(own_redis):
    import redis

    from sysprims.errors import BackendError

    client = redis.Redis.from_url(own_redis.url)
    store, resolver = _resolver(own_redis.url, client)

    async def main():
        assert await resolver.resolve("c0", 1, True) == "https://e.com/0"
        own_redis.kill()
        return await asyncio.gather(*(resolver.resolve(c, 1, True) for c in ("c0", "c1", "c2")),
                                    return_exceptions=True)

    got = asyncio.run(main())
    assert all(isinstance(e, BackendError) and "unavailable" in str(e) for e in got), got
    client.close()
