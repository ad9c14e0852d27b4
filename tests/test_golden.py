"""Golden files: the exact bytes of one instance of every persisted kind
(``tests/data/golden/``), and the files sysprims 0.1 wrote for the same
instances (``tests/data/v0_1/``, with the 0.1 kind spellings), which must keep
loading into structures that answer the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from sysprims._format import LEGACY_KINDS, unpack

from .golden_examples import EXAMPLES

DATA = Path(__file__).parent / "data"
STEMS = sorted(EXAMPLES)


@pytest.mark.parametrize("stem", STEMS)
def test_golden_bytes_are_pinned(stem):
    build, _answers = EXAMPLES[stem]
    assert build().to_bytes() == (DATA / "golden" / f"{stem}.bin").read_bytes(), (
        f"the bytes of {stem} changed: a format change needs a new golden file and a reader for the old one"
    )


@pytest.mark.parametrize("release", ["golden", "v0_1"])
@pytest.mark.parametrize("stem", STEMS)
def test_saved_files_load_and_answer_as_built(stem, release):
    build, answers = EXAMPLES[stem]
    cls = type(build())
    path = DATA / release / f"{stem}.bin"
    expected = answers(build())
    assert answers(cls.from_bytes(path.read_bytes())) == expected
    assert answers(cls.load(path, mmap=True)) == expected


def test_v0_1_files_carry_the_old_spellings():
    old = {bytes((DATA / "v0_1" / f"{s}.bin").read_bytes()[16:32]).rstrip(b"\0").decode() for s in STEMS}
    new = {unpack((DATA / "golden" / f"{s}.bin").read_bytes()).kind for s in STEMS}
    assert set(LEGACY_KINDS) <= old  # the 0.1 files really are in the old spellings
    assert not set(LEGACY_KINDS) & new
    assert {LEGACY_KINDS.get(k, k) for k in old} == new


# Layouts added after 0.1 (no 0.1 file, so not in EXAMPLES, whose stems the
# 0.1 fuzz and load-check suites read): pinned here the same way.
def _split_block():
    import sysprims as sp

    bf = sp.BloomFilter(1024, 8, seed=7, layout="split_block")
    bf.add_many([f"key-{i}" for i in range(0, 40, 2)])
    bf.add(b"raw")
    return bf


LATER = {"bloom_split_block": _split_block}


@pytest.mark.parametrize("stem", sorted(LATER))
def test_later_layouts_are_pinned_and_load(stem):
    from .golden_examples import _bloom_answers

    built = LATER[stem]()
    path = DATA / "golden" / f"{stem}.bin"
    assert built.to_bytes() == path.read_bytes(), f"the bytes of {stem} changed"
    cls = type(built)
    expected = _bloom_answers(built)
    assert expected[:40:2] == [True] * 20  # no false negatives in the pinned file
    assert _bloom_answers(cls.from_bytes(path.read_bytes())) == expected
    assert _bloom_answers(cls.load(path, mmap=True)) == expected
