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


# ------------------------------------------------- several inputs, globs, read-ahead


def _parts(tmp_path, sizes, row_group=None):
    """Parquet files part-0.parquet ... with consecutive keys; returns (paths, keys)."""
    paths, keys, start = [], [], 0
    for i, n in enumerate(sizes):
        p = tmp_path / f"part-{i}.parquet"
        ks = [f"k{j}" for j in range(start, start + n)]
        pq.write_table(pa.table({"user": ks}), p, row_group_size=row_group or max(n, 1))
        paths.append(p)
        keys += ks
        start += n
    return paths, keys


def test_expand_inputs_globs_lists_and_errors(tmp_path):
    from sysprims.io import expand_inputs

    paths, _ = _parts(tmp_path, [3, 4, 5])
    assert expand_inputs(str(tmp_path / "part-*.parquet")) == [str(p) for p in paths]
    assert expand_inputs([paths[2], str(tmp_path / "part-[01].parquet")]) == [str(p) for p in (paths[2], *paths[:2])]
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs(str(tmp_path / "nothing-*.parquet"))
    with pytest.raises(InputError, match="standard input"):
        expand_inputs(["-", paths[0]])
    odd = tmp_path / "odd[1].txt"  # a real file whose name looks like a glob is that file
    odd.write_text("a\n")
    assert expand_inputs(str(odd)) == [str(odd)]


def test_several_parquet_files_read_as_one(tmp_path):
    paths, keys = _parts(tmp_path, [300, 0, 257], row_group=100)
    assert values(str(tmp_path / "part-*.parquet"), "user", batch_rows=64) == keys
    assert values([str(p) for p in paths], "user") == keys
    info = input_info(str(tmp_path / "part-*.parquet"))
    assert info.format == "parquet" and info.rows == len(keys)
    assert info.bytes == sum(p.stat().st_size for p in paths)
    tables = list(iter_columns(paths, ["user"], batch_rows=64))
    assert sum(t.num_rows for t in tables) == len(keys)
    txt = tmp_path / "more.txt"
    txt.write_text("x\n")
    with pytest.raises(InputError, match="mix formats"):
        input_info([paths[0], txt])


@pytest.mark.parametrize("batch_rows", [1, 99, 100, 101, 1000])
def test_parquet_batches_never_exceed_batch_rows(tmp_path, batch_rows):
    """Row groups no larger than the batch are read whole, larger ones in pieces;
    either way no batch holds more than batch_rows rows and the order is the file's."""
    (p,), keys = _parts(tmp_path, [350], row_group=100)
    arrs = list(iter_column(p, "user", batch_rows=batch_rows))
    assert max(len(a) for a in arrs) <= batch_rows
    assert [k for a in arrs for k in a.to_pylist()] == keys


def test_readahead_keeps_order_and_raises_where_the_producer_failed():
    from sysprims.errors import InvalidParameterError
    from sysprims.io import readahead

    assert list(readahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(readahead([])) == []

    def failing():
        yield 1
        yield 2
        raise ValueError("bad batch 3")

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for x in readahead(failing()):
            got.append(x)
    assert got == [1, 2]
    with pytest.raises(InvalidParameterError, match="depth"):
        next(readahead([1], depth=0))


def test_readahead_closed_early_stops_and_closes_the_producer():
    import threading

    from sysprims.io import readahead

    produced, closed = [], threading.Event()

    def source():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    it = readahead(source(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # returns once the producer has stopped
    assert closed.is_set()
    assert len(produced) <= 3 + 2 + 2  # taken + queued + the one in hand, never the whole source


def test_parquet_row_groups_reads_just_those(tmp_path):
    from sysprims.errors import InvalidParameterError

    (path,), keys = _parts(tmp_path, [350], row_group=100)  # row groups of 100, 100, 100, 50
    assert values(path, "user", row_groups=[3, 1]) == keys[300:] + keys[100:200]
    assert values(path, "user", row_groups=[0], batch_rows=30) == keys[:100]
    assert values(path, "user", row_groups=[]) == []
    with pytest.raises(InvalidParameterError, match="no row group 4"):
        values(path, "user", row_groups=[4])
    with pytest.raises(InvalidParameterError, match="one Parquet file"):
        values([path, path], "user", row_groups=[0])
    csv = tmp_path / "k.csv"
    csv.write_text("user\na\n")
    with pytest.raises(InvalidParameterError, match="Parquet input"):
        list(iter_columns(csv, ["user"], row_groups=[0]))


def test_prepared_runs_prepare_on_every_batch_in_order():
    from sysprims.io import prepared, readahead

    out = list(readahead(prepared(iter(range(50)), lambda x: x * x), depth=1))
    assert out == [x * x for x in range(50)]


def test_parquet_batches_are_not_copied_after_decoding(tmp_path):
    """Each Parquet batch is the decoded column itself: no second copy of it is made
    (combining a one-chunk column copies it), so a batch holds its bytes once."""
    n = 50_000
    pq.write_table(pa.table({"user": [f"user:{i:015d}" for i in range(n)], "x": range(n)}),
                   tmp_path / "k.parquet", row_group_size=n // 2)
    base = pa.total_allocated_bytes()
    seen = 0
    for arr in iter_column(tmp_path / "k.parquet", "user", batch_rows=n // 2):
        assert isinstance(arr, pa.Array)
        held = pa.total_allocated_bytes() - base
        assert held < 1.5 * arr.nbytes, (held, arr.nbytes)
        seen += len(arr)
    assert seen == n


def _counting_source(n, produced, started=None, at=None):
    for i in range(n):
        produced.append(i)
        if started is not None and len(produced) == at:
            started.set()
        yield i


def test_readahead_started_reads_before_the_first_item_is_asked_for():
    """With start=True the producer fills start_depth items (and holds one more) before
    the caller takes any; a started generator that is never iterated stops its thread
    when closed."""
    import threading

    from sysprims.io import readahead

    produced, full = [], threading.Event()
    it = readahead(_counting_source(100, produced, full, 5), depth=1, start=True, start_depth=4)
    assert full.wait(60)  # 4 queued + 1 waiting for room, with nothing taken yet
    assert list(it) == list(range(100))
    produced, never = [], readahead(_counting_source(10**6, []), depth=2, start=True)
    never.close()
    assert not any(t.name == "sysprims-readahead" and t.is_alive() for t in threading.enumerate())


def test_readahead_start_depth_applies_only_until_the_first_item_is_asked_for():
    """The producer is at most start_depth (+1 in hand) ahead before the first item is
    asked for, and at most depth (+1) ahead once what it queued then is used: memory
    stays bounded by that many batches whatever the timing."""
    from sysprims.errors import InvalidParameterError
    from sysprims.io import readahead

    produced = []
    depth, start_depth = 1, 5
    for taken, item in enumerate(readahead(_counting_source(300, produced), depth=depth, start=True,
                                           start_depth=start_depth), start=1):  # fmt: skip
        assert item == taken - 1
        assert len(produced) - taken <= max(start_depth - taken, depth) + 1, (taken, len(produced))
    assert len(produced) == 300
    with pytest.raises(InvalidParameterError, match="start_depth"):
        readahead([1], start_depth=0)
