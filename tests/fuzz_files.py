"""Structure-aware fuzzing of saved files (run as a child process by
``tests/test_fuzz_files.py``, so a crash kills the child, not the suite).

Each case takes a valid file of one kind, changes one thing (a parameter, array
elements, an array's shape or dtype, a byte, the seed or hash id), rebuilds the
CRCs, and loads it. A SerializationError is fine; a structure that loads must
then answer queries consistently (batch == loop, no false negatives, results
inside their ranges). Anything else fails the case.

    python -m tests.fuzz_files SEED CASES_PER_FILE [STEM ...]

prints ``CASE stem i what`` before each case (flushed, so the parent can name
a case that crashed the interpreter) and ``DONE loaded refused`` at the end.
"""

from __future__ import annotations

import copy
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import sysprims as sp
from sysprims.errors import SerializationError

from .container_tools import Raw, decode
from .golden_examples import EXAMPLES

DATA = Path(__file__).parent / "data" / "v0_1"
KEYS = [f"fz-{i}" for i in range(60)]

_VALUES: list[Any] = [
    0, 1, 2, 3, 7, -1, -2, 2**31, 2**32, 2**53, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63),
    0.5, -0.5, 1e-300, 1e300, 1e-9, True, False, None, "", "x", "NFC", [], {}, [1], [0, 0],
]


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        out = [path] if path else []
        for k, v in node.items():
            out += _leaves(v, path + (k,))
        return out
    if isinstance(node, list):
        out = [path] if path else []
        for i, v in enumerate(node):
            out += _leaves(v, path + (i,))
        return out
    return [path]


