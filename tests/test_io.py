"""Streaming readers (text, CSV, Parquet, stdin) and atomic outputs."""

from __future__ import annotations

import io
import sys

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.io import (  # noqa: E402
    InputError,
    atomic_output,
    input_info,
    iter_column,
    iter_columns,
    readers,  # noqa: E402
)


def values(path, column=None, **kw):
    out = []
    for arr in iter_column(path, column, **kw):
        out.extend(arr.to_pylist())
    return out


def test_text_lines_lf_crlf_unicode_and_no_final_newline(tmp_path):
    p = tmp_path / "keys.txt"
    p.write_bytes("alice\r\nbob\n\nünï ✓\ncarol".encode())
    assert values(p) == ["alice", "bob", "", "ünï ✓", "carol"]


def test_text_chunk_boundaries_and_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_TEXT_CHUNK_BYTES", 7)
    lines = [f"key-{i}" * (i % 4) for i in range(200)]
    p = tmp_path / "k.txt"
    p.write_text("\n".join(lines) + "\n")
    got = values(p, batch_rows=13)
    assert got == lines
    assert all(len(a) <= 13 for a in iter_column(p, batch_rows=13))


def test_text_non_utf8_is_binary(tmp_path):
    p = tmp_path / "b.txt"
    p.write_bytes(b"\xff\xfe\nok\n")
    assert values(p) == [b"\xff\xfe", b"ok"]


def test_text_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\ny\n")))
    assert values("-") == ["x", "y"]


def test_csv_column_batches_and_errors(tmp_path):
    p = tmp_path / "d.csv"
    rows = [f"u{i},{i},{'a,b' if i % 7 == 0 else 'plain'}" for i in range(1000)]
    p.write_text("user,n,note\n" + "\n".join(rows).replace("a,b", '"a,b"') + "\n")
    assert values(p, "user", batch_rows=100) == [f"u{i}" for i in range(1000)]
    assert values(p, "n")[:3] == ["0", "1", "2"]  # read as strings: keys are keys
    tables = list(iter_columns(p, ["note", "user"], batch_rows=300))
    assert [t.num_rows for t in tables] == [300, 300, 300, 100]
    assert tables[0].column_names == ["note", "user"] and tables[0].column(0)[0].as_py() == "a,b"
    with pytest.raises(InputError, match=r"column 'users' is not in .*available columns: 'user', 'n', 'note'"):
        list(iter_column(p, "users"))
    with pytest.raises(InputError, match="needs a column name"):
        list(iter_column(p))


def test_csv_malformed_row_is_named(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3\n")
    with pytest.raises(InputError, match=r"malformed CSV.*Row #3"):
        list(iter_column(p, "a"))


def test_csv_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"k,v\na,1\nb,2\n")))
    assert values("-", "k", format="csv") == ["a", "b"]


def test_parquet_batches_and_info(tmp_path):
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"user": [f"u{i}" for i in range(500)], "n": list(range(500))}), p)
    assert values(p, "user", batch_rows=64) == [f"u{i}" for i in range(500)]
    assert values(p, "n")[-1] == 499
    info = input_info(p)
    assert info.format == "parquet" and info.rows == 500 and info.bytes > 0
    with pytest.raises(InputError, match="available columns: 'user', 'n'"):
        list(iter_column(p, "x"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(iter_column(bad, "x"))


def test_missing_input_and_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list(iter_column(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="is a folder"):
        list(iter_column(tmp_path))


def test_atomic_output_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(InputError, match="does not exist"):
        with atomic_output(tmp_path / "no" / "x.bin"):
            pass
