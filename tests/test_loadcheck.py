"""Crafted files: valid CRCs, lying contents. Each must be refused with a
SerializationError before any kernel sees it (never a crash, a wrong answer, a
bare ValueError/TypeError/OverflowError or gigabytes of allocation).

Cases that crashed (or could crash) the interpreter run in a subprocess, with an
address-space limit where the old code allocated gigabytes, so the suite survives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sysprims as sp
from sysprims.errors import SerializationError

from .container_tools import decode
from .golden_examples import EXAMPLES

DATA = Path(__file__).parent / "data" / "v0_1"
SRC = str(Path(sp.__file__).resolve().parents[1])


def valid(stem: str) -> bytes:
    return (DATA / f"{stem}.bin").read_bytes()


def run_child(tmp_path: Path, cls: str, blob: bytes, queries: str, *, memory_gb: float | None = None) -> str:
    """Load ``blob`` with ``sysprims.<cls>.from_bytes`` in a fresh interpreter, then
    run ``queries`` on ``obj``. Returns "REFUSED ..." or "LOADED"; fails on a crash."""
    path = tmp_path / "crafted.bin"
    path.write_bytes(blob)
    limit = ""
    if memory_gb is not None:
        limit = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({int(memory_gb * 2**30)}, -1))\n"
    load = textwrap.dedent(f"""
        import sys
        import numpy as np
        import sysprims as sp
        from sysprims.errors import SerializationError
        blob = open(sys.argv[1], "rb").read()
        try:
            obj = sp.{cls}.from_bytes(blob)
        except SerializationError as exc:
            print("REFUSED", exc)
            raise SystemExit(0)
    """)
    code = limit + load + textwrap.dedent(queries) + "\nprint('LOADED')\n"
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"the child died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout.strip().splitlines()[-1]


# ------------------------------------------------------------------ rate limiter (issue 17 item 1)


def _limiter_blob(stem: str, edit) -> bytes:
    raw = decode(valid(stem))
    rows = raw.array("rows")
    edit(rows, raw)
    raw.set_array("rows", rows)
    return raw.encode()


@pytest.mark.parametrize("column, value", [(1, 1e9), (1, -7.0), (0, 1e6), (0, -3.0)])
def test_sliding_log_row_with_head_or_count_outside_the_ring_is_refused(tmp_path, column, value):
    def edit(rows, raw):
        rows[0, column] = value

    blob = _limiter_blob("rate_limiter_sliding_window_log", edit)
    queries = "obj.allow_many([f'user-{i}' for i in range(4)] * 50, np.full(200, 104.0)); obj.allow('user-0', now=104.5)"
    assert run_child(tmp_path, "RateLimiter", blob, queries).startswith("REFUSED")


def _edit_row(column, value, *, stem):
    def edit(rows, raw):
        rows[:, column] = value

    return stem, edit


LIMITER_LIES = {
    "tokens above capacity": _edit_row(0, 50.0, stem="rate_limiter_token_bucket"),
    "negative tokens": _edit_row(0, -1.0, stem="rate_limiter_token_bucket"),
    "bucket time after the last seen": _edit_row(1, 1e6, stem="rate_limiter_token_bucket"),
    "leaky level above capacity": _edit_row(0, 4.0, stem="rate_limiter_leaky_bucket"),
    "fixed window after the last seen": _edit_row(0, 1e6, stem="rate_limiter_fixed_window"),
    "fixed window count above limit": _edit_row(1, 99.0, stem="rate_limiter_fixed_window"),
    "fractional window index": _edit_row(0, 102.5, stem="rate_limiter_fixed_window"),
    "counter previous negative": _edit_row(2, -1.0, stem="rate_limiter_sliding_window_counter"),
    "logged request after the last seen": _edit_row(2, 1e6, stem="rate_limiter_sliding_window_log"),
    "fractional log head": _edit_row(1, 0.5, stem="rate_limiter_sliding_window_log"),
}


@pytest.mark.parametrize("lie", sorted(LIMITER_LIES))
def test_rate_limiter_rows_out_of_range_are_refused(lie):
    stem, edit = LIMITER_LIES[lie]
    with pytest.raises(SerializationError):
        sp.RateLimiter.from_bytes(_limiter_blob(stem, edit))


def test_sliding_log_ring_out_of_time_order_is_refused():
    def edit(rows, raw):
        head, count = int(rows[0, 1]), int(rows[0, 0])
        assert count >= 2
        newest, older = (head - 1) % 4, (head - 2) % 4
        a, b = rows[0, 2 + older], rows[0, 2 + newest]
        assert a < b
        rows[0, 2 + older], rows[0, 2 + newest] = b, a  # the newest two swapped

    with pytest.raises(SerializationError, match="time order"):
        sp.RateLimiter.from_bytes(_limiter_blob("rate_limiter_sliding_window_log", edit))


def test_rate_limiter_rows_without_a_seen_time_and_bad_last_are_refused():
    raw = decode(valid("rate_limiter_token_bucket"))
    raw.params["last"] = None
    with pytest.raises(SerializationError, match="last"):
        sp.RateLimiter.from_bytes(raw.encode())
    raw.params["last"] = "103"
    with pytest.raises(SerializationError, match="last"):
        sp.RateLimiter.from_bytes(raw.encode())


def test_rate_limiter_huge_parameter_is_a_serialization_error():
    raw = decode(valid("rate_limiter_token_bucket"))
    raw.params["params"]["capacity"] = 10**400  # float() of it overflows
    with pytest.raises(SerializationError):
        sp.RateLimiter.from_bytes(raw.encode())


# ------------------------------------------------------------------ sharding (issue 17 item 2)


def test_rendezvous_node_id_list_shorter_than_the_nodes_is_refused(tmp_path):
    raw = decode(valid("shard_hrw"))
    raw.params["nodes"]["ids"] = raw.params["nodes"]["ids"][:1]
    queries = "print(obj.get_shards([f'k{i}' for i in range(1000)]).max())"
    assert run_child(tmp_path, "RendezvousSharding", raw.encode(), queries).startswith("REFUSED")


@pytest.mark.parametrize("stem, cls", [("shard_hrw", "RendezvousSharding"), ("shard_ring", "ConsistentHashRing"),
                                       ("shard_jump", "JumpHashSharding")])
@pytest.mark.parametrize("lie", ["negative", "duplicate", "short", "not int", "next_id"])
def test_node_ids_must_be_non_negative_unique_and_one_per_node(stem, cls, lie):
    raw = decode(valid(stem))
    nodes = raw.params["nodes"]
    if lie == "negative":
        nodes["ids"][0] = -1
    elif lie == "duplicate":
        nodes["ids"][1] = nodes["ids"][0]
    elif lie == "short":
        nodes["ids"] = nodes["ids"][:-1]
    elif lie == "not int":
        nodes["ids"][0] = 1.5
    else:
        nodes["next_id"] = max(nodes["ids"])
    with pytest.raises(SerializationError):
        getattr(sp, cls).from_bytes(raw.encode())


def test_int_named_node_must_keep_its_name_as_id():
    raw = decode(valid("shard_hrw"))
    ids = raw.params["nodes"]["ids"]
    ids[0], ids[1] = ids[1], ids[0]
    with pytest.raises(SerializationError):
        sp.RendezvousSharding.from_bytes(raw.encode())


def test_ring_with_a_huge_weight_is_refused_without_building_it(tmp_path):
    raw = decode(valid("shard_ring"))
    raw.params["vnodes"] = 1 << 16
    raw.params["nodes"]["weights"][0] = 1e5  # 6.5e9 points from a 260-byte file
    blob = raw.encode()
    assert len(blob) < 400
    assert run_child(tmp_path, "ConsistentHashRing", blob, "obj.get_shard('x')", memory_gb=2).startswith("REFUSED")


def test_ring_vnodes_above_the_constructor_limit_are_refused():
    raw = decode(valid("shard_ring"))
    raw.params["vnodes"] = (1 << 16) + 1
    with pytest.raises(SerializationError):
        sp.ConsistentHashRing.from_bytes(raw.encode())


def test_ring_constructor_refuses_a_ring_that_cannot_be_built(tmp_path):
    # in a child with 2 GB of address space: the old code built 6.5e13 labels
    queries = """
