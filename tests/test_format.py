"""The binary container: round trips, golden bytes, and every kind of damage detected."""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims import SerializationError
from sysprims._format import FORMAT_VERSION, MAGIC, Container, Persistable, load, pack, save, unpack

GOLDEN = Path(__file__).parent / "data" / "container_v1.bin"


def golden_blob() -> bytes:
    return pack(
        "example",
        {"capacity": 1000, "rate": 0.01, "name": "golden"},
        {"bits": np.arange(5, dtype=np.uint64), "counts": np.array([[1, 2], [3, 4]], dtype=np.uint32)},
        seed=42,
    )


def test_golden_file_pins_the_format():
    # The golden file was written once by pack(); any change to the layout breaks this.
    assert GOLDEN.read_bytes() == golden_blob()
    c = unpack(GOLDEN.read_bytes(), kind="example")
    assert (c.kind, c.seed, c.version, c.hash_id) == ("example", 42, 1, 1)
    assert c.params == {"capacity": 1000, "rate": 0.01, "name": "golden"}
    assert c.arrays["bits"].tolist() == [0, 1, 2, 3, 4]
    assert c.arrays["counts"].tolist() == [[1, 2], [3, 4]]


def test_header_layout():
    blob = golden_blob()
    assert blob[:8] == MAGIC == b"SYSPRIMS"
    version, hash_id, seed = struct.unpack_from("<HHI", blob, 8)
    assert (version, hash_id, seed) == (FORMAT_VERSION, 1, 42)
    assert blob[16:32].rstrip(b"\x00") == b"example"
    total = struct.unpack_from("<Q", blob, 48)[0]
    assert total == len(blob)
    assert struct.unpack_from("<I", blob, len(blob) - 4)[0] == zlib.crc32(blob[:-4])
    assert (64 + struct.unpack_from("<I", blob, 32)[0]) % 64 == 0  # payload is 64-byte aligned


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)), max_size=4),
    st.lists(st.integers(0, 2**64 - 1), max_size=20),
    st.integers(0, 2**32 - 1),
)
def test_round_trip(params, values, seed):
    arrays = {"v": np.array(values, dtype=np.uint64), "f": np.linspace(0, 1, len(values))}
    c = unpack(pack("k", params, arrays, seed=seed))
    assert c.params == params and c.seed == seed
    assert np.array_equal(c.arrays["v"], arrays["v"]) and np.array_equal(c.arrays["f"], arrays["f"])


def test_big_endian_input_is_stored_little_endian():
    arr = np.arange(4, dtype=">u4")
    c = unpack(pack("k", {}, {"a": arr}))
    assert c.arrays["a"].dtype == np.dtype("<u4") and c.arrays["a"].tolist() == [0, 1, 2, 3]


def test_every_truncation_is_detected():
    blob = golden_blob()
    for cut in range(len(blob)):
        with pytest.raises(SerializationError):
            unpack(blob[:cut])


def test_every_single_byte_flip_is_detected():
    blob = bytearray(golden_blob())
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x5A
        with pytest.raises(SerializationError):
            unpack(bytes(damaged))


def test_trailing_garbage_wrong_kind_and_version():
    blob = golden_blob()
    with pytest.raises(SerializationError, match="extra bytes"):
        unpack(blob + b"\x00")
    with pytest.raises(SerializationError, match="expected a 'bloom' container, got 'example'"):
        unpack(blob, kind="bloom")
    with pytest.raises(SerializationError, match="magic"):
        unpack(b"NOTSYSPR" + blob[8:])
    future = bytearray(blob)
    struct.pack_into("<H", future, 8, FORMAT_VERSION + 1)
    struct.pack_into("<I", future, 56, zlib.crc32(bytes(future[:56])))
    with pytest.raises(SerializationError, match="version 2 is not supported"):
        unpack(bytes(future))


def test_save_load_and_mmap(tmp_path):
    path = tmp_path / "x.bin"
    save(path, golden_blob())
    assert load(path).arrays["bits"].tolist() == [0, 1, 2, 3, 4]
    mapped = load(path, kind="example", mmap=True)
    assert mapped.arrays["bits"].tolist() == [0, 1, 2, 3, 4]
    assert not mapped.arrays["bits"].flags.writeable
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]  # no temporary file left behind
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(SerializationError):
        load(tmp_path / "empty.bin", mmap=True)
    with pytest.raises(SerializationError):
        load(tmp_path / "empty.bin")


class Tally(Persistable):
    _KIND = "tally"

    def __init__(self, counts: np.ndarray, seed: int = 0):
        self.counts = counts
        self.seed = seed

    def _to_state(self):
        return {"n": int(self.counts.size)}, {"counts": self.counts}, self.seed

    @classmethod
    def _from_state(cls, container: Container):
        return cls(container.arrays["counts"], container.seed)


def test_persistable_mixin(tmp_path):
    t = Tally(np.array([3, 1, 4], dtype=np.int64), seed=9)
    t2 = Tally.from_bytes(t.to_bytes())
    assert t2.counts.tolist() == [3, 1, 4] and t2.seed == 9
    t3 = pickle.loads(pickle.dumps(t))
    assert t3.counts.tolist() == [3, 1, 4] and t3.seed == 9
    t.save(tmp_path / "t.sp")
    assert Tally.load(tmp_path / "t.sp", mmap=True).counts.tolist() == [3, 1, 4]
    with pytest.raises(SerializationError, match="expected a 'tally' container"):
        Tally.from_bytes(golden_blob())
