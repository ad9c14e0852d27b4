"""The guided tour behind ``sysprims tour``.

Each step is a module ``sysprims/tour/step_*.py`` defining ``NAME`` and
``ORDER``, and either

- ``COMPONENT`` and ``SHOW``: the tour runs that component's benchmark case
  (``sysprims/bench/cases/case_<COMPONENT>.py``, the same registry as
  ``sysprims bench`` and ``benchmarks/``) at the tour's size, measuring only
  the contenders named in ``SHOW``, and prints one row per :class:`Show`;
  optionally ``extra(size, rng) -> list[Row]`` for demonstrations that are
  not comparisons (a race, a movement report); or
- ``run(size, rng) -> list[Row]`` (the dataset pipeline).

Steps are discovered, so a component adds its step without touching this
file. Every timed row is the median of the repeats; the first call in the
process (which may load kernels, run a self-check and touch fresh memory) is
timed apart and shown in the note, labelled as such.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from ..errors import InvalidParameterError


@dataclass
class Row:
    """One line of the tour table."""

    step: str
    what: str
    n: int
    seconds: float
    note: str = ""
    baseline_seconds: float | None = None
    baseline: str = ""
    shape: str = ""

    @property
    def per_op_ns(self) -> float:
        return self.seconds / max(self.n, 1) * 1e9

    @property
    def speedup(self) -> float | None:
        if self.baseline_seconds is None or self.seconds <= 0:
            return None
        return self.baseline_seconds / self.seconds


@dataclass(frozen=True)
class Show:
    """A tour row: ``contender`` of the bench case ``case`` (label ``label``)
    against ``baseline`` of the same case and call shape; ``note(result,
    baseline_result) -> str`` adds what the row shows besides speed."""

    case: str
    contender: str
    baseline: str | None
    label: str
    note: Callable[[Any, Any], str] | None = None


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def tour_profile(size: int) -> Any:
    """The benchmark profile the tour runs the cases at: ``size`` keys per
    batch, small samples for the Python loops, three repeats, no sweeps."""
    from ..bench.profiles import Profile

    return Profile("tour", n=size, n_slow=min(size, 2_000), n_loop=min(size, 50_000), repeats=3,
                   n_queries=min(size, 1_000), sweep=False, warmup_calls=True)


def _label(r: Any) -> str:
    return r.contender.removeprefix("sysprims ")


def rows_from_case(module: Any, size: int, seed: int) -> list[Row]:
    """Run ``module.COMPONENT``'s benchmark case with only the ``SHOW``
    contenders and turn its results into tour rows."""
    from ..bench.core import Context, discover_cases

    (case_mod,) = [m for m in discover_cases() if m.NAME == module.COMPONENT]
    wanted = {s.contender for s in module.SHOW} | {s.baseline for s in module.SHOW if s.baseline}
    ctx = Context(tour_profile(size), case_mod.NAME, seed=seed, contenders=wanted)
    case_mod.run(ctx)
    got = {(r.case, r.contender): r for r in ctx.results if r.status == "ok"}
    rows = []
    for s in module.SHOW:
        r = got.get((s.case, s.contender))
        if r is None or r.ns_per_op is None:
            err = [x for x in ctx.results if (x.case, x.contender) == (s.case, s.contender)]
            rows.append(Row(module.NAME, s.label, 0, 0.0, f"skipped: {err[0].note if err else 'not measured'}"))
            continue
        b = got.get((s.case, s.baseline)) if s.baseline else None
        if b is not None and b.ns_per_op is None:
            b = None
        notes = [s.note(r, b) if s.note else ""]
        if r.first_call_ns_per_op is not None:
            notes.append(f"first call {r.first_call_ns_per_op:,.0f} ns/op (first use in this process)")
        if s.baseline and b is None:
            notes.append(f"{s.baseline}: not installed or failed")
        if b is not None and b.shape != r.shape:
            notes.append(f"baseline has no batch call: its {b.shape} loop")
        seconds = r.ns_per_op * r.n / 1e9
        base_ns = b.ns_per_op if b is not None else None
        rows.append(Row(module.NAME, s.label, r.n, seconds, "; ".join(x for x in notes if x),
                        base_ns * r.n / 1e9 if base_ns is not None else None, _label(b) if b is not None else "",
                        r.shape))
    return rows


def discover_steps() -> list[Any]:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("step_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def format_table(rows: Iterable[Row]) -> str:
    header = ("step", "what", "shape", "n", "ns/op", "baseline ns/op", "speedup", "note")
    lines = [header]
    for r in rows:
        base = f"{r.baseline_seconds / max(r.n, 1) * 1e9:,.0f} ({r.baseline})" if r.baseline_seconds else ""
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else ""
        lines.append((r.step, r.what, r.shape, f"{r.n:,}", f"{r.per_op_ns:,.1f}", base, speed, r.note))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for j, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run_step(module: Any, size: int, seed: int) -> list[Row]:
    if hasattr(module, "SHOW"):
        rows = rows_from_case(module, size, seed)
        if hasattr(module, "extra"):
            rows.extend(module.extra(size, np.random.default_rng(seed)))
        return rows
    return module.run(size, np.random.default_rng(seed))


def run_tour(size: int = 2_000_000, only: list[str] | None = None, seed: int = 42, out: TextIO | None = None) -> list[Row]:
    """Run the tour and print its table; returns the rows."""
    out = out or sys.stdout
    if size < 1:
        raise InvalidParameterError(f"size must be >= 1, got {size}")
    steps = discover_steps()
    names = [m.NAME for m in steps]
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise InvalidParameterError(f"unknown tour steps {unknown}; choose from {names}")
        steps = [m for m in steps if m.NAME in only]
    from .._jit import warmup

    start = time.perf_counter()
    compile_times = warmup()
    print(
        f"sysprims tour: {len(steps)} step(s), {size:,} keys each; "
        f"kernels ready in {time.perf_counter() - start:.2f} s ({len(compile_times)} kernels)",
        file=out,
    )
    rows: list[Row] = []
    for module in steps:
        print(f"  running {module.NAME} ...", file=out, flush=True)
        rows.extend(run_step(module, size, seed))
    print(file=out)
    print(format_table(rows), file=out)
    print("\nns/op: median of 3 calls after the first; shape: batch = one call over the batch, single = one call "
          "per key in a Python loop. The same cases as `sysprims bench` (see docs/benchmarks.md).", file=out)
    return rows
