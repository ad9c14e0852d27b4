"""``sysprims suggest build | query`` equal the library's Autocomplete."""

from __future__ import annotations

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sysprims.autocomplete import Autocomplete  # noqa: E402
from sysprims.cli import main  # noqa: E402


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_from_parquet_with_frequencies(tmp_path, capsys):
    words = ["python", "pytest", "pandas", "Python", "numpy"]
    freqs = [90, 40, 70, 5, 60]
    pq.write_table(pa.table({"word": words, "f": freqs}), tmp_path / "w.parquet")
    out = tmp_path / "w.ac"
    code, stdout, _ = run(["suggest", "build", tmp_path / "w.parquet", "-c", "word", "--freq-column", "f", "-o", out], capsys)
    assert code == 0 and "4 distinct words from 5 rows" in stdout
    expected = Autocomplete.from_words(words, freqs)
    code, stdout, _ = run(["suggest", "query", out, "p", "--limit", 2, "--scores"], capsys)
    assert code == 0
    assert stdout.splitlines() == [f"{w}\t{f:g}" for w, f in expected.suggest_with_scores("p", 2)]
    assert expected.suggest("p", 2) == ["python", "pandas"]


def test_build_from_text_counts_repeats(tmp_path, capsys):
    (tmp_path / "q.txt").write_text("java\npython\npython\npyramid\npython\npyramid\n")
    out = tmp_path / "q.ac"
    assert run(["suggest", "build", tmp_path / "q.txt", "-o", out], capsys)[0] == 0
    code, stdout, _ = run(["suggest", "query", out, "py", "ja"], capsys)
    assert stdout.splitlines() == ["py:", "  python", "  pyramid", "ja:", "  java"]


def test_errors(tmp_path, capsys):
    (tmp_path / "q.txt").write_text("a\n")
    code, _, err = run(["suggest", "build", tmp_path / "q.txt", "--freq-column", "f", "-o", tmp_path / "x.ac"], capsys)
    assert code == 2 and "--freq-column needs a CSV or Parquet input" in err
    code, _, err = run(["suggest", "query", tmp_path / "q.txt", "a"], capsys)
    assert code == 1 and "is not a sysprims autocomplete index" in err
    (tmp_path / "w.csv").write_text("word,f\nok,1\n")
    code, _, err = run(["suggest", "build", tmp_path / "w.csv", "-c", "wrd", "--freq-column", "f", "-o", tmp_path / "x.ac"], capsys)
    assert code == 1 and "available columns: 'word', 'f'" in err
