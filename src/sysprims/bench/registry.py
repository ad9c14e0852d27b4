"""The one registry of contenders that ``sysprims bench``, the pytest-benchmark
files (``benchmarks/bench_*.py``) and ``sysprims tour`` all draw from.

A component's case module (``sysprims/bench/cases/case_<name>.py``) declares
its data generator (``data(n, seed) -> dict``) and a list of
:class:`Contender`: each contender once, with its adapter (``setup`` builds
the untimed state, ``call`` is the timed work), its *call shape* and its
correctness check. The three front ends only decide the sizes and how to
time:

- ``sysprims bench``: :func:`measure_all` (``ctx.measure`` per contender);
- pytest-benchmark: :func:`run_benchmark` (``benchmark.pedantic``);
- the tour: :func:`time_contender` at small sizes (first call timed apart).

Call shapes: ``batch`` is one call over the whole batch (sysprims ``_many``,
``rbloom.update``, ``np.bincount``); ``single`` is one call per key or
request in a Python loop (``allow()``, ``limits.hit``, ``k in bloom``). A
row is only compared with rows of the same shape. ``floor`` rows are the
machine's floor for the work (reading the keys, a NumPy gather), not
contenders.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BATCH",
    "SINGLE",
    "SHAPES",
    "FLOOR",
    "NAIVE",
    "Contender",
    "head",
    "str_keys",
    "import_peer",
    "size_of",
    "feed",
    "measure_all",
    "time_contender",
    "run_benchmark",
    "by_name",
]

BATCH = "batch"
SINGLE = "single"
SHAPES = (BATCH, SINGLE)
FLOOR = "floor"  # library of a floor row: the machine's floor for the work
NAIVE = "naive"  # library of the naive plain-Python baselines (bench/naive.py)


@dataclass(frozen=True)
class Contender:
    """One contender of one case, declared once.

    ``setup(peer_module, data) -> state`` is untimed (a fresh state per
    repeat); ``call(state, data) -> out`` is the timed work on ``count(data)``
    operations; ``check(out, state, data) -> dict`` gives the accuracy cells
    (and raises AssertionError on a wrong answer in the smoke tests).
    ``size`` picks the data size: ``"n"`` (the batch size), ``"loop"`` (a
    Python loop over a native call), ``"slow"`` (pure Python) or an int (at
    most that many items: per-query peers that take milliseconds a query).
    """

    case: str
    name: str
    library: str
    shape: str
    call: Callable[[Any, dict[str, Any]], Any]
    setup: Callable[[Any, dict[str, Any]], Any] = lambda peer, data: None
    peer: str | None = None  # import name of the peer module passed to setup
    size: str | int = "n"
    count: Callable[[dict[str, Any]], int] | None = None
    check: Callable[[Any, Any, dict[str, Any]], dict[str, float]] | None = None
    memory: Callable[[Any, Any], int | None] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.size not in ("n", "loop", "slow") and not (isinstance(self.size, int) and self.size > 0):
            raise ValueError(f"size must be 'n', 'loop', 'slow' or a positive int, got {self.size!r}")

    def ops(self, data: dict[str, Any]) -> int:
        return self.count(data) if self.count is not None else int(data["n"])


def by_name(contenders: Sequence[Contender], case: str, name: str) -> Contender:
    for c in contenders:
        if c.case == case and c.name == name:
            return c
    raise KeyError(f"no contender {name!r} in case {case!r}")


# ---------------------------------------------------------------- data helpers


def head(data: dict[str, Any], m: int) -> dict[str, Any]:
    """The first ``m`` items of every per-item sequence of ``data`` (those of
    length ``data["n"]``); other values are kept."""
    n = data["n"]
    if m >= n:
        return data
    out = {}
    for k, v in data.items():
        if k != "n" and hasattr(v, "__len__") and not isinstance(v, (str, bytes)) and len(v) == n:
            out[k] = v[:m]
        else:
            out[k] = v
    out["n"] = m
    return out


def _distinct_ints(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.unique(rng.integers(0, 10**15, size=int(n * 1.01) + 16))
    while out.size < n:
        out = np.unique(np.concatenate([out, rng.integers(0, 10**15, size=n - out.size + 16)]))
    return rng.permutation(out)[:n]


def str_keys(n: int, prefix: str = "user", salt: int = 1, seed: int = 42) -> list[str]:
    """``n`` distinct ~20-byte ASCII keys ``prefix:<15 digits>``."""
    rng = np.random.default_rng([seed, salt])
    ids = rng.choice(10**15, size=n, replace=False) if n <= 2_000_000 else _distinct_ints(rng, n)
    return [f"{prefix}:{i:015d}" for i in ids.tolist()]


def feed(obj: Any, keys: Any, batch: Callable[[Any, Any], Any] | None,
         one: Callable[[Any], Callable[[Any], Any]] | None) -> Any:
    """Insert ``keys`` into ``obj`` with the library's batch call when it has
    one, else with its per-key call in a loop; returns ``obj``."""
    if batch is not None:
        batch(obj, keys)
    else:
        insert = one(obj)
        for k in keys:
            insert(k)
    return obj


def import_peer(c: Contender) -> Any:
    """The peer module of ``c`` (None when it has none); ImportError if missing."""
    return importlib.import_module(c.peer) if c.peer else None


# ---------------------------------------------------------------- front ends


def size_of(c: Contender, n: int, sizes: dict[str, int]) -> int:
    """The number of items ``c`` runs on out of ``n``."""
    return min(n, c.size if isinstance(c.size, int) else sizes[c.size])


def _sizes(ctx: Any) -> dict[str, int]:
    return {"n": ctx.n, "loop": ctx.n_loop, "slow": ctx.n_slow}


def measure_all(ctx: Any, contenders: Sequence[Contender], data: dict[str, Any],
                cases: Sequence[str] | None = None) -> dict[str, Any]:
    """``sysprims bench``: measure every contender on ``data`` (sliced to its
    size) with ``ctx.measure``; returns ``{contender name: last output}``."""
    outs: dict[str, Any] = {}
    sizes = _sizes(ctx)
    for c in contenders:
        if cases is not None and c.case not in cases:
            continue
        mod = None
        if c.peer:
            mod = ctx.peer(c.peer, c.case, c.name)
            if mod is None:
                continue
        d = head(data, size_of(c, data["n"], sizes))
        states: list[Any] = []

        def setup(c=c, mod=mod, d=d, states=states):
            states[:] = [c.setup(mod, d)]
            return (states[0],)

        note = c.note
        if d["n"] < data["n"]:
            note = "; ".join(x for x in (note, f"on the first {d['n']:,} of {data['n']:,}") if x)
        r = ctx.measure(
            c.case, c.name, c.library, lambda st, c=c, d=d: c.call(st, d), c.ops(d), setup=setup,
            memory=(lambda out, c=c, states=states: c.memory(states[0], out)) if c.memory else None,
            accuracy=(lambda out, c=c, d=d, states=states: c.check(out, states[0], d)) if c.check else None,
            note=note, shape=c.shape, warmup=True if c.library == FLOOR else None,
        )
        if r.status == "ok":
            outs[c.name] = r
    return outs


def time_contender(c: Contender, data: dict[str, Any], repeats: int = 3) -> dict[str, Any]:
    """The tour: the first call (which includes any first-use cost: kernel
    loading, a self-check, first-touch of memory) timed apart, then the median
    of ``repeats`` more calls, each on a fresh state."""
    mod = import_peer(c)
    times = []
    out = state = None
    for _ in range(1 + repeats):
        state = c.setup(mod, data)
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = c.call(state, data)
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    n = c.ops(data)
    return {"n": n, "first_s": times[0], "median_s": statistics.median(times[1:]),
            "ns_per_op": statistics.median(times[1:]) / max(n, 1) * 1e9,
            "first_ns_per_op": times[0] / max(n, 1) * 1e9,
            "check": c.check(out, state, data) if c.check else {}}


def run_benchmark(benchmark: Any, c: Contender, data: dict[str, Any], rounds: int = 5) -> Any:
    """pytest-benchmark: ``benchmark.pedantic`` over a fresh state per round;
    records ns per op, the call shape and the check in ``extra_info``. In the
    smoke run (benchmarks disabled) the body runs once and the check runs."""
    mod = import_peer(c)
    states: list[Any] = []

    def setup():
        states[:] = [c.setup(mod, data)]
        return (states[0],), {}

    out = benchmark.pedantic(lambda st: c.call(st, data), setup=setup, rounds=rounds, iterations=1)
    n = c.ops(data)
    benchmark.extra_info["shape"] = c.shape
    benchmark.extra_info["library"] = c.library
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["ns_per_op"] = round(stats.stats.median / max(n, 1) * 1e9, 1)
    if c.check is not None:
        benchmark.extra_info.update(c.check(out, states[0], data))
    return out
