"""Bloom filter kernels over a packed ``uint64`` bit array.

Probe positions of a key with MurmurHash3 halves ``(h1, h2)`` (all uint64 and
wrapping mod 2**64, never truncated to 32 bits):

* standard layout over ``m`` bits: ``h = h1 + i*h2`` for ``i = 0..k-1`` and
  position ``mulhi(h, m) = (h * m) >> 64`` (Lemire's multiply-shift range
  reduction: no division, no modulo bias beyond ``m / 2**64``);
* blocked layout (1) over ``nblocks`` blocks of 512 bits (8 words): block
  ``mulhi(h1, nblocks)``; inside it, bit ``x_i >> 55`` for
  ``x_i = fmix64(h2) * C**i`` (``C = 0x9E3779B97F4A7C15``, ``fmix64`` MurmurHash3's
  finaliser), so all k probes share one cache line. (The finaliser matters: for
  keys under 8 bytes MurmurHash3's h2 is tied to h1, and the raw top bits of h2
  set ~10% fewer distinct bits per block than uniform probes would.)
* split-block layout (2), as Parquet's SBBF but on 64-bit words: the same block
  choice; word ``i`` (0..7) of the block gets exactly one bit,
  ``(fmix64(h2) * SALT[i] mod 2**64) >> 58``. k is always 8; an add or a query
  is one eight-lane vector multiply, shift and OR (or AND and compare) over
  one cache line (:func:`sysprims._kernels.machine.split_block_ops`), without
  branches.

Bit ``p`` lives in word ``p >> 6`` at bit ``p & 63``. The scalar Python path in
:mod:`sysprims.bloom` computes the same positions. The layout is passed as an
int64 (0/1/2) so each kernel compiles once. Batch kernels take every key form
(:class:`sysprims.hashing.KernelKeys`: mode, hashes, ints, data, starts, ends,
seed) and are pipelined: a block of ``BLOCK`` keys is hashed and its words
prefetched before any is touched, so their cache misses overlap. Writers are
serial (a batch sets exactly the bits of the loop of scalar calls); queries are
read-only, so the wrapper may split a batch over threads.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .machine import mulhi, prefetch, split_block_ops
from .murmur3 import (
    block128,
    finish128,
    fmix64,
    load64,
    mix_k1,
    mix_k2,
    murmur3_x64_128_one,
    murmur3_x64_128_u64_one,
)

_U55 = np.uint64(55)
_U6 = np.uint64(6)
_U63 = np.uint64(63)
_ONE = np.uint64(1)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


#: Keys per pipelined block: hash (and locate) this many keys, prefetch their
#: words, then set or test them, so up to BLOCK * k cache misses overlap.
BLOCK = 16

#: Split-block layout: word ``i`` of a key's 512-bit block gets bit
#: ``(x * SALT[i] mod 2**64) >> 58``, x = fmix64(h2); odd constants (the first
#: eight are Parquet's SBBF salts, used here on 64-bit words).
SALT = np.array(
    [0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947, 0x5C6BFB31],
    dtype=np.uint64,
)
_U58 = np.uint64(58)
_U3 = np.uint64(3)
#: The split-block probe as eight-lane vector code (one multiply, shift and OR
#: for the whole line): ``_split_or(bits, w, x)``, ``_split_test(bits, w, x)``.
_split_or, _split_test = split_block_ops(tuple(int(s) for s in SALT))


def _ex_bits():
    return np.zeros(16, dtype=np.uint64)


def _ex_hashes():
    return np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)


def _ex_keys(mode):
    """(mode, hashes, ints, data, starts, ends, seed) for each key form (see
    :class:`sysprims.hashing.KernelKeys`)."""
    e64 = np.zeros(0, dtype=np.uint64)
    ei = np.zeros(0, dtype=np.int64)
    eh = np.zeros((0, 2), dtype=np.uint64)
    eb = np.zeros(0, dtype=np.uint8)
    if mode == 0:
        return (np.int64(0), _ex_hashes(), e64, eb, ei, ei, np.uint64(0))
    if mode == 1:
        return (np.int64(1), eh, np.arange(3, dtype=np.uint64), eb, ei, ei, np.uint64(0))
    data = np.frombuffer(b"abcab", dtype=np.uint8).copy()
    return (np.int64(2), eh, e64, data, np.array([0, 3, 3], np.int64), np.array([3, 5, 3], np.int64), np.uint64(0))


def _ex_add():
    return [(*_ex_keys(md), np.int64(3), np.uint64(1024 if lay == 0 else 2), np.int64(lay), _ex_bits())
            for md in (0, 1, 2) for lay in (0, 1, 2)]


def _ex_contains():
    return [(*_ex_keys(md), np.int64(3), np.uint64(2), np.int64(lay), _ex_bits(), np.zeros(3, np.bool_))
            for md in (0, 1, 2) for lay in (0, 1, 2)]


@kernel(inline="always")
def key_hash(mode, i, hashes, ints, data, starts, ends, seed):
    """(h1, h2) of key ``i`` of a batch in any kernel form (mode 0 hashes, 1 ints, 2 bytes)."""
    if mode == 0:
        return hashes[i, 0], hashes[i, 1]
    if mode == 1:
        return murmur3_x64_128_u64_one(ints[i], seed)
    return murmur3_x64_128_one(data, starts[i], ends[i], seed)


@kernel(inline="always")
def _set_probes(h1, h2, k, m, layout, bits):
    if layout == 2:
        _split_or(bits, mulhi(h1, m) << _U3, fmix64(h2))
    elif layout == 1:
        base = mulhi(h1, m) << _U3
        x = fmix64(h2)
        for _ in range(k):
            b = x >> _U55
            w = base + (b >> _U6)
            bits[w] |= _ONE << (b & _U63)
            x = x * _GOLD
    else:
        h = h1
        for _ in range(k):
            p = mulhi(h, m)
            bits[p >> _U6] |= _ONE << (p & _U63)
            h = h + h2


@kernel(inline="always")
def _test_probes(h1, h2, k, m, layout, bits):
    if layout == 2:
        return _split_test(bits, mulhi(h1, m) << _U3, fmix64(h2))
    if layout == 1:
        base = mulhi(h1, m) << _U3
        x = fmix64(h2)
        for _ in range(k):
            b = x >> _U55
            w = base + (b >> _U6)
            if (bits[w] >> (b & _U63)) & _ONE == 0:
                return False
            x = x * _GOLD
        return True
    h = h1
    for _ in range(k):
        p = mulhi(h, m)
        if (bits[p >> _U6] >> (p & _U63)) & _ONE == 0:
            return False
        h = h + h2
    return True


@kernel(inline="always")
def batch_len(mode, hashes, ints, starts):
    """The number of keys of a batch in kernel form ``mode``."""
    return starts.shape[0] if mode == 2 else ints.shape[0] if mode == 1 else hashes.shape[0]


@kernel(inline="always")
def _scratch(k):
    """The per-call buffers of two pipelined blocks: hashes and probe positions
    (``k`` per key; the Count-Min kernels use the first half for one block)."""
    return np.empty((2 * BLOCK, 2), dtype=np.uint64), np.empty(2 * BLOCK * k, dtype=np.uint64)


_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_U8 = np.uint64(8)


@kernel(inline="always")
def _hash_bytes(data, start, end, seed):
    """MurmurHash3_x64_128 of ``data[start:end]`` (equal to
    :func:`~sysprims._kernels.murmur3.murmur3_x64_128_one`) with a branchless
    tail: where 16 bytes past the last whole block are inside ``data``, both
    tail words are read whole and masked, and both are always mixed in (a word
    of zeros mixes to zero, so XOR-ing it is the reference's skipped step).
    Batches of short keys (Arrow columns) hash about 30% faster."""
    length = end - start
    p = start + (length & ~15)
    if data.shape[0] - p < 16:
        return murmur3_x64_128_one(data, start, end, seed)
    h1 = seed
    h2 = seed
    for q in range(start, p, 16):
        h1, h2 = block128(h1, h2, load64(data, q), load64(data, q + 8))
    rem = np.uint64(length & 15)
    m1 = _ALL if rem >= _U8 else (_ONE << (_U8 * rem)) - _ONE
    m2 = (_ONE << (_U8 * (rem - _U8))) - _ONE if rem > _U8 else np.uint64(0)
    h2 ^= mix_k2(load64(data, p + 8) & m2)
    h1 ^= mix_k1(load64(data, p) & m1)
    return finish128(h1, h2, length)


@kernel(inline="always")
def _hash_block(mode, lo, cnt, ints, data, starts, ends, seed, hs):
    """Hash keys ``lo..lo+cnt`` of the int (mode 1) or bytes (mode 2) form into ``hs``."""
    if mode == 1:
        for j in range(cnt):
            hs[j, 0], hs[j, 1] = murmur3_x64_128_u64_one(ints[lo + j], seed)
    else:
        for j in range(cnt):
            hs[j, 0], hs[j, 1] = _hash_bytes(data, starts[lo + j], ends[lo + j], seed)


@kernel(inline="always")
def _locate(src, off, cnt, k, m, layout, bits, pos):
    """Prefetch the words that keys ``src[off..off+cnt]`` will touch: every
    probe word (standard layout, positions kept in ``pos``) or the key's block."""
    if layout == 0:
        for j in range(cnt):
            h = src[off + j, 0]
            h2 = src[off + j, 1]
            for t in range(k):
                p = mulhi(h, m)
                pos[j * k + t] = p
                prefetch(bits, p >> _U6)
                h = h + h2
    else:
        for j in range(cnt):
            prefetch(bits, mulhi(src[off + j, 0], m) << _U3)


@kernel(inline="always")
def _block(b, mode, n, hashes, hs):
    """(lo, cnt, src, off) of block ``b``: its first key and key count, and
    where its hashes are (``hashes`` itself, or its half of ``hs``)."""
    lo = b * BLOCK
    if mode == 0:
        return lo, min(BLOCK, n - lo), hashes, lo
    return lo, min(BLOCK, n - lo), hs, (b & 1) * BLOCK


@kernel(inline="always")
def _stage(b, mode, n, hashes, ints, data, starts, ends, seed, hs):
    """Hash block ``b`` into its half of ``hs`` (nothing for given hashes)."""
    if mode != 0:
        lo = b * BLOCK
        _hash_block(mode, lo, min(BLOCK, n - lo), ints, data, starts, ends, seed, hs[(b & 1) * BLOCK :])


@kernel(inline="always")
def _fetch(b, mode, n, hashes, hs, k, m, layout, bits, pos):
    """Prefetch block ``b``'s words, keeping standard positions in its half of ``pos``."""
    _lo, cnt, src, off = _block(b, mode, n, hashes, hs)
    _locate(src, off, cnt, k, m, layout, bits, pos[(b & 1) * BLOCK * k :])


@kernel(inline="always")
def _advance(b, nblk, mode, n, hashes, ints, data, starts, ends, seed, k, m, layout, bits, hs, pos):
    """Before block ``b`` is set or tested: stage and fetch block 0 first,
    then hash block ``b + 1``; given hashes, fetch block ``b + 1`` too (there
    is no hashing to hide its misses behind, so they get block ``b``'s work)."""
    if b == 0:
        _stage(0, mode, n, hashes, ints, data, starts, ends, seed, hs)
        _fetch(0, mode, n, hashes, hs, k, m, layout, bits, pos)
    if b + 1 < nblk:
        _stage(b + 1, mode, n, hashes, ints, data, starts, ends, seed, hs)
        if mode == 0:
            _fetch(b + 1, mode, n, hashes, hs, k, m, layout, bits, pos)
    return _block(b, mode, n, hashes, hs)


@kernel(inline="always")
def _retire(b, nblk, mode, n, hashes, hs, k, m, layout, bits, pos):
    """After block ``b``: fetch block ``b + 1`` when it was hashed here. Its
    prefetches go out after block ``b``'s loads, not ahead of them, and resolve
    while block ``b + 2`` is hashed."""
    if mode != 0 and b + 1 < nblk:
        _fetch(b + 1, mode, n, hashes, hs, k, m, layout, bits, pos)


@kernel(_ex_add)
def bloom_add(mode, hashes, ints, data, starts, ends, seed, k, m, layout, bits):
    """Set the probes of every key of a batch (any form), BLOCK keys at a time:
    block b+1 is hashed and its words prefetched before block b's bits are set,
    so a block's misses resolve while the next is hashed. ``m``: bits
    (standard) or 512-bit blocks; ``layout`` 0 standard, 1 blocked, 2
    split-block. Bits are only OR-ed, so the result is exactly the loop of
    scalar adds."""
    n = batch_len(mode, hashes, ints, starts)
    hs, pos = _scratch(k)
    nblk = (n + BLOCK - 1) // BLOCK
    for b in range(nblk):
        lo, cnt, src, off = _advance(b, nblk, mode, n, hashes, ints, data, starts, ends, seed, k, m, layout, bits, hs, pos)
        if layout == 0:
            base = (b & 1) * BLOCK * k
            for q in range(cnt * k):
                p = pos[base + q]
                bits[p >> _U6] |= _ONE << (p & _U63)
        else:
            for j in range(cnt):
                _set_probes(src[off + j, 0], src[off + j, 1], k, m, layout, bits)
        _retire(b, nblk, mode, n, hashes, hs, k, m, layout, bits, pos)


@kernel(_ex_contains)
def bloom_contains(mode, hashes, ints, data, starts, ends, seed, k, m, layout, bits, out):
    """``out[i]`` = every probe of key ``i`` is set; pipelined as :func:`bloom_add`.
    Read-only, so disjoint slices of a batch may run on several threads."""
    n = out.shape[0]
    hs, pos = _scratch(k)
    nblk = (n + BLOCK - 1) // BLOCK
    for b in range(nblk):
        lo, cnt, src, off = _advance(b, nblk, mode, n, hashes, ints, data, starts, ends, seed, k, m, layout, bits, hs, pos)
        if layout == 0:
            base = (b & 1) * BLOCK * k
            for j in range(cnt):
                hit = True
                for t in range(k):
                    p = pos[base + j * k + t]
                    if (bits[p >> _U6] >> (p & _U63)) & _ONE == 0:
                        hit = False
                        break
                out[lo + j] = hit
        else:
            for j in range(cnt):
                out[lo + j] = _test_probes(src[off + j, 0], src[off + j, 1], k, m, layout, bits)
        _retire(b, nblk, mode, n, hashes, hs, k, m, layout, bits, pos)


def _ex_add_new():
    return (_ex_hashes(), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits(), np.int64(2), np.zeros(3, np.bool_))


def _ex_counters():
    return np.zeros(64, dtype=np.uint8)


def _ex_count_add():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters())


