"""Cold start: ``import sysprims`` plus the first batch call, in a fresh
interpreter, with an empty and then a warm Numba cache (a temporary
``NUMBA_CACHE_DIR``), next to a peer's import + first call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

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


def _run(code: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _acc(rec: dict) -> dict[str, float]:
    return {"import_ms": 1e3 * rec["import_s"], "first_call_ms": 1e3 * rec["first_call_s"]}


def run(ctx) -> None:
    cases = {label: f"import + first batch call, {label}" for label in ("empty numba cache", "warm numba cache")}
    cache = tempfile.mkdtemp(prefix="sysprims-bench-numba-")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    try:
        # the first run compiles every kernel it needs into the empty cache; the second loads them
        for case in cases.values():
            try:
                rec = _run(_SYSPRIMS, env)
            except Exception as exc:
                ctx.error(case, "sysprims", "sysprims", str(exc))
                continue
            ctx.record(case, "sysprims", "sysprims", rec["import_s"] + rec["first_call_s"], 1,
                       accuracy=_acc(rec), note=f"{rec['what']}; fresh interpreter")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    # the peer has nothing to compile: the same run stands next to both rows
    if ctx.peer("rbloom", cases["empty numba cache"]) is not None:
        try:
            rec = _run(_RBLOOM, dict(os.environ))
        except Exception as exc:
            ctx.error(cases["empty numba cache"], "rbloom", "rbloom", str(exc))
            return
        for case in cases.values():
            ctx.record(case, "rbloom", "rbloom", rec["import_s"] + rec["first_call_s"], 1, accuracy=_acc(rec),
                       note=f"{rec['what']}; fresh interpreter (no compilation step)")
