"""Turn a run into ``results.json``, ``report.md`` and the README table.

``results.json`` is the single source: ``report.md``, the plots and the
README's benchmark table are all rendered from it, so a report can be
regenerated (or the README table checked) without rerunning anything.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA",
    "environment",
    "load_results",
    "write_results",
    "render_report",
    "summary_rows",
    "render_summary_table",
    "readme_block",
    "update_readme",
    "readme_block_of",
    "START",
    "END",
    "fmt_time",
    "compare_results",
    "render_comparison",
]

SCHEMA = 1
START = "<!-- bench-table:start -->"
END = "<!-- bench-table:end -->"

VERSIONED = [
    "sysprims", "numpy", "numba", "mmh3", "pyarrow", "rbloom", "pybloomfiltermmap3", "fastbloom-rs", "pyprobables",
    "datasketches", "bounter", "marisa-trie", "pygtrie", "limits", "pyrate-limiter", "xxhash", "wordfreq",
    "matplotlib",
]


# ---------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    if dist == "sysprims":
        from .._version import __version__

        return __version__
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def load_text(m: dict[str, Any]) -> str:
    """``load average at start [...]`` and, when recorded, ``at end [...]``."""
    out = f"load average at start {m.get('load_average_at_start')}"
    if m.get("load_average_at_end") is not None:
        out += f", at end {m['load_average_at_end']}"
    return out


def environment() -> dict[str, Any]:
    """Machine, CPU, interpreter and library versions, and the date (UTC)."""
    load = load_average()
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "load_average_at_start": load,
        "versions": {d: _version(d) for d in VERSIONED},
    }


# ---------------------------------------------------------------- json


def write_results(data: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=False, default=float) + "\n")
    return path


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``results.json`` written by ``sysprims bench``."""
    from ..errors import SerializationError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SerializationError(f"cannot read benchmark results from {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or "results" not in data:
        raise SerializationError(f"{path} is not a sysprims benchmark results file (schema {SCHEMA})")
    return data


# ---------------------------------------------------------------- formatting


def fmt_time(ns: float | None) -> str:
    """Nanoseconds in the unit that reads best (ns, µs, ms, s)."""
    if ns is None:
        return ""
    if ns < 1e3:
        return f"{ns:.1f} ns" if ns < 100 else f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs" if ns < 1e4 else f"{ns / 1e3:.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms" if ns < 1e7 else f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_bytes(b: int | None) -> str:
    if b is None:
        return ""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b} B"


def fmt_accuracy(acc: dict[str, float]) -> str:
    parts = []
    for k, v in acc.items():
        if k in ("ideal_moved",):
            continue
        if k.endswith("_ms"):
            parts.append(f"{k[:-3]} {v:,.0f} ms")
        elif v == 0 or (abs(v) >= 0.01 and abs(v) < 1e4):
            parts.append(f"{k} {v:.3g}")
        else:
            parts.append(f"{k} {v:.2e}")
    return ", ".join(parts)


def _cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _cases(data: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``(component, case, rows)`` in run order."""
    order: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in data["results"]:
        order.setdefault((r["component"], r["case"]), []).append(r)
    return [(c, k, rows) for (c, k), rows in order.items()]


# ---------------------------------------------------------------- summary (README table)


BASELINES = ("python", "naive")  # plain-Python and the naive baselines (sysprims.bench.naive)
REFERENCE = "reference"  # context rows (e.g. Python's salted hash()), neither peer nor baseline
FLOOR = "floor"  # the machine's floor for the work (reading the keys, a NumPy gather)


def _kind(lib: str) -> str:
    if lib == "sysprims":
        return "sysprims"
    if lib in BASELINES:
        return "baseline"
    if lib in (REFERENCE, FLOOR):
        return lib
    return "peer"


def summary_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per case and call shape that has a sysprims row and another
    contender of the same shape: the fastest sysprims row against the fastest
    peer library and the fastest plain-Python/naive baseline of that shape
    (a batch call against batch calls, one call at a time against one call at
    a time), with the case's floor row beside it (``reference`` rows are
    context only)."""
    out = []
    for comp, case, rows in _cases(data):
        if case.startswith("suggest, prefix length"):
            continue  # plotted, not tabled
        ok = [r for r in rows if r["status"] == "ok" and r["ns_per_op"]]
        floors = [r for r in ok if _kind(r["library"]) == FLOOR]
        floor = min(floors, key=lambda r: r["ns_per_op"]) if floors else None
        for shape in ("batch", "single"):
            same = [r for r in ok if r.get("shape", "batch") == shape]
            ours = [r for r in same if _kind(r["library"]) == "sysprims"]
            peers = [r for r in same if _kind(r["library"]) == "peer"]
            bases = [r for r in same if _kind(r["library"]) == "baseline"]
            if not ours:
                continue
            if shape == "batch":
                # a library with no batch call is shown by its per-call loop, and the row says so
                loops = [r for r in ok if r.get("shape", "batch") != shape]
                peers = peers or [r for r in loops if _kind(r["library"]) == "peer"]
                bases = bases or [r for r in loops if _kind(r["library"]) == "baseline"]
            if not ours or not (peers or bases or floor):
                continue
            a = min(ours, key=lambda r: r["ns_per_op"])
            p = min(peers, key=lambda r: r["ns_per_op"]) if peers else None
            b = min(bases, key=lambda r: r["ns_per_op"]) if bases else None
            out.append({
                "component": comp, "case": case, "shape": shape, "sysprims": a, "peer": p, "baseline": b,
                "floor": floor,
                "vs_peer": p["ns_per_op"] / a["ns_per_op"] if p else None,
                "vs_baseline": b["ns_per_op"] / a["ns_per_op"] if b else None,
                "skipped": [r["contender"] for r in rows if r["status"] != "ok" and r.get("shape", "batch") == shape],
            })
    return out


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x" if x >= 0.01 else f"{x:.2g}x"


def _first_acc(r: dict[str, Any] | None) -> str:
    if not r or not r["accuracy"]:
        return ""
    k, v = next(iter(r["accuracy"].items()))
    return fmt_accuracy({k: v})


def _who(r: dict[str, Any] | None, shape: str = "batch") -> str:
    if r is None:
        return "-"
    loop = " (no batch call: its per-call loop)" if r.get("shape", "batch") != shape else ""
    return f"{fmt_time(r['ns_per_op'])} {r['contender']}{loop}"


def _acc(r: dict[str, Any] | None) -> str:
    """The first accuracy cell, or the admitted share where a row has one."""
    if not r or not r["accuracy"]:
        return ""
    if "admitted" in r["accuracy"]:
        return f"admitted {r['accuracy']['admitted']:.1%}"
    return _first_acc(r)


def render_summary_table(data: dict[str, Any]) -> str:
    rows = []
    for s in summary_rows(data):
        a, p, b, f = s["sysprims"], s["peer"], s["baseline"], s["floor"]
        accs = [_acc(x) for x in (a, p, b)]
        acc = " / ".join(x or "-" for x in accs) if any(accs) else ""
        mems = [fmt_bytes(x.get("memory_bytes")) if x else "" for x in (a, p, b)]
        mem = " / ".join(x or "-" for x in mems) if any(mems) else ""
        rows.append([
            s["component"], s["case"], s["shape"], f"{fmt_time(a['ns_per_op'])} {a['contender'].removeprefix('sysprims ')}",
            _who(p, s["shape"]), f"**{fmt_ratio(s['vs_peer'])}**" if p else "-",
            _who(b, s["shape"]), f"**{fmt_ratio(s['vs_baseline'])}**" if b else "-",
            f"{fmt_time(f['ns_per_op'])} {f['contender'].removeprefix('floor: ')}" if f else "-", mem, acc,
        ])
    header = ["component", "case", "call shape", "sysprims", "fastest peer (same shape)", "vs peer",
              "fastest baseline (same shape)", "vs baseline", "floor", "memory (ours / peer / baseline)",
              "accuracy (ours / peer / baseline)"]
    return _table(header, rows)


def compare_results(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-row change between two runs: every (component, case, contender)
    measured in both, with old and new ns per op and ``new / old``."""
    before = {(r["component"], r["case"], r["contender"]): r for r in old["results"]
              if r["status"] == "ok" and r["ns_per_op"]}
    out = []
    for r in new["results"]:
        o = before.get((r["component"], r["case"], r["contender"]))
        if o is None or r["status"] != "ok" or not r["ns_per_op"]:
            continue
        out.append({"component": r["component"], "case": r["case"], "contender": r["contender"],
                    "shape": r.get("shape", "batch"), "old_ns": o["ns_per_op"], "new_ns": r["ns_per_op"],
                    "ratio": r["ns_per_op"] / o["ns_per_op"], "old_n": o["n"], "new_n": r["n"]})
    return out


def render_comparison(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``sysprims bench --compare old.json``: the per-case change, as a table
    (``change`` > 0: slower now; sizes shown where the two runs differ)."""
    rows = []
    for c in compare_results(old, new):
        n = f"{c['old_n']:,}" if c["old_n"] == c["new_n"] else f"{c['old_n']:,} -> {c['new_n']:,}"
        rows.append([c["component"], c["case"], c["contender"], c["shape"], fmt_time(c["old_ns"]),
                     fmt_time(c["new_ns"]), f"{(c['ratio'] - 1) * 100:+.1f}%", n])
    head = (f"old: {old.get('profile')} run of {old['meta'].get('date')}; "
            f"new: {new.get('profile')} run of {new['meta'].get('date')}")
    if not rows:
        return head + "\nno row was measured in both runs"
    return head + "\n\n" + _table(["component", "case", "contender", "call shape", "old", "new", "change", "n"],
                                    rows)


def _headline(data: dict[str, Any]) -> str:
    m = data["meta"]
    v = m["versions"]
    return (f"Profile `{data['profile']}` ({m['sizes']['n']:,} keys per batch), {m['date']}, "
            f"{m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB), Python {m['python']}, "
            f"numpy {v.get('numpy')}, numba {v.get('numba')}, sysprims {v.get('sysprims')}; "
            f"{load_text(m)}.")


def readme_block(data: dict[str, Any], source: str = "benchmarks/results/quick.json") -> str:
    """The README block (markers included), rendered only from ``data``."""
    body = "\n".join([
        _headline(data),
        "Time per key or operation (median of repeats). One row per case and call shape: `batch` is "
        "one call over the whole batch, `single` one call per key or request in a Python loop, and a "
        "row compares only calls of the same shape. `vs peer` / `vs baseline` = the fastest peer "
        "library's / plain-Python or naive baseline's time over the fastest sysprims contender's, on the "
        "same data in the same run (> 1: sysprims is faster); `floor` is what the machine needs for the "
        "bare work (reading the keys, counting with `np.bincount`, a NumPy gather of the same size). "
        "`sysprims bench` writes `report.md` with every contender, memory and accuracy.",
        "",
        render_summary_table(data),
    ])
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return "\n".join([
        START,
        f"<!-- generated by sysprims.bench from {source} (sha256 {digest}); do not edit by hand: "
        f"run `sysprims bench --from-json {source} --update-readme README.md` -->",
        body,
        END,
    ])


def readme_block_of(text: str) -> str | None:
    """The generated block inside a README text (markers included), or None."""
    i, j = text.find(START), text.find(END)
    if i < 0 or j < i:
        return None
    return text[i : j + len(END)]


def update_readme(readme: str | os.PathLike[str], data: dict[str, Any],
                  source: str = "benchmarks/results/quick.json") -> bool:
    """Replace the block between the markers; returns True if the file changed.
    The markers must already be in the README (under "## Benchmarks")."""
    from ..errors import InvalidParameterError

    path = Path(readme)
    text = path.read_text()
    old = readme_block_of(text)
    if old is None:
        raise InvalidParameterError(f"{path} has no {START} ... {END} markers; add them where the table goes")
    new_text = text.replace(old, readme_block(data, source))
    if new_text != text:
        path.write_text(new_text)
        return True
    return False


# ---------------------------------------------------------------- report.md


def render_report(data: dict[str, Any], plots: list[str] | None = None) -> str:
    m = data["meta"]
    lines = [
        "# sysprims benchmark report",
        "",
        f"- date: {m['date']}",
        f"- profile: `{data['profile']}` ({json.dumps(m['sizes'])})",
        f"- machine: {m['machine']}; CPU: {m['cpu']}; {m['cores']} cores; {m['memory_gb']} GB RAM",
        f"- Python {m['python']}; {load_text(m)}",
        f"- run time: {m.get('duration_s', 0):.0f} s; command: `{m.get('command', '')}`",
        "",
        "Every contender runs on the same generated data in the same process. Times are the median of "
        "the repeats, per key or per operation; `vs fastest` is the time over the fastest contender of the same "
        "case and call shape (1.00 = fastest); `shape` is the call shape (`batch`: one call over the batch; "
        "`single`: one call per key or request). Per-key Python loops (naive baselines, pure-Python "
        "peers) run on a sample (`n` column) and are reported per key.",
        "",
        "## Library versions",
        "",
        _table(["library", "version"], [[k, v or "not installed"] for k, v in m["versions"].items()]),
        "",
        "## Summary: sysprims against the fastest peer and the fastest baseline",
        "",
        render_summary_table(data),
        "",
    ]
    comps = data["components"]
    for comp, info in comps.items():
        lines += [f"## {info.get('title', comp)}", ""]
        if info["status"] != "ok":
            lines += [f"**{info['status']}**: {info.get('reason', '')}", ""]
            if info["status"] == "skipped":
                continue
        lines += [f"Ran in {info.get('seconds', 0):.1f} s.", ""]
        for c, case, rows in _cases(data):
            if c != comp:
                continue
            table = []
            for r in sorted(rows, key=lambda r: (r["status"] != "ok", r.get("shape", "batch"), r["ns_per_op"] or 0)):
                if r["status"] != "ok":
                    table.append([r["contender"], r.get("shape", "batch"), r["status"], "", "", "", "", r["note"]])
                    continue
                table.append([
                    ("**" + r["contender"] + "**") if r["library"] == "sysprims" else r["contender"],
                    r.get("shape", "batch"), fmt_time(r["ns_per_op"]), f"{r['vs_fastest']:.2f}" if r.get("vs_fastest") else "",
                    fmt_bytes(r.get("memory_bytes")), fmt_accuracy(r["accuracy"]), f"{r['n']:,}", r["note"],
                ])
            lines += [f"### {case}", "", _table(["contender", "shape", "per op", "vs fastest", "memory", "accuracy", "n",
                                                 "note"], table), ""]
    skipped = [r for r in data["results"] if r["status"] == "skipped"]
    skipped_comps = [(c, i) for c, i in comps.items() if i["status"] == "skipped"]
    lines += ["## Skipped", ""]
    if not skipped and not skipped_comps:
        lines += ["Nothing was skipped: every component imported and every peer was installed.", ""]
    for c, i in skipped_comps:
        lines.append(f"- component **{c}**: {i.get('reason', '')}")
    for r in skipped:
        lines.append(f"- {r['component']} / {r['case']} / {r['contender']}: {r['note']}")
    errors = [r for r in data["results"] if r["status"] == "error"]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {r['component']} / {r['case']} / {r['contender']}: {r['note']}"
                                          for r in errors]
    if plots:  # linked relative to report.md: the PNGs are written beside it
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).as_posix()})" for p in plots]
    return "\n".join(lines).rstrip() + "\n"


def build_data(run: dict[str, Any], profile: Any, meta: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import asdict

    meta = dict(meta)
    meta["sizes"] = {k: v for k, v in asdict(profile).items() if k != "name"}
    return {
        "schema": SCHEMA,
        "profile": profile.name,
        "meta": meta,
        "components": run["components"],
        "results": [r.to_dict() if hasattr(r, "to_dict") else r for r in run["results"]],
        "series": run["series"],
    }


def command_line() -> str:
    return " ".join(["sysprims", *sys.argv[1:]]) if sys.argv and "sysprims" in sys.argv[0] else ""
