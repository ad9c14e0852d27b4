"""Snowflake IDs: the classic primer API, layouts, decode, batch == loop, clock policies, restarts."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import ids as ref
from sysprims._kernels.ids import decode_snowflakes, fill_consecutive
from sysprims.clock import ManualClock
from sysprims.errors import CapacityError, ClockMovedBackwardsError, InvalidParameterError
from sysprims.ids import (
    CLASSIC_LAYOUT,
    DISCORD,
    TWITTER,
    SnowflakeID,
    SnowflakeLayout,
    decode,
    decode_many,
)

T0 = 1_700_000_000.0  # 2023-11-14, seconds


def test_primer_signature_and_defaults():
    g = SnowflakeID(5)
    assert g.machine_id == 5 and g.epoch == 1609459200000
    x = g.generate()
    parts = g.decode(x)
    assert parts.machine_id == 5
    # the classic bit layout: timestamp << 22 | machine << 12 | sequence
    assert x >> 22 == parts.timestamp_ms - 1609459200000
    assert (x >> 12) & 0x3FF == 5


def test_same_ids_as_the_textbook_generator_on_the_same_clock(clock):
    """The naive textbook generator (tests/reference) and ours agree ID for ID."""
    theirs_clock = ManualClock(T0)
    textbook = ref.TextbookSnowflake(7, clock=theirs_clock.time_ms)
    ours = SnowflakeID(7, clock=clock)
    for step in [0, 0, 1, 0, 3, 0, 0, 1]:
        clock.advance(step / 1000)
        theirs_clock.advance(step / 1000)
        assert ours.generate() == textbook.generate()


@pytest.mark.parametrize("bad", [1024, -1, 4096])
def test_out_of_range_machine_id_is_rejected(bad):
    # the textbook `machine_id & 0x3FF` maps 1024 onto machine 0 (a duplicate source)
    assert ref.TextbookSnowflake(1024, clock=lambda: 0).machine_id == 0
    with pytest.raises(InvalidParameterError, match="machine_id"):
        SnowflakeID(bad)


def test_machine_1023_and_1024_never_collide_in_ours(clock):
    a = SnowflakeID(0, clock=clock)
    b = SnowflakeID(1023, clock=clock)
    assert a.generate() != b.generate()


def test_documented_discord_id():
    # discord.com/developers/docs/reference#snowflakes: 175928847299117063
    p = decode(175928847299117063, "discord")
    assert p.datetime == dt.datetime(2016, 4, 30, 11, 18, 25, 796000, tzinfo=dt.timezone.utc)
    assert (p.worker_id, p.process_id, p.sequence) == (1, 0, 7)


def test_documented_twitter_id():
    # Wikipedia "Snowflake ID": tweet 1541815603606036480 was posted 2022-06-28 16:07:40.105 UTC
    p = decode(1541815603606036480, TWITTER)
    assert p.datetime == dt.datetime(2022, 6, 28, 16, 7, 40, 105000, tzinfo=dt.timezone.utc)
    assert p.timestamp_ms == 1656432460105


def test_presets():
    assert (TWITTER.timestamp_bits, TWITTER.machine_bits, TWITTER.sequence_bits, TWITTER.epoch) == (41, 10, 12, 1288834974657)
    assert (DISCORD.timestamp_bits, DISCORD.worker_bits, DISCORD.epoch) == (42, 5, 1420070400000)
    assert DISCORD.machine_id_of(1, 0) == 32
    assert CLASSIC_LAYOUT.ids_per_ms == 4096


def test_classic_preset_is_the_default_and_seed_is_a_deprecated_alias(clock):
    """The classic primer's layout is named "classic"; the old name "seed" still works for
    0.1 callers but warns, and the module's old constant names warn too."""
    import sysprims.ids as ids_module

    g = SnowflakeID(5, clock=clock)
    x = g.generate()
    assert g.layout is CLASSIC_LAYOUT and CLASSIC_LAYOUT.name == "classic"
    assert decode(x, "classic") == decode(x) == g.decode(x)
    assert SnowflakeID(5, layout="classic", clock=clock).layout is CLASSIC_LAYOUT
    with pytest.warns(DeprecationWarning, match="classic"):
        assert decode(x, "seed") == decode(x)
    with pytest.warns(DeprecationWarning, match="classic"):
        assert SnowflakeID(5, layout="seed", clock=clock).layout is CLASSIC_LAYOUT
    with pytest.warns(DeprecationWarning, match="CLASSIC_LAYOUT"):
        assert ids_module.SEED_LAYOUT is CLASSIC_LAYOUT
    with pytest.warns(DeprecationWarning, match="CLASSIC_EPOCH_MS"):
        assert ids_module.SEED_EPOCH_MS == CLASSIC_LAYOUT.epoch == 1609459200000
    with pytest.raises(AttributeError):
        _ = ids_module.NO_SUCH_LAYOUT


