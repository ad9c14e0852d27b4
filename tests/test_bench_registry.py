"""The benchmark harness compares like with like: one registry of contenders,
call shapes kept apart, naive baselines that are right, a tour that reports
the same measurements as ``sysprims bench``, and reports whose links resolve."""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sysprims.bench import naive
from sysprims.bench.cases import (
    case_bloom,
    case_feed,
    case_idempotency,
    case_ids,
    case_ratelimit,
    case_sharding,
)
from sysprims.bench.core import Context, Result, add_ratios, discover_cases
from sysprims.bench.profiles import PROFILES
from sysprims.bench.registry import BATCH, FLOOR, SHAPES, SINGLE, Contender, head, measure_all
from sysprims.bench.report import (
    compare_results,
    load_results,
    render_comparison,
    render_summary_table,
    summary_rows,
)
from sysprims.clock import ManualClock

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- naive baselines (against references)


def test_naive_feed_order_does_not_depend_on_clock_resolution():
    """The classic primer's feed stamped posts with the wall clock, so posts made
    within one clock tick came back in an arbitrary order (the cause of the
    flaky ``test_seed_pull_500``). A coarse clock (every post at the same
    instant) must still give the newest posts first."""
    feed = naive.NaiveFeed(clock=lambda: 1_700_000_000.0)
    for a in range(1, 51):
        feed.follow(0, a)
    authors = np.random.default_rng(4).integers(1, 51, 500).tolist()
    for i, a in enumerate(authors):
        feed.post(a, i)
    assert feed.pull_feed(0, 20) == list(range(499, 479, -1))
    assert feed.push_feed(0, 20) == list(range(499, 479, -1))


def test_naive_feed_default_clock_orders_by_arrival():
    feed = naive.NaiveFeed()
    feed.follow(1, 2)
    for pid in (30, 10, 20):  # ids not in time order: the stamp decides
        feed.post(2, pid)
    assert feed.pull_feed(1, 3) == [20, 10, 30] == feed.push_feed(1, 3)
    assert feed.post(1, 99) == 1  # only the author's own timeline (no followers)


def test_naive_bloom_has_no_false_negatives_and_the_textbook_rate():
    keys = [f"k{i}" for i in range(2_000)]
    bf = naive.NaiveBloomFilter(10 * len(keys), 7)
    for k in keys:
        bf.add(k)
    assert all(bf.contains(k) for k in keys)
    # probe positions are md5(probe index, key) mod m, computed here independently
    assert bf.cells[int.from_bytes(hashlib.md5(b"3|k7").digest(), "big") % bf.num_bits] == 1
    neg = [f"x{i}" for i in range(20_000)]
    fpr = sum(bf.contains(k) for k in neg) / len(neg)
    expected = (1 - math.exp(-7 * len(keys) / bf.num_bits)) ** 7  # 0.82%
    sigma = math.sqrt(expected * (1 - expected) / len(neg))
    assert abs(fpr - expected) < 5 * sigma


def test_naive_countmin_never_underestimates_and_meets_its_bound():
    rng = np.random.default_rng(1)
    stream = [f"t{i}" for i in rng.zipf(1.3, 5_000) % 500]
    cm = naive.NaiveCountMin(272, 5)  # eps = e / 272 = 1%
    for k in stream:
        cm.update(k)
    truth = Counter(stream)
    over = [cm.query(k) - c for k, c in truth.items()]
    assert min(over) >= 0
    # P(error > eps * N) <= e**-depth per key: at most a few of 500 keys
    assert sum(e > 0.01 * len(stream) for e in over) <= max(3, int(len(truth) * math.exp(-5) * 5))


