"""``sysprims limit replay`` equals RateLimiter.allow_many on the same log."""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import click  # noqa: E402

from sysprims.cli import main  # noqa: E402
from sysprims.cli.cmd_limit import limiter_params, parse_rate  # noqa: E402
from sysprims.ratelimit import RateLimiter  # noqa: E402


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    d = tmp_path_factory.mktemp("log")
    rng = np.random.default_rng(3)
    n = 30_000
    users = [f"u{r}" for r in (rng.zipf(1.5, size=n) % 500).tolist()]
    ts = np.sort(rng.uniform(0, 60, size=n))
    pq.write_table(pa.table({"user": users, "ts": ts}), d / "log.parquet")
    (d / "log.csv").write_text("user,ts\n" + "".join(f"{u},{t!r}\n" for u, t in zip(users, ts.tolist(), strict=True)))
    return d, users, ts


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("source", ["log.parquet", "log.csv"])
@pytest.mark.parametrize(
    "algorithm, rate, burst",
    [("token-bucket", "5/s", 10), ("sliding-window-log", "20/10s", None), ("fixed-window", "300/min", None)],
)
def test_replay_equals_library(log, tmp_path, capsys, source, algorithm, rate, burst):
    d, users, ts = log
    out = tmp_path / "dec.parquet"
    args = ["limit", "replay", d / source, "--key-column", "user", "--time-column", "ts",
            "--algorithm", algorithm, "--rate", rate, "--batch-rows", 7_000, "-o", out]
    if burst is not None:
        args += ["--burst", burst]
    code, stdout, err = run(args, capsys)
    assert code == 0, err
    algo = algorithm.replace("-", "_")
    expected = RateLimiter(algo, **limiter_params(algo, rate, burst)).allow_many(users, ts)
    got = pq.read_table(out).column("allowed").to_numpy()
    assert np.array_equal(got, expected)
    denied = int((~expected).sum())
    assert f"{len(users):,} requests, {int(expected.sum()):,} allowed, {denied:,} denied" in stdout
    worst = max(set(users), key=lambda u: int(sum(1 for x, a in zip(users, expected, strict=True) if x == u and not a)))
    assert stdout.split("most limited keys:")[1].split()[0] == worst


def test_parse_rate_and_params():
    assert parse_rate("100/s") == (100.0, 1.0)
    assert parse_rate("6000/min") == (6000.0, 60.0)
    assert parse_rate("10/5s") == (10.0, 5.0)
    assert limiter_params("token_bucket", "100/s", 20) == {"capacity": 20, "refill_rate": 100.0}
    assert limiter_params("sliding_window_counter", "5/h", None) == {"max_requests": 5, "window_seconds": 3600.0}
    for bad in ("fast", "10/fortnight", "0/s", "-1/s"):
        with pytest.raises(click.BadParameter):
            parse_rate(bad)
    with pytest.raises(click.BadParameter, match="--burst applies"):
        limiter_params("fixed_window", "10/s", 3)


def test_out_of_order_log_is_rejected_unless_sorted(tmp_path, capsys):
    path = tmp_path / "ooo.csv"
    path.write_text("user,ts\na,2.0\na,1.0\n")
    code, _, err = run(["limit", "replay", path, "--key-column", "user", "--time-column", "ts", "--rate", "1/s"], capsys)
    assert code == 1 and "order" in err.lower()
    code, stdout, _ = run(["limit", "replay", path, "--key-column", "user", "--time-column", "ts", "--rate", "1/s", "--sort"], capsys)
    assert code == 0 and "2 requests" in stdout


def _paced_log(tmp_path, scale):
    """Ten requests one second apart, as integers of 1/scale s since the epoch."""
    path = tmp_path / f"paced_{scale}.csv"
    start = 1_700_000_000
    path.write_text("user,ts\n" + "".join(f"a,{(start + i) * scale}\n" for i in range(10)))
    return path


@pytest.mark.parametrize("scale, unit", [(1, "seconds"), (1000, "milliseconds"), (10**9, "nanoseconds")])
def test_integer_epoch_times_are_read_in_their_inferred_unit(tmp_path, capsys, scale, unit):
    path = _paced_log(tmp_path, scale)
    code, stdout, err = run(["limit", "replay", path, "--key-column", "user", "--time-column", "ts",
                             "--rate", "1/s", "--burst", 1], capsys)
    assert code == 0, err
    assert "10 requests, 10 allowed, 0 denied" in stdout
    assert f"read as {unit} (inferred" in err


def test_an_explicit_time_unit_wins_over_inference(tmp_path, capsys):
    path = _paced_log(tmp_path, 1)
    base = ["limit", "replay", path, "--key-column", "user", "--time-column", "ts", "--rate", "1/s",
            "--burst", 1]
    code, stdout, err = run([*base, "--time-unit", "s"], capsys)
    assert code == 0 and "10 allowed, 0 denied" in stdout and "inferred" not in err
    # the same numbers read as milliseconds: ten requests within 9 ms
    code, stdout, err = run([*base, "--time-unit", "ms"], capsys)
    assert code == 0 and "10 requests, 1 allowed, 9 denied" in stdout and "inferred" not in err
    code, _, err = run([*base, "--time-unit", "minutes"], capsys)
    assert code != 0 and "--time-unit" in err


def test_time_unit_with_a_timestamp_column_is_an_error(tmp_path, capsys):
    path = tmp_path / "stamps.parquet"
    ts = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:01"], dtype="datetime64[ns]")
    pq.write_table(pa.table({"user": ["a", "a"], "ts": ts}), path)
    base = ["limit", "replay", path, "--key-column", "user", "--time-column", "ts", "--rate", "1/s",
            "--burst", 1]
    code, stdout, err = run(base, capsys)
    assert code == 0 and "2 requests, 2 allowed" in stdout and "inferred" not in err
    code, _, err = run([*base, "--time-unit", "ms"], capsys)
    assert code == 1 and "carry their own unit" in err
