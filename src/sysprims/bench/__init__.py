"""``sysprims bench``: every component against its peers, one command.

    from sysprims.bench import run_bench
    data = run_bench("quick", out_dir="report/")        # report.md, results.json, *.png

A run executes the case modules in ``sysprims/bench/cases/`` (one per
component): sysprims and each installed peer on the same generated data in
the same process, reporting speed (median ns per key/op), memory and accuracy
side by side. Missing peers and components that do not import are listed as
skipped. ``results.json`` is the source of ``report.md``, the plots and the
README's benchmark table (see :mod:`sysprims.bench.report`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .profiles import PROFILES, Profile, get_profile

__all__ = ["run_bench", "render_outputs", "PROFILES", "Profile", "get_profile", "component_names"]


def component_names() -> list[str]:
    from .core import component_names as names

    return names()


def run_bench(
    profile: str | Profile = "quick",
    *,
    only: list[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    plots: bool = True,
    seed: int = 42,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the suite and return the ``results.json`` data; with ``out_dir``,
    also write ``results.json``, ``report.md`` and the PNG plots there."""
    from .core import run_cases
    from .report import build_data, command_line, environment, load_average

    prof = get_profile(profile) if isinstance(profile, str) else profile
    meta = environment()
    start = time.perf_counter()
    run = run_cases(prof, only=only, seed=seed, log=log)
    meta["duration_s"] = round(time.perf_counter() - start, 1)
    meta["load_average_at_end"] = load_average()  # the machine may be shared: say how busy it was
    meta["command"] = command_line()
    meta["only"] = only
    data = build_data(run, prof, meta)
    if out_dir is not None:
        render_outputs(data, out_dir, plots=plots)
    return data


def render_outputs(data: dict[str, Any], out_dir: str | os.PathLike[str], *, plots: bool = True,
                   name: str | None = None) -> dict[str, Any]:
    """Write ``results.json``, the plots and ``report.md`` for ``data`` into
    ``out_dir``; with ``name``, ``<name>.json``, ``<name>.md`` and the plots in
    ``<name>/`` instead (how ``benchmarks/results/`` holds several runs). The
    report links the plots by paths relative to itself."""
    from .report import render_report, write_results

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_results(data, out / (f"{name}.json" if name else "results.json"))
    pngs: list[str] = []
    if plots:
        from .plots import save_plots

        pngs = save_plots(data, out / name if name else out)
    md_path = out / (f"{name}.md" if name else "report.md")
    md_path.write_text(render_report(data, [str(Path(p).relative_to(out)) for p in pngs]))
    return {"results": str(json_path), "report": str(md_path), "plots": pngs}
