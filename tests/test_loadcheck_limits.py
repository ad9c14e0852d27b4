"""Sizes that cannot fit are refused with an InvalidParameterError that names
the size (not an instant MemoryError), on the library's constructors and batch
calls and on the CLI; an empty filter's estimated count is +0.0."""

from __future__ import annotations

import errno
import math
import os

import pytest

import sysprims as sp
from sysprims.clock import ManualClock
from sysprims.errors import InvalidParameterError


@pytest.mark.parametrize(
    "make",
    [
        lambda: sp.BloomFilter(1024, 3),
        lambda: sp.BloomFilter(1024, 3, blocked=True),
        lambda: sp.CountingBloomFilter(1024, 3),
        lambda: sp.ScalableBloomFilter(100, 0.01),
    ],
)
def test_approx_count_of_an_empty_filter_is_positive_zero(make):
    count = make().approx_count()
    assert count == 0.0 and math.copysign(1.0, count) == 1.0
    assert "-0" not in repr(make())


def test_bloom_for_a_capacity_that_cannot_fit_names_the_size():
    with pytest.raises(InvalidParameterError, match=r"capacity=1,000,000,000,000,000.*bits needs .*PiB"):
        sp.BloomFilter.for_capacity(10**15, 1e-9)
    with pytest.raises(InvalidParameterError, match="size=1152921504606846976 bits"):
        sp.BloomFilter(2**60, 3)
    with pytest.raises(InvalidParameterError, match="size=1152921504606846976 counters"):
        sp.CountingBloomFilter(2**60, 3)


def test_scalable_growth_that_overflows_is_refused_when_the_stage_is_needed():
    sbf = sp.ScalableBloomFilter(1, 0.01, growth=1e300)
    with pytest.raises(InvalidParameterError, match=r"capacity=1e\+300.* more than this machine's memory") as info:
        sbf.add_many([f"k{i}" for i in range(100)])
    assert len(str(info.value)) < 300


def test_countmin_that_cannot_fit_names_its_size():
    with pytest.raises(InvalidParameterError, match="width=1099511627776 x depth=4096"):
        sp.CountMinSketch(1 << 40, 4096)


def test_generate_many_that_cannot_fit_names_n():
    gen = sp.SnowflakeID(1, clock=ManualClock(1_700_000_000.0))
    with pytest.raises(InvalidParameterError, match=r"generate_many\(n=1000000000000\)"):
        gen.generate_many(10**12)
    assert gen.generate_many(3).shape == (3,)


def test_suggest_with_a_huge_limit_returns_every_completion():
    ac = sp.Autocomplete.from_words(["apple", "app", "banana"], [3, 5, 1])
    assert ac.suggest("a", limit=10**12) == ["app", "apple"]
    assert ac.suggest_with_scores("", limit=10**12) == [("app", 5.0), ("apple", 3.0), ("banana", 1.0)]
    assert ac.suggest_many(["a", "b"], limit=10**12).tolist() == [["app", "apple"], ["banana"]]
    system = sp.AutocompleteSystem()
    for q in ["cat", "car", "cat"]:
        system.add_search(q)
    assert system.suggest("ca", limit=10**12) == ["cat", "car"]
    trie = sp.Trie()
    trie.insert("dog", 2)
    assert trie.autocomplete("d", limit=10**12) == [("dog", 2)]


def test_feedstore_that_cannot_fit_names_its_size():
    with pytest.raises(InvalidParameterError, match="users with timelines of capacity=1048576"):
        sp.FeedStore(2**31 - 1, capacity=1 << 20)


# ------------------------------------------------------------------ CLI: disk errors are errors, not tracebacks


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("".join(f"user-{i}\n" for i in range(100)))
    return path


def test_cli_output_that_is_a_directory_is_an_error(keys_file, tmp_path, capsys):
    from sysprims.cli import main

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(["bloom", "build", str(keys_file), "-o", str(out_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("sysprims: error: ") and "directory" in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_cli_full_disk_is_an_error_and_leaves_no_temporary(keys_file, tmp_path, capsys, monkeypatch):
    from sysprims.cli import main

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "filter.bloom"
    code = main(["bloom", "build", str(keys_file), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == f"sysprims: error: {os.strerror(errno.ENOSPC)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.txt"]