@pytest.mark.parametrize(
    "kwargs",
    [dict(timestamp_bits=42, machine_bits=11, sequence_bits=12), dict(sequence_bits=0), dict(epoch=-1), dict(worker_bits=11)],
)
def test_bad_layouts(kwargs):
    with pytest.raises(InvalidParameterError):
        SnowflakeLayout(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    ts=st.integers(0, (1 << 41) - 1),
    machine=st.integers(0, 1023),
    seq=st.integers(0, 4095),
    layout=st.sampled_from([CLASSIC_LAYOUT, TWITTER, DISCORD]),
)
def test_compose_decode_round_trip(ts, machine, seq, layout):
    x = layout.compose(layout.epoch + ts, machine, seq)
    p = layout.decode(x)
    assert (p.timestamp_ms - layout.epoch, p.machine_id, p.sequence) == (ts, machine, seq)
    got = decode_many(np.array([x]), layout)
    assert (got["timestamp_ms"][0], got["machine_id"][0], got["sequence"][0]) == (p.timestamp_ms, machine, seq)


def test_decode_generate_round_trip(clock):
    g = SnowflakeID(321, layout="twitter", clock=clock)
    for _ in range(5):
        clock.advance(0.0125)
        p = g.decode(g.generate())
        assert p.timestamp_ms == clock.time_ms() and p.machine_id == 321


def test_kernels_match_reference():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 2**63 - 1, size=500, dtype=np.int64)
    n = ids.shape[0]
    ts, m, s = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    decode_snowflakes(ids, np.int64(22), np.int64(12), np.int64(1023), np.int64(4095), ts, m, s)
    for i, v in enumerate(ids.tolist()):
        assert (ts[i], m[i], s[i]) == ref.decode_snowflake(v, 22, 12, 1023, 4095)
    out = np.zeros(10, np.int64)
    want = [0] * 10
    fill_consecutive(out, np.int64(3), np.int64(5), np.int64(2**40))
    ref.fill_consecutive(want, 3, 5, 2**40)
    assert out.tolist() == want


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 9000), st.integers(0, 3)), min_size=1, max_size=6),
    seq_bits=st.sampled_from([1, 3, 12]),
)
def test_generate_many_equals_generate_loop(steps, seq_bits):
    layout = SnowflakeLayout(41, 10, seq_bits)
    c1, c2 = ManualClock(T0), ManualClock(T0)
    a = SnowflakeID(9, layout=layout, clock=c1)
    b = SnowflakeID(9, layout=layout, clock=c2)
    for n, advance_ms in steps:
        got = a.generate_many(n)
        want = [b.generate() for _ in range(n)]
        assert got.dtype == np.int64 and got.tolist() == want
        assert c1.time() == c2.time()
        c1.advance(advance_ms / 1000)
        c2.advance(advance_ms / 1000)


def test_generate_many_fills_each_millisecond_to_the_ceiling(clock):
    """10,000 IDs on a frozen clock: 4096 + 4096 + 1808, one wait per exhausted ms."""
    g = SnowflakeID(3, clock=clock)
    start = clock.time_ms()
    ids = g.generate_many(10_000)
    assert np.all(np.diff(ids) > 0) and len(np.unique(ids)) == 10_000
    ms = decode_many(ids)["timestamp_ms"]
    counts = np.bincount(ms - start)
    assert counts.tolist() == [4096, 4096, 10_000 - 8192]
    assert clock.time_ms() == start + 2


def test_ids_strictly_increase_across_calls(clock):
    g = SnowflakeID(1, clock=clock)
    seen = []
    for i in range(50):
        seen.append(g.generate())
        seen.extend(g.generate_many(i * 37).tolist())
        clock.advance((i % 3) / 1000)
    assert all(x < y for x, y in zip(seen, seen[1:], strict=False))


def test_system_clock_ids_increase():
    g = SnowflakeID(2)
    ids = g.generate_many(20_000)
    assert np.all(np.diff(ids) > 0)
    assert g.generate() > ids[-1]


def test_clock_backwards_raise(clock):
    g = SnowflakeID(1, clock=clock)
    g.generate()
    clock.advance(-0.005)
    with pytest.raises(ClockMovedBackwardsError, match="5 ms"):
        g.generate()
    with pytest.raises(ClockMovedBackwardsError):
        g.generate_many(3)


def test_clock_backwards_wait_is_bounded(clock):
    g = SnowflakeID(1, clock=clock, on_clock_backwards="wait", max_wait_ms=50)
    first = g.generate()
    clock.advance(-0.020)
    second = g.generate()  # waits 20 ms (the manual clock's sleep advances it)
    assert second > first and g.decode(second).timestamp_ms >= g.decode(first).timestamp_ms
    clock.advance(-0.200)
    with pytest.raises(ClockMovedBackwardsError):
        g.generate()