def test_dict_token_bucket_matches_sysprims_token_bucket():
    """The naive bucket decides as sysprims does, except that it compares floats
    without slack: where they first differ, sysprims admits a request whose token
    is due within the documented slack (docs/ratelimit.md, "Exact pacing") and the
    naive bucket, a rounding error short, denies it; after that the two buckets of
    that key are one token apart, so each key's admitted total differs by at most 1."""
    from sysprims.ratelimit import RateLimiter
    from sysprims.ratelimit.algorithms import bucket_slack

    d = case_ratelimit.data(20_000)  # the case's 100/s limit: this trace holds such requests
    allow = naive.DictTokenBucket(100, 100.0).allow
    ours = RateLimiter("token_bucket", capacity=100, refill_rate=100.0).allow_many(d["keys"], d["ts"])
    theirs = np.array([allow(k, t) for k, t in zip(d["keys"], d["ts_list"], strict=True)])
    assert 0.05 < theirs.mean() < 0.95  # the trace exercises both answers
    differ = np.flatnonzero(ours != theirs)
    assert 0 < differ.size <= 0.001 * d["n"]
    keys = np.array(d["keys"], dtype=object)
    for key in set(keys[differ].tolist()):
        mine = keys == key
        assert abs(int(ours[mine].sum()) - int(theirs[mine].sum())) <= 1
    first = int(differ[0])
    assert ours[first] and not theirs[first]
    bucket = naive.DictTokenBucket(100, 100.0)
    for k, t in zip(d["keys"][:first], d["ts_list"][:first], strict=True):
        bucket.allow(k, t)
    tokens, last = bucket.state[d["keys"][first]]
    short = 1.0 - min(100.0, tokens + (d["ts_list"][first] - last) * 100.0)
    assert 0 < short <= bucket_slack(d["ts_list"][first], 100.0, 100.0)


def test_naive_snowflake_layout_on_a_manual_clock():
    clock = ManualClock(1_700_000_000.0)
    g = naive.NaiveSnowflake(5, epoch_ms=1_600_000_000_000, clock=clock)
    a, b = g.generate(), g.generate()
    clock.advance(0.001)
    c = g.generate()
    ms = 1_700_000_000_000 - 1_600_000_000_000
    assert a == (ms << 22) | (5 << 12) | 0 and b == a + 1
    assert c == ((ms + 1) << 22) | (5 << 12)


def test_naive_base62_trie_and_md5_shard_against_independent_answers():
    assert [naive.base62(v) for v in (0, 61, 62, 100_000)] == ["0", "Z", "10", "q0U"]
    s = naive.NaiveShortener()
    assert s.shorten("u") == s.shorten("u") == "q0U" and s.url_of["q0U"] == "u"
    words = {"car": 5, "cart": 9, "care": 5, "cat": 1, "dog": 7}
    t = naive.NaiveTrie()
    for w, f in words.items():
        t.insert(w, f)
    brute = sorted(((w, f) for w, f in words.items() if w.startswith("ca")), key=lambda x: (-x[1], x[0]))
    assert t.suggest("ca", 3) == brute[:3] and t.suggest("z") == []
    assert naive.md5_shard("user:1", 64) == int(hashlib.md5(b"user:1").hexdigest(), 16) % 64


def test_naive_idempotency_uses_its_clock():
    clock = ManualClock(0.0)
    m = naive.NaiveIdempotency(ttl_seconds=10.0, clock=clock)
    calls = []
    assert m.execute("k", lambda: calls.append(1) or "r") == "r"
    assert m.execute("k", lambda: calls.append(1) or "other") == "r"
    clock.advance(10.0)
    assert m.execute("k", lambda: calls.append(1) or "new") == "new" and len(calls) == 2


def test_no_primer_wording_or_code_in_the_bench_package():
    src = ROOT / "src" / "sysprims"
    assert not (src / "bench" / "seed_baselines.py").exists()
    for folder in ("bench", "tour"):
        for path in (src / folder).rglob("*.py"):
            text = path.read_text()
            assert not re.search(r"\bthe seed'?s?\b|\bseed (?:loop|baseline|class)", text, re.I), path


# ---------------------------------------------------------------- the registry and call shapes


def test_every_case_module_declares_its_contenders_in_the_registry():
    """No case measures contenders written inline in its ``run``: each has a
    ``CONTENDERS`` list of registry entries that every front end draws from."""
    for module in discover_cases():
        assert isinstance(getattr(module, "CONTENDERS", None), list), module.NAME
        assert module.CONTENDERS and all(isinstance(c, Contender) for c in module.CONTENDERS), module.NAME


@pytest.mark.parametrize("module", discover_cases(), ids=lambda m: m.NAME)
def test_every_contender_is_declared_once_with_a_shape(module):
    names = [(c.case, c.name) for c in module.CONTENDERS]
    assert len(names) == len(set(names))
    assert {c.shape for c in module.CONTENDERS} <= set(SHAPES)
    # a per-key Python loop is never filed as a batch call
    for c in module.CONTENDERS:
        if "loop" in c.name:
            assert c.shape == SINGLE, c.name


