"""Registry of peer libraries: a benchmark asks for a peer and is skipped, with
the reason printed, when it is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from sysprims.bench.core import PEER_DISTS

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
