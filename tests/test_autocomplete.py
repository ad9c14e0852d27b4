"""Autocomplete: the classic primer API, kernels vs plain-Python twins, exactness vs brute force."""

from __future__ import annotations

import itertools
import pickle
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysprims._kernels import autocomplete as K
from sysprims._kernels import autocomplete_table as T
from sysprims.autocomplete import (
    Autocomplete,
    AutocompleteSystem,
    Trie,
    TrieNode,
    WordTooLongError,
    _index,
)
from sysprims.errors import InvalidParameterError, KeyTypeError, SerializationError
from tests.reference import autocomplete as ref

# ------------------------------------------------------ the classic primer API

# (query, how many times it was searched)
SEARCHES = [("pandas groupby", 90), ("pandas merge", 120), ("pandas read csv", 60), ("numpy arange", 75),
            ("numba jit", 30), ("pandas pivot", 45)]


def test_search_history_suggestions_with_the_classic_primer_api():
    """``AutocompleteSystem``: every ``add_search`` counts once; ``suggest`` ranks by count."""
    system = AutocompleteSystem()
    for query, times in SEARCHES:
        for _ in range(times):
            system.add_search(query)
    pandas = ["pandas merge", "pandas groupby", "pandas read csv", "pandas pivot"]
    assert system.suggest("pan", limit=5) == pandas
    assert system.suggest("pandas ", limit=5) == pandas
    assert system.suggest("num", limit=5) == ["numpy arange", "numba jit"]
    assert system.suggest("pan", limit=2) == pandas[:2]
    assert system.suggest("rust", limit=5) == []


def test_trie_answers_like_brute_force_when_frequencies_are_distinct():
    rng = np.random.default_rng(1)
    ours = Trie()
    words = sorted({"".join(rng.choice(list("abcé"), size=rng.integers(0, 6))) for _ in range(300)})
    freqs = rng.permutation(len(words)) + 1  # distinct, so the ranking is fully defined
    freq = dict(zip(words, freqs.tolist(), strict=True))
    for w, f in freq.items():
        for part in (f // 2, f - f // 2):  # repeated inserts add up
            ours.insert(w, part)
    for p in ["", "a", "ab", "é", "ca", "zz", "abcab"]:
        matching = sorted((w for w in words if w.startswith(p)), key=lambda w: -freq[w])
        for limit in (0, 1, 3, 10, 1000):
            assert ours.autocomplete(p, limit) == [(w, freq[w]) for w in matching[:limit]]
        assert ours.starts_with(p) == (p == "" or bool(matching))
    for w in words + ["zz", "abcabc"]:
        assert ours.search(w) == (w in freq)


def test_trie_ties_are_broken_by_word_and_root_view():
    t = Trie()
    for w in ["b", "a", "c", "ab"]:
        t.insert(w, 5)
    t.insert("zz", 7)
    assert t.autocomplete("") == [("zz", 7), ("a", 5), ("ab", 5), ("b", 5), ("c", 5)]
    root = t.root
    assert isinstance(root, TrieNode)
    assert root.children["a"].is_end_of_word and root.children["a"].children["b"].frequency == 5
    assert t._find_node("q") is None
    res: list = []
    t._dfs_words(t._find_node("a"), "a", res)
    assert sorted(res) == [("a", 5), ("ab", 5)]
    assert t.search("") is False and t.starts_with("") is True
    t.insert("", 0)
    assert t.search("") is True
    assert "zz" in t and len(t) == 6
    with pytest.raises(InvalidParameterError):
        t.insert("x", -1)
    with pytest.raises(KeyTypeError):
        t.insert(b"x")


def test_system_cache_serves_larger_limits_and_invalidates_empty_prefix():
    s = AutocompleteSystem()
    for q, n in [("ab", 3), ("ac", 2), ("ad", 1)]:
        for _ in range(n):
            s.add_search(q)
    assert s.suggest("a", 1) == ["ab"]
    assert s.suggest("a", 3) == ["ab", "ac", "ad"]  # the seed answered ["ab"] from its cache
    assert s.suggest("", 2) == ["ab", "ac"]
    for _ in range(5):
        s.add_search("AD")
    assert s.suggest("", 2) == ["ad", "ab"]  # the seed kept serving the stale "" entry
    assert s.suggest("A", 5) == ["ad", "ab", "ac"]
    assert "queries=3" in repr(s) and "<table" in s._repr_html_()
    with pytest.raises(InvalidParameterError):
        s.suggest("a", -1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "ask"]), st.text("abAB", max_size=4), st.integers(0, 4)),
        max_size=60,
    )
)
def test_system_cache_is_never_stale(ops):
    s = AutocompleteSystem()
    counts: dict[str, int] = {}
    for op, text, limit in ops:
        if op == "add":
            s.add_search(text)
            counts[text.lower()] = counts.get(text.lower(), 0) + 1
        else:
            expected = [w for w, _ in ref.brute_suggest(counts.items(), text.lower(), limit)]
            assert s.suggest(text, limit) == expected