def _run(module, contenders=None):
    prof = PROFILES["tiny"]
    ctx = Context(prof, module.NAME, contenders=contenders)
    module.run(ctx)
    add_ratios(ctx.results)
    return {r.contender: r for r in ctx.results}


def test_pyrate_limiter_gets_a_bucket_per_key_and_the_same_policy():
    """Configured as its docs intend (a bucket per key, fed the trace's times)
    pyrate-limiter admits what sysprims' exact sliding log admits; with one
    shared bucket (how it was run before) it admitted about 1%."""
    pytest.importorskip("pyrate_limiter")
    name = "pyrate-limiter try_acquire loop (bucket per key)"
    rows = _run(case_ratelimit, contenders={name, "sysprims allow() loop sliding_window_log"})
    row, ours = rows[name], rows["sysprims allow() loop sliding_window_log"]
    assert row.status == "ok" and row.shape == SINGLE
    assert row.accuracy["same_decisions"] == 1.0
    assert row.accuracy["admitted"] == ours.accuracy["admitted"] > 0.5


def test_summary_compares_only_like_shapes():
    rows = [Result("c", "k", "ours batch", "sysprims", n=10, ns_per_op=10.0, shape=BATCH),
            Result("c", "k", "ours call", "sysprims", n=10, ns_per_op=900.0, shape=SINGLE),
            Result("c", "k", "peer call", "limits", n=10, ns_per_op=3000.0, shape=SINGLE),
            Result("c", "k", "dict", "naive", n=10, ns_per_op=400.0, shape=SINGLE),
            Result("c", "k", "floor: x", "floor", n=10, ns_per_op=2.0, shape=BATCH)]
    add_ratios(rows)
    data = {"results": [r.to_dict() for r in rows]}
    by_shape = {s["shape"]: s for s in summary_rows(data)}
    single = by_shape[SINGLE]
    assert single["sysprims"]["contender"] == "ours call"
    assert single["vs_peer"] == pytest.approx(3000 / 900) and single["vs_baseline"] == pytest.approx(400 / 900)
    batch = by_shape[BATCH]  # no peer has a batch call: its loop is shown, and labelled
    assert batch["vs_peer"] == pytest.approx(300.0) and batch["floor"]["contender"] == "floor: x"
    table = render_summary_table(data)
    assert "no batch call: its per-call loop" in table and "| single |" in table and "2.0 ns x" in table


def test_floor_rows_are_present_where_they_mean_something():
    rows = _run(case_bloom, contenders={"floor: NumPy random gather (k probes per key)", "sysprims contains_many"})
    floor = rows["floor: NumPy random gather (k probes per key)"]
    assert floor.status == "ok" and floor.library == "floor" and floor.n == rows["sysprims contains_many"].n


@pytest.mark.parametrize("module, floors", [
    (case_feed, {"push fan-out (per timeline write)", "read newest 20 (push model)"}),
    (case_ids, {"base62 encode n counters", "shorten n URLs (memory)", "shorten n URLs into SQLite"}),
    (case_idempotency, {"first execution (SQLite)", "cache hit (Redis)"}),
    (case_ratelimit, {"decide (Zipf trace, str keys)", "decide (Zipf trace, int64 keys)"}),
    (case_sharding, {"route str keys", "route int64 keys"}),
], ids=lambda x: getattr(x, "NAME", ""))
def test_cases_have_their_floors(module, floors):
    assert {c.case for c in module.CONTENDERS if c.library == FLOOR} == floors


