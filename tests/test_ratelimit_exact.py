"""Rate limiters at the edges of time: units of integer timestamps, requests that
arrive exactly when a token is due, resets during replays, wide sliding-log rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysprims.clock import ManualClock
from sysprims.errors import InvalidParameterError
from sysprims.ratelimit import ALGORITHMS, LeakyBucket, RateLimiter, TokenBucket
from tests.reference.ratelimit import reference
from tests.test_ratelimit import PARAMS

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUCKETS = {
    "token_bucket": ("refill_rate", TokenBucket),
    "leaky_bucket": ("leak_rate", LeakyBucket),
}


# ---------------------------------------------------------------- item 5: time units


def test_integer_seconds_mean_seconds_in_the_batch_as_in_the_loop():
    """Ten requests one second apart at 1/s: all admitted, by the loop and the batch."""
    keys = ["k"] * 10
    secs = np.arange(1_700_000_000, 1_700_000_010, dtype=np.int64)
    loop = RateLimiter("token_bucket", capacity=1, refill_rate=1.0)
    assert [loop.allow(k, int(t)) for k, t in zip(keys, secs, strict=True)] == [True] * 10
    batch = RateLimiter("token_bucket", capacity=1, refill_rate=1.0)
    assert batch.allow_many(keys, secs).tolist() == [True] * 10
    # small integers (offsets from a start) are seconds too
    rl = RateLimiter("fixed_window", max_requests=1, window_seconds=1.0)
    assert rl.allow_many(keys, np.arange(10)).tolist() == [True] * 10


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_time_units_and_datetime64_agree_with_float_seconds(algorithm):
    rng = np.random.default_rng(4)
    n = 3000
    keys = rng.integers(0, 40, n)
    ns = 1_700_000_000_000_000_000 + np.sort(rng.integers(0, 20 * 10**9, n))
    params = {
        "token_bucket": {"capacity": 3, "refill_rate": 2.0},
        "leaky_bucket": {"capacity": 3, "leak_rate": 2.0},
    }.get(algorithm, {"max_requests": 3, "window_seconds": 1.0})
    # the loop: float seconds, computed exactly from the integer nanoseconds
    secs = [float(t // 10**9) + (t % 10**9) / 1e9 for t in ns.tolist()]
    loop = RateLimiter(algorithm, **params)
    expected = [loop.allow(int(k), t) for k, t in zip(keys, secs, strict=True)]
    assert 0.05 < np.mean(expected) < 0.99
    forms = {
        "ns": dict(timestamps=ns, time_unit="ns"),
        "datetime64[ns]": dict(timestamps=ns.astype("datetime64[ns]")),
        "float s": dict(timestamps=np.array(secs)),
        "float s explicit": dict(timestamps=np.array(secs), time_unit="s"),
    }
    for name, kw in forms.items():
        got = RateLimiter(algorithm, **params).allow_many(keys, **kw)
        assert got.tolist() == expected, name
    # coarser units: the same instants truncated to that unit
    for unit, f in (("us", 1000), ("ms", 10**6), ("s", 10**9)):
        ints = ns // f
        scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
        coarse = [float(q) + r / scale for q, r in (divmod(t, int(scale)) for t in ints.tolist())]
        loop = RateLimiter(algorithm, **params)
        want = [loop.allow(int(k), t) for k, t in zip(keys, coarse, strict=True)]
        assert (
            RateLimiter(algorithm, **params).allow_many(keys, ints, time_unit=unit).tolist() == want
        )
        dt = ns.astype("datetime64[ns]").astype(f"datetime64[{unit}]")
        assert RateLimiter(algorithm, **params).allow_many(keys, dt).tolist() == want
        if unit != "s":  # float values in that unit
            got = RateLimiter(algorithm, **params).allow_many(
                keys, ints.astype(np.float64), time_unit=unit
            )
            assert got.tolist() == want


def test_time_unit_is_checked():
    rl = RateLimiter("fixed_window", max_requests=1, window_seconds=1.0)
    with pytest.raises(InvalidParameterError, match="time_unit"):
        rl.allow_many(["a"], [1], time_unit="minutes")
    with pytest.raises(InvalidParameterError, match="time_unit"):
        rl.allow_many(["a"], np.array([1], dtype="datetime64[s]"), time_unit="ms")
    with pytest.raises(InvalidParameterError, match="NaT|finite"):
        rl.allow_many(["a"], np.array(["NaT"], dtype="datetime64[ns]"))
    with pytest.raises(InvalidParameterError, match="NaT|finite"):
        rl.allow("a", np.datetime64("NaT"))


def test_scalar_datetime64_equals_the_batch_to_the_nanosecond():
    t = np.datetime64(1_700_000_000_123_456_789, "ns")
    a = RateLimiter("sliding_window_log", max_requests=1, window_seconds=1.0)
    b = RateLimiter("sliding_window_log", max_requests=1, window_seconds=1.0)
    a.allow("k", t)
    b.allow_many(["k"], np.array([t]))
    assert a.state_of("k") == b.state_of("k")
    assert a.state_of("k")[2] == 1_700_000_000 + 0.123456789


# ---------------------------------------------------------------- item 7: exact pacing


def _paced(start, rate, n, how):
    if how == "offsets":
        return [start + k / rate for k in range(n)]
    clock = ManualClock(start)  # a client stepping its clock by the interval
    out = []
    for _ in range(n):
        out.append(clock.time())
        clock.advance(1.0 / rate)
    return out


@pytest.mark.parametrize("algorithm", sorted(BUCKETS))
@pytest.mark.parametrize("rate", [10.0, 3.0, 7.0, 1000.0])
# (not a clock stepped from epoch seconds: adding 0.1 to 1.7e9 rounds every step the
# same way, 0.4 ulp short, so that client really runs ~1e-6 faster than the rate)
@pytest.mark.parametrize(
    "start, how",
    [
        (0.0, "offsets"),
        (1000.0, "offsets"),
        (1_700_000_000.0, "offsets"),
        (0.0, "clock"),
        (1000.0, "clock"),
    ],
)
def test_a_client_pacing_exactly_at_the_rate_is_always_admitted(algorithm, rate, start, how):
    second, cls = BUCKETS[algorithm]
    n = 600
    ts = _paced(start, rate, n, how)
    params = {"capacity": 1, second: rate}
    loop = RateLimiter(algorithm, **params)
    decisions = [loop.decide("k", t) for t in ts]
    assert [d.allowed for d in decisions] == [True] * n
    fast = RateLimiter(algorithm, **params).allow  # the scalar fast path (ratelimit/_scalar.py)
    assert [fast("k", t) for t in ts] == [True] * n
    assert RateLimiter(algorithm, **params).allow_many(["k"] * n, np.array(ts)).all()
    clock = ManualClock(ts[0])
    one = cls(1, rate, clock=clock)
    got = []
    for t in ts:
        clock.set(t)
        got.append(one.allow_request())
    assert got == [True] * n
    ref = reference(algorithm, **params)
    assert all(ref.allow("k", t) for t in ts)


@pytest.mark.parametrize("algorithm", sorted(BUCKETS))
@pytest.mark.parametrize("start", [0.0, 1_700_000_000.0])
def test_a_client_slightly_faster_than_the_rate_is_limited(algorithm, start):
    """The tolerance never lets a client run ahead: a client 0.1% too fast is held
    to capacity + rate * elapsed."""
    second, _ = BUCKETS[algorithm]
    rate, n = 10.0, 3000
    ts = np.array([start + k * (0.999 / rate) for k in range(n)])
    rl = RateLimiter(algorithm, capacity=1, **{second: rate})
    ok = rl.allow_many(["k"] * n, ts)
    assert ok.sum() <= 1 + rate * (ts[-1] - ts[0]) + 1e-6
    assert ok.sum() < n


def _mixed_trace(draw_steps, rate, start):
    """Exactly paced requests with some jitter and idle gaps."""
    t, out = start, []
    for step in draw_steps:
        t = t + step / rate
        out.append(t)
    return out


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "sliding_window_log"])
@FAST
@given(
    steps=st.lists(
        st.sampled_from([0.0, 1.0, 1.0, 1.0, 0.5, 2.0, 1e-9, 0.999999]), min_size=1, max_size=80
    ),
    rate=st.sampled_from([10.0, 3.0, 7.0, 0.3]),
    start=st.sampled_from([0.0, 3.0, 1000.0, 1_700_000_000.0]),
)
def test_remaining_says_whether_a_unit_request_would_pass(algorithm, steps, rate, start):
    """``remaining >= 1`` exactly when a request of cost 1 at the same time is allowed;
    a denied request of cost 1 never reports remaining >= 1."""
    params = (
        {"capacity": 2, BUCKETS[algorithm][0]: rate}
        if algorithm in BUCKETS
        else {"max_requests": 2, "window_seconds": 1.0 / rate}
    )
    rl = RateLimiter(algorithm, **params)
    for t in _mixed_trace(steps, rate, start):
        probe = rl.decide("k", t, cost=0)
        d = rl.decide("k", t, cost=1)
        assert d.allowed == (probe.remaining >= 1), (t, probe, d)
        if not d.allowed:
            assert d.remaining == 0, d


def test_denied_decision_of_the_paced_client_never_reports_remaining():
    """The issue's scenario: 10/s, burst 1, requests every 0.1 s from a float clock."""
    clock = ManualClock(0.0)
    tb = TokenBucket(1, 10.0, clock=clock)
    for _ in range(300):
        d = tb.decide()
        assert d.allowed and d.remaining == 0, d
        clock.advance(0.1)