# ------------------------------------------------------------------ kernels vs twins


def _index_of(words: list[str], freq: list[float]) -> _index._Arrays:
    return _index._Arrays.from_sorted(words, freq)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab\x00ü€😀"), max_size=5), unique=True, max_size=30),
    st.lists(st.text(alphabet=st.sampled_from("ab\x00ü€😀"), max_size=4), min_size=1, max_size=8),
    st.data(),
)
def test_kernels_match_reference_twins(words, prefixes, data):
    words = sorted(words)
    freq = [float(data.draw(st.integers(0, 3))) for _ in words]
    ix = _index_of(words, freq)
    bwords = ref.words_of(ix.blob, ix.offsets.tolist())
    assert bwords == [w.encode() for w in words]
    assert bool(K.strictly_sorted(ix.data, ix.offsets)) == ref.strictly_sorted(bwords)
    for p in prefixes + words[:3]:
        pb = p.encode()
        key = np.frombuffer(pb, dtype=np.uint8)
        z, e = np.int64(0), np.int64(len(pb))
        if words:
            assert tuple(K.prefix_range(ix.data, ix.offsets, key, z, e)) == ref.prefix_range(
                bwords, pb
            )
            assert int(K.find_exact(ix.data, ix.offsets, key, z, e)) == ref.find_exact(bwords, pb)
        empty = _index._Arrays.empty()
        for k in (1, 2, 7):
            out = np.empty(k, dtype=np.int64)
            c = T.suggest_one(*ix.args, *empty.args, key, k, out)
            lo, hi = ref.prefix_range(bwords, pb)
            assert out[:c].tolist() == ref.range_topk(freq, lo, hi, k)
    # tree_update keeps answers right after frequency changes
    if words:
        for _ in range(5):
            i = data.draw(st.integers(0, len(words) - 1))
            freq[i] += data.draw(st.integers(0, 3))
            ix.freq[i] = freq[i]
            K.tree_update(ix.freq, ix.tree, np.int64(i))
        fresh = np.zeros_like(ix.tree)
        K.tree_build(ix.freq, fresh)
        assert np.array_equal(fresh[1:], ix.tree[1:])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcé", max_size=4), unique=True, max_size=20), st.data())
def test_merge_sorted_matches_twin(words, data):
    split = [data.draw(st.booleans()) for _ in words]
    a = sorted(w for w, s in zip(words, split, strict=True) if s)
    b = sorted(w for w, s in zip(words, split, strict=True) if not s)
    fa = [float(i) for i in range(len(a))]
    fb = [float(10 + i) for i in range(len(b))]
    A, B = _index_of(a, fa), _index_of(b, fb)
    n = len(a) + len(b)
    od = np.empty(A.data.shape[0] + B.data.shape[0], np.uint8)
    oo = np.empty(n + 1, np.int64)
    of = np.empty(n, np.float64)
    K.merge_sorted(A.data, A.offsets, A.freq, B.data, B.offsets, B.freq, od, oo, of)
    got = list(zip(ref.words_of(od.tobytes(), oo.tolist()), of.tolist(), strict=True))
    want = ref.merge_sorted(
        [(w.encode(), f) for w, f in zip(a, fa, strict=True)],
        [(w.encode(), f) for w, f in zip(b, fb, strict=True)],
    )
    assert got == want