def _ex_count_remove():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters(), np.zeros(3, np.bool_))


def _ex_count_contains():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters(), np.zeros(3, np.bool_))


@kernel(_ex_add_new)
def bloom_add_new_hashes(hashes, k, m, blocked, bits, limit, added):
    """Serially: a key whose probes are all set already is skipped; others are
    added and marked in ``added``. Stops after ``limit`` additions; returns the
    number of rows consumed (for scalable filters that fill one stage at a time)."""
    count = 0
    n = hashes.shape[0]
    for i in range(n):
        if count >= limit:
            return i
        if _test_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits):
            added[i] = False
        else:
            _set_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits)
            added[i] = True
            count += 1
    return n


@kernel(lambda: (_ex_bits(),))
def popcount_words(bits):
    """Number of set bits in a uint64 array (SWAR popcount)."""
    total = 0
    for i in range(bits.shape[0]):
        x = bits[i]
        x = x - ((x >> _ONE) & np.uint64(0x5555555555555555))
        x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
        x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        total += np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
    return total


# ------------------------------------------------------------ counting filter


@kernel(inline="always")
def _count_positions(h1, h2, k, m, pos):
    h = h1
    for j in range(k):
        pos[j] = mulhi(h, m)
        h = h + h2


@kernel(_ex_count_add)
def counting_add_hashes(hashes, k, m, counters):
    """Increment the k counters of every key, saturating at 255 (a probe that
    repeats within one key increments its counter once per occurrence)."""
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        for j in range(k):
            c = counters[pos[j]]
            if c < 255:
                counters[pos[j]] = c + 1