# ---------------------------------------------------------------- item 8: reset in a replay


def test_reset_takes_the_replay_time():
    rl = RateLimiter("token_bucket", capacity=1, refill_rate=1.0)  # system clock
    assert rl.allow("a", 100.0) and not rl.allow("a", 100.5)
    rl.reset("a", now=100.5)
    assert rl.allow("a", 100.5)  # fresh again, and the replay goes on
    assert not rl.allow("a", 100.9) and rl.allow("a", 101.5)
    with pytest.raises(InvalidParameterError, match="latest time"):
        rl.reset("a", now=50.0)
    clock = ManualClock(200.0)
    rl2 = RateLimiter("token_bucket", capacity=1, refill_rate=1.0, clock=clock)
    assert rl2.allow("a") and not rl2.allow("a")
    rl2.reset("a")  # the limiter's clock
    assert rl2.allow("a")
    assert rl2.state_of("a") == [0.0, 200.0]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_reset_in_a_batch_replay_equals_a_fresh_key(algorithm):
    params = {
        "token_bucket": {"capacity": 2, "refill_rate": 1.0},
        "leaky_bucket": {"capacity": 2, "leak_rate": 1.0},
    }.get(algorithm, {"max_requests": 2, "window_seconds": 10.0})
    rl = RateLimiter(algorithm, **params)
    assert rl.allow_many(["a"] * 3, [10.0, 10.0, 10.0]).tolist() == [True, True, False]
    rl.reset("a", now=11.0)
    assert rl.allow_many(["a"] * 3, [11.0, 11.0, 11.0]).tolist() == [True, True, False]


