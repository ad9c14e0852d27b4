"""``bloom dedup`` and ``cms top --window`` on small real CSV and Parquet files,
checked against brute force (first-seen rows; per-window exact counts)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("dedup")
    rng = np.random.default_rng(21)
    n = 6000
    users = [f"user-{r}" for r in (rng.zipf(1.3, n) % 2000).tolist()]
    ts = np.sort(rng.uniform(0, 600, n)).round(3)
    amount = rng.integers(0, 1000, n)
    pq.write_table(pa.table({"user": users, "ts": ts, "amount": amount}), d / "ev.parquet")
    (d / "ev.csv").write_text(
        "user,ts,amount\n"
        + "".join(f"{u},{t},{a}\n" for u, t, a in zip(users, ts, amount, strict=True))
    )
    (d / "ev.txt").write_text("\n".join(users) + "\n")
    stamps = pa.array((ts * 1e9).astype("int64").astype("datetime64[ns]"))
    pq.write_table(pa.table({"user": users, "ts": stamps}), d / "ev_ts.parquet")
    return d, users, ts, amount


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def first_seen(users):
    seen, rows = set(), []
    for i, u in enumerate(users):
        if u not in seen:
            seen.add(u)
            rows.append(i)
    return rows


@pytest.mark.parametrize("source", ["ev.parquet", "ev.csv"])
@pytest.mark.parametrize("batch", [1000, 7])
def test_dedup_writes_exactly_the_first_seen_rows(files, tmp_path, capsys, source, batch):
    d, users, ts, amount = files
    out = tmp_path / "first.parquet"
    code, stdout, err = run(
        [
            "bloom",
            "dedup",
            d / source,
            "-c",
            "user",
            "--fp",
            1e-7,
            "--batch-rows",
            batch,
            "-o",
            out,
        ],
        capsys,
    )
    assert code == 0, err
    rows = first_seen(users)
    table = pq.read_table(out)
    assert table.column_names == ["user", "ts", "amount"]
    assert table.column("user").to_pylist() == [users[i] for i in rows]
    got_amount = [
        int(a) for a in table.column("amount").to_pylist()
    ]  # CSV columns come back as strings
    assert got_amount == [int(amount[i]) for i in rows]
    assert f"kept {len(rows):,} first-seen, dropped {len(users) - len(rows):,}" in stdout


def test_dedup_text_input_and_summary_only(files, capsys):
    d, users, _, _ = files
    code, stdout, _ = run(["bloom", "dedup", d / "ev.txt", "--fp", 1e-7], capsys)
    assert code == 0 and f"kept {len(first_seen(users)):,} first-seen" in stdout


def test_dedup_reports_the_expected_false_positive_drops(tmp_path, capsys):
    # every key unique, the filter far too small: the drops are all false positives
    n = 20_000
    path = tmp_path / "u.txt"
    path.write_text("\n".join(f"k{i}" for i in range(n)) + "\n")
    code, stdout, _ = run(
        ["bloom", "dedup", path, "--capacity", 2000, "--fp", 0.05, "--batch-rows", 500], capsys
    )
    assert code == 0
    kept = int(stdout.split("kept ")[1].split(" ")[0].replace(",", ""))
    expected = float(stdout.split("false positives: ")[1].split(" ")[0].replace(",", ""))
    actual = n - kept
    assert actual > 1000
    # drops are a sum of independent Bernoulli trials: within 5 sigma of their expectation
    assert abs(actual - expected) < 5 * math.sqrt(expected) + 1


def test_dedup_errors(files, tmp_path, capsys):
    d, *_ = files
    code, _, err = run(["bloom", "dedup", d / "ev.parquet", "-c", "nope"], capsys)
    assert code == 1 and "available columns" in err
    code, _, err = run(["bloom", "dedup", d / "ev.parquet"], capsys)
    assert code == 2 and "--column" in err


def _truth(users, ts, window):
    per: dict[int, Counter] = {}
    for u, t in zip(users, ts, strict=True):
        per.setdefault(math.floor(t / window), Counter())[u] += 1
    return per


@pytest.mark.parametrize("source", ["ev.parquet", "ev.csv"])
def test_cms_top_per_window_equals_brute_force(files, tmp_path, capsys, source):
    d, users, ts, _ = files
    out = tmp_path / "top.parquet"
    args = ["cms", "top", d / source, "-c", "user", "--time-column", "ts", "--window", "1m", "--k", 3,
            "--epsilon", 1e-5, "--batch-rows", 999, "-o", out]  # fmt: skip
    code, stdout, err = run(args, capsys)
    assert code == 0, err
    table = pq.read_table(out).to_pylist()
    truth = _truth(users, [float(t) for t in ts], 60.0)
    assert sorted({r["window_start"] for r in table}) == [b * 60.0 for b in sorted(truth)]
    for b, counts in truth.items():
        rows = [r for r in table if r["window_start"] == b * 60.0]
        assert [r["rank"] for r in rows] == [1, 2, 3]
        assert [r["count"] for r in rows] == sorted(counts.values(), reverse=True)[:3]
        assert all(counts[r["key"]] == r["count"] for r in rows)


def test_cms_top_window_keeps_timestamps_and_prints(files, tmp_path, capsys):
    d, users, ts, _ = files
    out = tmp_path / "top.parquet"
    code, _, err = run(["cms", "top", d / "ev_ts.parquet", "-c", "user", "--time-column", "ts", "--window", "300s",
                        "--k", 1, "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    t = pq.read_table(out)
    assert pa.types.is_timestamp(t.schema.field("window_start").type) and t.num_rows == 2
    code, stdout, _ = run(["cms", "top", d / "ev.parquet", "-c", "user", "--time-column", "ts", "--window", "600",
                           "--k", 1], capsys)  # fmt: skip
    top = Counter(users).most_common(1)[0]
    assert code == 0 and stdout.split("\n")[0].split("\t")[2:] == [top[0], str(top[1])]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--window", "60s"], "--time-column"),
        (["--time-column", "ts"], "--window"),
        (["--window", "soon", "--time-column", "ts"], "duration"),
    ],
)
def test_cms_top_window_usage_errors(files, capsys, extra, message):
    d, *_ = files
    code, _, err = run(["cms", "top", d / "ev.parquet", "-c", "user", *extra], capsys)
    assert code == 2 and message in err


def _test_and_add(bf, keys):
    """The dedup kernel over ``keys`` (any key form) on ``bf``'s bits; returns ``seen``."""
    from sysprims._kernels.dedup import bloom_test_and_add
    from sysprims.hashing import hashes_for

    hashes = hashes_for(keys, bf.seed)
    seen = np.ones(hashes.shape[0], dtype=np.bool_)  # every entry must be written
    bloom_test_and_add(hashes, np.int64(bf.num_hash_functions), np.uint64(bf._marg), bf._b, bf._bits, seen)
    return seen