try:
    sp.ConsistentHashRing(["a", "b"], vnodes=1 << 16, weights=[1.0, 1e9])
except sp.InvalidParameterError as exc:
    assert "points" in str(exc)
    print("REFUSED", exc)
    raise SystemExit(0)
"""
    blob = valid("shard_ring")
    assert run_child(tmp_path, "ConsistentHashRing", blob, queries, memory_gb=2).startswith("REFUSED")


def test_jump_table_of_floats_is_refused():
    raw = decode(valid("shard_jump"))
    raw.set_array("table", raw.array("table").astype(np.float64))
    with pytest.raises(SerializationError):
        sp.JumpHashSharding.from_bytes(raw.encode())


# ------------------------------------------------------------------ every loader (issue 17 item 4)


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_hash_id_is_checked(stem):
    raw = decode(valid(stem))
    raw.hash_id = 2
    with pytest.raises(SerializationError, match="hash id"):
        type(EXAMPLES[stem][0]()).from_bytes(raw.encode())


def test_overlapping_arrays_are_refused():
    raw = decode(valid("count_min"))
    raw.set_array("other", np.zeros(4, np.uint64))
    table = next(e for e in raw.entries if e["name"] == "table")
    other = next(e for e in raw.entries if e["name"] == "other")
    other["offset"] = table["offset"]  # the same bytes, read twice
    with pytest.raises(SerializationError, match="overlap"):
        sp.CountMinSketch.from_bytes(raw.encode())


@pytest.mark.parametrize("shape", [[-1, -1], [2, -3], [1.5]])
def test_negative_or_fractional_shapes_are_serialization_errors(shape):
    raw = decode(valid("bloom"))
    raw.entries[0]["shape"] = shape
    with pytest.raises(SerializationError):
        sp.BloomFilter.from_bytes(raw.encode())


@pytest.mark.parametrize("params", [5, [1, 2], "size"])
def test_params_that_are_not_an_object_are_refused(params):
    raw = decode(valid("bloom"))
    raw.params = params
    with pytest.raises(SerializationError):
        sp.BloomFilter.from_bytes(raw.encode())


def test_non_finite_numbers_in_the_metadata_are_refused():
    raw = decode(valid("bloom_scalable"))
    meta = raw.meta_bytes().rstrip(b"\x00").replace(b'"growth": 2', b'"growth": Infinity')
    meta += b"\x00" * ((-len(meta)) % 64)
    with pytest.raises(SerializationError):
        sp.ScalableBloomFilter.from_bytes(raw.encode(meta))


def test_countmin_claiming_a_huge_table_is_refused_before_allocating(tmp_path):
    raw = decode(valid("count_min"))
    raw.params["width"] = 1 << 40
    raw.params["depth"] = 4096
    assert run_child(tmp_path, "CountMinSketch", raw.encode(), "", memory_gb=2).startswith("REFUSED")


def test_topk_claiming_millions_of_candidates_is_refused(tmp_path):
    raw = decode(valid("top_k"))
    raw.params["k"] = 1 << 24
    raw.params["candidates"] = 1 << 25
    blob = raw.encode()
    assert run_child(tmp_path, "TopK", blob, "obj.update('x')", memory_gb=2).startswith("REFUSED")


def test_topk_candidate_whose_hash_is_not_its_key_is_refused():
    raw = decode(valid("top_k"))
    h1 = raw.array("h1")
    h1[0] ^= 1
    raw.set_array("h1", h1)
    with pytest.raises(SerializationError, match="hash"):
        sp.TopK.from_bytes(raw.encode())


def test_bloom_stage_without_capacity_is_refused():
    raw = decode(valid("bloom_scalable"))
    raw.params["stages"][-1]["capacity"] = None
    with pytest.raises(SerializationError):
        sp.ScalableBloomFilter.from_bytes(raw.encode())


@pytest.mark.parametrize("value", [True, "0.01", 1.5, -1])
def test_counting_filter_bad_capacity_or_rate_is_refused(value):
    raw = decode(valid("bloom_counting"))
    raw.params["capacity" if value in (True, -1) else "target_false_positive_rate"] = value
    raw.params["target_false_positive_rate"] = value if value not in (True, -1) else None
    with pytest.raises(SerializationError):
        sp.CountingBloomFilter.from_bytes(raw.encode())


def test_autocomplete_word_split_inside_a_character_is_refused():
    ac = sp.Autocomplete.from_words(["aé", "b"], casefold=False)
    raw = decode(ac.to_bytes())
    offsets = raw.array("offsets")
    assert offsets.tolist() == [0, 3, 4]
    offsets[1] = 2  # "a\xc3" + "\xa9b": the buffer still decodes, each word does not
    raw.set_array("offsets", offsets)
    with pytest.raises(SerializationError, match="boundary"):
        sp.Autocomplete.from_bytes(raw.encode())


def test_autocomplete_word_longer_than_max_length_is_refused():
    raw = decode(valid("autocomplete"))
    raw.params["max_length"] = 3
    with pytest.raises(SerializationError, match="max_length"):
        sp.Autocomplete.from_bytes(raw.encode())


def test_trie_with_fractional_frequencies_is_refused():
    raw = decode(valid("trie"))
    freq = raw.array("freq")
    freq[0] = 0.5
    raw.set_array("freq", freq)
    with pytest.raises(SerializationError):
        sp.Trie.from_bytes(raw.encode())


@pytest.mark.parametrize("name, value", [("n_users", "5"), ("n_users", 4.0), ("capacity", True), ("n_posts", -1)])
def test_feedstore_wrongly_typed_params_are_refused(name, value):
    raw = decode(valid("feed_store"))
    raw.params[name] = value
    with pytest.raises(SerializationError):
        sp.FeedStore.from_bytes(raw.encode())


FEED_LIES = {
    "post_prev points at another author's post": ("post_prev", 7, 0),
    "post_prev points at itself": ("post_prev", 3, 3),
    "timestamps go back": ("post_ts", 5, 0.0),
    "post_pushed is 7": ("post_pushed", 0, 7),
    "a ring entry is not in post order": ("tl", 0, 0),
}


@pytest.mark.parametrize("lie", sorted(FEED_LIES))
def test_feedstore_inconsistent_lists_and_rings_are_refused(lie):
    name, index, value = FEED_LIES[lie]
    raw = decode(valid("feed_store"))
    arr = raw.array(name)
    flat = arr.reshape(-1)
    if name == "tl":
        counts = raw.array("tl_count")
        u = int(np.argmax(counts))
        row = arr[u]
        c = int(counts[u])
        assert c >= 2
        cap = row.shape[0]
        row[(c - 1) % cap] = row[(c - 2) % cap]  # newest == the one before it
    else:
        flat[index] = value
    raw.set_array(name, arr)
    with pytest.raises(SerializationError, match="inconsistent"):
        sp.FeedStore.from_bytes(raw.encode())


def test_feedstore_self_follow_is_refused():
    raw = decode(valid("feed_store"))
    idx = raw.array("following_indices")
    ptr = raw.array("following_indptr")
    user = int(np.flatnonzero(np.diff(ptr))[0])
    idx[ptr[user]] = user
    raw.set_array("following_indices", idx)
    with pytest.raises(SerializationError):
        sp.FeedStore.from_bytes(raw.encode())


def test_kind_spellings_are_one_convention():
    import re

    from sysprims._format import LEGACY_KINDS

    kinds = {cls._KIND for cls in (type(b()) for b, _a in EXAMPLES.values())}
    assert len(kinds) == 12
    for kind in kinds:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", kind) and len(kind) <= 16, kind
    assert set(LEGACY_KINDS.values()) <= kinds
    assert not set(LEGACY_KINDS) & kinds


def test_metadata_is_json_the_writer_would_write():
    raw = decode(valid("bloom"))
    meta = json.dumps({"params": raw.params, "arrays": raw.entries}).encode()
    deep = b'{"params": ' + b"[" * 100000 + b"]" * 100000 + b', "arrays": []}'
    deep += b"\x00" * ((-len(deep)) % 64)
    assert meta  # the valid one decodes
    with pytest.raises(SerializationError):
        sp.BloomFilter.from_bytes(raw.encode(deep))


# ------------------------------------------------------------------ found by the fuzzer


def test_autocomplete_offsets_that_wrap_a_subtraction_are_refused(tmp_path):
    # np.diff(offsets) >= 0 passed: 36 - (-2**63) overflows to a positive difference; the kernel then segfaulted
    raw = decode(valid("autocomplete"))
    offsets = raw.array("offsets")
    offsets[7], offsets[8] = -(2**63), -1
    raw.set_array("offsets", offsets)
    queries = "obj.suggest('a', 5); obj.suggest_many(['b', 'e'], 3)"
    assert run_child(tmp_path, "Autocomplete", raw.encode(), queries).startswith("REFUSED")


def test_topk_key_offsets_that_wrap_a_subtraction_are_refused():
    raw = decode(valid("top_k"))
    offsets = raw.array("key_offsets")
    offsets[1], offsets[2] = -(2**63), -1
    raw.set_array("key_offsets", offsets)
    with pytest.raises(SerializationError):
        sp.TopK.from_bytes(raw.encode())


def test_scalable_stage_capacity_must_be_the_one_its_parameters_give():
    raw = decode(valid("bloom_scalable"))
    raw.params["stages"][-1]["capacity"] = 10**29  # room = 10**29 - count did not fit an int64 on the next add
    with pytest.raises(SerializationError, match="stage"):
        sp.ScalableBloomFilter.from_bytes(raw.encode())


def test_feed_timeline_count_exposing_unwritten_slots_is_refused():
    raw = decode(valid("feed_store"))
    counts = raw.array("tl_count")
    assert counts[4] == 0
    counts[4] = 1  # a slot never written (post 0, a celebrity's unpushed post) becomes "live": hybrid showed it twice
    raw.set_array("tl_count", counts)
    with pytest.raises(SerializationError, match="inconsistent"):
        sp.FeedStore.from_bytes(raw.encode())