# ---------------------------------------------------------------- item 18: wide log rows


def test_sliding_log_configuration_that_cannot_fit_is_refused_naming_sizes():
    with pytest.raises(
        InvalidParameterError,
        match=r"initial_capacity=100,000,000 keys.*800,016 bytes of state per key",
    ):
        RateLimiter(
            "sliding_window_log",
            max_requests=100_000,
            window_seconds=60,
            initial_capacity=100_000_000,
        )


def test_sliding_log_table_growth_beyond_max_memory_is_refused():
    rl = RateLimiter(
        "sliding_window_log", max_requests=10_000, window_seconds=60, max_memory=50_000_000
    )
    ok = rl.allow_many(np.arange(100), np.zeros(100))  # 100 keys x 80 KB fit in 50 MB
    assert ok.all()
    with pytest.raises(
        InvalidParameterError, match=r"80,016 bytes of state per key.*max_memory=50,000,000"
    ):
        rl.allow_many(np.arange(100, 2000), np.zeros(1900))
    with pytest.raises(InvalidParameterError, match="max_memory"):
        RateLimiter("token_bucket", capacity=1, refill_rate=1.0, max_memory=0)


def test_sliding_log_table_stays_within_twice_the_live_keys_plus_room():
    """Wide rows: slots <= 4x the live keys at any time (the narrow-row rule gives 8x)."""
    L = 2000
    rl = RateLimiter("sliding_window_log", max_requests=L, window_seconds=1e6, initial_capacity=1)
    for live in (40, 300, 1500):
        rl.allow_many(np.arange(live), np.full(live, 1.0))
        slots = rl.backend.capacity
        assert slots <= 4 * live, (live, slots)
        assert rl.backend.nbytes <= 4 * live * (8 * (L + 2) + 17)