def _keys_in_form(keys, form):
    import pyarrow as pa

    from sysprims.hashing import hash_keys

    if form == "list":
        return keys
    if form == "arrow":
        return pa.array(keys)
    if form == "hashed":
        return hash_keys(keys, 2)
    return np.array([int(k[1:]) for k in keys], dtype=np.uint64)  # "int": the numbers themselves


@pytest.mark.parametrize("layout", ["standard", "blocked", "split_block"])
@pytest.mark.parametrize("form", ["list", "arrow", "hashed", "int"])
def test_test_and_add_kernel_equals_the_contains_then_add_loop(layout, form):
    from sysprims.bloom import BloomFilter

    rng = np.random.default_rng(5)
    # repeats at every distance, inside one pipelined block of 16 keys and across blocks
    keys = [f"k{v}" for v in rng.integers(0, 400, 3000).tolist()] + ["k7"] * 20 + ["k9001", "k9001"]
    batch = _keys_in_form(keys, form)
    ref_keys = keys if form != "int" else [int(k[1:]) for k in keys]
    fast = BloomFilter.for_capacity(300, 0.05, seed=2, layout=layout)  # small: false positives occur
    slow = BloomFilter.for_capacity(300, 0.05, seed=2, layout=layout)
    seen = _test_and_add(fast, batch)
    expect = []
    for key in ref_keys:
        expect.append(slow.contains(key))
        if not expect[-1]:
            slow.add(key)
    assert seen.tolist() == expect and fast == slow


@pytest.mark.parametrize("layout", ["standard", "split_block"])
def test_test_and_add_kernel_catches_every_repeat_against_a_set(layout):
    """First occurrences against a brute-force set: every repeat (also the next key,
    inside the same block) is reported seen; a first occurrence is reported seen
    only by a false positive, at about the filter's rate."""
    from sysprims.bloom import BloomFilter

    rng = np.random.default_rng(11)
    values = rng.integers(0, 30_000, 40_000)
    values[1::7] = values[0::7][: len(values[1::7])]  # a key repeated right after itself
    keys = [f"user-{v}" for v in values.tolist()]
    bf = BloomFilter.for_capacity(30_000, 0.01, seed=2, layout=layout)
    seen_before: set[str] = set()
    first = []
    for key in keys:
        first.append(key not in seen_before)
        seen_before.add(key)
    seen = _test_and_add(bf, keys)
    first = np.array(first)
    assert seen[~first].all()  # no repeat is ever kept
    false_drops = int(seen[first].sum())
    assert false_drops <= 3 * 0.01 * first.sum()  # false positives only, below 3x the target rate
    assert bf.contains_many(keys).all()  # every key was added


@pytest.mark.parametrize("source", ["ev.txt", "ev.parquet"])
def test_dedup_progress_counts_rows(files, capsys, monkeypatch, source):
    """The progress bar advances by the rows of each batch (the hashed batches travel
    with their table), for text and for columnar inputs."""
    import contextlib

    d, users, *_ = files
    updates = []

    @contextlib.contextmanager
    def recording(total=None, desc=""):
        class Bar:
            def update(self, n):
                if desc == "bloom dedup":  # not the first pass that counts a text input's rows
                    updates.append(n)

        yield Bar()

    monkeypatch.setattr("sysprims.cli._common.progress", recording)
    col = ["-c", "user"] if source.endswith(".parquet") else []
    code, _, err = run(["bloom", "dedup", d / source, *col, "--batch-rows", 1000], capsys)
    assert code == 0, err
    assert sum(updates) == len(users) and max(updates) == 1000
