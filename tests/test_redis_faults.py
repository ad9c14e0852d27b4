"""Faults: SIGKILL a Redis node mid-``allow_many`` (a single server, and one master
of a 3-master Cluster) under each ``on_error`` policy, restart it, and check that

* the requests decided before the kill keep the serial loop's answers, the rest
  get the policy's answer (or ``BackendError`` under ``"raise"``);
* decisions resume once the node is back, with no new limiter;
* nothing is counted twice: the servers keep an fsync'd append-only file, so the
  state after the restart is exactly that of the requests decided before the
  kill; the later decisions equal an in-memory limiter fed exactly those requests
  and then the later ones;
* idempotent operations run at most once across the kill and the restart.

The kill happens at a chosen chunk (a hook on the backend's per-chunk call), so
the order of events is fixed; the only waits poll readiness with a deadline."""

from __future__ import annotations

import numpy as np
import pytest

from sysprims.backends.redis_ratelimit import RedisRateLimitBackend
from sysprims.clock import ManualClock
from sysprims.errors import BackendError, RequestInProgress
from sysprims.idempotency import IdempotencyManager, RedisStore
from sysprims.ratelimit import RateLimiter
from sysprims.ratelimit import algorithms as A

pytestmark = [pytest.mark.redis, pytest.mark.slow]

POLICIES = ["raise", "allow", "deny"]
PARAMS = {"capacity": 4, "refill_rate": 0.5}  # slow refill: a double count would show
CHUNK, KILL_AT, N = 100, 5, 1000  # the kill comes just before the 5th chunk is sent
T0 = 1_700_000_000.0


def _fast_fail_options():
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, "retry": Retry(NoBackoff(), 0)}


def _limiter(client_or_url, policy):
    spec = A.SPECS["token_bucket"]
    params = A.check_params(spec, *PARAMS.values())
    backend = RedisRateLimitBackend(
        spec, params, 0, client_or_url, on_error=policy, chunk_size=CHUNK, timeout=1.0, retries=0
    )
    return RateLimiter("token_bucket", backend=backend, **PARAMS)


def _kill_before_chunk(backend, k, kill):
    """Run ``kill()`` just before the backend sends the ``k``-th chunk of a batch."""
    name = "_pipelined" if backend.batch == "pipeline" else "_run"
    real, calls = getattr(backend, name), [0]

    def hooked(*args, **kwargs):
        calls[0] += 1
        if calls[0] == k:
            kill()
        return real(*args, **kwargs)

    setattr(backend, name, hooked)
    return lambda: delattr(backend, name)


def _trace(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 80, N)
    ts = T0 + np.sort(rng.uniform(0, 20, N))
    return ids, ts


def _run_with_kill(rl, policy, kill, decided):
    """allow_many over a trace with a kill before chunk KILL_AT; checks the answers
    against the memory loop and returns (ids, ts) of the trace."""
    ids, ts = _trace(8)
    expected = RateLimiter("token_bucket", **PARAMS).allow_many(ids, ts)
    undo = _kill_before_chunk(rl.backend, KILL_AT, kill)
    mask = decided(rl.backend, ids)
    if policy == "raise":
        with pytest.raises(BackendError, match="Redis"):
            rl.allow_many(ids, ts)
    else:
        got = rl.allow_many(ids, ts)
        assert np.array_equal(got[mask], expected[mask])
        assert (got[~mask] == (policy == "allow")).all()
    undo()
    return ids, ts, mask


def _resume(rl, ids, ts, mask):
    """After the restart: later requests decided as a memory limiter that saw
    exactly the decided requests (counted once each) and then the later ones."""
    mem = RateLimiter("token_bucket", **PARAMS)
    mem.allow_many(ids[mask], ts[mask])
    later_ids = np.concatenate([ids[:300], np.arange(80)])
    later_ts = np.full(later_ids.size, float(ts[-1]) + 1.0)  # half a token of refill
    expected = mem.allow_many(later_ids, later_ts)
    assert 0 < expected.sum() < expected.size
    assert np.array_equal(rl.allow_many(later_ids, later_ts), expected)
    assert rl.allow(5, float(ts[-1]) + 100.0) is True  # single calls too


# ---------------------------------------------------------------- single server