@kernel(_ex_count_remove)
def counting_remove_hashes(hashes, k, m, counters, removed):
    """Serially remove keys. A key is removed only if each of its counters holds
    at least as many as its probes that hit it (else it was never added: nothing
    changes, ``removed[i] = False``). Saturated counters (255) stay saturated."""
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        ok = True
        for j in range(k):
            need = 0
            for t in range(k):
                if pos[t] == pos[j]:
                    need += 1
            c = counters[pos[j]]
            if c != 255 and c < need:
                ok = False
                break
        removed[i] = ok
        if ok:
            for j in range(k):
                c = counters[pos[j]]
                if c != 255:
                    counters[pos[j]] = c - 1


@kernel(_ex_count_contains)
def counting_contains_hashes(hashes, k, m, counters, out):
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        hit = True
        for j in range(k):
            if counters[pos[j]] == 0:
                hit = False
                break
        out[i] = hit


def _ex_positions():
    return [(_ex_hashes(), np.int64(3 if b < 2 else 8), np.uint64(2), np.int64(b), np.zeros((3, 8), np.uint64))
            for b in (0, 1, 2)]


@kernel(_ex_positions)
def bloom_positions(hashes, k, m, blocked, out):
    """The k bit positions of every key (for tests and introspection)."""
    for i in range(hashes.shape[0]):
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        if blocked == 2:
            base = mulhi(h1, m) << np.uint64(9)
            x = fmix64(h2)
            for j in range(8):
                out[i, j] = base + np.uint64(64 * j) + ((x * SALT[j]) >> _U58)
        elif blocked:
            base = mulhi(h1, m) << np.uint64(9)
            x = fmix64(h2)
            for j in range(k):
                out[i, j] = base + (x >> _U55)
                x = x * _GOLD
        else:
            h = h1
            for j in range(k):
                out[i, j] = mulhi(h, m)
                h = h + h2