@pytest.mark.parametrize("algorithm", sorted(BUCKETS))
@FAST
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 2), st.sampled_from([0.0, 1.0, 1.0, 1.0, 0.5, 3.0, 0.999999, 1.000001])
        ),
        min_size=1,
        max_size=100,
    ),
    rate=st.sampled_from([10.0, 3.0, 7.0, 0.3]),
    start=st.sampled_from([0.0, 1000.0, 1_700_000_000.0]),
    capacity=st.sampled_from([1, 2, 2.5]),
)
def test_buckets_near_the_rate_equal_the_exact_reference(algorithm, steps, rate, start, capacity):
    """Requests at (or a hair off) the times tokens fall due: the float kernels, the
    scalar path and the batch all decide as exact rational arithmetic does."""
    second, _ = BUCKETS[algorithm]
    params = {"capacity": capacity, second: rate}
    keys = [f"k{k}" for k, _ in steps]
    ts = np.array(_mixed_trace([s for _, s in steps], rate, start))
    ref = reference(algorithm, **params)
    expected = [ref.allow(k, float(t)) for k, t in zip(keys, ts, strict=True)]
    loop = RateLimiter(algorithm, **params)
    assert [loop.allow(k, float(t)) for k, t in zip(keys, ts, strict=True)] == expected
    assert RateLimiter(algorithm, **params).allow_many(keys, ts).tolist() == expected


@pytest.mark.parametrize("algorithm", sorted(BUCKETS))
def test_scalar_steps_and_kernels_leave_identical_rows(algorithm):
    """The Python step (allow) and the jitted one (allow_many) run the same float
    operations: decisions and every state row are equal, float for float."""
    from sysprims.ratelimit.algorithms import SLACK_NS, SLACK_REL, bucket_slack

    assert bucket_slack(-2.0, 3.0, 5.0) == (SLACK_NS + 2.0 * SLACK_REL) * 3.0 + 5.0 * SLACK_REL
    rng = np.random.default_rng(12)
    n = 5000
    ids = rng.zipf(1.3, n) % 50
    ts = 1.7e9 + np.cumsum(rng.exponential(0.05, n) * rng.choice([0.0, 1.0], n, p=[0.2, 0.8]))
    costs = rng.choice([0.0, 1.0, 1.0, 2.0, 0.5], n)
    params = {"capacity": 2.5, BUCKETS[algorithm][0]: 7.3}
    loop = RateLimiter(algorithm, **params)
    got = [loop.allow(int(k), float(t), cost=c) for k, t, c in zip(ids, ts, costs, strict=True)]
    batch = RateLimiter(algorithm, **params)
    assert batch.allow_many(ids, ts, costs).tolist() == got
    assert 0.05 < np.mean(got) < 0.95
    for k in np.unique(ids).tolist():
        assert loop.state_of(k) == batch.state_of(k), k