# ------------------------------------------------------------------ Autocomplete vs brute force

VOCAB = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6), st.integers(0, 5)
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(VOCAB, st.lists(st.text(max_size=3), max_size=5), st.integers(0, 12))
def test_suggest_equals_brute_force_raw(vocab, extra, limit):
    ac = Autocomplete.from_words(
        [w for w, _ in vocab],
        [f for _, f in vocab],
        casefold=False,
        normalize=None,
        max_length=None,
    )
    truth: dict[str, float] = {}
    for w, f in vocab:
        truth[w] = truth.get(w, 0) + f
    items = list(truth.items())
    prefixes = [""] + [w[:i] for w, _ in vocab[:8] for i in range(len(w) + 1)] + extra
    for p in prefixes:
        try:
            p.encode()
        except UnicodeEncodeError:
            continue
        expected = ref.brute_suggest(items, p, limit)
        assert ac.suggest_with_scores(p, limit) == expected
        assert ac.suggest(p, limit) == [w for w, _ in expected]
    many = ac.suggest_many(prefixes[:20] + prefixes[:3], limit)  # duplicates included
    assert isinstance(many, np.ndarray) and many.shape == (len(prefixes[:20]) + len(prefixes[:3]),)
    assert list(many) == [ac.suggest(p, limit) for p in prefixes[:20] + prefixes[:3]]
    assert len(ac) == len(truth)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="aAeE\u0301\u00e9\u00c9\u212b\u00c5", max_size=4), st.integers(1, 4)
        ),
        max_size=25,
    ),
    st.text(alphabet="aAeE\u0301\u00e9\u00c9", max_size=2),
)
def test_casefold_and_nfc(vocab, prefix):
    ac = Autocomplete.from_words([w for w, _ in vocab], [f for _, f in vocab])
    truth: dict[str, float] = {}
    for w, f in vocab:
        k = unicodedata.normalize("NFC", w.lower())
        truth[k] = truth.get(k, 0) + f
    p = unicodedata.normalize("NFC", prefix.lower())
    assert ac.suggest(prefix, 5) == [w for w, _ in ref.brute_suggest(truth.items(), p, 5)]
    for w in truth:
        assert w in ac and ac.frequency(w.upper()) == truth[w]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.tuples(st.text(alphabet="abc", max_size=3), st.integers(0, 3)), max_size=15),
    st.lists(
        st.tuples(
            st.sampled_from(["inc", "dec", "ask", "many"]),
            st.text(alphabet="abcd", max_size=4),
            st.integers(0, 4),
        ),
        max_size=80,
    ),
)
def test_incremental_updates_stay_exact(monkeypatch_delta, base, ops):
    ac = Autocomplete.from_words([w for w, _ in base], [f for _, f in base], max_length=8)
    truth: dict[str, float] = {}
    for w, f in base:
        truth[w] = truth.get(w, 0) + f
    for op, text, n in ops:
        if op == "inc":
            got = ac.increment(text, n)
            truth[text] = truth.get(text, 0) + n
            assert got == truth[text]
        elif op == "dec":
            if truth.get(text, 0) >= n and text in truth:
                assert ac.increment(text, -n) == truth[text] - n
                truth[text] -= n
            elif n:
                with pytest.raises(InvalidParameterError):
                    ac.increment(text, -n)
        elif op == "ask":
            assert ac.suggest_with_scores(text[:2], n) == ref.brute_suggest(
                truth.items(), text[:2], n
            )
        else:
            ps = [text[:i] for i in range(len(text) + 1)]
            assert list(ac.suggest_many(ps, n)) == [
                [w for w, _ in ref.brute_suggest(truth.items(), p, n)] for p in ps
            ]
    assert sorted(ac.items()) == sorted(truth.items())
    assert len(ac) == len(truth)


