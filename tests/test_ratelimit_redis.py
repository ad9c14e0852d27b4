"""Rate limiting on a real redis-server: the Lua scripts against the in-memory
backend and the plain-Python references, processes sharing one limit, the
failure policy across a server kill and restart, NOSCRIPT, expiry."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import struct
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysprims.backends.redis import key as redis_key
from sysprims.clock import ManualClock
from sysprims.errors import BackendError, InvalidParameterError
from sysprims.hashing import hash128, hash_keys
from sysprims.ratelimit import ALGORITHMS, DistributedTokenBucket, RateLimiter, TokenBucket
from tests.reference.ratelimit import reference

pytestmark = pytest.mark.redis

PARAMS = {
    "token_bucket": {"capacity": 3, "refill_rate": 2.0},
    "leaky_bucket": {"capacity": 3, "leak_rate": 2.0},
    "fixed_window": {"max_requests": 3, "window_seconds": 1.0},
    "sliding_window_log": {"max_requests": 3, "window_seconds": 1.0},
    "sliding_window_counter": {"max_requests": 3, "window_seconds": 1.0},
}
FAST = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
traces = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.sampled_from([0.0, 0.0, 0.125, 0.25, 0.5, 1.0, 2.5]),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=100,
)


def _ns() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def _redis_limiter(algorithm, url, clock=None, **options):
    options.setdefault("namespace", _ns())
    return RateLimiter(
        algorithm, backend=url, clock=clock, backend_options=options, **PARAMS[algorithm]
    )


# ---------------------------------------------------------------- same decisions


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@FAST
@given(trace=traces, split=st.integers(0, 100))
def test_decisions_equal_reference_and_memory_backend(redis_server, algorithm, trace, split):
    keys = [f"user-{k}" for k, _, _ in trace]
    costs = np.array([c for _, _, c in trace], dtype=np.float64)
    ts = np.cumsum([1000.0] + [d for _, d, _ in trace])[1:]
    ref = reference(algorithm, **PARAMS[algorithm])
    expected = [ref.allow(k, float(t), float(c)) for k, t, c in zip(keys, ts, costs, strict=True)]
    url = redis_server.url
    loop = _redis_limiter(algorithm, url)
    got = [loop.allow(k, float(t), cost=c) for k, t, c in zip(keys, ts, costs, strict=True)]
    assert got == expected
    for batch in ("script", "pipeline"):
        rl = _redis_limiter(algorithm, url, batch=batch, chunk_size=7)
        assert rl.allow_many(keys, ts, costs).tolist() == expected, batch
    mixed = _redis_limiter(algorithm, url, chunk_size=16)
    first = mixed.allow_many(keys[:split], ts[:split], costs[:split]).tolist()
    rest = [
        mixed.allow(k, float(t), cost=c)
        for k, t, c in zip(keys[split:], ts[split:], costs[split:], strict=True)
    ]
    assert first + rest == expected


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_random_float_trace_gives_bit_identical_state_rows(redis_url, algorithm):
    """Arbitrary float times and costs: the Lua arithmetic matches the memory
    backend's float for float (decisions, Decision fields and every state row)."""
    rng = np.random.default_rng(11)
    n = 4000
    ids = rng.zipf(1.3, n) % 60
    ts = 1.7e9 + np.cumsum(rng.exponential(0.013, n))
    costs = rng.choice([0.0, 1.0, 1.0, 1.0, 2.0, 3.0], n)
    if algorithm not in ("sliding_window_log",):
        costs = costs * rng.uniform(0.5, 1.5, n)
    params = {k: (v * 4 if isinstance(v, int) else v * 1.37) for k, v in PARAMS[algorithm].items()}
    mem = RateLimiter(algorithm, **params)
    red = RateLimiter(algorithm, backend=redis_url, backend_options={"chunk_size": 333}, **params)
    expected = mem.allow_many(ids, ts, costs)
    got = red.allow_many(ids, ts, costs)
    assert np.array_equal(got, expected)
    assert 0.05 < expected.mean() < 0.98  # the trace exercises both answers
    for k in np.unique(ids).tolist():
        assert red.state_of(k) == mem.state_of(k), k
    # decide: same Decision, field for field, on a few more requests
    t = float(ts[-1])
    for j, k in enumerate(ids[:50].tolist()):
        t += 0.01 * (j % 3)
        assert red.decide(k, now=t, cost=1) == mem.decide(k, now=t, cost=1)
    assert len(red) == np.unique(ids).size