@pytest.mark.parametrize("policy", POLICIES)
def test_single_server_sigkill_mid_allow_many(durable_redis, policy):
    rl = _limiter(durable_redis.url, policy)

    def decided(backend, ids):
        mask = np.zeros(ids.size, dtype=bool)
        mask[: (KILL_AT - 1) * CHUNK] = True  # the chunks sent before the kill
        return mask

    ids, ts, mask = _run_with_kill(rl, policy, durable_redis.kill, decided)
    if policy != "raise":
        assert rl.allow(1, float(ts[-1])) is (policy == "allow")  # still down: the policy
    durable_redis.start()
    _resume(rl, ids, ts, mask)


# ---------------------------------------------------------------- cluster


def _node_of_key(client, key: str) -> int:
    from redis.crc import key_slot

    return client.nodes_manager.get_node_from_slot(key_slot(key.encode())).port


@pytest.mark.parametrize("policy", POLICIES)
def test_cluster_sigkill_of_one_master_mid_allow_many(durable_cluster, policy):
    durable_cluster.flush()
    client = durable_cluster.client(**_fast_fail_options())
    rl = _limiter(client, policy)
    victim = durable_cluster.nodes[1]

    def decided(backend, ids):
        ports = np.array([_node_of_key(client, backend.key_for(int(k))) for k in ids])
        assert set(ports.tolist()) == set(durable_cluster.ports)  # keys on every master
        mask = np.zeros(ids.size, dtype=bool)
        start, stop = (KILL_AT - 1) * CHUNK, KILL_AT * CHUNK
        mask[:start] = True
        # in the chunk sent after the kill, the other masters still answered
        mask[start:stop] = ports[start:stop] != victim.port
        assert 0 < mask[start:stop].sum() < CHUNK
        return mask

    ids, ts, mask = _run_with_kill(rl, policy, victim.kill, decided)
    durable_cluster.restart(victim)  # its slots and (fsync'd) data come back
    _resume(rl, ids, ts, mask)
    client.close()


# ---------------------------------------------------------------- idempotency


def _at_most_once(store_of, kill, restart, down_key="order-20"):
    clock = ManualClock(T0)
    m = IdempotencyManager(store=store_of(), clock=clock, ttl=3600, lock_ttl=30)
    runs: dict[str, int] = {}

    def op(key):
        def run():
            runs[key] = runs.get(key, 0) + 1
            return f"charged {key}"

        return run

    keys = [f"order-{i}" for i in range(20)] + [down_key] + [f"later-{i}" for i in range(9)]
    for k in keys[:20]:
        assert m.execute(k, op(k)) == f"charged {k}"

    def dies_midway():  # killed while the operation runs: its result cannot be stored
        runs["midway"] = runs.get("midway", 0) + 1
        kill()
        return "lost"

    with pytest.raises(BackendError):
        m.execute("midway", dies_midway)
    with pytest.raises(BackendError):  # its master is down: nothing runs, nothing is claimed
        m.execute(down_key, op(down_key))
    restart()
    m2 = IdempotencyManager(store=store_of(), clock=clock, ttl=3600, lock_ttl=30)
    for k in keys:  # the first 20 replay, the other 10 run now
        assert m2.execute(k, op(k)) == f"charged {k}"
        assert m.execute(k, op(k)) == f"charged {k}"  # the old manager reconnects too
    with pytest.raises(RequestInProgress):  # its claim survived: not run a second time
        m2.execute("midway", dies_midway)
    assert runs == {**{k: 1 for k in keys}, "midway": 1}
    clock.advance(31)  # the documented crash rule: claimable again after lock_ttl
    assert m2.execute("midway", lambda: "retried") == "retried"


def test_idempotency_at_most_once_across_a_single_server_sigkill(durable_redis):
    _at_most_once(lambda: RedisStore(durable_redis.url), durable_redis.kill, durable_redis.start)


def test_idempotency_at_most_once_across_a_cluster_master_sigkill(durable_cluster):
    durable_cluster.flush()
    client = durable_cluster.client(**_fast_fail_options())
    store = RedisStore(client)
    # kill the master serving 'midway', so its completion is the write that is lost;
    # the "down" key lives there too, the first 20 orders on every master
    port = _node_of_key(client, store._key("midway"))
    victim = next(n for n in durable_cluster.nodes if n.port == port)
    down = next(k for k in (f"down-{i}" for i in range(1000)) if _node_of_key(client, store._key(k)) == port)
    assert {_node_of_key(client, store._key(f"order-{i}")) for i in range(20)} == set(durable_cluster.ports)
    _at_most_once(lambda: RedisStore(client), victim.kill, lambda: durable_cluster.restart(victim), down)
    client.close()
