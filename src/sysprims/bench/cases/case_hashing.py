"""Hashing: batch MurmurHash3 against per-key mmh3 and xxhash loops, same keys,
same run, with a pyarrow read of the keys as the floor.

The registry of this component (:func:`data`, ``CONTENDERS``), used by
``sysprims bench``, ``benchmarks/bench_hashing.py`` and the tour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import BATCH, SINGLE, Contender, measure_all, read_keys_floor, str_keys

NAME = "hashing"
TITLE = "Hashing (MurmurHash3 x64_128)"
ORDER = 0
REQUIRES = ("sysprims.hashing",)
STR, BYTES, INTS = "hash list of str", "hash pre-encoded bytes / arrow", "hash int64 array"


def data(n: int, seed: int = 42) -> dict[str, Any]:
    keys = str_keys(n, "user", 1, seed)
    ints = np.random.default_rng([seed, 2]).integers(0, 2**63 - 1, size=n, dtype=np.int64)
    return {"n": n, "keys": keys, "encoded": [k.encode() for k in keys], "ints": ints, "int_list": ints.tolist()}


def _murmur(keys: Any) -> np.ndarray:
    from ...hashing import murmur3_128

    return murmur3_128(keys)


def bit_exact(out: Any, d: dict, field: str = "keys") -> dict[str, float]:
    """``out`` (an (n, 2) uint64 array) equals ``mmh3.hash64`` on a sample of the keys."""
    import mmh3

    sample = d[field][:2_000]
    expect = [mmh3.hash64(k, 0, signed=False) for k in sample]
    same = [tuple(r) for r in np.asarray(out)[: len(sample)].tolist()] == expect
    assert same, "murmur3_128 differs from mmh3.hash64"
    return {"bit_exact_vs_mmh3": 1.0}


def _int_bytes(d: dict) -> dict[str, Any]:
    return {"n": d["n"], "keys": [i.to_bytes(8, "little", signed=True) for i in d["int_list"][:2_000]]}


CONTENDERS = [
    Contender(STR, "sysprims murmur3_128", "sysprims", BATCH, call=lambda _s, d: _murmur(d["keys"]),
              check=lambda out, _s, d: bit_exact(out, d)),
    Contender(STR, "mmh3.hash64 loop", "mmh3", SINGLE, peer="mmh3", size="loop", setup=lambda m, d: m.hash64,
              call=lambda h, d: [h(k, 0, signed=False) for k in d["keys"]]),
    Contender(STR, "xxhash.xxh3_128 loop", "xxhash", SINGLE, peer="xxhash", size="loop",
              setup=lambda m, d: m.xxh3_128_intdigest, call=lambda h, d: [h(k.encode()) for k in d["keys"]],
              note="a different hash (not MurmurHash3)"),
    Contender(STR, "python hash() loop", "reference", SINGLE, size="loop", call=lambda _s, d: [hash(k) for k in d["keys"]],
              note="reference only (salted per process, 64-bit: not a peer)"),
    read_keys_floor(STR),
    Contender(BYTES, "sysprims murmur3_128(bytes)", "sysprims", BATCH, call=lambda _s, d: _murmur(d["encoded"]),
              check=lambda out, _s, d: bit_exact(out, d, "encoded")),
    Contender(BYTES, "sysprims murmur3_128(arrow)", "sysprims", BATCH, peer="pyarrow",
              setup=lambda pa, d: pa.array(d["keys"], type=pa.string()), call=lambda arr, d: _murmur(arr),
              check=lambda out, _s, d: bit_exact(out, d), note="read in place"),
    Contender(BYTES, "mmh3.hash64 loop", "mmh3", SINGLE, peer="mmh3", size="loop", setup=lambda m, d: m.hash64,
              call=lambda h, d: [h(k, 0, signed=False) for k in d["encoded"]]),
    Contender(INTS, "sysprims murmur3_128", "sysprims", BATCH, call=lambda _s, d: _murmur(d["ints"]),
              check=lambda out, _s, d: bit_exact(out, _int_bytes(d))),
    Contender(INTS, "mmh3.hash64 loop", "mmh3", SINGLE, peer="mmh3", size="loop", setup=lambda m, d: m.hash64,
              call=lambda h, d: [h(i.to_bytes(8, "little", signed=True), 0, signed=False) for i in d["int_list"]]),
]


def run(ctx) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
