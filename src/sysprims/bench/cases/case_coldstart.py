"""Cold start: ``import sysprims`` plus the first batch call, in a fresh
interpreter, with an empty and with a warm Numba cache (a temporary
``NUMBA_CACHE_DIR``, filled by one untimed run), next to a peer's import +
first call.

The registry of this component: ``CONTENDERS``, self-timed (each fresh
interpreter reports its own import and first-call seconds, so the row does
not include the interpreter's start-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from ..registry import BATCH, Contender, measure_all

NAME = "coldstart"
TITLE = "Cold start (fresh interpreter: import + first batch call of 1,000 keys)"
ORDER = 100
REQUIRES = ("sysprims.hashing",)

_SYSPRIMS = r"""
import json, time
t0 = time.perf_counter()
import sysprims
from sysprims import murmur3_128
t1 = time.perf_counter()
keys = [f"user:{i:015d}" for i in range(1000)]
murmur3_128(keys)
t2 = time.perf_counter()
out = {"import_s": t1 - t0, "first_call_s": t2 - t1, "what": "murmur3_128"}
try:
    from sysprims.bloom import BloomFilter
    t3 = time.perf_counter()
    bf = BloomFilter.for_capacity(1000, 0.01)
    bf.add_many(keys)
    bf.contains_many(keys)
    out["first_call_s"] += time.perf_counter() - t3
    out["what"] += " + BloomFilter.add_many/contains_many"
except ImportError:
    pass
print(json.dumps(out))
"""

_RBLOOM = r"""
import json, time
t0 = time.perf_counter()
import rbloom
t1 = time.perf_counter()
keys = [f"user:{i:015d}" for i in range(1000)]
b = rbloom.Bloom(1000, 0.01)
b.update(keys)
[k in b for k in keys]
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "what": "Bloom.update + contains"}))
"""


def _run(code: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


class NumbaCache:
    """A temporary ``NUMBA_CACHE_DIR``, empty or filled by one untimed run."""

    def __init__(self, warm: bool):
        self.folder = tempfile.TemporaryDirectory(prefix="sysprims-bench-numba-")
        self.env = dict(os.environ, NUMBA_CACHE_DIR=self.folder.name)
        if warm:
            _run(_SYSPRIMS, self.env)  # compiles every kernel it needs into the cache

    def close(self) -> None:
        self.folder.cleanup()


def _fresh(code: str) -> Any:
    """A self-timed call: a fresh interpreter reports its import and first-call seconds."""

    def call(state: Any, _d: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        rec = _run(code, state.env if state is not None else dict(os.environ))
        return rec["import_s"] + rec["first_call_s"], rec

    return call


def _acc(rec: dict[str, Any], _state: Any, _d: dict[str, Any]) -> dict[str, float]:
    assert rec["import_s"] > 0 and rec["first_call_s"] > 0, rec
    return {"import_ms": 1e3 * rec["import_s"], "first_call_ms": 1e3 * rec["first_call_s"]}


EMPTY, WARM = "import + first batch call, empty numba cache", "import + first batch call, warm numba cache"
CONTENDERS = [
    Contender(EMPTY, "sysprims", "sysprims", BATCH, setup=lambda _m, d: NumbaCache(False), call=_fresh(_SYSPRIMS),
              teardown=NumbaCache.close, self_timed=True, count=lambda d: 1, check=_acc,
              note="murmur3_128 + BloomFilter.add_many/contains_many of 1,000 keys; fresh interpreter, "
                   "compiles its kernels"),
    Contender(WARM, "sysprims", "sysprims", BATCH, setup=lambda _m, d: NumbaCache(True), call=_fresh(_SYSPRIMS),
              teardown=NumbaCache.close, self_timed=True, count=lambda d: 1, check=_acc,
              note="the same in a fresh interpreter, kernels loaded from the cache"),
] + [
    Contender(case, "rbloom", "rbloom", BATCH, peer="rbloom", call=_fresh(_RBLOOM), self_timed=True,
              count=lambda d: 1, check=_acc,
              note="Bloom.update + contains of 1,000 keys; fresh interpreter (no compilation step)")
    for case in (EMPTY, WARM)
]


def data(n: int, seed: int = 42) -> dict[str, Any]:
    return {"n": 1}


def run(ctx: Any) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
