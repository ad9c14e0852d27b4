"""The Redis stores on a real 3-master Redis Cluster (``redis_cluster`` in
conftest.py: redis-server processes in cluster mode, slots assigned by
``redis-cli --cluster create``), through ``redis.cluster.RedisCluster`` clients.

Every call below raises on any Redis error (``on_error="raise"``), so a CROSSSLOT
(or a pipeline refusing EVALSHA) fails the test; each suite also checks that its
keys landed on all three masters, so several slots and nodes were exercised."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from sysprims.backends.redis_ratelimit import RedisRateLimitBackend
from sysprims.backends.shortener_redis import RedisLinkStore
from sysprims.clock import ManualClock
from sysprims.errors import IdempotencyKeyMismatch, RequestInProgress
from sysprims.idempotency import IdempotencyManager, RedisStore
from sysprims.ratelimit import ALGORITHMS, DistributedTokenBucket, RateLimiter
from sysprims.ratelimit import algorithms as A
from sysprims.shortener import AliasTakenError, URLShortener
from tests.test_ratelimit_redis import PARAMS

pytestmark = pytest.mark.redis

T0 = 1_700_000_000.0


def limiter_on(client, algorithm, params=None, **options):
    """A RateLimiter whose backend runs on ``client`` (a RedisCluster or a Redis)."""
    spec = A.SPECS[algorithm]
    params = params or PARAMS[algorithm]
    options.setdefault("namespace", f"t{uuid.uuid4().hex[:10]}")
    backend = RedisRateLimitBackend(spec, A.check_params(spec, *params.values()), 0, client, **options)
    return RateLimiter(algorithm, backend=backend, **params)


def keys_per_node(cluster) -> list[int]:
    import redis

    out = []
    for port in cluster.ports:
        c = redis.Redis(host="127.0.0.1", port=port)
        out.append(c.dbsize())
        c.close()
    return out


def test_the_cluster_is_three_masters_covering_every_slot(redis_cluster, cluster_client):
    info = cluster_client.cluster_info()
    assert info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == 3
    assert int(info["cluster_slots_assigned"]) == 16384 and int(info["cluster_size"]) == 3
    assert {n.port for n in cluster_client.get_primaries()} == set(redis_cluster.ports)


# ---------------------------------------------------------------- rate limiter


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_rate_limiter_on_the_cluster_decides_as_a_single_redis_and_memory(
    redis_cluster, cluster_client, redis_client, algorithm
):
    rng = np.random.default_rng(5)
    n = 1200
    ids = rng.zipf(1.4, n) % 90
    ts = T0 + np.cumsum(rng.exponential(0.02, n))
    costs = rng.choice([0.0, 1.0, 1.0, 2.0], n)
    expected = RateLimiter(algorithm, **PARAMS[algorithm]).allow_many(ids, ts, costs)
    assert 0.1 < expected.mean() < 0.95
    single = limiter_on(redis_client, algorithm, chunk_size=100)
    on_cluster = limiter_on(cluster_client, algorithm, chunk_size=100)
    assert on_cluster.backend.cluster and on_cluster.backend.batch == "pipeline"
    got_single = single.allow_many(ids, ts, costs)
    got_cluster = on_cluster.allow_many(ids, ts, costs)
    assert np.array_equal(got_single, expected) and np.array_equal(got_cluster, expected)
    keys = np.unique(ids).tolist()
    for k in keys:
        assert on_cluster.state_of(k) == single.state_of(k), k
    assert len(on_cluster) == len(keys) == len(single)
    assert all(count > 0 for count in keys_per_node(redis_cluster))  # every master holds keys
    # single calls and decide, same timestamps: the same answers field for field
    loop_c = limiter_on(cluster_client, algorithm)
    loop_s = limiter_on(redis_client, algorithm)
    m = 200
    for k, t, c in zip(ids[:m].tolist(), ts[:m].tolist(), costs[:m].tolist(), strict=True):
        assert loop_c.allow(k, t, cost=c) == loop_s.allow(k, t, cost=c)
    t = float(ts[m])
    for k in keys[:20]:
        assert loop_c.decide(k, now=t, cost=1) == loop_s.decide(k, now=t, cost=1)
    # batch="script" cannot span slots: on a Cluster it runs as slot-grouped pipelines
    forced = limiter_on(cluster_client, algorithm, batch="script", chunk_size=333)
    assert forced.backend.batch == "pipeline"
    assert np.array_equal(forced.allow_many(ids, ts, costs), expected)


def test_cluster_server_time_scripts_reload_and_the_classic_bucket(redis_cluster, cluster_client):
    # no clock: each node's TIME; an hour's window, so all 5 rounds fall in it
    hour = {"max_requests": 3, "window_seconds": 3600.0}
    rl = limiter_on(cluster_client, "sliding_window_log", hour)
    many = [f"user-{i}" for i in range(60)]
    got = rl.allow_many(many * 5)
    assert got.reshape(5, 60).sum(axis=0).tolist() == [3] * 60
    # scripts lost on every node (SCRIPT FLUSH): reloaded per node on NOSCRIPT
    for port in redis_cluster.ports:
        import redis

        c = redis.Redis(host="127.0.0.1", port=port)
        c.script_flush()
        c.close()
    ts = np.full(120, T0)
    log = limiter_on(cluster_client, "sliding_window_log")
    assert log.allow_many(many * 2, ts).tolist() == [True] * 120
    bucket = DistributedTokenBucket("seed-user", 3, 1e-6, redis=cluster_client, clock=ManualClock(T0))
    assert [bucket.allow_request() for _ in range(5)] == [True] * 3 + [False] * 2
    assert bucket.decide().remaining == 0
    bucket.reset()
    assert bucket.tokens == 3.0


def test_cluster_threads_sharing_one_limit_admit_exactly_the_limit(cluster_client):
    rl = limiter_on(cluster_client, "token_bucket")  # capacity 3
    rl2 = limiter_on(cluster_client, "sliding_window_log", namespace=rl.backend.namespace)
    barrier, counts = threading.Barrier(3), []

    def work():
        barrier.wait()
        a = sum(rl.allow("hot", T0) for _ in range(5)) + int(rl.allow_many(["hot"] * 5, np.full(5, T0)).sum())
        b = int(rl2.allow_many(["hot", "cold"] * 4, np.full(8, T0)).sum())
        counts.append((a, b))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a for a, _ in counts) == 3 and sum(b for _, b in counts) == 6


# ---------------------------------------------------------------- idempotency


def test_idempotency_store_on_the_cluster(redis_cluster, cluster_client):
    clock = ManualClock(T0)
    m = IdempotencyManager(store=RedisStore(cluster_client, scope="pay"), clock=clock, ttl=3600)
    calls = []

    def op():
        calls.append(1)
        return {"charge": len(calls)}

    keys = [f"order-{i}" for i in range(40)] + ["a{b}", "a(b)", "x:y", "%7B", "é 🙂", ""]
    keys = [k for k in keys if k]  # the manager refuses the empty key
    for k in keys:
        assert m.execute(k, op, fingerprint={"k": k}) == {"charge": len(calls)}
    n = len(calls)
    for k in keys:
        assert m.execute(k, op, fingerprint={"k": k})["charge"] <= n  # replayed
    assert len(calls) == n == len(keys)
    with pytest.raises(IdempotencyKeyMismatch):
        m.execute(keys[0], op, fingerprint={"k": "other"})
    claim = m.claim("busy")
    with pytest.raises(RequestInProgress):
        m.execute("busy", op)
    claim.complete("done")
    assert m.execute("busy", op) == "done"
    with pytest.raises(ZeroDivisionError):
        m.execute("fail", lambda: 1 / 0)
    assert m.status("fail") is None and m.execute("fail", lambda: "ok") == "ok"
    m.execute("short", lambda: 1, ttl=10)
    assert sorted(m.cache) == sorted([*keys, "busy", "fail", "short"])
    assert all(count > 0 for count in keys_per_node(redis_cluster))
    clock.advance(11)
    assert m.cleanup_expired() == 1  # a pipelined script per key, grouped by node
    assert m.get("short") is None and len(m) == len(keys) + 2
    other = IdempotencyManager(store=RedisStore(cluster_client, scope="other"), clock=clock)
    assert other.execute(keys[0], lambda: "theirs") == "theirs"  # scopes do not share
    m.clear()
    assert len(m) == 0 and other.get(keys[0]) is not None
    assert len(calls) == n


def test_idempotency_on_the_cluster_runs_once_under_a_thread_race(cluster_client):
    m = IdempotencyManager(store=RedisStore(cluster_client, scope="race"), clock=ManualClock(T0))
    runs, barrier, outcomes = [], threading.Barrier(6), []
    lock = threading.Lock()

    def op():
        with lock:
            runs.append(1)
        return "charged"

    def work():
        barrier.wait()
        try:
            outcomes.append(m.execute("one-charge", op))
        except RequestInProgress:
            outcomes.append("busy")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1 and "charged" in outcomes
    assert set(outcomes) <= {"charged", "busy"}


# ---------------------------------------------------------------- shortener


def test_shortener_store_on_the_cluster_equals_a_single_redis(cluster_client, redis_client):
    def run(client):
        s = URLShortener(RedisLinkStore(client, name=f"l{uuid.uuid4().hex[:6]}"), clock=ManualClock(T0), secret=b"k")
        out = [s.shorten_counter_based(f"https://e.com/{i}") for i in range(5)]
        out += s.shorten_many([f"https://e.com/{i % 30}" for i in range(80)]).tolist()
        out += [s.shorten_hash_based("https://e.com/3"), s.shorten_permuted("https://e.com/4")]
        out.append(s.shorten("https://e.com/a", alias="promo_1", ttl=10))
        with pytest.raises(AliasTakenError):
            s.shorten("https://e.com/b", alias="promo_1")
        for i, code in enumerate(out[:6]):
            for _ in range(i % 3):
                s.click(code)
        top = [(t.code, t.clicks) for t in s.top(3)]
        expanded = s.expand_many([*out[:10], "missing"]).tolist()
        s.clock.advance(10)
        gone = s.expand("promo_1")
        purged = s.purge_expired()
        deleted = s.delete(out[0])
        return out, top, expanded, gone, purged, deleted, len(s)

    on_cluster = run(cluster_client)
    assert on_cluster == run(redis_client)
    out, top, expanded, gone, purged, deleted, n = on_cluster
    assert expanded[-1] is None and expanded[0] == "https://e.com/0" and gone is None
    assert purged == 1 and deleted and top[0][1] == 2
