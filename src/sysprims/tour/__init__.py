"""The guided tour behind ``sysprims tour``.

Each step is a module ``sysprims/tour/step_*.py`` defining ``NAME``, ``ORDER``
and ``run(size, rng) -> list[Row]``. Steps are discovered, so a component adds
its step without touching this file.
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

    @property
    def per_op_ns(self) -> float:
        return self.seconds / max(self.n, 1) * 1e9

    @property
    def speedup(self) -> float | None:
        if self.baseline_seconds is None or self.seconds <= 0:
            return None
        return self.baseline_seconds / self.seconds


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def discover_steps() -> list[Any]:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("step_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def format_table(rows: Iterable[Row]) -> str:
    header = ("step", "what", "n", "ns/op", "baseline ns/op", "speedup", "note")
    lines = [header]
    for r in rows:
        base = f"{r.baseline_seconds / max(r.n, 1) * 1e9:,.0f} ({r.baseline})" if r.baseline_seconds else ""
        speed = f"{r.speedup:.1f}x" if r.speedup is not None else ""
        lines.append((r.step, r.what, f"{r.n:,}", f"{r.per_op_ns:,.1f}", base, speed, r.note))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for j, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


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
        rows.extend(module.run(size, np.random.default_rng(seed)))
    print(file=out)
    print(format_table(rows), file=out)
    return rows
