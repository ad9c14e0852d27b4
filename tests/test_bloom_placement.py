"""Where a Bloom filter's bits live: every bit array starts on a 64-byte cache
line (so a 512-bit block is one line, not two), however the filter was made;
large ones are advised transparent huge pages; placement changes no bit."""

from __future__ import annotations

import mmap
import os
import pickle
import sys

import numpy as np
import pytest

import sysprims as sp
from sysprims import _memory
from sysprims.errors import InvalidParameterError

LAYOUTS = ["standard", "blocked", "split_block"]


def _aligned(a: np.ndarray) -> bool:
    return a.ctypes.data % 64 == 0


def _filled(layout: str, n: int) -> sp.BloomFilter:
    bf = sp.BloomFilter.for_capacity(n, 0.01, layout=layout)
    bf.add_many(np.arange(n // 2, dtype=np.int64))
    return bf


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [1000, 50_000, 3_000_000])
def test_every_way_of_making_a_filter_starts_its_bits_on_a_cache_line(layout, n, tmp_path):
    bf = _filled(layout, n)
    path = tmp_path / "f.spbf"
    bf.save(path)
    made = {
        "for_capacity": bf,
        "copy": bf.copy(),
        "union": bf | bf.copy(),
        "from_bytes": sp.BloomFilter.from_bytes(bf.to_bytes()),
        "pickle": pickle.loads(pickle.dumps(bf)),
        "load": sp.BloomFilter.load(path),
        "load mmap": sp.BloomFilter.load(path, mmap=True),
    }
    added = np.arange(n // 2, dtype=np.int64)
    probe = np.arange(n // 4, n, dtype=np.int64)  # half added, half absent
    want = bf.contains_many(probe)
    for how, f in made.items():
        assert _aligned(f.bits), how
        assert f == bf, how
        assert f.contains_many(added).all(), how  # read-only mapped bits too
        assert np.array_equal(f.contains_many(probe), want), how
        assert [f.contains(int(x)) for x in probe[-50:]] == want[-50:].tolist(), how
    assert made["copy"].bits.flags.writeable and made["load"].bits.flags.writeable
    assert not made["load mmap"].bits.flags.writeable


def test_the_key_batch_argument_of_intersection_is_built_on_a_cache_line():
    bf = _filled("split_block", 20_000)
    both = bf.intersection(np.arange(10_000, dtype=np.int64))
    assert _aligned(both.bits)
    assert both.contains_many(np.arange(10_000, dtype=np.int64)).all()


@pytest.mark.parametrize("shape", [1, 7, 1000, (3, 5), 600_000, _memory.HUGEPAGE_MIN // 8 + 3])
def test_zeros_are_zeroed_writable_aligned_and_of_the_asked_shape(shape):
    a = _memory.zeros("x", shape, np.uint64)
    dims = (shape,) if isinstance(shape, int) else shape
    assert a.shape == dims and a.dtype == np.uint64
    assert _aligned(a) and a.flags.writeable and a.flags.c_contiguous
    assert not a.any()
    a[...] = 7
    assert int(a.sum()) == 7 * a.size
    c = _memory.aligned_copy("y", a)
    assert _aligned(c) and np.array_equal(c, a) and not np.shares_memory(c, a)


def test_a_refused_size_still_names_itself():
    with pytest.raises(InvalidParameterError, match="needs"):
        _memory.zeros("a huge thing", 1 << 62, np.uint64)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_large_bit_array_is_private_to_its_process():
    a = _memory.zeros("x", _memory.HUGEPAGE_MIN // 8, np.uint64)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        a[:] = 5
        os._exit(0)
    os.waitpid(pid, 0)
    assert not a.any()


def _vm_flags_of(addr: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds ``addr``."""
    flags: list[str] = []
    inside = False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and head == "VmFlags:":
                flags = line.split()[1:]
    return flags


def _owner(a: np.ndarray) -> object:
    """The object at the bottom of ``a``'s chain of bases: what owns its memory."""
    owner: object = a
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return owner.obj if isinstance(owner, memoryview) else owner


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are Linux's")
def test_a_large_filter_is_advised_huge_pages_and_a_small_one_is_not():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as fh:
            if "[never]" in fh.read():
                pytest.skip("transparent huge pages are off on this machine")
    except OSError:
        pytest.skip("no transparent huge pages on this kernel")
    big = sp.BloomFilter.for_capacity(5_000_000, 0.01, layout="split_block")
    assert big.nbytes >= 4 << 20
    assert isinstance(_owner(big.bits), mmap.mmap)
    assert "hg" in _vm_flags_of(big.bits.ctypes.data)
    # A small filter is not given a mapping (nor advice) of its own: its bits
    # are an ordinary NumPy allocation. Whether the heap page under it carries
    # the advice is not ours to say: NumPy advises its own large allocations,
    # and once glibc's mmap threshold has risen those come from the heap, whose
    # advised pages later serve small arrays. Make that happen first, so the
    # test checks what is ours however the suite ran before it.
    for size in (5 << 20, 12 << 20, 30 << 20):
        del_me = np.ones(size, np.uint8)
        del del_me
    held = [np.ones(5 << 20, np.uint8) for _ in range(3)]
    del held
    for _ in range(200):
        small = sp.BloomFilter.for_capacity(10_000, 0.01)
        assert isinstance(_owner(small.bits), np.ndarray)
        assert small.nbytes < _memory.HUGEPAGE_MIN