def _ex_one():
    return [
        (np.int64(1), np.int64(-2), np.int64(3), np.uint64(2), np.int64(b), _ex_bits())
        for b in (0, 1, 2)
    ]


@kernel(_ex_one)
def bloom_add_one(h1, h2, k, m, blocked, bits):
    """Scalar add: ``h1``/``h2`` are the int64 (signed) views of the hash halves."""
    _set_probes(np.uint64(h1), np.uint64(h2), k, m, blocked, bits)


@kernel(_ex_one)
def bloom_contains_one(h1, h2, k, m, blocked, bits):
    """Scalar query: ``h1``/``h2`` are the int64 (signed) views of the hash halves."""
    return _test_probes(np.uint64(h1), np.uint64(h2), k, m, blocked, bits)


# ------------------------------------------------------------ bucketed add (standard layout)

#: Bucketed add: the filter is cut into regions of ``2**RADIX_BITS`` bits (512 KiB,
#: inside one core's L2 cache); a chunk's probes are first grouped by region, then
#: set region by region, so a cache line of a filter far beyond the caches is
#: fetched once per chunk instead of once per probe that hits it.
RADIX_BITS = 20
_URADIX = np.uint64(RADIX_BITS)
_RMASK = np.uint64((1 << RADIX_BITS) - 1)


