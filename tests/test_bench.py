"""``sysprims bench``: a tiny profile end to end, skipped peers and components,
the report's consistency with results.json, and the README table's provenance."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from sysprims.bench import run_bench
from sysprims.bench.core import Result, add_ratios, resolve_only
from sysprims.bench.report import (
    END,
    START,
    load_results,
    readme_block,
    readme_block_of,
    render_summary_table,
    summary_rows,
    update_readme,
)
from sysprims.cli import main
from sysprims.errors import InvalidParameterError, SerializationError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "benchmarks" / "results" / "quick.json"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench", "--profile", "tiny", "--only", "hashing,ids", "-o", str(out)])
    assert code == 0
    return out


def test_tiny_profile_writes_report_json_and_plots(tiny_run):
    data = load_results(tiny_run / "results.json")
    report = (tiny_run / "report.md").read_text()
    assert data["profile"] == "tiny"
    assert set(data["components"]) == {"hashing", "ids"}
    meta = data["meta"]
    for field in ("date", "machine", "cpu", "cores", "python", "versions"):
        assert meta[field], field
    assert meta["versions"]["numpy"] and meta["versions"]["numba"]
    assert meta["date"] in report and meta["cpu"] in report
    pngs = sorted(p.name for p in tiny_run.glob("*.png"))
    assert {"speedups.png", "throughput_hashing.png", "throughput_ids.png"} <= set(pngs)
    for name in pngs:  # every plot is a PNG and is linked from the report
        assert (tiny_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in report


def test_results_are_internally_consistent(tiny_run):
    data = json.loads((tiny_run / "results.json").read_text())
    report = (tiny_run / "report.md").read_text()
    ok = [r for r in data["results"] if r["status"] == "ok"]
    assert ok
    best: dict[tuple[str, str, str], float] = {}
    for r in ok:
        # ns per op is the median of the recorded repeats over n
        assert r["ns_per_op"] == pytest.approx(statistics.median(r["times_s"]) / r["n"] * 1e9, rel=1e-3)
        assert r["shape"] in ("batch", "single")
        key = (r["component"], r["case"], r["shape"])
        best[key] = min(best.get(key, float("inf")), r["ns_per_op"])
        assert r["contender"] in report
    for r in ok:
        assert r["vs_fastest"] == pytest.approx(r["ns_per_op"] / best[(r["component"], r["case"], r["shape"])])
    # every case and call shape has a fastest contender at exactly 1.0
    for key in best:
        assert min(r["vs_fastest"] for r in ok if (r["component"], r["case"], r["shape"]) == key) == pytest.approx(1.0)
    # sysprims and its peers really ran on the same keys: our hash is bit-exact with mmh3 on them
    (row,) = [r for r in ok if r["case"] == "hash list of str" and r["library"] == "sysprims"]
    assert row["accuracy"]["bit_exact_vs_mmh3"] == 1.0
    # the report's summary is the summary of this results.json
    assert render_summary_table(data) in report


def test_missing_peer_is_listed_as_skipped(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "xxhash", None)  # import xxhash now raises ImportError
    data = run_bench("tiny", only=["hashing"], out_dir=tmp_path, plots=False)
    (row,) = [r for r in data["results"] if r["contender"] == "xxhash.xxh3_128 loop"]
    assert row["status"] == "skipped" and "pip install xxhash" in row["note"]
    assert row["ns_per_op"] is None and row["vs_fastest"] is None
    report = (tmp_path / "report.md").read_text()
    skipped_section = report.split("## Skipped", 1)[1]
    assert "xxhash.xxh3_128 loop" in skipped_section
    # the other contenders still ran
    assert any(r["contender"] == "mmh3.hash64 loop" and r["status"] == "ok" for r in data["results"])


def test_component_that_does_not_import_is_skipped_not_failed(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sysprims.feed", None)
    data = run_bench("tiny", only=["feed", "ids"], out_dir=tmp_path, plots=False)
    assert data["components"]["feed"]["status"] == "skipped"
    assert "sysprims.feed does not import" in data["components"]["feed"]["reason"]
    assert data["components"]["ids"]["status"] == "ok"
    assert not [r for r in data["results"] if r["component"] == "feed"]
    assert "component **feed**" in (tmp_path / "report.md").read_text()


def test_only_validates_names_and_accepts_aliases():
    assert resolve_only(["cms", "bloom", "countmin"]) == ["countmin", "bloom"]
    with pytest.raises(InvalidParameterError, match="only must name components"):
        resolve_only(["blom"])
    assert main(["bench", "--profile", "tiny", "--only", "nope"]) == 1


def test_ratios_against_the_fastest_contender():
    rows = [Result("c", "k", "a", "sysprims", n=10, ns_per_op=50.0), Result("c", "k", "b", "rbloom", n=10, ns_per_op=200.0),
            Result("c", "k", "s", "naive", status="skipped"), Result("c", "j", "x", "sysprims", n=1, ns_per_op=7.0)]
    add_ratios(rows)
    assert [r.vs_fastest for r in rows] == [1.0, 4.0, None, 1.0]
    data = {"results": [r.to_dict() for r in rows]}
    (s,) = summary_rows(data)  # case "j" has no other contender: not summarised
    assert s["vs_peer"] == 4.0 and s["baseline"] is None and s["skipped"] == ["s"]


def test_load_results_rejects_other_files(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(SerializationError):
        load_results(bad)
    bad.write_text("not json")
    with pytest.raises(SerializationError):
        load_results(bad)


def test_shipped_quick_results_come_from_a_real_quick_run():
    data = load_results(SHIPPED)
    assert data["profile"] == "quick"
    assert data["meta"]["sizes"]["n"] == 200_000
    ok = [r for r in data["results"] if r["status"] == "ok"]
    assert len({r["component"] for r in ok}) >= 8


def test_readme_table_came_from_the_generator():
    """The README block is byte-for-byte what the generator renders from the
    shipped results.json (so it was not edited by hand and is not stale)."""
    readme = (ROOT / "README.md").read_text()
    block = readme_block_of(readme)
    assert block is not None, "README.md lacks the bench-table markers"
    assert readme.index("## Benchmarks") < readme.index(START)
    assert block == readme_block(load_results(SHIPPED), "benchmarks/results/quick.json")


def test_update_readme_replaces_only_the_block(tmp_path):
    data = load_results(SHIPPED)
    path = tmp_path / "README.md"
    path.write_text(f"# x\n\n## Benchmarks\n\nprose\n\n{START}\nold, hand-edited\n{END}\n\n## After\n")
    assert update_readme(path, data) is True
    text = path.read_text()
    assert text.startswith("# x\n\n## Benchmarks\n\nprose\n\n") and text.endswith(f"{END}\n\n## After\n")
    assert readme_block_of(text) == readme_block(data)
    assert update_readme(path, data) is False  # idempotent
    path.write_text("no markers")
    with pytest.raises(InvalidParameterError, match="markers"):
        update_readme(path, data)


@pytest.mark.parametrize(("flags", "profile"), [([], "quick"), (["--quick"], "quick"), (["--full"], "full"),
                                                 (["--profile", "tiny"], "tiny")])
def test_cli_profile_flags(monkeypatch, tmp_path, flags, profile):
    import sysprims.bench as bench

    seen = {}

    def fake_run_bench(prof, **kwargs):
        seen["profile"] = prof
        seen.update(kwargs)
        return load_results(SHIPPED)

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    assert main(["bench", *flags, "--only", "bloom,cms", "-o", str(tmp_path), "--no-plots"]) == 0
    assert seen["profile"] == profile and seen["only"] == ["bloom", "cms"]
    assert (tmp_path / "report.md").exists() and (tmp_path / "results.json").exists()