@pytest.fixture
def monkeypatch_delta(monkeypatch):
    """A tiny delta so the property test also exercises merges into the static arrays."""
    monkeypatch.setattr(_index, "_MIN_DELTA", 3)


def test_add_search_and_compaction():
    ac = Autocomplete()
    for q in ["Hello", "help", "hello", "HELP", "helm"]:
        ac.add_search(q)
    assert ac.suggest("he") == ["hello", "help", "helm"]
    ac.compact()
    assert ac.suggest_with_scores("hel", 2) == [("hello", 2.0), ("help", 2.0)]
    ac.add_search("helm")
    ac.add_search("helm")
    assert ac.suggest("hel", 1) == ["helm"]
    ac.add_many(["a", "b", "a"], by=[1, 2, 3])
    assert ac.frequency("a") == 4 and ac.frequency("zzz") == 0.0
    assert ac.has_prefix("hel") and not ac.has_prefix("x")


def test_validation_errors():
    with pytest.raises(WordTooLongError, match="max_length=3"):
        Autocomplete.from_words(["abcd"], max_length=3)
    with pytest.raises(InvalidParameterError):
        Autocomplete(max_length=3).add_search("abcd")
    with pytest.raises(KeyTypeError, match="position 1"):
        Autocomplete.from_words(["a", 3])
    with pytest.raises(KeyTypeError):
        Autocomplete.from_words("abc")
    with pytest.raises(KeyTypeError):
        Autocomplete.from_words(["a\ud800"])
    with pytest.raises(InvalidParameterError, match="one value per word"):
        Autocomplete.from_words(["a", "b"], [1])
    with pytest.raises(InvalidParameterError, match="position 1"):
        Autocomplete.from_words(["a", "b"], [1, float("nan")])
    with pytest.raises(InvalidParameterError):
        Autocomplete.from_words(["a"], [-1])
    ac = Autocomplete.from_words(["a"])
    with pytest.raises(InvalidParameterError, match="limit"):
        ac.suggest("a", -1)
    with pytest.raises(InvalidParameterError, match="limit"):
        ac.suggest_many(["a"], 1.5)
    with pytest.raises(KeyTypeError):
        ac.suggest(b"a")
    with pytest.raises(KeyTypeError):
        ac.suggest_many("ab")
    with pytest.raises(InvalidParameterError):
        ac.increment("a", float("inf"))
    with pytest.raises(InvalidParameterError, match="normalize"):
        Autocomplete(normalize="NFX")
    with pytest.raises(InvalidParameterError, match="casefold"):
        Autocomplete(casefold=1)
    assert ac.suggest("a", 0) == [] and ac.suggest("abcdefgh" * 100) == []


def test_suggest_many_accepts_numpy_and_empty():
    ac = Autocomplete.from_words(["ant", "and", "bee"], [1, 2, 3])
    got = ac.suggest_many(np.array(["a", "b", "c", "A"]), 2)
    assert list(got) == [["and", "ant"], ["bee"], [], ["and", "ant"]]
    assert ac.suggest_many([], 3).shape == (0,)
    assert list(ac.suggest_many(["a"], 0)) == [[]]


# ------------------------------------------------------------------ persistence