def test_feed_rows_are_checked_and_count_timeline_writes():
    rows = _run(case_feed, contenders={"sysprims FeedStore.post_many", "naive feed post loop",
                                       "floor: NumPy random scatter of the same writes",
                                       "sysprims FeedStore.feed(pull) loop", "naive pull_feed loop"})
    ours, naive_row, floor = (rows[k] for k in ("sysprims FeedStore.post_many", "naive feed post loop",
                                                "floor: NumPy random scatter of the same writes"))
    assert ours.status == naive_row.status == floor.status == "ok"
    assert ours.n == floor.n >= naive_row.n  # per timeline write; the naive loop on its first posts (at most)
    assert ours.accuracy["writes_per_post"] > 1
    assert rows["naive pull_feed loop"].accuracy["correct"] == 1.0 == rows["sysprims FeedStore.feed(pull) loop"].accuracy["correct"]
    c = next(c for c in case_feed.CONTENDERS if c.name == "naive pull_feed loop")
    d = case_feed.data(2_000)
    with pytest.raises(AssertionError, match="newest"):
        c.check([list(range(20))], None, d)


def test_a_row_whose_resource_is_missing_is_skipped_with_the_reason():
    rows = _run(case_idempotency, contenders={"sysprims Redis store", "sysprims memory store"})
    redis_rows = [r for r in rows.values() if r.contender == "sysprims Redis store"]
    assert redis_rows and all(r.status == "skipped" and "redis_url" in r.note for r in redis_rows)
    assert rows["sysprims memory store"].status == "ok"


def test_idempotency_checks_count_how_often_the_operation_ran():
    c = next(c for c in case_idempotency.CONTENDERS
             if c.case == "cache hit (memory)" and c.name == "sysprims memory store")
    d = case_idempotency.data(50)
    m = c.setup(None, d)
    out = c.call(m, d)
    assert c.check(out, m, d) == {"operation_runs": 0.0}
    m.mgr.execute("other", m.op)  # one more run than a pure hit loop makes
    with pytest.raises(AssertionError, match="ran"):
        c.check(out, m, d)
    c.teardown(m)


def test_teardown_closes_every_state():
    opened, closed = [], []

    def setup(_m, _d):
        opened.append(object())
        return opened[-1]

    c = Contender("k", "x", "naive", SINGLE, setup=setup, call=lambda st, d: 1, teardown=closed.append)
    ctx = Context(PROFILES["tiny"], "t")
    measure_all(ctx, [c], {"n": 10})
    assert ctx.results[0].status == "ok" and len(opened) == PROFILES["tiny"].repeats
    assert closed == opened


def test_registry_checks_catch_a_wrong_answer():
    c = next(c for c in case_ratelimit.CONTENDERS if c.name == "dict token bucket allow() loop")
    d = case_ratelimit.data(1_000)
    out = c.call(c.setup(None, d), d)
    assert c.check(out, None, d)["same_decisions"] == 1.0
    with pytest.raises(AssertionError, match="differ"):
        c.check([not x for x in out], None, d)


def test_dict_token_bucket_row_is_measured_where_it_differs_by_its_documented_token():
    """On a trace long enough to hold exactly-due requests, the dict bucket's
    decisions differ from sysprims' (it has no float slack): its row is still
    measured, with the share that agrees, and checked per key (within one
    admitted request), instead of an error row that left the table without
    its baseline."""
    c = next(c for c in case_ratelimit.CONTENDERS if c.name == "dict token bucket allow() loop")
    d = case_ratelimit.data(20_000)
    out = c.call(c.setup(None, d), d)
    acc = c.check(out, None, d)
    assert 0.99 < acc["same_decisions"] < 1.0
    worse = list(out)
    for i in [i for i, k in enumerate(d["keys"]) if k == d["keys"][0] and out[i]][:3]:
        worse[i] = False  # three fewer admitted for one key: beyond the one-token slack
    with pytest.raises(AssertionError, match="differs by"):
        c.check(worse, None, d)


def test_head_slices_every_per_item_sequence():
    d = case_ratelimit.data(100)
    h = head(d, 10)
    assert h["n"] == 10 and len(h["keys"]) == len(h["ts"]) == len(h["ids"]) == len(h["ts_list"]) == 10
    assert h["keys"] == d["keys"][:10]


# ---------------------------------------------------------------- the tour reports the bench's measurements


