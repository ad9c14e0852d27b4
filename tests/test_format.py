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


# ------------------------------------------------------------------ temporaries of killed writers


_HELD_WRITER = r"""
import os, sys
import numpy as np
import sysprims._format as F

def held(fd):  # the blob is written; stop here until the parent says so
    print("WRITTEN", flush=True)
    sys.stdin.readline()

F.os.fsync = held
F.save(sys.argv[1], F.pack("example", {}, {"big": np.ones(1 << 20, np.uint64)}))
print("SAVED", flush=True)
"""


def _start_writer(target):
    import os
    import subprocess
    import sys

    import sysprims

    src = str(Path(sysprims.__file__).resolve().parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", _HELD_WRITER, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env=dict(os.environ, PYTHONPATH=src),
    )
    assert proc.stdout.readline().strip() == "WRITTEN"
    return proc


def _temporaries(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def test_save_removes_the_temporary_of_a_writer_killed_mid_write(tmp_path):
    import signal

    target = tmp_path / "x.bin"
    proc = _start_writer(target)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (left,) = _temporaries(tmp_path, "x.bin")
    assert (tmp_path / left).stat().st_size > 8 << 20  # the killed writer's 8 MB
    save(target, golden_blob())
    assert _temporaries(tmp_path, "x.bin") == []
    assert target.read_bytes() == golden_blob()


def test_save_keeps_the_temporary_of_a_live_writer(tmp_path):
    target = tmp_path / "x.bin"
    proc = _start_writer(target)
    try:
        (held,) = _temporaries(tmp_path, "x.bin")
        save(target, golden_blob())  # another writer: must not delete the live one's file
        assert _temporaries(tmp_path, "x.bin") == [held]
    finally:
        out, _ = proc.communicate("go\n", timeout=60)
    assert out.strip() == "SAVED" and proc.returncode == 0
    assert _temporaries(tmp_path, "x.bin") == []
    assert unpack(target.read_bytes()).arrays["big"].shape == (1 << 20,)  # the live writer's replace won


def test_save_removes_leftovers_named_as_0_1_named_them_and_only_those(tmp_path):
    target = tmp_path / "x.bin"
    (tmp_path / ".x.bin.k2j4h5a_.tmp").write_bytes(b"half a file")
    (tmp_path / ".y.bin.k2j4h5a_.tmp").write_bytes(b"another target's")
    (tmp_path / "x.bin.tmp").write_bytes(b"not a temporary name")
    save(target, golden_blob())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".y.bin.k2j4h5a_.tmp", "x.bin", "x.bin.tmp"]


def test_atomic_output_cleans_stale_partials_too(tmp_path):
    from sysprims.io import atomic_output

    target = tmp_path / "out.parquet"
    (tmp_path / ".out.parquet.abcd1234.partial").write_bytes(b"killed run")
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]
    assert target.read_bytes() == b"data"


def test_pack_errors_are_serialization_errors():
    with pytest.raises(SerializationError, match="kind"):
        pack("Bloom-Counting", {})
    with pytest.raises(SerializationError, match="dtype"):
        pack("example", {}, {"o": np.array(["a"], dtype=object)})


def test_hash_id_and_array_layout_are_checked():
    from .container_tools import decode

    raw = decode(golden_blob())
    raw.hash_id = 7
    with pytest.raises(SerializationError, match="hash id 7"):
        unpack(raw.encode())
    raw = decode(golden_blob())
    raw.entries[1]["offset"] = raw.entries[0]["offset"] + 8  # unaligned, overlapping
    with pytest.raises(SerializationError, match="overlaps"):
        unpack(raw.encode())
    raw = decode(golden_blob())
    raw.entries.append(dict(raw.entries[0]))  # the same name twice
    with pytest.raises(SerializationError):
        unpack(raw.encode())


def test_legacy_kind_spellings_are_read_as_their_new_names():
    from sysprims._format import LEGACY_KINDS

    for old, new in LEGACY_KINDS.items():
        blob = bytearray(pack("example", {}, {}))
        blob[16:32] = old.encode().ljust(16, b"\0")
        struct.pack_into("<I", blob, 56, zlib.crc32(bytes(blob[:56])))
        struct.pack_into("<I", blob, len(blob) - 4, zlib.crc32(bytes(blob[:-4])))
        assert unpack(bytes(blob), kind=new).kind == new
        assert unpack(bytes(blob), kind=old).kind == new


# ---------------------------------------------------------------- permissions (#18 item 6)


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after it)."""
    import os

    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _write_save(target):
    save(target, golden_blob())


def _write_atomic_output(target):
    from sysprims.io import atomic_output

    with atomic_output(target) as tmp:
        tmp.write_bytes(b"data")


WRITERS = [_write_save, _write_atomic_output]


def _mode(path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("write", WRITERS)
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_a_new_file_gets_the_mode_a_plain_open_gives_under_the_umask(tmp_path, umask, write, mask):
    umask(mask)
    plain = tmp_path / "plain"
    with open(plain, "wb") as fh:  # the reference: what open() creates under this umask
        fh.write(b"x")
    target = tmp_path / "new.bin"
    write(target)
    assert _mode(target) == _mode(plain) == 0o666 & ~mask


@pytest.mark.parametrize("write", WRITERS)
@pytest.mark.parametrize("existing", [0o644, 0o640, 0o600, 0o664])
def test_replacing_a_file_keeps_its_mode(tmp_path, umask, write, existing):
    import os

    umask(0o077)  # a stricter umask must not tighten a file we replace
    target = tmp_path / "old.bin"
    target.write_bytes(b"old")
    os.chmod(target, existing)
    write(target)
    assert _mode(target) == existing
    assert target.read_bytes() != b"old"