def test_scalar_calls_on_wide_log_rows_keep_a_bounded_hot_set():
    """allow() keeps recently used rows as Python lists: for a sliding log of
    max_requests=100,000 that is one row (800 KB as floats), not 256 (800 MB)."""
    L = 100_000
    rl = RateLimiter("sliding_window_log", max_requests=L, window_seconds=60.0)
    ref = reference("sliding_window_log", max_requests=L, window_seconds=60.0)
    got, want = [], []
    for i in range(12):
        for k in range(3):
            got.append(rl.allow(f"k{k}", float(i), cost=40_000))
            want.append(ref.allow(f"k{k}", float(i), 40_000))
        held = sum(len(r) for r in rl.backend._hot.values())
        assert held <= 2 * rl.backend.HOT_MAX + L + 2, held
    assert got == want and any(got) and not all(got)


@pytest.mark.parametrize("algorithm", sorted(BUCKETS))
@pytest.mark.parametrize("rate", [10.0, 3.0, 7.0])
def test_a_paced_bucket_saved_mid_stream_loads_and_decides_the_same(algorithm, rate):
    """Exact pacing may leave a bucket owing its slack (tokens a hair below 0, a level
    a hair above capacity): the file of such a limiter is one it could have written,
    so it loads, and the loaded limiter decides the rest of the stream as the original."""
    second, _ = BUCKETS[algorithm]
    ts = _paced(1_700_000_000.0, rate, 400, "offsets")
    params = {"capacity": 1, second: rate}
    original = RateLimiter(algorithm, **params)
    assert original.allow_many(["k"] * 200, np.array(ts[:200])).all()
    loaded = RateLimiter.from_bytes(original.to_bytes())
    rest = np.array(ts[200:])
    assert loaded.allow_many(["k"] * 200, rest).tolist() == original.allow_many(["k"] * 200, rest).tolist()


# ---------------------------------------------------------------- window indexes past 2**53