def _ex_add_bucketed():
    return [(*_ex_keys(md), np.int64(3), np.uint64(1024), _ex_bits(), np.int64(2), np.int64(0), np.int64(1))
            for md in (0, 1, 2)]


@kernel(inline="always")
def _probe_counts(src, off, cnt, k, m, counts):
    """Count the probes of keys ``src[off..off+cnt]`` per region (``counts[r + 1]``)."""
    for j in range(cnt):
        h = src[off + j, 0]
        h2 = src[off + j, 1]
        for _ in range(k):
            counts[(mulhi(h, m) >> _URADIX) + _ONE] += 1
            h = h + h2


@kernel(inline="always")
def _own_runs(counts, r0, r1):
    """Turn per-region counts into run starts for regions ``r0..r1`` only:
    ``counts[r]`` becomes the start of region ``r``'s run (``r0``'s is 0)."""
    counts[r0] = 0
    for r in range(r0, r1):
        counts[r + 1] += counts[r]


@kernel(inline="always")
def _probe_scatter(src, off, cnt, k, m, r0, r1, cursor, out):
    """Write the offset inside its region of each probe in regions ``r0..r1`` to
    the region's run of ``out``."""
    lo = np.uint64(r0)
    span = np.uint64(r1 - r0)
    for j in range(cnt):
        h = src[off + j, 0]
        h2 = src[off + j, 1]
        for _ in range(k):
            p = mulhi(h, m)
            r = (p >> _URADIX) - lo
            if r < span:  # (wraps below r0)
                c = cursor[r]
                out[c] = np.uint32(p & _RMASK)
                cursor[r] = c + 1
            h = h + h2


