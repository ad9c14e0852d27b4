"""Benchmarks: sysprims and its peers on the same generated data, in the same run.

Measure with ``pytest benchmarks --benchmark-enable --benchmark-only``; the plain
``pytest`` run (and CI) runs each benchmark body once on small inputs as a smoke test. Ratios, not absolute times,
are what the suite reports; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

N_KEYS = 200_000


@pytest.fixture(scope="session")
def n_keys(request) -> int:
    # Smoke mode (benchmarks disabled) uses small inputs to stay fast.
    cfg = request.config
    smoke = cfg.getoption("benchmark_disable", False) and not cfg.getoption("benchmark_enable", False)
    return 20_000 if smoke else N_KEYS


@pytest.fixture(scope="session")
def str_keys(n_keys) -> list[str]:
    """~20-byte ASCII keys, like user names or IDs."""
    rng = np.random.default_rng(7)
    return [f"user:{i:015d}" for i in rng.integers(0, 2**62, size=n_keys).tolist()]


@pytest.fixture(scope="session")
def other_str_keys(n_keys) -> list[str]:
    """Keys disjoint from ``str_keys`` (for false-positive measurements)."""
    rng = np.random.default_rng(8)
    return [f"anon:{i:015d}" for i in rng.integers(0, 2**62, size=n_keys).tolist()]


@pytest.fixture(scope="session")
def int_keys(n_keys) -> np.ndarray:
    return np.random.default_rng(9).integers(0, 2**63 - 1, size=n_keys, dtype=np.int64)


@pytest.fixture(scope="module")
def redis_url():
    """A real redis-server on a free loopback port (the test suite's helper), one per module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    pytest.importorskip("redis", reason="the redis package is not installed (the [redis] extra)")
    from tests.conftest import RedisServer

    server = RedisServer(binary)
    server.start()
    yield server.url
    server.stop()