def test_hashed_keys_and_int_keys_share_the_string_keys_state(redis_url):
    rl = RateLimiter("fixed_window", max_requests=2, window_seconds=10.0, backend=redis_url, seed=7)
    keys = ["a", "b", "a", "a", "b", "c"]
    ts = np.full(len(keys), 100.0)
    assert rl.allow_many(hash_keys(keys, seed=7), ts).tolist() == [1, 1, 1, 0, 1, 1]
    assert rl.allow("c", 100.0) is True and rl.allow("c", 100.0) is False


# ---------------------------------------------------------------- seed API


def test_distributed_token_bucket_seed_api(redis_url, redis_client):
    bucket = DistributedTokenBucket("user-42", 5, 1.0, url=redis_url)
    assert [bucket.allow_request() for _ in range(7)] == [True] * 5 + [False] * 2
    # one hash per bucket, with an expiry, under a Cluster hash tag
    key = bucket.key
    assert redis_client.type(key) == b"hash"
    assert redis_client.keys("*") == [key.encode()]
    h1, h2 = hash128("user-42", 0)
    assert key == f"sysprims:v2:rl:{{{h1:016x}{h2:016x}}}:token_bucket"
    assert key == redis_key("sysprims", "rl", f"{h1:016x}{h2:016x}", "token_bucket")
    pttl = redis_client.pttl(key)
    assert 0 < pttl <= math.ceil((5.0 + 10.0) * 1000)  # time to refill 5 tokens + grace
    # time came from the server: the stored time is the server's TIME
    sec, usec = redis_client.time()
    tokens, stored, _expiry_target = struct.unpack("<3d", redis_client.hget(key, "s"))
    assert 0 <= sec + usec / 1e6 - stored < 5.0
    # the same state as RateLimiter("token_bucket", backend=url) key "user-42"
    rl = RateLimiter("token_bucket", capacity=5, refill_rate=1.0, backend=redis_url)
    assert rl.state_of("user-42") == [tokens, stored]
    bucket.reset()
    assert redis_client.exists(key) == 0
    assert bucket.allow_request() is True
    assert "user-42" in repr(bucket) and "DistributedTokenBucket" in bucket._repr_html_()


def test_distributed_token_bucket_replay_times_and_decision(redis_url):
    bucket = DistributedTokenBucket("u", capacity=2, refill_rate=0.5, redis=redis_url)
    clock = ManualClock(500.0)
    single = TokenBucket(2, 0.5, clock=clock)
    for t, cost in [(500.0, 1), (500.0, 1), (500.0, 1), (501.0, 1), (502.0, 1), (506.0, 2)]:
        clock.set(t)
        expected = single.decide(cost)
        got = bucket.decide(cost, now=t)
        assert got == expected, t
    # an earlier time (a client with a skewed clock) is raised to the latest: no refund
    assert bucket.allow_request(now=0.0) is False
    with pytest.raises(InvalidParameterError):
        bucket.allow_request(cost=-1)


def test_primer_token_bucket_story_on_redis(redis_url):
    """The classic primer's token-bucket walk-through (capacity 5 at 1 token/s, 7 rapid
    requests, one more after 3 s) gives the same answers and token counts on Redis as
    the in-memory TokenBucket, and those are the documented ones."""

    def story(bucket, clock):
        rapid = [(bucket.allow_request(), round(bucket.tokens, 2)) for _ in range(7)]
        clock.sleep(3)
        return rapid, (bucket.allow_request(), round(bucket.tokens, 2))

    c1, c2 = ManualClock(1_700_000_000.0), ManualClock(1_700_000_000.0)
    expected = story(TokenBucket(capacity=5, refill_rate=1.0, clock=c1), c1)
    bucket = DistributedTokenBucket(
        "primer-user", capacity=5, refill_rate=1.0, url=redis_url, namespace=_ns(), clock=c2
    )
    got = story(bucket, c2)
    assert expected == (
        [
            (True, 4.0),
            (True, 3.0),
            (True, 2.0),
            (True, 1.0),
            (True, 0.0),
            (False, 0.0),
            (False, 0.0),
        ],
        (True, 2.0),
    )
    assert got == expected


# ---------------------------------------------------------------- processes


