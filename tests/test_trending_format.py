"""TrendingTopK's file format: golden bytes, and a structure-aware fuzz that
rewrites parameters and arrays (with a valid CRC) and loads them in a subprocess:
every result is a SerializationError or a tracker that answers, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from sysprims._format import pack, unpack
from sysprims.countmin import TrendingTopK

DATA = Path(__file__).parent / "data"


def golden_tracker() -> TrendingTopK:
    tr = TrendingTopK(2, 16, 2, interval=10, window=2, history=4, seed=7, candidates=3)
    tr.update_many(["alice", "bob", "alice", "carol", "alice", "bob"], [0, 5, 12, 19, 31, 44])
    tr.update(42, 45, 2)
    return tr


def test_golden_bytes_are_pinned():
    """tests/data/trending_v1.bin was written by this version; the format must not drift."""
    golden = (DATA / "trending_v1.bin").read_bytes()
    assert golden_tracker().to_bytes() == golden
    back = TrendingTopK.from_bytes(golden)
    # buckets 3 and 4 are the window: alice@31, bob@44, 42@45 (x2)
    assert back.query_many(["alice", "bob", "carol"]).tolist() == [1, 1, 0] and back.query(42) == 2
    assert back.baseline_many(["alice", "bob", "carol"]).tolist() == [1, 0, 1]  # buckets 1, 2
    assert sorted(back.top(3), key=lambda kv: str(kv[0])) == [(42, 2), ("alice", 1), ("bob", 1)]


_FUZZ = textwrap.dedent(
    """
    import sys
    from sysprims.countmin import TrendingTopK
    from sysprims.errors import SerializationError
    ok = bad = 0
    for path in sys.argv[1:]:
        blob = open(path, "rb").read()
        try:
            tr = TrendingTopK.from_bytes(blob)
        except SerializationError:
            bad += 1
            continue
        tr.top(); tr.trending(); tr.query_many(["alice"]); tr.query(42); tr.baseline_many(["bob"])
        tr.update_many(["alice", "zed"], [tr.current_bucket * tr.interval, 1e6])
        tr.to_bytes(); ok += 1
    print(ok, bad)
    """
)


def _mutations(rng):
    c = unpack(golden_tracker().to_bytes())
    params, arrays = c.params, c.arrays
    bad_values = [-1, 0, 1, 3, 2**62, 2**70, -(2**63), 1.5, float("nan"), None, "x", True, [], {}]
    for name in params:
        for v in bad_values:
            yield {**params, name: v}, arrays
    for name in list(arrays):
        a = arrays[name]
        yield params, {k: v for k, v in arrays.items() if k != name}  # missing array
        yield params, {**arrays, name: a[:-1] if a.shape and a.shape[0] else np.zeros(3, a.dtype)}
        yield (
            params,
            {**arrays, name: a.astype(np.int64) if a.dtype != np.int64 else a.astype(np.uint64)},
        )
        yield params, {**arrays, name: a.reshape(-1)[:0]}
        for _ in range(6):
            b = a.copy()
            if b.size:
                flat = b.reshape(-1)
                flat[rng.integers(0, flat.size)] = (
                    rng.integers(0, 2**63, dtype=np.int64).astype(b.dtype)
                    if b.dtype != np.uint8
                    else rng.integers(0, 256)
                )
            yield params, {**arrays, name: b}
    h1 = arrays["h1"]
    yield (
        params,
        {**arrays, "h1": np.full_like(h1, h1[0]), "h2": np.full_like(h1, 5)},
    )  # duplicate candidates


def test_fuzzed_files_raise_or_load_never_crash(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, (params, arrays) in enumerate(_mutations(rng)):
        try:
            blob = pack("trending", json.loads(json.dumps(params)), arrays, seed=7)
        except (TypeError, ValueError):
            continue  # not expressible in the container
        p = tmp_path / f"m{i}.bin"
        p.write_bytes(blob)
        paths.append(str(p))
    assert len(paths) > 150
    proc = subprocess.run(
        [sys.executable, "-c", _FUZZ, *paths], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ok, bad = map(int, proc.stdout.split())
    assert ok + bad == len(paths) and bad > 100