@kernel(inline="always")
def _set_regions(counts, r0, r1, out, bits):
    """Set the grouped probes of regions ``r0..r1`` (their words are this call's alone)."""
    for r in range(r0, r1):
        w0 = np.uint64(r) << (_URADIX - _U6)
        for q in range(counts[r], counts[r + 1]):
            o = np.uint64(out[q])
            bits[w0 + (o >> _U6)] |= _ONE << (o & _U63)


@kernel(_ex_add_bucketed)
def bloom_add_bucketed(mode, hashes, ints, data, starts, ends, seed, k, m, bits, chunk, part, parts):
    """Standard layout: set the probes of every key of a batch, ``chunk`` keys at a
    time, grouped by region (see :data:`RADIX_BITS`). With ``parts > 1`` this call
    sets only the probes in regions ``part * nregions // parts`` up to (not
    including) ``(part + 1) * nregions // parts``:
    calls for every part of the same batch, on several threads at once, set
    disjoint words and together exactly the bits of the serial call (each walks
    the whole batch; no word has two writers, so no bit is lost). Bits are only
    OR-ed, so the result is exactly the loop of scalar adds."""
    n = batch_len(mode, hashes, ints, starts)
    if n == 0:
        return
    nreg = np.int64(((m - _ONE) >> _URADIX) + _ONE)
    r0 = part * nreg // parts
    r1 = (part + 1) * nreg // parts
    c = min(chunk, n)
    hs = np.empty((c if mode != 0 else 0, 2), dtype=np.uint64)
    counts = np.zeros(nreg + 1, dtype=np.int64)
    cursor = np.empty(nreg, dtype=np.int64)
    out = np.empty(c * k, dtype=np.uint32)
    for lo in range(0, n, c):
        cnt = min(c, n - lo)
        if mode != 0:
            _hash_block(mode, lo, cnt, ints, data, starts, ends, seed, hs)
            src = hs
            off = 0
        else:
            src = hashes
            off = lo
        counts[:] = 0
        _probe_counts(src, off, cnt, k, m, counts)
        _own_runs(counts, r0, r1)
        cursor[: r1 - r0] = counts[r0:r1]
        _probe_scatter(src, off, cnt, k, m, r0, r1, cursor, out)
        _set_regions(counts, r0, r1, out, bits)


def _ex_add_part():
    return [(*_ex_keys(md), np.int64(3), np.uint64(1024 if lay == 0 else 2), np.int64(lay), _ex_bits(),
             np.int64(0), np.int64(2)) for md in (0, 1, 2) for lay in (0, 1, 2)]


@kernel(_ex_add_part)
def bloom_add_part(mode, hashes, ints, data, starts, ends, seed, k, m, layout, bits, part, parts):
    """Any layout: set only the probes of a batch that fall in part ``part`` of
    ``parts`` of the filter (words ``part * W // parts`` up to ``(part + 1) * W //
    parts`` of the standard layout's ``W`` words; blocks likewise for the
    blocked layouts). Every part walks the whole batch; calls for every part,
    on several threads at once, write disjoint words, so together they set
    exactly the bits of :func:`bloom_add` and none is lost."""
    n = batch_len(mode, hashes, ints, starts)
    units = np.uint64(bits.shape[0]) if layout == 0 else m
    lo = np.uint64(part) * units // np.uint64(parts)
    span = np.uint64(part + 1) * units // np.uint64(parts) - lo
    for i in range(n):
        h1, h2 = key_hash(mode, i, hashes, ints, data, starts, ends, seed)
        if layout == 0:
            h = h1
            for _ in range(k):
                p = mulhi(h, m)
                if (p >> _U6) - lo < span:
                    bits[p >> _U6] |= _ONE << (p & _U63)
                h = h + h2
        elif mulhi(h1, m) - lo < span:
            _set_probes(h1, h2, k, m, layout, bits)