def _worker(url, ns, n, barrier, out):
    rl = RateLimiter(
        "token_bucket",
        capacity=50,
        refill_rate=1e-9,
        backend=url,
        backend_options={"namespace": ns},
    )
    log = RateLimiter(
        "sliding_window_log",
        max_requests=30,
        window_seconds=3600.0,
        backend=url,
        backend_options={"namespace": ns},
    )
    bucket = DistributedTokenBucket("seed-api-user", 40, 1e-9, url=url, namespace=ns)
    barrier.wait()
    a = sum(rl.allow("shared") for _ in range(n)) + int(rl.allow_many(["shared"] * n).sum())
    b = sum(log.allow("shared") for _ in range(n)) + int(log.allow_many(["shared"] * n).sum())
    c = sum(bucket.allow_request() for _ in range(n))
    out.put((a, b, c))


def test_two_processes_never_admit_more_than_the_limit_together(redis_url):
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    ns = _ns()
    procs = [ctx.Process(target=_worker, args=(redis_url, ns, 60, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    a, b, c = (sum(r[i] for r in results) for i in range(3))
    # 2 processes x 120 requests against capacity 50 / log limit 30; 2 x 60 against 40
    assert (a, b, c) == (50, 30, 40)


def test_threads_sharing_one_limiter_admit_exactly_the_limit(redis_url):
    import threading

    rl = RateLimiter("token_bucket", capacity=60, refill_rate=1e-9, backend=redis_url)
    barrier, counts = threading.Barrier(4), []

    def work():
        barrier.wait()
        counts.append(
            sum(rl.allow("hot") for _ in range(25)) + int(rl.allow_many(["hot"] * 25).sum())
        )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 60


# ---------------------------------------------------------------- failure policy


@pytest.mark.parametrize("policy", ["raise", "allow", "deny"])
def test_server_killed_mid_run_policy_holds_and_recovers(own_redis, policy):
    ns = _ns()
    opts = {"namespace": ns, "on_error": policy, "timeout": 0.5, "chunk_size": 50}
    rl = RateLimiter(
        "fixed_window",
        max_requests=3,
        window_seconds=1.0,
        backend=own_redis.url,
        backend_options=opts,
    )
    mem = RateLimiter("fixed_window", max_requests=3, window_seconds=1.0)
    rng = np.random.default_rng(3)
    n = 1000
    ids = rng.integers(0, 40, n)
    ts = 2000.0 + np.sort(rng.uniform(0, 20, n))
    expected = mem.allow_many(ids, ts)
    # kill the server (SIGKILL) just before the 8th chunk's script call
    backend = rl.backend
    real_run, calls = backend._run, [0]

    def run_and_kill(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 8:
            own_redis.proc.kill()
            own_redis.proc.wait()
        return real_run(*args, **kwargs)

    backend._run = run_and_kill
    if policy == "raise":
        with pytest.raises(BackendError, match="Redis"):
            rl.allow_many(ids, ts)
        with pytest.raises(BackendError):
            rl.allow("x", 3000.0)
        with pytest.raises(BackendError):
            rl.decide("x", 3000.0)
    else:
        got = rl.allow_many(ids, ts)
        assert np.array_equal(got[:350], expected[:350])  # 7 chunks decided before the kill
        assert (got[350:] == (policy == "allow")).all()
        assert rl.allow("x", 3000.0) is (policy == "allow")
        d = rl.decide("x", 3000.0)
        assert d.allowed is (policy == "allow") and d.retry_after == (0.0 if d.allowed else 1.0)
    backend._run = real_run
    # back up (empty: the state died with the server): picked up without a new limiter
    own_redis.proc = None
    own_redis.start()
    later = 4000.0 + np.sort(rng.uniform(0, 5, 300))
    ids2 = rng.integers(0, 20, 300)
    fresh = RateLimiter("fixed_window", max_requests=3, window_seconds=1.0)
    assert np.array_equal(rl.allow_many(ids2, later), fresh.allow_many(ids2, later))
    assert rl.allow(7, 5000.0) is True


def test_timeout_when_server_hangs_applies_policy(own_redis):
    rl = RateLimiter(
        "token_bucket",
        capacity=2,
        refill_rate=1.0,
        backend=own_redis.url,
        backend_options={"on_error": "deny", "timeout": 0.2},
    )
    assert rl.allow("k", 10.0) is True
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        assert rl.allow("k", 10.0) is False  # timed out: fail closed
        assert rl.allow_many(["k", "j"], [10.0, 10.0]).tolist() == [False, False]
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    strict = RateLimiter(
        "token_bucket",
        capacity=2,
        refill_rate=1.0,
        backend=own_redis.url,
        backend_options={"timeout": 0.2},
    )
    assert strict.allow("other", 10.0) is True


def test_cooldown_skips_redis_while_it_is_down(own_redis):
    # server time: a refill slow enough that a loaded machine's delays add no token
    bucket = DistributedTokenBucket(
        "u", 5, 1e-4, url=own_redis.url, on_error="allow", cooldown=30.0
    )
    assert bucket.allow_request() is True
    own_redis.restart()  # state lost, but the client does not know yet
    b = bucket.backend
    b._down_until = 0.0
    b.client.connection_pool.disconnect()
    own_redis.proc.kill()
    own_redis.proc.wait()
    assert bucket.allow_request() is True  # fails open, starts the cooldown
    own_redis.proc = None
    own_redis.start()
    calls = []
    b._run = lambda *a, **k: calls.append(a)
    assert bucket.allow_request() is True and calls == []  # within the cooldown: no call
    b._down_until = 0.0
    del b._run
    assert [bucket.allow_request() for _ in range(6)] == [True] * 5 + [False]


# ---------------------------------------------------------------- scripts and keys


@pytest.mark.parametrize("batch", ["script", "pipeline"])
def test_noscript_fallback_after_script_flush(redis_url, redis_client, batch):
    rl = RateLimiter(
        "sliding_window_log",
        max_requests=3,
        window_seconds=10.0,
        backend=redis_url,
        backend_options={"batch": batch},
    )
    assert rl.allow_many(["a"] * 2, [1.0, 2.0]).tolist() == [True, True]
    redis_client.script_flush()
    assert rl.allow_many(["a"] * 2, [3.0, 4.0]).tolist() == [True, False]  # state kept
    redis_client.script_flush()
    assert rl.allow("a", 12.5) is True  # 1.0 and 2.0 left the window
    redis_client.script_flush()
    assert rl.decide("a", 12.6).remaining == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_key_expires_when_its_state_is_fresh_again(redis_url, redis_client, algorithm):
    grace = 2.0
    rl = _redis_limiter(algorithm, redis_url, grace=grace, namespace="ns")
    mem = RateLimiter(algorithm, **PARAMS[algorithm])
    now = 1_000.3
    for k, cost in [("a", 1), ("a", 2), ("b", 1), ("c", 0)] + [("b", 1)] * 5:
        d = rl.decide(k, now, cost)
        assert d == mem.decide(k, now, cost)
    keys = sorted(redis_client.keys("ns:v2:rl:*"))
    assert len(keys) == 3 and all(
        k.startswith(b"ns:v2:rl:{") and k.endswith(f"}}:{algorithm}".encode()) for k in keys
    )
    for k in ("a", "b", "c"):
        key = rl.backend.key_of(hash128(k, 0))
        assert redis_client.type(key) == b"hash"
        reset = mem.decide(k, now, 0).reset_after  # cost 0 changes nothing
        pttl = redis_client.pttl(key)
        # expiry = time until fresh + grace, renewed once it falls below + grace / 2
        # (1 s of slack for the real time this test takes)
        assert (reset + grace / 2) * 1000 - 1000 < pttl <= math.ceil((reset + grace) * 1000)


def test_keys_of_sysprims_0_1_are_not_read_and_expire_by_themselves(redis_url, redis_client):
    """0.1 kept state under '<ns>:rl:<algorithm>:{<hash>}'. 0.2 does not read it (the
    documented decision): a key exhausted under 0.1 starts afresh, the old hash is
    left untouched, keeps its own expiry (so it goes away) and is not counted."""
    rl = RateLimiter("fixed_window", max_requests=2, window_seconds=60.0, backend=redis_url)
    h1, h2 = hash128("u", 0)
    old = f"sysprims:rl:fixed_window:{{{h1:016x}{h2:016x}}}"
    exhausted = struct.pack("<4d", math.floor(600.0 / 60.0), 2.0, 600.0, 670.0)
    redis_client.hset(old, "s", exhausted)
    redis_client.pexpire(old, 70_000)
    assert rl.allow_many(["u", "u", "u"], [600.0, 600.0, 600.0]).tolist() == [True, True, False]
    assert redis_client.hget(old, "s") == exhausted and 0 < redis_client.pttl(old) <= 70_000
    assert rl.backend.key_for("u") != old and len(rl) == 1
    # both layouts put one key's state in one Cluster slot (the same hash tag)
    assert rl.backend.key_for("u").split("{")[1].split("}")[0] == old.split("{")[1].split("}")[0]


def test_server_time_by_default_and_clock_when_given(redis_url, redis_client):
    rl = RateLimiter("fixed_window", max_requests=2, window_seconds=3600.0, backend=redis_url)
    assert rl.allow("a") and rl.allow_many(["a", "a"]).tolist() == [True, False]
    sec, usec = redis_client.time()
    packed = redis_client.hget(rl.backend.key_of(hash128("a", 0)), "s")
    a, b, t, _x = struct.unpack("<4d", packed)  # window index, count, latest time, expiry
    assert (a, b) == (math.floor(t / 3600.0), 2.0)
    assert 0 <= sec + usec / 1e6 - t < 5.0
    clock = ManualClock(1234.5)
    own = RateLimiter(
        "fixed_window",
        max_requests=2,
        window_seconds=3600.0,
        backend=redis_url,
        clock=clock,
        backend_options={"namespace": "other"},
    )
    own.allow("a")
    packed = redis_client.hget(own.backend.key_of(hash128("a", 0)), "s")
    assert struct.unpack("<4d", packed)[2] == 1234.5
    caller = RateLimiter(
        "fixed_window",
        max_requests=2,
        window_seconds=3600.0,
        backend=redis_url,
        backend_options={"namespace": "third", "time": "caller"},
    )
    assert caller.backend.server_time is False
    d = caller.decide("a")
    assert d.allowed and d.remaining == 1


def test_invalid_options(redis_url):
    with pytest.raises(InvalidParameterError, match="on_error"):
        RateLimiter(
            "fixed_window",
            max_requests=1,
            window_seconds=1,
            backend=redis_url,
            backend_options={"on_error": "maybe"},
        )
    with pytest.raises(InvalidParameterError, match="backend_options"):
        RateLimiter("fixed_window", max_requests=1, window_seconds=1, backend_options={"x": 1})
    with pytest.raises(InvalidParameterError, match="namespace"):
        DistributedTokenBucket("u", 1, 1, url=redis_url, namespace="a{b}")
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        DistributedTokenBucket("u", 1, 1, url=redis_url, chunk_size=0)
    with pytest.raises(InvalidParameterError, match="capacity"):
        DistributedTokenBucket("u", 0, 1, url=redis_url)
    with pytest.raises(InvalidParameterError, match="redis"):
        DistributedTokenBucket("u", 1, 1, url="http://x")
    with pytest.raises(TypeError):
        DistributedTokenBucket("u", 1, 1, url=redis_url, bogus=1)


def test_sliding_log_large_costs_touch_many_ring_slots(redis_url):
    """Costs of thousands write thousands of ring fields in one call (chunked HSET)."""
    params = {"max_requests": 5000, "window_seconds": 10.0}
    mem = RateLimiter("sliding_window_log", **params)
    red = RateLimiter("sliding_window_log", backend=redis_url, **params)
    ts = np.array([1.0, 2.0, 3.0, 11.5, 12.5, 13.0, 13.0, 30.0])
    costs = np.array([4500, 600, 500, 4000, 1000, 5000, 5001, 5000])
    keys = ["k"] * len(ts)
    expected = mem.allow_many(keys, ts, costs)
    assert red.allow_many(keys, ts, costs).tolist() == expected.tolist()
    ref = reference("sliding_window_log", **params)
    assert expected.tolist() == [ref.allow("k", t, c) for t, c in zip(ts, costs, strict=True)]
    assert 2 <= expected.sum() < len(ts)
    assert red.state_of("k") == mem.state_of("k")
    assert red.decide("k", 30.5, 1) == mem.decide("k", 30.5, 1)


def test_client_object_reset_repr_and_maintenance(redis_url, redis_client):
    bucket = DistributedTokenBucket("c", 3, 1.0, redis=redis_client, clock=ManualClock(50.0))
    assert bucket.backend.client is redis_client  # used as given
    assert bucket.tokens == 3.0
    assert bucket.allow_request(cost=2) and bucket.tokens == 1.0
    rl = RateLimiter(
        "leaky_bucket", capacity=2, leak_rate=1.0, backend=redis_url, clock=ManualClock(10.0)
    )
    assert rl.backend.batch == "script" and rl.backend.server_time
    assert rl.allow("a") and rl.allow("a") and not rl.allow("a")
    assert len(rl) == 1 and rl.reclaim() == 0
    rl.reset("a")
    assert rl.state_of("a") is None and rl.allow("a")
    assert "backend='redis'" in repr(rl) and "redis" in rl._repr_html_()
    assert "RedisRateLimitBackend('leaky_bucket'" in repr(rl.backend)
    assert 0 < rl.backend.ttl_of(hash128("a", 0)) <= 11.0
    assert rl.backend.ttl_of(hash128("nobody", 0)) is None
    with pytest.raises(InvalidParameterError, match="memory backend"):
        rl.to_bytes()


# ---------------------------------------------------------------- exact pacing (issue 17)


@pytest.mark.parametrize("algorithm", ["token_bucket", "leaky_bucket"])
@pytest.mark.parametrize("start", [0.0, 1_700_000_000.0])
def test_a_client_pacing_exactly_at_the_rate_is_always_admitted(redis_url, algorithm, start):
    """10 requests/s against 10/s with burst 1 (redis-cell admits them all)."""
    second = "refill_rate" if algorithm == "token_bucket" else "leak_rate"
    params = {"capacity": 1, second: 10.0}
    n = 300
    ts = [start + k / 10.0 for k in range(n)]
    opts = {"namespace": _ns()}
    loop = RateLimiter(algorithm, backend=redis_url, backend_options=opts, **params)
    decisions = [loop.decide("k", t) for t in ts]
    assert [d.allowed for d in decisions] == [True] * n
    assert all(d.remaining == 0 for d in decisions)
    for batch in ("script", "pipeline"):
        rl = RateLimiter(
            algorithm,
            backend=redis_url,
            backend_options={"namespace": _ns(), "batch": batch, "chunk_size": 64},
            **params,
        )
        assert rl.allow_many(["k"] * n, np.array(ts)).all(), batch
    # a client 0.1% too fast is held to the rate
    fast = RateLimiter(algorithm, backend=redis_url, backend_options={"namespace": _ns()}, **params)
    quick = np.array([start + k * 0.0999 for k in range(n)])
    ok = fast.allow_many(["k"] * n, quick)
    assert ok.sum() <= 1 + 10.0 * (quick[-1] - quick[0]) + 1e-6 < n


def test_distributed_token_bucket_paced_exactly_and_remaining_agrees(redis_url):
    bucket = DistributedTokenBucket(
        "paced", 1, 10.0, redis=redis_url, namespace=_ns(), clock=ManualClock(0.0)
    )
    for k in range(200):
        d = bucket.decide(now=k / 10.0)
        assert d.allowed and d.remaining == 0, (k, d)
    # a unit request passes exactly when the probe said remaining >= 1
    for t in (20.0, 20.05, 20.1, 20.1, 20.3, 20.30000000000001):
        probe = bucket.decide(cost=0, now=t)
        assert bucket.decide(cost=1, now=t).allowed == (probe.remaining >= 1)


@pytest.mark.parametrize("batch", ["script", "pipeline"])
def test_sliding_counter_two_windows_ahead_past_2_53_starts_empty_on_redis(redis_url, batch):
    """Past 2**53 consecutive float seconds can be two windows apart; the Lua step must
    compare window indices by difference (``idx == a + 1`` rounds), as the kernel does."""
    t0, t1 = 2.0**53 + 2, 2.0**53 + 4
    params = {"max_requests": 1, "window_seconds": 1.0}
    def red_limiter():
        return RateLimiter("sliding_window_counter", backend=redis_url, backend_options={"namespace": _ns(), "batch": batch}, **params)

    red, mem = red_limiter(), RateLimiter("sliding_window_counter", **params)
    assert red.allow_many(["k", "k"], [t0, t1]).tolist() == mem.allow_many(["k", "k"], [t0, t1]).tolist() == [True, True]
    red2 = red_limiter()
    assert [red2.allow("j", t0), red2.allow("j", t1)] == [True, True]
