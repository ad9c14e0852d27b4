"""``sysprims shard route | plan`` equal the library's routing and movement reports."""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.cli import main  # noqa: E402
from sysprims.sharding import ConsistentHashRing, JumpHashSharding, movement_report  # noqa: E402


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def keys_file(tmp_path):
    keys = [f"order-{i}" for i in range(5_000)]
    path = tmp_path / "orders.csv"
    path.write_text("id,order\n" + "".join(f"{i},{k}\n" for i, k in enumerate(keys)))
    return path, keys


def test_route_counts_and_output_equal_library(keys_file, tmp_path, capsys):
    path, keys = keys_file
    out = tmp_path / "routed.parquet"
    code, stdout, _ = run(["shard", "route", path, "-c", "order", "--shards", 8, "--batch-rows", 700, "-o", out], capsys)
    assert code == 0
    expected = JumpHashSharding(8).get_shards(keys)
    table = pq.read_table(out)
    assert table.column("key").to_pylist() == keys
    assert table.column("shard").to_pylist() == expected.tolist()
    counts = np.bincount(expected, minlength=8)
    for shard, count in enumerate(counts.tolist()):
        assert f"{shard:>5}  {count:>12,}" in stdout


def test_route_ring_strategy(keys_file, capsys):
    path, keys = keys_file
    code, stdout, _ = run(["shard", "route", path, "-c", "order", "--shards", 3, "--strategy", "ring", "--vnodes", 50], capsys)
    assert code == 0
    counts = np.bincount(ConsistentHashRing([0, 1, 2], vnodes=50).get_shards(keys), minlength=3)
    assert f"{0:>5}  {counts[0]:>12,}" in stdout


def test_plan_reports_every_strategy(capsys):
    code, stdout, _ = run(["shard", "plan", "--from", 16, "--to", 20, "--keys", 50_000], capsys)
    assert code == 0
    keys = np.random.default_rng(0).integers(0, 2**63 - 1, size=50_000, dtype=np.int64)
    rep = movement_report(JumpHashSharding(16), JumpHashSharding(20), keys)
    line = next(ln for ln in stdout.splitlines() if ln.startswith("jump"))
    assert f"{rep.moved:,}" in line
    assert rep.moved_fraction == pytest.approx(0.2, abs=0.01)  # jump hash moves 1 - 16/20 of keys


def test_plan_on_input_and_errors(keys_file, capsys):
    path, _ = keys_file
    code, stdout, _ = run(["shard", "plan", "--from", 4, "--to", 5, "--input", path, "-c", "order", "--strategy", "ring"], capsys)
    assert code == 0 and "5,000 keys" in stdout and stdout.count("\nring") == 1
    code, _, err = run(["shard", "route", path, "-c", "nope", "--shards", 2], capsys)
    assert code == 1 and "available columns: 'id', 'order'" in err
    code, _, err = run(["shard", "route", path, "-c", "order", "--shards", 0], capsys)
    assert code == 2
