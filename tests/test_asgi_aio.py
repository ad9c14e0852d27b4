"""Async stores: the redis.asyncio rate limiter decides as the blocking one does, on
the real redis-server fixture, and a stopped Redis never holds the event loop."""

from __future__ import annotations

import asyncio
import random

import pytest

pytest.importorskip("redis")

from sysprims.backends.aio_ratelimit import AsyncRateLimiter  # noqa: E402
from sysprims.clock import ManualClock  # noqa: E402
from sysprims.errors import BackendError  # noqa: E402
from sysprims.ratelimit import ALGORITHMS, RateLimiter  # noqa: E402

from .test_service_trust import Paused  # noqa: E402

T0 = 1_700_000_000.0
PARAMS = {
    "token_bucket": {"capacity": 5, "refill_rate": 2.0},
    "leaky_bucket": {"capacity": 5, "leak_rate": 2.0},
    "fixed_window": {"max_requests": 5, "window_seconds": 3.0},
    "sliding_window_log": {"max_requests": 5, "window_seconds": 3.0},
    "sliding_window_counter": {"max_requests": 5, "window_seconds": 3.0},
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_async_decisions_equal_the_blocking_ones(algorithm, redis_url):
    """Same keys, same timestamps, same costs: the same Decision, field by field."""
    rng = random.Random(7)
    events, t = [], T0
    for _ in range(300):
        t += rng.choice([0.0, 0.0, 0.05, 0.1, 0.37, 1.0, 2.5])
        events.append((f"k{rng.randrange(4)}", t, rng.choice([1, 1, 1, 2])))
    sync = RateLimiter(algorithm, backend=redis_url, clock=ManualClock(T0),
                       backend_options={"namespace": "eq-sync"}, **PARAMS[algorithm])
    aio = AsyncRateLimiter(algorithm, redis_url, clock=ManualClock(T0),
                           backend_options={"namespace": "eq-async"}, **PARAMS[algorithm])

    async def run():
        out = [await aio.adecide(k, now=ts, cost=c) for k, ts, c in events]
        await aio.aclose()
        return out

    got = asyncio.run(run())
    want = [sync.decide(k, now=ts, cost=c) for k, ts, c in events]
    assert got == want
    assert 0 < sum(d.allowed for d in got) < len(got)  # both outcomes exercised
    sync.backend.close()


def test_server_time_and_shared_state(redis_url):
    """Without a clock both ask Redis for the time, and they share one state."""
    sync = RateLimiter("fixed_window", backend=redis_url, backend_options={"namespace": "shared"},
                       max_requests=3, window_seconds=3600)
    aio = AsyncRateLimiter("fixed_window", redis_url, backend_options={"namespace": "shared"},
                           max_requests=3, window_seconds=3600)

    async def run():
        a = await aio.allow("user")
        b = await aio.allow("user")
        await aio.aclose()
        return a, b

    assert sync.allow("user")
    assert asyncio.run(run()) == (True, True)
    assert not sync.allow("user")
    sync.backend.close()


def test_a_stopped_redis_never_holds_the_loop(own_redis):
    """While Redis is stopped (SIGSTOP) a pending decision leaves the loop free for other
    work; after the socket timeout it is a BackendError, and Redis back means decisions again."""
    aio = AsyncRateLimiter("token_bucket", own_redis.url, capacity=2, refill_rate=1,
                           backend_options={"timeout": 30.0})
    async def scenario():
        assert await aio.allow("k")
        paused.__enter__()
        pending = asyncio.create_task(aio.allow("k"))
        ticks = 0
        for _ in range(50):  # the loop keeps running other work while the call waits
            await asyncio.sleep(0)
            ticks += 1
        still_pending = not pending.done()
        paused.resume()
        result = await pending
        await aio.aclose()
        return ticks, still_pending, result

    paused = Paused(own_redis, safety=20.0)
    try:
        ticks, still_pending, result = asyncio.run(scenario())
    finally:
        paused.__exit__()
    assert ticks == 50 and still_pending and result is True


def test_unreachable_redis_is_a_backend_error():
    aio = AsyncRateLimiter("token_bucket", "redis://127.0.0.1:1/0", capacity=2, refill_rate=1,
                           backend_options={"timeout": 0.5})
    with pytest.raises(BackendError):
        asyncio.run(aio.adecide("k"))
    ok = AsyncRateLimiter("token_bucket", "redis://127.0.0.1:1/0", capacity=2, refill_rate=1,
                          backend_options={"timeout": 0.5, "on_error": "allow"})
    assert asyncio.run(ok.allow("k")) is True


def test_async_idempotency_twin_shares_records_with_the_blocking_manager(redis_url):
    """The twin claims, completes and releases the records the blocking manager reads:
    a result stored by one is replayed by the other; a claim held by one is 'in progress'
    for the other; another fingerprint is a mismatch for both."""
    from sysprims.backends.aio_idempotency import AsyncRedisIdempotency
    from sysprims.errors import IdempotencyKeyMismatch, RequestInProgress
    from sysprims.idempotency import IdempotencyManager

    clock = ManualClock(T0)
    manager = IdempotencyManager(store=redis_url, ttl=60, clock=clock)
    twin = AsyncRedisIdempotency(manager)

    async def run():
        c = await twin.claim("order-1", fingerprint={"qty": 1})
        assert not c.replayed
        with pytest.raises(RequestInProgress):
            manager.claim("order-1", fingerprint={"qty": 1})
        assert await c.complete({"id": 7})
        again = await twin.claim("order-1", fingerprint={"qty": 1})
        assert again.replayed and again.result == {"id": 7}
        with pytest.raises(IdempotencyKeyMismatch):
            await twin.claim("order-1", fingerprint={"qty": 2})
        held = manager.claim("order-2", fingerprint="x")
        with pytest.raises(RequestInProgress):
            await twin.claim("order-2", fingerprint="x")
        held.complete("done")
        assert (await twin.claim("order-2", fingerprint="x")).result == "done"
        released = await twin.claim("order-3")
        assert await released.release()
        assert not (await twin.claim("order-3")).replayed
        await twin.aclose()

    asyncio.run(run())
    assert manager.execute("order-1", lambda: pytest.fail("must replay"), fingerprint={"qty": 1}) == {"id": 7}
    clock.advance(61)
    assert manager.get("order-1") is None
    manager.close()


def test_run_blocking_runs_in_a_worker_thread_off_the_loop():
    """The blocking call waits for an event that only the loop can set: it completes
    (True) only if the loop kept running while the call waited in another thread."""
    import threading

    from sysprims.asgi._common import run_blocking

    async def main():
        ev = threading.Event()
        waiting = asyncio.ensure_future(run_blocking(ev.wait, 30))
        await asyncio.sleep(0)
        ev.set()
        return await waiting, await run_blocking(threading.get_ident)

    ok, worker = asyncio.run(main())
    assert ok is True and worker != threading.get_ident()