def test_round_trip_bytes_file_mmap_and_pickle(tmp_path):
    ac = Autocomplete.from_words(
        ["zéro", "zebra", "zeta", "alpha"], [3, 3, 1, 9], normalize="NFKC", max_length=10
    )
    ac.add_search("zed")
    blob = ac.to_bytes()
    back = Autocomplete.from_bytes(blob)
    assert back.items() == ac.items()
    assert (back.casefold, back.normalize, back.max_length) == (True, "NFKC", 10)
    assert (
        back.suggest("ze")
        == ac.suggest("ze")
        == [w for w, _ in ref.brute_suggest(ac.items(), "ze", 10)]
    )
    assert back.suggest("ze") == ["zebra", "zed", "zeta"]
    path = tmp_path / "ac.bin"
    ac.save(path)
    mapped = Autocomplete.load(path, mmap=True)
    mapped.add_search("zeta")
    mapped.add_search("zeta")
    mapped.add_search("zz")
    assert mapped.suggest("z", 3) == ["zebra", "zeta", "zéro"]  # all three at 3; code-point order
    assert pickle.loads(pickle.dumps(ac)).items() == ac.items()
    t = Trie()
    t.insert("abc", 4)
    assert Trie.from_bytes(t.to_bytes()).autocomplete("a") == [("abc", 4)]


def test_bad_bytes_raise_serialization_error():
    blob = Autocomplete.from_words(["a", "b", "c"], [1, 2, 3]).to_bytes()
    with pytest.raises(SerializationError):
        Autocomplete.from_bytes(blob[:-5])
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(SerializationError):
        Autocomplete.from_bytes(bytes(bad))
    from sysprims._format import pack

    params = {"casefold": True, "normalize": "NFC", "max_length": 5}
    unsorted = pack(
        "autocomplete",
        params,
        {
            "data": np.frombuffer(b"ba", np.uint8),
            "offsets": np.array([0, 1, 2]),
            "freq": np.array([1.0, 2.0]),
        },
    )
    with pytest.raises(SerializationError, match="sorted"):
        Autocomplete.from_bytes(unsorted)
    badutf = pack(
        "autocomplete",
        params,
        {
            "data": np.frombuffer(b"\xff", np.uint8),
            "offsets": np.array([0, 1]),
            "freq": np.array([1.0]),
        },
    )
    with pytest.raises(SerializationError, match="UTF-8"):
        Autocomplete.from_bytes(badutf)
    badoff = pack(
        "autocomplete",
        params,
        {
            "data": np.frombuffer(b"ab", np.uint8),
            "offsets": np.array([0, 3]),
            "freq": np.array([1.0]),
        },
    )
    with pytest.raises(SerializationError, match="offsets"):
        Autocomplete.from_bytes(badoff)
    negf = pack(
        "autocomplete",
        params,
        {
            "data": np.frombuffer(b"ab", np.uint8),
            "offsets": np.array([0, 2]),
            "freq": np.array([-1.0]),
        },
    )
    with pytest.raises(SerializationError):
        Autocomplete.from_bytes(negf)
    with pytest.raises(SerializationError):
        Autocomplete.from_bytes(pack("autocomplete", {}, {}))


def test_repr_and_html():
    ac = Autocomplete.from_words(["a", "b"])
    assert "words=2" in repr(ac) and "<table" in ac._repr_html_()
    assert ac.nbytes > 0
    assert "Trie(words=0)" == repr(Trie()) and "<table" in Trie()._repr_html_()


def test_nbytes_counts_each_word_byte_once():
    """Longer words by 10 bytes each cost 10 bytes more per word, not 20 (the word
    buffer and its array view were both counted)."""
    short = Autocomplete.from_words([f"{i:05d}" for i in range(1000)])
    long = Autocomplete.from_words([f"{i:05d}" + "x" * 10 for i in range(1000)])
    assert long.nbytes - short.nbytes == 1000 * 10


# ------------------------------------------------------------------ real words


