"""CLI inputs as users hand them in: byte-order marks, binary files given as
text, columns that hold no keys, option help, option spellings (#23 item 8)."""

from __future__ import annotations

import numpy as np
import pytest

click = pytest.importorskip("click")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.bloom import BloomFilter  # noqa: E402
from sysprims.cli import build_cli, main  # noqa: E402
from sysprims.cli.cmd_limit import parse_rate  # noqa: E402
from sysprims.cli.cmd_serve import _parse_rate as serve_rate  # noqa: E402
from sysprims.io import InputError, iter_column  # noqa: E402

KEYS = ["alice", "bob", "carol", "dave"]


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def keys_of(path, column=None):
    return [k for arr in iter_column(path, column) for k in arr.to_pylist()]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_utf8_bom_is_not_part_of_the_first_key(tmp_path, newline, capsys):
    txt = tmp_path / "keys.txt"
    txt.write_bytes(b"\xef\xbb\xbf" + newline.join(KEYS).encode() + newline.encode())
    assert keys_of(txt) == KEYS
    csv = tmp_path / "keys.csv"
    csv.write_bytes(b"\xef\xbb\xbfuser\n" + "\n".join(KEYS).encode() + b"\n")
    assert keys_of(csv, "user") == KEYS
    out = tmp_path / "f.bloom"
    code, _, err = run(["bloom", "build", txt, "-o", out], capsys)
    assert code == 0, err
    want = BloomFilter.for_capacity(len(KEYS), 0.01)
    want.add_many(KEYS)
    assert BloomFilter.load(out) == want


def test_bom_only_in_front_is_dropped(tmp_path):
    txt = tmp_path / "keys.txt"
    txt.write_bytes(b"a\n\xef\xbb\xbfb\n")  # a BOM inside the file is data
    assert keys_of(txt) == ["a", "\ufeffb"]


def test_binary_files_given_as_text_are_refused(tmp_path, capsys):
    saved = tmp_path / "users.bloom"
    bf = BloomFilter.for_capacity(100, 0.01)
    bf.add_many(KEYS)
    bf.save(saved)
    parquet = tmp_path / "users.dat"  # not named .parquet: auto reads it as text
    pq.write_table(pa.table({"user": KEYS}), parquet)
    utf16 = tmp_path / "users16.txt"
    utf16.write_bytes("\n".join(KEYS).encode("utf-16"))
    for path, what in ((saved, "saved sysprims structure"), (parquet, "Parquet file"), (utf16, "UTF-16")):
        with pytest.raises(InputError, match=what):
            keys_of(path)
        for cmd in (["bloom", "build", path, "-o", tmp_path / "out.bloom"], ["cms", "top", path]):
            code, out, err = run(cmd, capsys)
            assert code == 1, (cmd, out)
            assert err.startswith("sysprims: error: ") and what in err
    assert not (tmp_path / "out.bloom").exists()


def test_key_type_errors_name_the_column(tmp_path, capsys):
    path = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table({"user": ["a", None, "c"], "price": [1.5, 2.5, 3.5], "id": [1, 2, 3]}), path
    )
    code, _, err = run(["bloom", "build", path, "-c", "price", "-o", tmp_path / "o.bloom"], capsys)
    assert code == 1 and "column 'price'" in err and "double" in err
    code, _, err = run(["cms", "top", path, "-c", "user"], capsys)
    assert code == 1 and "column 'user'" in err and "missing value at row 2" in err
    assert "keys[" not in err
    code, _, err = run(["bloom", "build", path, "-c", "id", "-o", tmp_path / "o.bloom"], capsys)
    assert code == 0, err  # integer columns are keys


def test_missing_values_are_found_in_later_batches(tmp_path):
    path = tmp_path / "u.parquet"
    pq.write_table(pa.table({"user": ["a", "b", "c", "d", None]}), path)
    with pytest.raises(InputError, match="row 5"):
        list(iter_column(path, "user", batch_rows=2))


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_option_has_help():
    missing = [
        f"{' '.join(path)} {opt.opts[0]}"
        for path, cmd in _commands(build_cli())
        for opt in cmd.params
        if isinstance(opt, click.Option) and not opt.help and opt.name != "help"
    ]
    assert missing == []


def test_cms_top_takes_k_short_and_long(tmp_path, capsys):
    txt = tmp_path / "k.txt"
    txt.write_text("\n".join(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]) + "\n")
    code, short, err = run(["cms", "top", txt, "-k", 2], capsys)
    assert code == 0, err
    code, long, _ = run(["cms", "top", txt, "--k", 2], capsys)
    rows = [line.split()[0] for line in short.splitlines()[1:3]]
    assert rows == ["a", "b"]
    assert short.splitlines()[:3] == long.splitlines()[:3]


@pytest.mark.parametrize("text", ["100/s", "6000/min", "10/5s", "60/min"])
def test_serve_rate_reads_the_limit_replay_form(text, capsys):
    count, period = parse_rate(text)
    assert serve_rate(text) == (count, count / period)
    assert capsys.readouterr().err == ""


def test_serve_rate_keeps_the_old_form_with_a_deprecation(capsys):
    assert serve_rate("60/1") == (60.0, 1.0)
    assert serve_rate("100/2") == (100.0, 2.0)
    err = capsys.readouterr().err
    assert "deprecated" in err and "--rate 100/50s" in err
    assert serve_rate("100/50s") == (100.0, 2.0)  # the suggested spelling is the same bucket
    assert serve_rate("0") == (0.0, 1.0)
    with pytest.raises(click.BadParameter, match="100/s"):
        serve_rate("fast")


def test_serve_help_shows_the_new_form_and_default(capsys):
    code, out, _ = run(["serve", "shortener", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert "N/unit" in flat and "60/min" in flat and "Deprecated" in flat


def test_integer_and_text_keys_still_stream(tmp_path):
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": np.arange(5, dtype=np.int64)}), path)
    assert keys_of(path, "id") == [0, 1, 2, 3, 4]
