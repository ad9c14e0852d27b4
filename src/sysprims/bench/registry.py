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
    "memo",
    "clear_memo",
    "missing_needs",
    "read_keys_floor",
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
    ``teardown(state)`` closes a state (a database connection, a thread pool)
    after its call. ``needs`` names resources the data must carry (e.g.
    ``"redis_url"``: a running server); without them the row is skipped and
    says why. A ``self_timed`` contender times its own work (a fresh
    interpreter timing its import and first call): ``call`` returns
    ``(seconds, out)`` and runs once, since each call costs seconds.
    """

    case: str
    name: str
    library: str
    shape: str
    # The adapters are typed ``Callable[..., Any]``: they are lambdas that bind
    # their loop variables as default arguments (``lambda f, d, flt=flt: ...``),
    # which a two-argument Callable type would reject.
    call: Callable[..., Any]
    setup: Callable[..., Any] = lambda peer, data: None
    peer: str | None = None  # import name of the peer module passed to setup
    size: str | int = "n"
    count: Callable[..., int] | None = None
    check: Callable[..., dict[str, float]] | None = None
    memory: Callable[..., int | None] | None = None
    note: str = ""
    teardown: Callable[..., Any] | None = None
    needs: tuple[str, ...] = ()
    self_timed: bool = False

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.size not in ("n", "loop", "slow") and not (isinstance(self.size, int) and self.size > 0):
            raise ValueError(f"size must be 'n', 'loop', 'slow' or a positive int, got {self.size!r}")

    def ops(self, data: dict[str, Any]) -> int:
        return self.count(data) if self.count is not None else int(data["n"])


def missing_needs(c: Contender, data: dict[str, Any]) -> list[str]:
    """The resources ``c`` needs that ``data`` does not carry."""
    return [k for k in c.needs if data.get(k) is None]


def by_name(contenders: Sequence[Contender], case: str, name: str) -> Contender:
    for c in contenders:
        if c.case == case and c.name == name:
            return c
    raise KeyError(f"no contender {name!r} in case {case!r}")


# ---------------------------------------------------------------- data helpers


_MEMO: dict[tuple[str, int, int], tuple[Any, Any]] = {}


def memo(what: str, data: dict[str, Any], anchor: str, make: Callable[[], Any]) -> Any:
    """``make()`` once per data set and size: untimed state that several
    contenders share (a built structure, a reference answer). The entry keeps
    ``data[anchor]`` alive, so its id is not reused; :func:`clear_memo` frees
    them all (a case's ``run`` does at its end)."""
    key = (what, id(data[anchor]), int(data["n"]))
    if key not in _MEMO:
        _MEMO[key] = (data[anchor], make())
    return _MEMO[key][1]


def clear_memo() -> None:
    _MEMO.clear()


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
    elif one is not None:
        insert = one(obj)
        for k in keys:
            insert(k)
    else:
        raise ValueError("feed needs a batch or a per-key call")
    return obj


def read_keys_floor(case: str, field: str = "keys") -> Contender:
    """The floor of any work over a list of str keys: reading every key once
    (converting the list to a pyarrow string array)."""
    return Contender(case, "floor: read the keys (pyarrow.array)", FLOOR, BATCH, peer="pyarrow",
                     setup=lambda pa, d: pa, call=lambda pa, d: pa.array(d[field], type=pa.string()),
                     note="converts the list of str to Arrow: every key read once")


def import_peer(c: Contender) -> Any:
    """The peer module of ``c`` (None when it has none); ImportError if missing."""
    return importlib.import_module(c.peer) if c.peer else None


# ---------------------------------------------------------------- front ends


def size_of(c: Contender, n: int, sizes: dict[str, int]) -> int:
    """The number of items ``c`` runs on out of ``n``."""
    return min(n, c.size if isinstance(c.size, int) else sizes[c.size])


def _sizes(ctx: Any) -> dict[str, int]:
    return {"n": ctx.n, "loop": ctx.n_loop, "slow": ctx.n_slow}


def _close(c: Contender, states: list[Any]) -> None:
    """Tear down the state in ``states`` (if any) and forget it."""
    if states and c.teardown is not None:
        c.teardown(states[0])
    states[:] = []


def _self_timed(ctx: Any, c: Contender, mod: Any, d: dict[str, Any], note: str) -> Any:
    states: list[Any] = []
    try:
        states[:] = [c.setup(mod, d)]
        seconds, out = c.call(states[0], d)
        acc = c.check(out, states[0], d) if c.check else {}
    except Exception as exc:  # a broken contender must not stop the suite
        return ctx.error(c.case, c.name, c.library, f"{type(exc).__name__}: {exc}", shape=c.shape)
    finally:
        _close(c, states)
    return ctx.record(c.case, c.name, c.library, seconds, c.ops(d), accuracy=acc, note=note, shape=c.shape)


def measure_all(ctx: Any, contenders: Sequence[Contender], data: dict[str, Any],
                cases: Sequence[str] | None = None) -> dict[str, Any]:
    """``sysprims bench``: measure every contender on ``data`` (sliced to its
    size) with ``ctx.measure``; returns ``{contender name: last output}``.
    A contender whose ``needs`` the data lacks is recorded as skipped."""
    outs: dict[str, Any] = {}
    sizes = _sizes(ctx)
    selected = getattr(ctx, "contenders", None)
    for c in contenders:
        if (cases is not None and c.case not in cases) or (selected is not None and c.name not in selected):
            continue
        missing = missing_needs(c, data)
        if missing:
            ctx.skip(c.case, c.name, c.library, f"needs {', '.join(missing)}, which this run does not provide"
                     + (f" ({c.note})" if c.note else ""), shape=c.shape)
            continue
        mod = None
        if c.peer:
            mod = ctx.peer(c.peer, c.case, c.name)
            if mod is None:
                continue
        d = head(data, size_of(c, data["n"], sizes))
        note = c.note
        if d["n"] < data["n"]:
            note = "; ".join(x for x in (note, f"on the first {d['n']:,} of {data['n']:,}") if x)
        if c.self_timed:
            r = _self_timed(ctx, c, mod, d, note)
            if r.status == "ok":
                outs[c.name] = r
            continue
        states: list[Any] = []

        def setup(c=c, mod=mod, d=d, states=states):
            _close(c, states)
            states[:] = [c.setup(mod, d)]
            return (states[0],)

        try:
            r = ctx.measure(
                c.case, c.name, c.library, lambda st, c=c, d=d: c.call(st, d), c.ops(d), setup=setup,
                memory=(lambda out, c=c, states=states: c.memory(states[0], out)) if c.memory else None,
                accuracy=(lambda out, c=c, d=d, states=states: c.check(out, states[0], d)) if c.check else None,
                note=note, shape=c.shape, warmup=True if c.library == FLOOR else None,
            )
        finally:
            _close(c, states)
        if r.status == "ok":
            outs[c.name] = r
    return outs


def time_contender(c: Contender, data: dict[str, Any], repeats: int = 3) -> dict[str, Any]:
    """The first call (which includes any first-use cost: kernel loading, a
    self-check, first-touch of memory) timed apart, then the median of
    ``repeats`` more calls, each on a fresh state. A self-timed contender runs
    once."""
    mod = import_peer(c)
    times = []
    out = state = None
    calls = 1 if c.self_timed else 1 + repeats
    for i in range(calls):
        if i:
            _close(c, [state])  # the last state stays open for the check
        state = c.setup(mod, data)
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = c.call(state, data)
            elapsed = time.perf_counter() - t0
        finally:
            gc.enable()
        if c.self_timed:
            elapsed, out = out
        times.append(elapsed)
    rest = times[1:] or times
    n = c.ops(data)
    try:
        check = c.check(out, state, data) if c.check else {}
    finally:
        _close(c, [state])
    return {"n": n, "first_s": times[0], "median_s": statistics.median(rest),
            "ns_per_op": statistics.median(rest) / max(n, 1) * 1e9,
            "first_ns_per_op": times[0] / max(n, 1) * 1e9, "check": check}


def run_benchmark(benchmark: Any, c: Contender, data: dict[str, Any], rounds: int = 5) -> Any:
    """pytest-benchmark: ``benchmark.pedantic`` over a fresh state per round;
    records ns per op, the call shape and the check in ``extra_info``. In the
    smoke run (benchmarks disabled) the body runs once and the check runs.
    A self-timed contender runs one round and records its own seconds."""
    mod = import_peer(c)
    states: list[Any] = []

    def setup():
        _close(c, states)
        states[:] = [c.setup(mod, data)]
        return (states[0],), {}

    try:
        out = benchmark.pedantic(lambda st: c.call(st, data), setup=setup, rounds=1 if c.self_timed else rounds,
                                 iterations=1)
        n = c.ops(data)
        benchmark.extra_info["shape"] = c.shape
        benchmark.extra_info["library"] = c.library
        if c.self_timed:
            seconds, out = out
            benchmark.extra_info["self_timed_ns_per_op"] = round(seconds / max(n, 1) * 1e9, 1)
        stats = getattr(benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            benchmark.extra_info["ns_per_op"] = round(stats.stats.median / max(n, 1) * 1e9, 1)
        if c.check is not None:
            benchmark.extra_info.update(c.check(out, states[0], data))
    finally:
        _close(c, states)
    return out
