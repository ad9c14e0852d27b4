"""The measuring machinery: results, the per-run context and the runner.

A *case module* (``sysprims/bench/cases/case_*.py``) defines ``NAME``,
``ORDER``, ``REQUIRES`` (the sysprims modules it needs) and
``run(ctx) -> None``; it records rows with ``ctx.measure(...)`` and
``ctx.skip(...)``. One case module covers one component and runs sysprims and
every peer on the same generated data in the same process.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .profiles import Profile

__all__ = ["Result", "Context", "discover_cases", "run_cases", "add_ratios", "PEER_DISTS"]

# import name -> PyPI distribution name (what to pip install when it is missing)
PEER_DISTS = {
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
    "pyarrow": "pyarrow",
}


@dataclass
class Result:
    """One row: one contender on one case."""

    component: str
    case: str  # what is measured, e.g. "add (list of str)"
    contender: str  # e.g. "sysprims add_many", "rbloom", "set (exact)"
    library: str  # "sysprims", a peer's distribution name, "python", "naive" or "floor"
    status: str = "ok"  # "ok" | "skipped" | "error"
    shape: str = "batch"  # "batch" (one call over the batch) or "single" (one call per key/request)
    n: int = 0  # keys / ops per timed call
    ns_per_op: float | None = None  # median over the repeats
    times_s: list[float] = field(default_factory=list)
    memory_bytes: int | None = None
    accuracy: dict[str, float] = field(default_factory=dict)
    note: str = ""
    vs_fastest: float | None = None  # ns_per_op / fastest ns_per_op of the case and shape (>= 1)
    # the untimed warm-up call, timed apart: the first call in the process may
    # include kernel loading, a self-check and first touch of memory
    first_call_ns_per_op: float | None = None

    @property
    def is_sysprims(self) -> bool:
        return self.library == "sysprims"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Context:
    """What a case module gets: the profile, generated data and the recorders."""

    def __init__(self, profile: Profile, component: str, seed: int = 42, log: Callable[[str], None] | None = None,
                 contenders: set[str] | None = None):
        self.profile = profile
        # measure only these contenders (the tour shows a few rows of each case); None: all
        self.contenders = contenders
        self.component = component
        self.seed = seed
        self.results: list[Result] = []
        self.series: dict[str, list[dict[str, Any]]] = {}
        self._log = log or (lambda msg: None)
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------ sizes and data

    @property
    def n(self) -> int:
        return self.profile.n

    @property
    def n_slow(self) -> int:
        return min(self.profile.n_slow, self.profile.n)

    @property
    def n_loop(self) -> int:
        return min(self.profile.n_loop, self.profile.n)

    def loop_note(self, m: int) -> str:
        """The note of a row measured on the first ``m`` keys only."""
        return f"per-key loop on the first {m:,} keys" if m < self.n else ""

    @property
    def repeats(self) -> int:
        return self.profile.repeats

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])

    def str_keys(self, n: int, prefix: str = "user", salt: int = 1) -> list[str]:
        """``n`` distinct ~20-byte ASCII keys ``prefix:<15 digits>`` (see :func:`.registry.str_keys`)."""
        key = f"str:{prefix}:{n}:{salt}"
        if key not in self._cache:
            from .registry import str_keys

            self._cache[key] = str_keys(n, prefix, salt, self.seed)
        return self._cache[key]

    def int_keys(self, n: int, salt: int = 2) -> np.ndarray:
        return self.rng(salt).integers(0, 2**63 - 1, size=n, dtype=np.int64)

    # ------------------------------------------------------------ peers

    def peer(self, import_name: str, case: str, contender: str | None = None) -> Any | None:
        """Import a peer, or record a skipped row for it and return None."""
        try:
            return importlib.import_module(import_name)
        except ImportError as exc:
            dist = PEER_DISTS.get(import_name, import_name)
            self.skip(case, contender or dist, dist, f"{dist} is not installed (pip install {dist}): {exc}")
            return None

    # ------------------------------------------------------------ recorders

    def skip(self, case: str, contender: str, library: str, reason: str, shape: str = "batch") -> Result:
        r = Result(self.component, case, contender, library, status="skipped", note=reason, shape=shape)
        self.results.append(r)
        self._log(f"    {case:32s} {contender:34s} skipped: {reason}")
        return r

    def record(self, case: str, contender: str, library: str, seconds: float, n: int, *,
               memory: int | None = None, accuracy: dict[str, float] | None = None, note: str = "",
               shape: str = "batch") -> Result:
        """A row timed elsewhere (e.g. inside a subprocess): ``seconds`` for ``n`` ops."""
        r = Result(self.component, case, contender, library, shape=shape, n=n, ns_per_op=seconds / max(n, 1) * 1e9,
                   times_s=[round(seconds, 9)], memory_bytes=memory,
                   accuracy={k: float(v) for k, v in (accuracy or {}).items()}, note=note)
        self.results.append(r)
        self._log(f"    {case:32s} {contender:34s} {r.ns_per_op:12,.1f} ns/op  n={n:,}")
        return r

    def error(self, case: str, contender: str, library: str, detail: str, shape: str = "batch") -> Result:
        r = Result(self.component, case, contender, library, status="error", note=detail[:300], shape=shape)
        self.results.append(r)
        self._log(f"    {case:32s} {contender:34s} ERROR {detail[:200]}")
        return r

    def measure(
        self,
        case: str,
        contender: str,
        library: str,
        func: Callable[..., Any],
        n: int,
        *,
        setup: Callable[[], tuple] | None = None,
        repeats: int | None = None,
        warmup: bool | None = None,
        memory: Callable[[Any], int | None] | int | None = None,
        accuracy: Callable[[Any], dict[str, float]] | dict[str, float] | None = None,
        note: str = "",
        shape: str | None = None,
    ) -> Result:
        """Time ``func(*setup())`` ``repeats`` times and record the median per op.

        sysprims rows get one untimed warm-up call first (it compiles or loads
        the kernels: cold start is measured by its own case); other rows do not
        unless ``warmup=True`` (pure-Python loops gain nothing from it).

        ``memory`` and ``accuracy`` are values or callables of the last result.
        Any exception becomes an ``error`` row; the run goes on. ``shape`` is
        the call shape: "batch" (one call over the batch, the default) or
        "single" (one call per key or request in a Python loop).
        """
        shape = shape or "batch"
        if self.contenders is not None and contender not in self.contenders:
            return Result(self.component, case, contender, library, status="skipped", note="not selected",
                          shape=shape)
        repeats = repeats or self.repeats
        if warmup is None:
            warmup = library == "sysprims" and self.profile.warmup_calls
        times: list[float] = []
        first = None
        try:
            out = None
            if warmup:
                args = setup() if setup else ()
                t0 = time.perf_counter()
                out = func(*args)
                first = time.perf_counter() - t0
                del args
            for _ in range(repeats):
                args = setup() if setup else ()
                gc.disable()
                try:
                    t0 = time.perf_counter()
                    out = func(*args)
                    times.append(time.perf_counter() - t0)
                finally:
                    gc.enable()
                del args
            mem = memory(out) if callable(memory) else memory
            acc = accuracy(out) if callable(accuracy) else (accuracy or {})
        except Exception as exc:  # a broken contender must not stop the suite
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return self.error(case, contender, library, detail, shape=shape)
        ns = statistics.median(times) / max(n, 1) * 1e9
        r = Result(
            self.component, case, contender, library, shape=shape, n=n, ns_per_op=ns, times_s=[round(t, 9) for t in times],
            memory_bytes=int(mem) if mem is not None else None,
            accuracy={k: float(v) for k, v in acc.items()}, note=note,
            first_call_ns_per_op=first / max(n, 1) * 1e9 if first is not None else None,
        )
        self.results.append(r)
        acc_s = " ".join(f"{k}={v:.4g}" for k, v in r.accuracy.items())
        self._log(f"    {case:32s} {contender:34s} {ns:12,.1f} ns/op  n={n:,} {acc_s}")
        return r

    def record_series(self, name: str, **point: Any) -> None:
        """A point of a plotted series (accuracy vs memory, latency vs prefix length)."""
        self.series.setdefault(name, []).append(point)


def py_container_bytes(container: Any, items: Any = None) -> int:
    """Approximate bytes of a plain-Python container and the objects it holds
    (keys counted once; small cached ints not counted)."""
    total = sys.getsizeof(container)
    if items is not None:
        total += sum(sys.getsizeof(x) for x in items)
    return total


# ---------------------------------------------------------------- discovery / running


def discover_cases() -> list[Any]:
    from . import cases

    modules = []
    for info in pkgutil.iter_modules(cases.__path__):
        if info.name.startswith("case_"):
            modules.append(importlib.import_module(f"{cases.__name__}.{info.name}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def component_names() -> list[str]:
    return [m.NAME for m in discover_cases()]


ALIASES = {"cms": "countmin", "topk": "countmin", "count-min": "countmin", "shortener": "ids",
           "ratelimiting": "ratelimit", "cold-start": "coldstart", "hash": "hashing"}


def resolve_only(only: list[str] | None) -> list[str] | None:
    from ..errors import InvalidParameterError

    if not only:
        return None
    names = component_names()
    out = []
    for raw in only:
        name = ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in names:
            raise InvalidParameterError(f"only must name components from {names}, got {raw!r}")
        if name not in out:
            out.append(name)
    return out


def run_cases(profile: Profile, only: list[str] | None = None, seed: int = 42,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every (or the ``only``) case modules; return the raw run record."""
    log = log or (lambda msg: None)
    wanted = resolve_only(only)
    if not profile.warmup_calls:
        from .._jit import warmup

        t0 = time.perf_counter()
        warmup()
        log(f"  kernels compiled or loaded in {time.perf_counter() - t0:.1f} s")
    components: dict[str, dict[str, Any]] = {}
    results: list[Result] = []
    series: dict[str, list[dict[str, Any]]] = {}
    for module in discover_cases():
        if wanted is not None and module.NAME not in wanted:
            continue
        start = time.perf_counter()
        missing = []
        for req in getattr(module, "REQUIRES", ()):
            try:
                importlib.import_module(req)
            except Exception as exc:  # a component still being written: skipped, not a failure
                missing.append(f"{req} does not import ({type(exc).__name__}: {exc})")
        if missing:
            components[module.NAME] = {"status": "skipped", "reason": "; ".join(missing), "seconds": 0.0}
            log(f"  {module.NAME}: skipped ({'; '.join(missing)})")
            continue
        log(f"  {module.NAME} ...")
        ctx = Context(profile, module.NAME, seed=seed, log=log)
        status, reason = "ok", ""
        try:
            module.run(ctx)
        except Exception as exc:
            status, reason = "error", "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]
            log(f"  {module.NAME}: ERROR {reason}")
        seconds = time.perf_counter() - start
        components[module.NAME] = {"status": status, "reason": reason, "seconds": round(seconds, 2),
                                   "title": getattr(module, "TITLE", module.NAME)}
        results.extend(ctx.results)
        for k, v in ctx.series.items():
            series.setdefault(k, []).extend(v)
        ctx._cache.clear()
    add_ratios(results)
    return {"components": components, "results": results, "series": series}


def add_ratios(results: list[Result]) -> None:
    """Set ``vs_fastest`` = ns_per_op / the fastest ns_per_op of the same case
    and call shape (a batch row is never ranked against a per-call loop)."""
    best: dict[tuple[str, str, str], float] = {}
    for r in results:
        if r.status == "ok" and r.ns_per_op:
            key = (r.component, r.case, r.shape)
            best[key] = min(best.get(key, float("inf")), r.ns_per_op)
    for r in results:
        if r.status == "ok" and r.ns_per_op:
            r.vs_fastest = r.ns_per_op / best[(r.component, r.case, r.shape)]
