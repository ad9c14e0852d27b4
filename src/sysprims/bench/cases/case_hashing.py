"""Hashing: batch MurmurHash3 against per-key mmh3 and xxhash loops."""

from __future__ import annotations

NAME = "hashing"
TITLE = "Hashing (MurmurHash3 x64_128)"
ORDER = 0
REQUIRES = ("sysprims.hashing",)


def run(ctx) -> None:
    from ...hashing import murmur3_128

    n, nl = ctx.n, ctx.n_loop
    keys = ctx.str_keys(n)
    lk, note = keys[:nl], ctx.loop_note(nl)
    case = "hash list of str"
    mmh3 = ctx.peer("mmh3", case, "mmh3.hash64 loop")
    sample = keys[:2000]
    exact = None
    if mmh3 is not None:
        expect = [mmh3.hash64(k, 0, signed=False) for k in sample]
        exact = {"bit_exact_vs_mmh3": float([tuple(r) for r in murmur3_128(sample).tolist()] == expect)}
    ctx.measure(case, "sysprims murmur3_128", "sysprims", lambda: murmur3_128(keys), n, accuracy=exact)
    if mmh3 is not None:
        h = mmh3.hash64
        ctx.measure(case, "mmh3.hash64 loop", "mmh3", lambda: [h(k, 0, signed=False) for k in lk], nl, note=note,
                    shape="single")
    xxhash = ctx.peer("xxhash", case, "xxhash.xxh3_128 loop")
    if xxhash is not None:
        x = xxhash.xxh3_128_intdigest
        ctx.measure(case, "xxhash.xxh3_128 loop", "xxhash", lambda: [x(k.encode()) for k in lk], nl,
                    note=f"different hash (not MurmurHash3) {note}".strip(), shape="single")
    ctx.measure(case, "python hash() loop", "reference", lambda: [hash(k) for k in lk], nl,
                note="reference only (salted per process, 64-bit: not a peer)", shape="single")
    pa = ctx.peer("pyarrow", case, "floor: read the keys (pyarrow.array)")
    if pa is not None:
        ctx.measure(case, "floor: read the keys (pyarrow.array)", "floor", lambda: pa.array(keys, type=pa.string()), n,
                    warmup=True, note="converts the list of str to Arrow: every key read once")

    case = "hash pre-encoded bytes / arrow"
    enc = [k.encode() for k in keys]
    ctx.measure(case, "sysprims murmur3_128(bytes)", "sysprims", lambda: murmur3_128(enc), n)
    try:
        import pyarrow as pa

        arr = pa.array(keys, type=pa.string())
        ctx.measure(case, "sysprims murmur3_128(arrow)", "sysprims", lambda: murmur3_128(arr), n)
    except ImportError as exc:
        ctx.skip(case, "sysprims murmur3_128(arrow)", "sysprims", f"pyarrow is not installed: {exc}")
    if mmh3 is not None:
        h = mmh3.hash64
        ctx.measure(case, "mmh3.hash64 loop", "mmh3", lambda: [h(k, 0, signed=False) for k in enc[:nl]], nl,
                    note=note, shape="single")

    case = "hash int64 array"
    ints = ctx.int_keys(n)
    ctx.measure(case, "sysprims murmur3_128", "sysprims", lambda: murmur3_128(ints), n)
    if mmh3 is not None:
        h = mmh3.hash64
        il = ints[:nl].tolist()
        ctx.measure(case, "mmh3.hash64 loop", "mmh3",
                    lambda: [h(i.to_bytes(8, "little", signed=True), 0, signed=False) for i in il], nl, note=note,
                    shape="single")

