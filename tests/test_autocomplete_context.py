"""Contextual and sharded autocomplete: answers equal a brute-force filter-and-sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims.autocomplete import (
    Autocomplete,
    ContextualAutocomplete,
    ShardedAutocomplete,
    merge_ranked,
)
from sysprims.countmin import TrendingTopK
from sysprims.errors import InvalidParameterError, KeyTypeError

WORDS = st.text(alphabet="abcA", min_size=1, max_size=4)
FREQ = st.integers(0, 5).map(float)  # small integers: many ties, broken by the word
PROFILE = st.dictionaries(WORDS, st.integers(0, 4).map(float), max_size=6)


def brute(index_items, profiles, weights, prefix, k):
    """Every word of the index and of the profiles in use (weight > 0), scored
    left to right, filtered by the prefix, sorted by (score desc, word)."""
    base = dict(index_items)
    words = set(base).union(*[set(p) for p, wt in zip(profiles, weights, strict=True) if wt > 0])
    rows = []
    for w in words:
        s = base.get(w, 0.0)
        for wt, p in zip(weights, profiles, strict=True):
            s = s + wt * p.get(w, 0.0)
        if w.startswith(prefix):
            rows.append((w, s))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:k]


@settings(max_examples=150, deadline=None)
@given(
    vocab=st.dictionaries(WORDS, FREQ, max_size=40),
    user=PROFILE, region=PROFILE, trend=PROFILE,
    weights=st.tuples(*[st.sampled_from([0.0, 0.5, 1.0, 3.0])] * 3),
    prefix=st.text(alphabet="abcA", max_size=3),
    k=st.integers(0, 6),
    sharded=st.booleans(),
)  # fmt: skip
def test_boosted_suggestions_equal_brute_force(
    vocab, user, region, trend, weights, prefix, k, sharded
):
    words, freqs = list(vocab), list(vocab.values())
    if sharded:
        index = ShardedAutocomplete.from_words(words, freqs, shards=3, prefix_chars=1)
    else:
        index = Autocomplete.from_words(words, freqs)
    ctx = ContextualAutocomplete(
        index, user_weight=weights[0], region_weight=weights[1], trending_weight=weights[2]
    )
    ctx.add_history("ann", user)
    ctx.set_region("eu", region)
    ctx.set_trending(trend)

    def fold(d):  # the index folds case, so profile words that differ only in case add up
        return {f: sum(v for w, v in d.items() if w.lower() == f) for f in {w.lower() for w in d}}

    expect = brute(
        index.items(), [fold(user), fold(region), fold(trend)], weights, prefix.lower(), k
    )
    assert ctx.suggest_with_scores(prefix, k, user="ann", region="eu") == expect
    # no context: the index's own answer
    assert ctx.suggest(prefix, k) == [
        w for w, _ in brute(index.items(), [{}, {}, fold(trend)], weights, prefix.lower(), k)
    ]


def test_two_users_get_their_own_suggestions():
    index = Autocomplete.from_words(["python", "pytorch", "pyramid", "pyre"], [100, 90, 80, 10])
    ctx = ContextualAutocomplete(index, user_weight=50)
    ctx.add_history("ann", ["pyre", "pyre"])
    ctx.add_history("bob", {"pyramid": 1, "pyjamas": 3})  # a word the index does not hold
    assert ctx.suggest("py", 3) == ["python", "pytorch", "pyramid"]
    assert ctx.suggest("py", 3, user="ann") == ["pyre", "python", "pytorch"]
    assert ctx.suggest("py", 3, user="bob") == ["pyjamas", "pyramid", "python"]
    assert ctx.suggest("py", 3, user="carol") == ctx.suggest("py", 3)
    ctx.set_region("fr", {"pyramid": 5})
    assert ctx.suggest_with_scores("pyr", 2, region="fr") == [("pyramid", 85.0), ("pyre", 10.0)]
    assert len(index) == 4  # the shared index is untouched


def test_trending_injection_from_a_trending_sketch():
    index = Autocomplete.from_words(["weather", "wedding", "web"], [50, 40, 30])
    tr = TrendingTopK(5, 1024, 4, interval=60, window=1, history=10)
    tr.update_many(["weather"] * 300, np.arange(300) * 2.0)  # steady over ten minutes
    tr.update_many(["wembley"] * 80, np.full(80, 599.0))  # a burst in the last minute
    ctx = ContextualAutocomplete(index, trending_weight=1.0)
    ctx.set_trending(tr)
    assert ctx.suggest("we", 2) == ["wembley", "weather"]


def test_validation():
    index = Autocomplete.from_words(["a"])
    with pytest.raises(InvalidParameterError):
        ContextualAutocomplete(index, user_weight=-1)
    with pytest.raises(InvalidParameterError):
        ContextualAutocomplete(object())
    ctx = ContextualAutocomplete(index)
    with pytest.raises(InvalidParameterError):
        ctx.add_history("u", {"a": -1})
    with pytest.raises(InvalidParameterError):
        ctx.add_history("u", {"a": float("inf")})
    with pytest.raises(KeyTypeError):
        ctx.add_history("u", [b"bytes"])
    with pytest.raises(InvalidParameterError):
        ctx.add_history("u", "abc")
    assert ctx.suggest("a", 5, user="u") == ["a"]  # nothing was half-added
    assert "ContextualAutocomplete" in repr(ctx)


@settings(max_examples=100, deadline=None)
@given(
    vocab=st.dictionaries(st.text(alphabet="abé", min_size=0, max_size=5), FREQ, max_size=50),
    shards=st.integers(1, 5), prefix_chars=st.integers(1, 3),
    prefixes=st.lists(st.text(alphabet="abé", max_size=4), max_size=8), limit=st.integers(0, 7),
    later=st.lists(st.tuples(st.text(alphabet="abé", min_size=1, max_size=5), FREQ), max_size=10),
)  # fmt: skip
def test_sharded_answers_equal_one_index(vocab, shards, prefix_chars, prefixes, limit, later):
    one = Autocomplete.from_words(list(vocab), list(vocab.values()))
    many = ShardedAutocomplete.from_words(
        list(vocab), list(vocab.values()), shards=shards, prefix_chars=prefix_chars
    )
    for w, f in later:
        one.increment(w, f)
        many.increment(w, f)
    assert len(many) == len(one) and many.items() == one.items()
    for p in [*prefixes, ""]:
        assert many.suggest_with_scores(p, limit) == one.suggest_with_scores(p, limit)
    for w in vocab:
        assert many.frequency(w) == one.frequency(w) and (w in many) == (w in one)


def test_routing_is_by_the_first_characters():
    many = ShardedAutocomplete.from_words(
        ["apple", "apricot", "banana", "b"], shards=8, prefix_chars=2
    )
    assert many.shard_of("apple") == many.shard_of("APx")  # folded, first two characters
    assert many.shard_of("b") == many.shard_of("b")
    assert sum(len(s) for s in many.shards) == 4
    assert merge_ranked([[("b", 2.0), ("a", 1.0)], [("c", 2.0)]], 2) == [("b", 2.0), ("c", 2.0)]
    with pytest.raises(InvalidParameterError):
        ShardedAutocomplete(0)
    with pytest.raises(InvalidParameterError):
        ShardedAutocomplete.from_words(["a", "b"], [1.0], shards=2)


def test_large_profiles_take_the_deeper_path_and_stay_exact():
    rng = np.random.default_rng(4)
    letters = np.array(list("abcde"))
    vocab = ["".join(letters[rng.integers(0, 5, rng.integers(1, 7))]) for _ in range(3000)]
    freq = rng.zipf(1.3, 3000).astype(float)
    index = Autocomplete.from_words(vocab, freq)
    ctx = ContextualAutocomplete(index, user_weight=2.0, region_weight=0.5, trending_weight=0.0)
    hist = {w: float(c) for w, c in zip(rng.choice(vocab, 300).tolist(), rng.integers(1, 4, 300).tolist(), strict=False)}
    region = dict(zip(rng.choice(vocab, 1500).tolist(), rng.uniform(0, 30, 1500).tolist(), strict=False))
    ctx.add_history("u", hist)
    ctx.set_region("r", region)
    prefixes = ["", "a", "b", "ab", "cd", "eee", "zz", "abc", "abcd", "dea", "abx"]
    for step in range(3):
        if step == 2:
            index.compact()  # new static ids: the profiles' cached ids must follow
        for prefix in prefixes:
            for k in (1, 10, 40, 100):  # 100: past the kernel's limit, the search in Python
                expect = brute(index.items(), [hist, region, {}], (2.0, 0.5, 0.0), prefix, k)
                assert ctx.suggest_with_scores(prefix, k, user="u", region="r") == expect
        # words new to the index (its delta) and to the history, frequencies changed
        for w in ["abx", "abxa", "abx"] + vocab[:20]:
            index.add_search(w)
        ctx.add_history("u", {"abx": 1.0, "abcd": 2.0})
        for w, b in (("abx", 1.0), ("abcd", 2.0)):
            hist[w] = hist.get(w, 0.0) + b


def test_batch_lookup_kernel_compiles_from_its_warmup_arguments_and_finds_words():
    from sysprims import _jit
    from sysprims._kernels import context  # noqa: F401  (registers the kernel)

    dispatcher, factory = _jit._REGISTRY["context.find_many"]
    for args in factory():
        dispatcher(*args)
        assert args[-1].tolist() == [1, -1]  # "abd" is word 1, "zz" is absent


@pytest.mark.parametrize("sharded", [False, True])
def test_kept_short_prefix_answers_follow_every_change(sharded):
    """Answers of one- and two-letter prefixes are kept per context; every change of
    the index, of a profile in use or of a weight gives a fresh, exact answer."""
    words, freqs = ["pa", "pb", "pc", "qa", "pab"], [5.0, 4.0, 3.0, 1.0, 2.0]
    if sharded:
        index = ShardedAutocomplete.from_words(words, freqs, shards=3, prefix_chars=1)
    else:
        index = Autocomplete.from_words(words, freqs)
    ctx = ContextualAutocomplete(index)
    user, region, trend = {"pc": 3.0}, {"pb": 0.5}, {}
    ctx.add_history("ann", user)
    ctx.set_region("eu", region)

    def check():
        weights = (ctx.user_weight, ctx.region_weight, ctx.trending_weight)
        for p in ("p", "pa", ""):
            expect = brute(index.items(), [user, region, trend], weights, p, 3)
            got = ctx.suggest_with_scores(p, 3, user="ann", region="eu")
            assert got == expect
            got.clear()  # the caller owns the list: the kept answer is not changed
            assert ctx.suggest_with_scores(p, 3, user="ann", region="eu") == expect
            assert ctx.suggest(p, 3, user="ann", region="eu") == [w for w, _ in expect]

    check()
    index.increment("pa", -4)
    check()
    index.add_search("pz")
    index.add_search("pz")
    check()
    ctx.add_history("ann", ["pb", "pz"])
    user["pb"] = user.get("pb", 0.0) + 1.0
    user["pz"] = user.get("pz", 0.0) + 1.0
    check()
    region = {"pa": 9.0}
    ctx.set_region("eu", region)
    check()
    ctx.user_weight = 0.0
    check()
    trend = {"pd": 2.0}
    ctx.set_trending(trend)
    check()
    ctx.forget_user("ann")
    user = {}
    ctx.user_weight = 1.0
    check()


SMALL = st.text(alphabet="abc", min_size=1, max_size=4)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("query"), st.text(alphabet="abc", max_size=3), st.sampled_from([1, 3, 6, 70]),
                  st.sampled_from(["ann", "bob", None]), st.sampled_from(["eu", "us", None])),
        st.tuples(st.just("increment"), SMALL, st.integers(0, 6).map(float)),
        st.tuples(st.just("compact")),
        st.tuples(st.just("history"), st.sampled_from(["ann", "bob"]), st.dictionaries(SMALL, FREQ, max_size=4)),
        st.tuples(st.just("region"), st.sampled_from(["eu", "us"]), st.dictionaries(SMALL, FREQ, max_size=6)),
        st.tuples(st.just("trending"), st.dictionaries(SMALL, FREQ, max_size=4)),
        st.tuples(st.just("weight"), st.sampled_from(["user_weight", "region_weight", "trending_weight"]),
                  st.sampled_from([0.0, 0.5, 2.0])),
        st.tuples(st.just("forget"), st.sampled_from(["ann", "bob"])),
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(vocab=st.dictionaries(SMALL, FREQ, max_size=30), ops=OPS, sharded=st.booleans())
def test_answers_follow_every_change_of_index_profiles_and_weights(vocab, ops, sharded):
    """Queries of every prefix length (kept answers, kernel and Python paths) interleaved
    with updates of the index (in place, new words, a compaction), of histories, regions,
    trending and weights: each answer equals the brute force on the state at that moment."""
    if sharded:
        index = ShardedAutocomplete.from_words(list(vocab), list(vocab.values()), shards=2, prefix_chars=1)
    else:
        index = Autocomplete.from_words(list(vocab), list(vocab.values()))
    ctx = ContextualAutocomplete(index, user_weight=1.0, region_weight=1.0, trending_weight=1.0)
    users: dict[str, dict[str, float]] = {}
    regions: dict[str, dict[str, float]] = {}
    trend: dict[str, float] = {}
    for op in ops:
        if op[0] == "query":
            _, prefix, k, user, region = op
            weights = (ctx.user_weight, ctx.region_weight, ctx.trending_weight)
            profiles = [users.get(user, {}) if user else {}, regions.get(region, {}) if region else {}, trend]
            expect = brute(index.items(), profiles, weights, prefix, k)
            assert ctx.suggest_with_scores(prefix, k, user=user, region=region) == expect
            assert ctx.suggest(prefix, k, user=user, region=region) == [w for w, _ in expect]
        elif op[0] == "increment":
            index.increment(op[1], op[2])
        elif op[0] == "compact":
            if not sharded:
                index.compact()
        elif op[0] == "history":
            ctx.add_history(op[1], op[2])
            mine = users.setdefault(op[1], {})
            for w, b in op[2].items():
                mine[w] = mine.get(w, 0.0) + b
        elif op[0] == "region":
            ctx.set_region(op[1], op[2])
            regions[op[1]] = dict(op[2])
        elif op[0] == "trending":
            ctx.set_trending(op[1])
            trend = dict(op[1])
        elif op[0] == "weight":
            setattr(ctx, op[1], op[2])
        else:
            ctx.forget_user(op[1])
            users.pop(op[1], None)


def test_weights_are_checked_when_set():
    ctx = ContextualAutocomplete(Autocomplete.from_words(["a"]))
    for name in ("user_weight", "region_weight", "trending_weight"):
        with pytest.raises(InvalidParameterError):
            setattr(ctx, name, -1.0)
        assert getattr(ctx, name) == 1.0


def test_long_prefixes_and_large_k_grow_the_kernels_work_arrays():
    """Prefixes past the short-prefix ranges (bisected) and longer than the work arrays
    were sized for, and k past the heavy-prefix answers: still the brute force."""
    long = "a" * 150
    vocab = {long + "b": 3.0, long + "c": 5.0, long: 1.0, "ab": 2.0, **{long[:j] + "x": 1.0 for j in range(1, 150, 7)}}
    index = Autocomplete.from_words(list(vocab), list(vocab.values()), max_length=None)
    ctx = ContextualAutocomplete(index, user_weight=2.0)
    hist = {long + "b": 2.0, long + "d": 1.0, "abz": 4.0}
    ctx.add_history("u", hist)
    for prefix in ("a", "a" * 9, "a" * 100, long, long + "b"):
        for k in (1, 3, 20, 64):
            expect = brute(index.items(), [hist, {}, {}], (2.0, 1.0, 1.0), prefix, k)
            assert ctx.suggest_with_scores(prefix, k, user="u") == expect


def test_concurrent_queries_from_threads_get_the_serial_answers():
    """The kernel releases the GIL and ranks in work arrays the context keeps: queries
    from several threads at once must still each get their own, exact answer."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    letters = np.array(list("abcdef"))
    vocab = sorted({"".join(letters[rng.integers(0, 6, rng.integers(3, 8))]) for _ in range(4000)})
    index = Autocomplete.from_words(vocab, rng.zipf(1.3, len(vocab)).astype(float))
    ctx = ContextualAutocomplete(index, user_weight=2.0, region_weight=1.0)
    users = {f"u{i}": dict(zip(rng.choice(vocab, 200).tolist(), rng.integers(1, 9, 200).astype(float).tolist(), strict=False))
             for i in range(4)}
    for name, hist in users.items():
        ctx.add_history(name, hist)
    ctx.set_region("r", dict(zip(rng.choice(vocab, 500).tolist(), rng.uniform(0, 20, 500).tolist(), strict=False)))
    prefixes = sorted({w[:n] for w in vocab[::7] for n in (3, 4, 5)})
    asks = [(p, 1 + i % 12, f"u{i % 4}") for i, p in enumerate(prefixes)]
    expect = [ctx.suggest_with_scores(p, k, user=u, region="r") for p, k, u in asks]

    def run(shift):
        order = np.roll(np.arange(len(asks)), shift * 97)
        return [(i, ctx.suggest_with_scores(*asks[i][:2], user=asks[i][2], region="r")) for i in order.tolist() * 3]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    wrong = [(asks[i], got) for rows in results for i, got in rows if got != expect[i]]
    assert not wrong, f"{len(wrong)} answers differ from the serial ones, e.g. {wrong[0]}"


def test_a_queried_context_pickles_and_answers_the_same():
    import pickle

    index = Autocomplete.from_words(["python", "pytorch", "pyramid", "pyre"], [100, 90, 80, 10])
    ctx = ContextualAutocomplete(index, user_weight=50)
    ctx.add_history("ann", ["pyre", "pyre"])
    before = [ctx.suggest(p, 3, user="ann") for p in ("p", "py", "pyr", "pyth")]
    back = pickle.loads(pickle.dumps(ctx))
    assert [back.suggest(p, 3, user="ann") for p in ("p", "py", "pyr", "pyth")] == before
    assert back.suggest("pyr", 2, user="ann") == ["pyre", "pyramid"]