@pytest.mark.parametrize("now", [2.0**54, 2.0**60, 3.0 * 2.0**56])
@pytest.mark.parametrize("window", [1.0, 0.25])
def test_reclaim_at_huge_times_keeps_live_sliding_counter_rows(now, window):
    """Past 2**53 window indexes, ``index + 1`` and ``index + 2`` round back to the
    index itself, and the idle test called a row idle in its own window: a reclaim
    dropped a live key and its next request in the same window was admitted."""
    rl = RateLimiter("sliding_window_counter", max_requests=1, window_seconds=window)
    assert rl.allow("k", now)
    assert rl.reclaim(now) == 0  # one request counted in the current window: live
    assert not rl.allow("k", now)
    assert rl.allow_many(["k"], [now]).tolist() == [False]
    # the previous window's count still weighs at the start of the next window
    nxt = np.nextafter(now, np.inf)
    while np.floor(nxt / window) == np.floor(now / window):
        nxt = np.nextafter(nxt, np.inf)
    assert rl.reclaim(nxt) == (0 if np.floor(nxt / window) - np.floor(now / window) == 1 else 1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batch_equals_loop_with_reclaims_at_huge_times(algorithm):
    """A reclaim between batches drops only idle rows, so at times past 2**50 s the
    batches still decide exactly as the loop of ``allow`` without reclaims (a live
    sliding-counter row was dropped there)."""
    params = {
        "token_bucket": {"capacity": 2, "refill_rate": 1.0},
        "leaky_bucket": {"capacity": 2, "leak_rate": 1.0},
        "fixed_window": {"max_requests": 2, "window_seconds": 0.125},
        "sliding_window_log": {"max_requests": 2, "window_seconds": 0.125},
        "sliding_window_counter": {"max_requests": 2, "window_seconds": 0.125},
    }[algorithm]
    start = 2.0**51  # float spacing 0.5 s: window indexes 2**54 + 4k
    keys = [f"user-{i % 7}" for i in range(20)]
    batch = RateLimiter(algorithm, **params)
    loop = RateLimiter(algorithm, **params)
    for step in range(6):
        t = start + 0.5 * step
        got = []
        for half in (keys[:10], keys[10:]):  # a reclaim inside the window, between the halves
            batch.reclaim(t)
            got += batch.allow_many(half, np.full(len(half), t)).tolist()
        assert got == [loop.allow(k, t) for k in keys], step


def test_sliding_counter_window_two_ahead_past_2_53_starts_empty():
    """At 2**53 + 2 the next float second is 2**53 + 4: two windows on, so the previous
    window is empty. ``index + 1`` rounds to ``index + 2`` there and the old count was
    carried over as the previous window's, denying the request."""
    t0, t1 = 2.0**53 + 2, 2.0**53 + 4
    assert np.nextafter(t0, np.inf) == t1
    loop = RateLimiter("sliding_window_counter", max_requests=1, window_seconds=1.0)
    assert [loop.allow("k", t0), loop.allow("k", t1)] == [True, True]
    batch = RateLimiter("sliding_window_counter", max_requests=1, window_seconds=1.0)
    assert batch.allow_many(["k", "k"], [t0, t1]).tolist() == [True, True]
    assert batch.decide("k", t1).remaining == 0  # the request at t1 is the only one counted


# ---------------------------------------------------------------- the scalar fast path

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@FAST
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 3),  # key
            st.sampled_from([0.0, 0.0, 0.01, 0.125, 0.137, 0.25, 1 / 3, 0.5, 2.0]),  # clock step
            st.sampled_from(["clock", "float", "float", "int", "cost2", "bytes"]),  # call form
        ),
        min_size=1,
        max_size=80,
    ),
    start=st.sampled_from([0.0, 1000.0, 1_700_000_000.0]),
)
def test_scalar_fast_path_equals_the_general_path_the_kernel_and_the_reference(algorithm, steps, start):
    """``allow`` on the memory backend is a closure (the token bucket's step inline);
    on ManualClock times, explicit float and int times, costs and bytes keys it decides
    as the general method, the batch kernel and the exact reference do, and leaves
    the same rows, float for float."""
    params = PARAMS[algorithm]
    clock_fast, clock_general = ManualClock(start), ManualClock(start)
    fast = RateLimiter(algorithm, clock=clock_fast, **params)
    general_rl = RateLimiter(algorithm, clock=clock_general, **params)
    general = RateLimiter.allow.__get__(general_rl)
    assert "allow" in vars(fast)  # the closure is installed
    ref = reference(algorithm, **params)
    keys, ts, costs, got_fast, got_general, expected = [], [], [], [], [], []
    for k, dt, form in steps:
        clock_fast.advance(dt)
        clock_general.advance(dt)
        now = clock_fast.time()
        key: str | bytes = b"k%d" % k if form == "bytes" else f"k{k}"
        if form == "int":  # an int time: seconds, as everywhere
            now = float(int(now))
            if now < (ts[-1] if ts else -np.inf):
                now = ts[-1]
        cost = 2 if form == "cost2" else 1
        arg = {"clock": None, "int": int(now) if now == int(now) else now}.get(form, now)
        got_fast.append(fast.allow(key, arg, cost))
        got_general.append(general(key, arg, cost))
        keys.append(f"k{k}")  # the batch's keys are of one type; b"k0" and "k0" share a row
        ts.append(now)
        costs.append(float(cost))
        expected.append(ref.allow(f"k{k}", now, float(cost)))
    assert got_fast == got_general == expected
    batch = RateLimiter(algorithm, **params)
    assert batch.allow_many(keys, np.array(ts), np.array(costs)).tolist() == expected
    for k in sorted({f"k{k}" for k, _, _ in steps}):
        assert fast.state_of(k) == general_rl.state_of(k) == batch.state_of(k), k
