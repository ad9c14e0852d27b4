"""Registry of peer libraries: a benchmark asks for a peer and is skipped, with
the reason printed, when it is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

# import name -> PyPI distribution name
PEERS = {
    "rbloom": "rbloom",
    "pybloomfilter": "pybloomfiltermmap3",
    "fastbloom_rs": "fastbloom-rs",
    "probables": "pyprobables",
    "datasketches": "datasketches",
    "bounter": "bounter",
    "marisa_trie": "marisa-trie",
    "pygtrie": "pygtrie",
    "limits": "limits",
    "pyrate_limiter": "pyrate-limiter",
    "mmh3": "mmh3",
    "xxhash": "xxhash",
    "wordfreq": "wordfreq",
}


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
