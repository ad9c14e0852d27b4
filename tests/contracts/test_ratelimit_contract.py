"""The rate-limiter store contract: every engine makes the reference's decisions
for the same keys, timestamps and costs (all five algorithms, single calls and batches)."""

from __future__ import annotations

import numpy as np
import pytest

from sysprims.ratelimit import RateLimiter
from sysprims.ratelimit.contract import RateLimitStore
from tests.reference.ratelimit import reference
from tests.test_ratelimit import PARAMS

COMPONENT = "ratelimit"
ALGORITHMS = PARAMS  # the same limits as the rate limiter's own suite


def _limiter(engine, spec, algorithm):
    options = {"backend_options": {"time": "caller"}} if engine.startswith("redis") else {}
    return RateLimiter(algorithm, store=spec, **options, **ALGORITHMS[algorithm])


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_decisions_match_the_reference(engine, spec, algorithm):
    rng = np.random.default_rng(5)
    keys = [f"k{i}" for i in rng.integers(0, 4, 120)]
    ts = np.round(np.cumsum(rng.exponential(0.08, 120)), 3) + 1_000.0
    ref = reference(algorithm, **ALGORITHMS[algorithm])
    expected = [ref.allow(k, float(t), 1.0) for k, t in zip(keys, ts, strict=True)]
    with _limiter(engine, spec, algorithm) as one:
        assert isinstance(one.backend, RateLimitStore)
        assert [one.allow(k, now=float(t)) for k, t in zip(keys, ts, strict=True)] == expected
    if engine.startswith("redis"):  # a fresh store for the batch run
        from sysprims.backends.redis import connect

        client = connect(spec)
        client.flushall()
        client.close()
    with _limiter(engine, spec, algorithm) as many:
        assert many.allow_many(keys, ts).tolist() == expected