def test_real_word_list_against_brute_force():
    wordfreq = pytest.importorskip("wordfreq")
    words = wordfreq.top_n_list("en", 20000, wordlist="best")
    d = wordfreq.get_frequency_dict("en", "best")
    freqs = [d[w] for w in words]  # rounded frequencies: many ties, broken by the word
    ac = Autocomplete.from_words(words, freqs)
    items = ac.items()
    assert len(items) == len(set(ac._fold(w) for w in words))
    rng = np.random.default_rng(7)
    picks = rng.choice(len(words), 150)
    prefixes = [words[i][: int(rng.integers(1, 5))] for i in picks.tolist()] + [""]
    many = ac.suggest_many(prefixes, 10)
    for p, got in zip(prefixes, many, strict=True):
        expected = [w for w, _ in ref.brute_suggest(items, ac._fold(p), 10)]
        assert ac.suggest(p) == expected == got


def test_topk_across_many_blocks_matches_twin():
    """Ranges spanning partial blocks and tree nodes (hundreds of words, many ties)."""
    rng = np.random.default_rng(5)
    words = sorted(
        {"".join(rng.choice(["a", "b"], size=int(k))) for k in rng.integers(0, 11, size=3000)}
    )
    freq = rng.integers(0, 6, size=len(words)).astype(float).tolist()
    ix = _index_of(words, freq)
    empty = _index._Arrays.empty()
    bwords = [w.encode() for w in words]
    prefixes = [""] + ["".join(t) for n in range(1, 5) for t in itertools.product("ab", repeat=n)]
    for p in prefixes:
        key = np.frombuffer(p.encode(), dtype=np.uint8)
        lo, hi = ref.prefix_range(bwords, p.encode())
        for k in (1, 3, 10, 60):
            out = np.empty(k, dtype=np.int64)
            c = T.suggest_one(*ix.args, *empty.args, key, k, out)
            assert out[:c].tolist() == ref.range_topk(freq, lo, hi, k)
    for i in rng.integers(0, len(words), size=200).tolist():
        ix.freq[i] += float(rng.integers(1, 4))
        K.tree_update(ix.freq, ix.tree, np.int64(i))
    fresh = np.zeros_like(ix.tree)
    K.tree_build(ix.freq, fresh)
    assert np.array_equal(fresh[1:], ix.tree[1:])


def _heavy_twin(bwords: list[bytes]) -> dict[bytes, tuple[int, int]]:
    """Every byte prefix of the sorted words with more than LIGHT words -> its range."""
    out = {}
    for p in {w[:j] for w in bwords for j in range(len(w) + 1)}:
        lo, hi = ref.prefix_range(bwords, p)
        if hi - lo > T.LIGHT:
            out[p] = (lo, hi)
    return out


def _table_rows(ix) -> dict[bytes, tuple[int, int, list[int]]]:
    rows = {}
    for lo, hi, length, _h, *ans in ix.heavy.tolist():
        start = int(ix.offsets[lo])
        rows[ix.blob[start : start + length]] = (lo, hi, ans)
    return rows


def test_heavy_prefix_table_matches_twin_through_updates():
    """The table holds exactly the prefixes with more than LIGHT words, each with its
    best TOP ids; raising and lowering frequencies keeps every answer exact."""
    rng = np.random.default_rng(9)
    words = sorted(
        {"".join(rng.choice(["a", "b", "é"], size=int(k))) for k in rng.integers(0, 9, size=2500)}
    )
    freq = rng.integers(0, 6, size=len(words)).astype(float).tolist()
    ix = _index_of(words, freq)
    empty = _index._Arrays.empty()
    bwords = [w.encode() for w in words]
    heavy = _heavy_twin(bwords)
    assert len(heavy) > 20  # the test reaches deep heavy prefixes
    queries = sorted({w[:j] for w in bwords for j in range(6)})
    for _step in range(4):
        rows = _table_rows(ix)
        assert {p: r[:2] for p, r in rows.items()} == heavy
        for _p, (lo, hi, ans) in rows.items():
            assert ans == ref.range_topk(freq, lo, hi, T.TOP)
        for pb in queries:
            key = np.frombuffer(pb, dtype=np.uint8)
            lo, hi = ref.prefix_range(bwords, pb)
            for k in (1, 10, 40):
                out = np.empty(k, dtype=np.int64)
                c = T.suggest_one(*ix.args, *empty.args, key, k, out)
                assert out[:c].tolist() == ref.range_topk(freq, lo, hi, k)
        # raise some frequencies, lower others (words inside and outside the answers)
        for i in rng.integers(0, len(words), size=150).tolist():
            freq[i] = max(0.0, freq[i] + float(rng.integers(-3, 4)))
            ix.set_frequency(i, freq[i])
        # find_add finds the word by its bytes, adds, keeps the table
        for i in rng.integers(0, len(words), size=30).tolist():
            key = np.frombuffer(bwords[i], dtype=np.uint8)
            got = T.find_add(*ix.args, key, np.int64(0), np.int64(len(bwords[i])), 2.0)
            assert got == i
            freq[i] += 2.0