class _FakeTimer:
    """perf_counter that advances a fixed step per call: timings become a pure
    function of the work's call pattern, so two front ends measuring the same
    contender the same way report the same figure."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 0.001
        return self.t


def test_tour_rows_are_the_bench_cases_measurements(monkeypatch):
    import sysprims.bench.core as core
    from sysprims.tour import rows_from_case, step_bloom, tour_profile

    monkeypatch.setattr(core.time, "perf_counter", _FakeTimer())
    rows = rows_from_case(step_bloom, 3_000, 42)
    monkeypatch.setattr(core.time, "perf_counter", _FakeTimer())
    ctx = Context(tour_profile(3_000), "bloom", seed=42)
    case_bloom.run(ctx)
    bench = {(r.case, r.contender): r for r in ctx.results if r.status == "ok"}
    for show, row in zip(step_bloom.SHOW, rows, strict=True):
        ref = bench[(show.case, show.contender)]
        assert row.per_op_ns == pytest.approx(ref.ns_per_op) and row.n == ref.n and row.shape == ref.shape
        assert "first call" in row.note  # the warm-up call is measured and labelled
        base = bench[(show.case, show.baseline)]
        assert row.baseline_seconds / row.n * 1e9 == pytest.approx(base.ns_per_op)


def test_tour_output_names_the_shape_and_no_seed(capsys):
    from sysprims.tour import run_tour

    out = io.StringIO()
    rows = run_tour(size=3_000, only=["bloom", "ratelimit"], out=out)
    text = out.getvalue()
    assert "shape" in text and "first call" in text
    assert not re.search(r"\bseed\b", text, re.I)
    assert {r.shape for r in rows if r.baseline} <= {BATCH, SINGLE}
    assert "MISMATCH" not in text


# ---------------------------------------------------------------- reports


def _run_json(tmp_path, name, rows):
    data = {"schema": 1, "profile": "tiny", "meta": {"date": name}, "results": [r.to_dict() for r in rows]}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return data, path


def test_compare_prints_the_change_per_case(tmp_path):
    old, old_path = _run_json(tmp_path, "old", [Result("bloom", "add", "sysprims add_many", "sysprims", n=10,
                                                       ns_per_op=100.0), Result("bloom", "add", "gone", "x", n=1,
                                                                                 ns_per_op=5.0)])
    new, _ = _run_json(tmp_path, "new", [Result("bloom", "add", "sysprims add_many", "sysprims", n=10,
                                                ns_per_op=125.0), Result("bloom", "add", "added", "x", n=1,
                                                                          ns_per_op=5.0)])
    (c,) = compare_results(old, new)
    assert c["ratio"] == pytest.approx(1.25)
    text = render_comparison(old, new)
    assert "+25.0%" in text and "sysprims add_many" in text and "gone" not in text


def test_cli_compare_flag(tmp_path, capsys):
    from sysprims.cli import main

    shipped = ROOT / "benchmarks" / "results" / "quick.json"
    data = load_results(shipped)
    for r in data["results"]:
        if r["ns_per_op"]:
            r["ns_per_op"] *= 2
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert main(["bench", "--from-json", str(shipped), "--compare", str(old), "-o", str(tmp_path / "out"),
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "change from" in out and "-50.0%" in out


def test_committed_markdown_images_resolve():
    """Every image a committed report links to is a committed file."""
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split())
    docs = [p for p in tracked if p.endswith(".md")]
    checked = 0
    for doc in docs:
        text = (ROOT / doc).read_text()
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            rel = (Path(doc).parent / target).as_posix()
            rel = str(Path(rel))
            assert rel in tracked, f"{doc} links {target}, which is not committed"
            checked += 1
    assert checked >= 1


def test_plots_are_not_tracked_by_pyplot():
    """A figure pyplot tracks is drawn again when a notebook cell ends, so each
    plot showed twice in notebook 10; the plot functions return figures pyplot
    does not hold."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from sysprims.bench.plots import all_figures

    plt.close("all")
    figs = all_figures(load_results(ROOT / "benchmarks" / "results" / "quick.json"))
    assert figs and plt.get_fignums() == []


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_10_shows_each_figure_once(tmp_path):
    """Run notebook 10 as Jupyter would (inline backend): every plotting cell
    shows its figure exactly once (it showed each twice: once as the cell's
    value and once more as a pyplot figure drawn when the cell ended)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "10_performance.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    shown = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "plot_" in cell.source and "import" in cell.source:
            shown[cell.source.splitlines()[-1]] = sum("image/png" in o.get("data", {}) for o in cell.outputs)
    assert len(shown) >= 5 and set(shown.values()) == {1}, shown