def _set(root: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        root = root[p]
    root[path[-1]] = value


def _get(root: Any, path: tuple) -> Any:
    for p in path:
        root = root[p]
    return root


def mutate(raw: Raw, rng: random.Random) -> str:
    """Change one thing of ``raw`` in place; returns what was changed."""
    op = rng.choice(["param", "param", "param", "drop", "elements", "elements", "elements", "shape", "dtype",
                     "byte", "seed"])
    names = [e["name"] for e in raw.entries]
    if op in ("elements", "shape", "dtype", "byte") and not names:
        op = "param"
    if op in ("param", "drop"):
        leaves = _leaves(raw.params)
        if not leaves:
            raw.params["junk"] = 1
            return "param junk"
        path = rng.choice(leaves)
        old = _get(raw.params, path)
        if op == "drop" and isinstance(path[-1], str):
            parent = _get(raw.params, path[:-1])
            del parent[path[-1]]
            return f"drop {path}"
        choices = list(_VALUES)
        if type(old) in (int, float):
            choices += [old + 1, old - 1, old * 2, old * 1000, -old, old // 2 if type(old) is int else old / 2]
        if isinstance(old, list) and old:
            choices += [old[:-1], old + old[-1:], old[::-1]]
        value = rng.choice(choices)
        _set(raw.params, path, copy.deepcopy(value))
        return f"param {path} {old!r:.30} -> {value!r:.30}"
    if op == "seed":
        raw.seed = rng.choice([0, 1, 2**32 - 1, raw.seed ^ 1])
        if rng.random() < 0.3:
            raw.hash_id = rng.choice([0, 2, 65535])
        return f"seed {raw.seed} hash_id {raw.hash_id}"
    name = rng.choice(names)
    arr = raw.array(name)
    if op == "elements" and arr.size:
        flat = arr.reshape(-1)
        for _ in range(rng.choice([1, 1, 2, 5])):
            i = rng.randrange(flat.size)
            if arr.dtype.kind == "f":
                v = rng.choice([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e300, 0.5, flat[i] + 1, flat[i] * 3, -flat[i]])
            else:
                info = np.iinfo(arr.dtype)
                v = rng.choice([info.min, info.max, 0, 1, -1, flat.size, flat.size + 1, int(flat[i]) + 1,
                                int(flat[i]) - 1, rng.randrange(-5, 5 + flat.size)])
                v = int(np.clip(v, info.min, info.max))
            flat[i] = v
        raw.set_array(name, arr)
        return f"elements {name}"
    if op == "shape":
        flat = arr.reshape(-1)
        how = rng.choice(["shorter", "longer", "flat", "empty"])
        if how == "shorter":
            new = flat[: max(0, flat.size - rng.choice([1, 2, 8]))]
        elif how == "longer":
            new = np.concatenate([flat, flat[: rng.choice([1, 2, 8])]]) if flat.size else np.zeros(3, arr.dtype)
        elif how == "flat":
            new = flat
        else:
            new = flat[:0]
        raw.set_array(name, new)
        return f"shape {name} {how}"
    if op == "dtype":
        target = rng.choice([np.int64, np.uint64, np.float64, np.int32, np.uint8, np.uint32])
        with np.errstate(all="ignore"):
            raw.set_array(name, arr.astype(target))
        return f"dtype {name} -> {np.dtype(target)}"
    if op == "byte" and len(raw.payload):
        i = rng.randrange(len(raw.payload))
        raw.payload[i] ^= 1 << rng.randrange(8)
        return f"byte {i}"
    return "nothing (empty array)"


# ------------------------------------------------------------------ probes: a loaded structure must answer sanely


def _probe_bloom(bf: Any) -> None:
    probes = KEYS[:20]
    assert bf.contains_many(probes).tolist() == [bf.contains(k) for k in probes]
    bf = bf.copy()
    bf.add_many(KEYS[20:40])
    bf.add("single")
    assert bf.contains_many(KEYS[20:40]).all() and bf.contains("single")
    assert 0 <= bf.bit_count() <= bf.size and bf.approx_count() >= 0
    repr(bf)


def _probe_scalable(sbf: Any) -> None:
    assert sbf.contains_many(KEYS[:20]).tolist() == [sbf.contains(k) for k in KEYS[:20]]
    sbf.add_many(KEYS[20:])
    for k in KEYS[:20]:
        sbf.add(k)
    assert sbf.contains_many(KEYS).all()
    repr(sbf)


def _probe_counting(cbf: Any) -> None:
    assert cbf.contains_many(KEYS[:20]).tolist() == [cbf.contains(k) for k in KEYS[:20]]
    cbf.add_many(KEYS[20:40])
    assert cbf.contains_many(KEYS[20:40]).all()
    assert cbf.remove_many(KEYS[20:30]).all()
    assert cbf.remove("never-added-" + "x" * 40) in (True, False)
    repr(cbf)


def _probe_countmin(cms: Any) -> None:
    before = cms.query_many(KEYS)
    assert before.tolist() == [cms.query(k) for k in KEYS]
    cms.update_many(KEYS[:30], np.arange(30))
    after = cms.query_many(KEYS[:30]).astype(object)
    cap = int(np.iinfo(cms.table.dtype).max)
    assert all(a >= min(int(b) + c, cap) for a, b, c in zip(after, before[:30].tolist(), range(30), strict=True))
    repr(cms)


def _probe_topk(tk: Any) -> None:
    tk.update_many(KEYS[:30])
    tk.update("heavy", 50)
    top = tk.top(tk.capacity)
    assert len(top) <= tk.capacity
    for key, est in top:
        assert est <= tk.query(key)
    repr(tk)


def _probe_limiter(rl: Any) -> None:
    twin = sp.RateLimiter.from_bytes(rl.to_bytes())
    start = max(rl._last, 0.0) + 1.0
    keys = [f"user-{i % 6}" for i in range(60)]
    ts = start + np.arange(60, dtype=np.float64) * 0.05
    batch = rl.allow_many(keys, ts).tolist()
    loop = [twin.allow(k, now=float(t)) for k, t in zip(keys, ts, strict=True)]
    assert batch == loop, (batch, loop)  # at any time a loaded file may hold (exact past 2**50)
    rl.decide("user-1", now=float(ts[-1]) + 1.0)
    rl.reclaim(float(ts[-1]) + 100.0)
    repr(rl)


def _probe_shards(s: Any) -> None:
    batch = s.get_shards(KEYS).tolist()
    assert batch == [s.get_shard(k) for k in KEYS]
    ids = set(s.shard_ids())
    assert set(batch) <= ids
    repr(s)


def _probe_autocomplete(ac: Any) -> None:
    items = ac.items()
    freq = dict(items)
    for prefix in ["", "a", "ap", "b", "z", "é", "ca", "D"]:
        p = prefix.lower() if ac.casefold else prefix
        want = sorted((w for w in freq if w.startswith(p)), key=lambda w: (-freq[w], w))[:5]
        assert ac.suggest(prefix, 5) == want, (prefix, ac.suggest(prefix, 5), want)
    ac.add_many(["apple", "new-word"])
    assert "new-word" in ac
    repr(ac)


def _probe_trie(t: Any) -> None:
    items = t._index.items()
    for prefix in ["", "c", "car", "d", "D"]:
        want = sorted(((w, int(f)) for w, f in items if w.startswith(prefix)), key=lambda r: (-r[1], r[0]))[:5]
        assert t.autocomplete(prefix, 5) == want
    t.insert("cab", 2)
    assert t.search("cab")
    repr(t)


def _probe_feed(fs: Any) -> None:
    n, p = fs.n_users, fs.n_posts
    for u in range(n):
        for model in ("push", "pull", "hybrid"):
            f = fs.feed(u, 10, model)
            assert all(0 <= x < p for x in f.tolist())
            assert np.all(np.diff(f) < 0), (u, model, f)
    if n:
        for model in ("push", "pull", "hybrid"):
            posts, counts = fs.get_feeds(np.arange(n), 10, model)
            for u in range(n):
                assert posts[u, : counts[u]].tolist() == fs.feed(u, 10, model).tolist()
        last = fs.post_timestamp[-1] if p else 0.0
        fs.post_many(np.arange(n), np.full(n, last + 1.0))
        for u in range(n):
            assert fs.timeline(u, 1).tolist() == [p + u] or fs.follower_count(u) >= 0
    repr(fs)


PROBES = {
    "BloomFilter": _probe_bloom,
    "ScalableBloomFilter": _probe_scalable,
    "CountingBloomFilter": _probe_counting,
    "CountMinSketch": _probe_countmin,
    "TopK": _probe_topk,
    "RateLimiter": _probe_limiter,
    "ConsistentHashRing": _probe_shards,
    "JumpHashSharding": _probe_shards,
    "RendezvousSharding": _probe_shards,
    "Autocomplete": _probe_autocomplete,
    "Trie": _probe_trie,
    "FeedStore": _probe_feed,
}


def main(argv: list[str]) -> int:
    seed, cases = int(argv[0]), int(argv[1])
    stems = argv[2:] or sorted(EXAMPLES)
    loaded = refused = 0
    for stem in stems:
        blob = (DATA / f"{stem}.bin").read_bytes()
        cls = getattr(sp, {"HeavyHitters": "TopK"}.get(EXAMPLES[stem][0]().__class__.__name__,
                                                      EXAMPLES[stem][0]().__class__.__name__))
        probe = PROBES[cls.__name__]
        probe(cls.from_bytes(blob))  # the valid file passes the probe
        rng = random.Random(f"{seed}-{stem}")
        for i in range(cases):
            raw = decode(blob)
            what = mutate(raw, rng)
            if rng.random() < 0.25:
                what += " + " + mutate(raw, rng)
            print(f"CASE {stem} {i} {what}", flush=True)
            try:
                data = raw.encode()
            except (TypeError, ValueError):  # the mutation made unencodable JSON (not a file anyone could write)
                continue
            try:
                obj = cls.from_bytes(data)
            except SerializationError:
                refused += 1
                continue
            except Exception:
                print(f"FAIL {stem} {i} {what}: load raised\n{traceback.format_exc()}", flush=True)
                return 1
            loaded += 1
            try:
                probe(obj)
            except sp.InvalidParameterError as exc:
                if "cannot fit" not in str(exc) and "memory" not in str(exc):
                    print(f"FAIL {stem} {i} {what}: a loaded structure raised\n{traceback.format_exc()}", flush=True)
                    return 1
                # a size the constructor accepts too (growth=1e300): refused honestly when reached
            except Exception:
                print(f"FAIL {stem} {i} {what}: a loaded structure answered wrongly\n{traceback.format_exc()}", flush=True)
                return 1
    print(f"DONE {loaded} {refused}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