# ------------------------------------------------------------------ bounded work on user text


class _CountingCache(dict):
    """A cache that counts the prefixes looked up in it and their characters."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.chars = 0

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        self.chars += len(key)  # type: ignore[arg-type]
        return super().__contains__(key)


def _invalidation_work(query_length: int) -> tuple[int, int]:
    s = AutocompleteSystem()
    s.cache = _CountingCache()
    for q in ("ab", "abc", "b"):
        s.add_search(q)
    s.suggest("a")
    s.suggest("ab")  # cached prefixes: at most 2 characters long
    s.cache.lookups = s.cache.chars = 0
    s.add_search("a" * query_length)
    return s.cache.lookups, s.cache.chars


def test_add_search_invalidation_work_does_not_grow_with_the_query():
    """add_search used to build and look up every prefix of the query (quadratic:
    90 s for 1M characters); now only prefixes as long as a cached one are tried."""
    short, long = _invalidation_work(8), _invalidation_work(1000)
    assert long == short
    assert long[0] <= 3 and long[1] <= 3


def test_overlong_text_is_refused_naming_the_limit():
    s = AutocompleteSystem()
    with pytest.raises(InvalidParameterError, match="max_length=1024"):
        s.add_search("q" * 20_000)
    with pytest.raises(InvalidParameterError, match="max_length=1024"):
        s.suggest("q" * 20_000)
    assert s.cache == {} and len(s.trie) == 0
    s.add_search("q" * 1024)  # the limit itself is accepted
    assert s.suggest("q" * 1024) == ["q" * 1024]
    t = Trie()
    with pytest.raises(WordTooLongError, match="max_length=1024"):
        t.insert("w" * 1025)
    for call in (t.autocomplete, t.starts_with):
        with pytest.raises(WordTooLongError, match="max_length=1024"):
            call("w" * 1025)
    assert t.search("w" * 1025) is False
    small = AutocompleteSystem(max_length=4)
    with pytest.raises(WordTooLongError, match="max_length=4"):
        small.add_search("abcde")
    with pytest.raises(InvalidParameterError, match="max_length"):
        Trie(max_length=0)


def test_node_view_of_a_long_word_needs_no_deep_recursion():
    t = Trie()
    t.insert("x" * 1024, 3)
    res: list = []
    t._dfs_words(t.root, "", res)
    assert res == [("x" * 1024, 3)]


def test_suggest_many_leaves_the_garbage_collector_as_it_found_it():
    import gc

    ac = Autocomplete.from_words(["ab", "ac", "b"], [1, 2, 3])
    assert gc.isenabled()
    assert [list(x) for x in ac.suggest_many(["a", "b", "z"], 2)] == [["ac", "ab"], ["b"], []]
    assert gc.isenabled()
    gc.disable()
    try:
        ac.suggest_many(["a"] * 3)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(KeyTypeError):
        ac.suggest_many(["a", 5])
    assert gc.isenabled()
