"""Registry of peer libraries: a benchmark asks for a peer and is skipped, with
the reason printed, when it is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from sysprims.bench.core import PEER_DISTS
from sysprims.bench.registry import Contender, head, size_of

# import name -> PyPI distribution name: the same registry `sysprims bench` uses
PEERS = PEER_DISTS


def peer(import_name: str) -> ModuleType:
    """Import a peer or skip the calling benchmark, saying which package is missing."""
    try:
        return importlib.import_module(import_name)
    except ImportError:
        dist = PEERS.get(import_name, import_name)
        pytest.skip(f"peer {dist} is not installed (pip install {dist}, or the [bench] extra)")


def installed_peers() -> dict[str, bool]:
    out = {}
    for name in PEERS:
        try:
            importlib.import_module(name)
            out[name] = True
        except ImportError:
            out[name] = False
    return out


def contender_id(c: Contender) -> str:
    """A readable pytest id for a registry contender: ``case-name-shape``."""
    return f"{c.case}-{c.name}-{c.shape}".replace(" ", "_")


def sized(data: dict, c: Contender) -> dict:
    """The registry data at the contender's size: pure-Python contenders
    ("slow") on a tenth of the keys (at least 2,000), a contender with an int
    size on at most that many, the rest on all of them; every row is
    reported per key."""
    n = data["n"]
    return head(data, size_of(c, n, {"n": n, "loop": n, "slow": max(n // 10, 2_000)}))


def bench_contender(benchmark, component: str, c: Contender, data: dict, rounds: int = 3):
    """Run registry contender ``c`` under pytest-benchmark (skipped when its peer
    is missing), grouped by component, case and call shape."""
    from sysprims.bench.registry import run_benchmark

    if c.peer:
        peer(c.peer)
    benchmark.group = f"{component} {c.case} [{c.shape}]"
    return run_benchmark(benchmark, c, sized(data, c), rounds=rounds)


def registry_test(case_module, make_data, rounds: int = 3):
    """The pytest-benchmark test of every contender of ``case_module``'s
    registry, on ``make_data(n_keys)`` (made once per size; ``.data(n_keys)``
    gives it to the file's other tests)."""
    cache: dict[int, dict] = {}

    def data(n_keys: int) -> dict:
        if n_keys not in cache:
            cache[n_keys] = make_data(n_keys)
        return cache[n_keys]

    @pytest.mark.parametrize("c", case_module.CONTENDERS, ids=contender_id)
    def test_registry(benchmark, n_keys, c):
        bench_contender(benchmark, case_module.NAME, c, data(n_keys), rounds=rounds)

    test_registry.data = data
    return test_registry
