"""PNG plots of a benchmark run (matplotlib, imported lazily).

Every function takes the ``results.json`` data and returns a matplotlib
``Figure`` (or None when the run has nothing to plot), so the notebook can
show them without rerunning anything; :func:`save_plots` writes them all.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = [
    "plot_throughput",
    "plot_speedups",
    "plot_bloom_accuracy_memory",
    "plot_countmin_accuracy_memory",
    "plot_autocomplete_prefix_latency",
    "save_plots",
]

OURS, OTHER, NAIVE, FLOOR = "#1f77b4", "#9a9a9a", "#d98c3a", "#55a868"


class _Figures:
    """Makes figures that pyplot does not track: a notebook then shows a plot
    once, as the cell's value (a pyplot figure is also drawn when the cell
    ends, which showed every plot twice), and nothing leaks between calls."""

    def __init__(self) -> None:
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is in the [bench] extra
            from ..errors import MissingDependencyError

            raise MissingDependencyError('plots need matplotlib: pip install "sysprims[bench]"') from exc
        self._figure = Figure

    def subplots(self, *args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
        fig = self._figure(figsize=figsize)
        return fig, fig.subplots(*args, **kwargs)


def _plt() -> _Figures:
    return _Figures()


def _color(lib: str) -> str:
    return {"sysprims": OURS, "naive": NAIVE, "python": NAIVE, "floor": FLOOR}.get(lib, OTHER)


def plot_throughput(data: dict[str, Any], component: str):
    """Horizontal bars, ns per op (log scale), one panel per case of ``component``."""
    plt = _plt()
    cases: dict[str, list[dict[str, Any]]] = {}
    for r in data["results"]:
        if r["component"] == component and r["status"] == "ok" and r["ns_per_op"]:
            if r["case"].startswith("suggest, prefix length"):
                continue
            cases.setdefault(r["case"], []).append(r)
    if not cases:
        return None
    heights = [max(len(rows), 1) * 0.32 + 0.7 for rows in cases.values()]
    fig, axes = plt.subplots(len(cases), 1, figsize=(8.5, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (case, rows) in zip(axes[:, 0], cases.items(), strict=True):
        rows = sorted(rows, key=lambda r: r["ns_per_op"], reverse=True)
        y = range(len(rows))
        ax.barh(list(y), [r["ns_per_op"] for r in rows], color=[_color(r["library"]) for r in rows])
        ax.set_yticks(list(y), [f"{r['contender']} [{r.get('shape', 'batch')}]" for r in rows], fontsize=8)
        ax.set_xscale("log")
        ax.set_title(case, fontsize=9, loc="left")
        for i, r in enumerate(rows):
            ax.text(r["ns_per_op"], i, f" {r['vs_fastest']:.1f}x" if r.get("vs_fastest") else "",
                    va="center", fontsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("ns per key / op (log; lower is faster)")
    title = data["components"].get(component, {}).get("title", component)
    fig.suptitle(f"{title}: sysprims (blue), peers (grey), plain Python (orange), floor (green)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_speedups(data: dict[str, Any]):
    """sysprims' speed-up over the fastest peer (else the fastest baseline), per case."""
    from .report import summary_rows

    plt = _plt()
    rows = [r for r in summary_rows(data) if r["peer"] or r["baseline"]]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(rows) + 1.2))
    labels = [f"{r['component']}: {r['case']} [{r['shape']}]" + ("" if r["peer"] else " (vs baseline)") for r in rows]
    vals = [r["vs_peer"] if r["peer"] else r["vs_baseline"] for r in rows]
    ax.barh(range(len(rows)), vals, color=[OURS if v >= 1 else "#c44e52" for v in vals])
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the fastest peer (else baseline); log, > 1: sysprims faster")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _series(data, name):
    return data.get("series", {}).get(name, [])


def plot_bloom_accuracy_memory(data: dict[str, Any]):
    pts = _series(data, "bloom_accuracy_memory")
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    _contender_lines(ax, pts, "bits_per_key", "fpr", floor=1e-6)
    ts = sorted({p["target"] for p in pts})
    ax.scatter([-math.log(t) / math.log(2) ** 2 for t in ts], ts, marker="x", color="black",
               label="optimal m/n for the target", zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("memory: bits per key")
    ax.set_ylabel("measured false-positive rate")
    ax.set_title(f"Bloom filter: accuracy against memory ({pts[0]['n']:,} keys)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _contender_lines(ax: Any, pts: list[dict[str, Any]], x: str, y: str, floor: float | None = None) -> None:
    """One line per contender through its points, sorted by ``x``; sysprims drawn bolder.
    ``floor`` keeps zero values visible on a log axis."""
    by: dict[str, list] = {}
    for p in pts:
        by.setdefault(p["contender"], []).append(p)
    for name, ps in by.items():
        ps = sorted(ps, key=lambda p: p[x])
        ys = [p[y] if floor is None else max(p[y], floor) for p in ps]
        ax.plot([p[x] for p in ps], ys, "o-", label=name, lw=2.2 if ps[0]["library"] == "sysprims" else 1.2)


def plot_countmin_accuracy_memory(data: dict[str, Any]):
    pts = _series(data, "countmin_accuracy_memory")
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    _contender_lines(ax, pts, "bytes", "mean_err_over_N", floor=1e-9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("memory: table bytes (depth 5)")
    ax.set_ylabel("mean overestimate / stream length")
    ax.set_title(f"Count-Min: error against memory ({pts[0]['n']:,} Zipf items)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_autocomplete_prefix_latency(data: dict[str, Any]):
    pts = _series(data, "autocomplete_latency_prefix")
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    _contender_lines(ax, pts, "prefix_length", "us_per_query")
    ax.set_yscale("log")
    ax.set_xlabel("prefix length (characters)")
    ax.set_ylabel("µs per query (top 10)")
    ax.set_title("Autocomplete: latency against prefix length", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def all_figures(data: dict[str, Any]) -> dict[str, Any]:
    """``{file stem: Figure}`` for everything this run can plot."""
    figs: dict[str, Any] = {"speedups": plot_speedups(data)}
    for comp, info in data["components"].items():
        if info["status"] == "ok":
            figs[f"throughput_{comp}"] = plot_throughput(data, comp)
    figs["bloom_accuracy_memory"] = plot_bloom_accuracy_memory(data)
    figs["countmin_accuracy_memory"] = plot_countmin_accuracy_memory(data)
    figs["autocomplete_latency_prefix"] = plot_autocomplete_prefix_latency(data)
    return {k: v for k, v in figs.items() if v is not None}


def save_plots(data: dict[str, Any], out_dir: str | Path) -> list[str]:
    """Write every plot as ``<out_dir>/<name>.png``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in all_figures(data).items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(str(path))
    return paths