def test_clock_backwards_logical_keeps_issuing_unique_increasing_ids(clock):
    layout = SnowflakeLayout(41, 10, 2)  # 4 IDs per ms: logical time must run ahead
    g = SnowflakeID(1, layout=layout, clock=clock, on_clock_backwards="logical")
    ids = [g.generate()]
    clock.advance(-1.0)
    ids += [g.generate() for _ in range(20)]
    ids += g.generate_many(20).tolist()
    assert all(x < y for x, y in zip(ids, ids[1:], strict=False))
    assert g.clock_backwards_events > 0


def test_high_water_mark_survives_restart(tmp_path, clock):
    state = tmp_path / "hwm"
    g = SnowflakeID(4, clock=clock, state_file=state, reserve_ms=100)
    before = g.generate_many(5000)
    # restart with the clock pushed back behind the issued IDs
    clock.advance(-2.0)
    with pytest.raises(ClockMovedBackwardsError):
        SnowflakeID(4, clock=clock, state_file=state).generate()
    g2 = SnowflakeID(4, clock=clock, state_file=state, on_clock_backwards="logical")
    after = g2.generate_many(5000)
    assert after.min() > before.max()
    # a quick restart within the reserve window, clock unchanged: still above
    clock.advance(2.0)
    g3 = SnowflakeID(4, clock=clock, state_file=state, on_clock_backwards="wait", max_wait_ms=1000)
    assert g3.generate() > after.max()


def test_corrupt_state_file(tmp_path):
    state = tmp_path / "hwm"
    state.write_text("not a number")
    with pytest.raises(InvalidParameterError, match="state_file"):
        SnowflakeID(1, state_file=state)


def test_layout_end_of_time_raises(clock):
    layout = SnowflakeLayout(10, 10, 12, epoch=clock.time_ms())
    g = SnowflakeID(1, layout=layout, clock=clock)
    g.generate()
    clock.advance(1.024)
    with pytest.raises(CapacityError):
        g.generate()


def test_threads_never_share_an_id():
    g = SnowflakeID(6)
    out: list[list[int]] = [[] for _ in range(4)]

    def work(i):
        for _ in range(3000):
            out[i].append(g.generate())
        out[i].extend(g.generate_many(3000).tolist())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for part in out for x in part]
    assert len(set(flat)) == len(flat) == 24_000
    for part in out:  # each thread sees its own IDs in increasing order
        assert all(x < y for x, y in zip(part[:3000], part[1:3000], strict=False))


def _worker(machine_id: int) -> list[int]:
    return SnowflakeID(machine_id).generate_many(20_000).tolist()


def test_processes_on_different_machines_never_collide():
    ctx = mp.get_context("fork")
    with ctx.Pool(3) as pool:
        parts = pool.map(_worker, [1, 2, 3])
    flat = [x for p in parts for x in p]
    assert len(set(flat)) == len(flat)
    assert [decode(p[0]).machine_id for p in parts] == [1, 2, 3]


def test_repr_and_html(clock):
    g = SnowflakeID(3, layout="discord", clock=clock)
    assert "machine_id=3" in repr(g) and "discord" in repr(g)
    assert "<table>" in g._repr_html_() and "4,096 IDs/ms" in g._repr_html_()


def test_bad_arguments():
    with pytest.raises(InvalidParameterError):
        SnowflakeID(1, on_clock_backwards="ignore")
    with pytest.raises(InvalidParameterError):
        SnowflakeID(1, layout="snowflake")
    with pytest.raises(InvalidParameterError):
        SnowflakeID(1).generate_many(-1)
    with pytest.raises(InvalidParameterError):
        decode_many(np.array([1.5]))
    with pytest.raises(InvalidParameterError):
        decode(-1)


@pytest.mark.parametrize("policy", ["raise", "wait", "logical"])
def test_quick_restarts_with_a_state_file_just_work(tmp_path, clock, policy):
    """A generator restarted inside the reserve window (the saved mark lies ahead of
    the clock by design) waits the reserve out on its clock instead of raising, and
    no ID repeats over many quick restarts."""
    state = tmp_path / "hwm"
    rng = np.random.default_rng(7)
    issued: list[int] = []
    for i in range(60):
        g = SnowflakeID(4, clock=clock, state_file=state, reserve_ms=100, on_clock_backwards=policy)
        before = clock.time_ms()
        issued.append(g.generate())
        issued += g.generate_many(int(rng.integers(1, 9000))).tolist()
        if i % 3 == 0:
            issued.append(g.generate())
        waited = clock.time_ms() - before
        assert waited <= 100 + 3  # at most the reserve (+ the ms each exhausted sequence takes)
        clock.advance(float(rng.integers(0, 40)) / 1000.0)  # restart after 0-39 ms
    assert len(set(issued)) == len(issued)
    assert all(x < y for x, y in zip(issued, issued[1:], strict=False))
    if policy != "logical":  # logical issues from the mark at once, ahead of its clock
        assert g.clock_backwards_events == 0


def test_state_file_replacement_syncs_its_folder(tmp_path, clock, monkeypatch):
    import os
    import stat

    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    SnowflakeID(4, clock=clock, state_file=tmp_path / "hwm").generate()
    assert synced == [False, True]  # the file's data, then the folder's entry
