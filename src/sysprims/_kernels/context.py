"""Batch exact lookups in an autocomplete index's sorted word arrays
(``sysprims.autocomplete.ContextualAutocomplete`` asks for many words at once)."""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .autocomplete import _cmp_full, find_exact
from .autocomplete_table import TOP, _index_top, _suggest_into


def _ro(a):
    a = a.view()
    a.flags.writeable = False
    return a


def _ex():
    data = _ro(np.frombuffer(b"abcabd", dtype=np.uint8))
    offsets = _ro(np.array([0, 3, 6], dtype=np.int64))
    q = _ro(np.frombuffer(b"abdzz", dtype=np.uint8))
    return (data, offsets, q, np.array([0, 3], np.int64), np.array([3, 5], np.int64), np.empty(2, np.int64))


@kernel(_ex)
def find_many(data, offsets, q, starts, ends, out):
    """``out[i]``: index of the word equal to ``q[starts[i]:ends[i]]``, or -1."""
    for i in range(starts.shape[0]):
        out[i] = find_exact(data, offsets, q, starts[i], ends[i])


# ---------------------------------------------------------------- boosted top-k

# The profile words under the prefix are merged by word (code ``_U`` user, then region,
# trending). The words of the candidates are copied into one scratch buffer, so
# ranking passes only that buffer around (each array argument of a helper costs
# about 8 ns a call).
_U = 2


def _ex_boosted():
    from .autocomplete_table import _empty_table, _ex_table

    prof = (_ro(np.frombuffer(b"abdzz", np.uint8)), np.array([[0, 3, 5], [1, -1, -1]], np.int64), np.array([2.0, 1.0]))
    empty = (_ro(np.frombuffer(b"", np.uint8)), np.array([[0], [-1]], np.int64), np.zeros(0))
    q = _ro(np.frombuffer(b"ab", np.uint8))
    return (
        *_ex_table(), *_empty_table(), *prof, *empty, *empty, 1.0, 0.5, 0.0,
        q, np.int64(3), *[np.int64(i) for i in (0, 1, 0, 0, 0, 0)],
        np.zeros(6), np.zeros(work_size(2, 3), np.int64), np.zeros(5, np.uint8),
    )  # fmt: skip


def _ex_boosted_static():
    a = _ex_boosted()
    return (*a[:6], *a[12:])


def work_size(nq: int, k: int) -> int:
    """Length of the int64 work array ``iw`` of a boosted query of ``nq`` bytes and
    ``k`` answers. Its layout: the answers' ids (``k``), the best profile words' ids
    (``k``), their words' bounds in ``wbuf`` (``2k``), the base rows' boosted flags
    (``k``), the index's top k and two id lists (``3k``), a 0 (the offsets of an empty
    delta), the tree walk's heap (``3 * (2k + 2)`` when ``k > TOP``), the prefix hashes
    (``nq + 1``)."""
    return 8 * k + 1 + 3 * (2 * k + 2 if k > TOP else 0) + nq + 1


@kernel()
def _carve(iw, nq, k):
    """The work arrays of the index's top k, as views of ``iw`` (:func:`work_size`)."""
    cap = 2 * k + 2 if k > TOP else 0
    o = 5 * k
    base = iw[o : o + k]
    ta = iw[o + k : o + 2 * k]
    tb = iw[o + 2 * k : o + 3 * k]
    zero = iw[o + 3 * k : o + 3 * k + 1]
    zero[0] = 0
    o += 3 * k + 1
    hb = iw[o : o + cap]
    hl = iw[o + cap : o + 2 * cap]
    hr = iw[o + 2 * cap : o + 3 * cap]
    o += 3 * cap
    hs = iw[o : o + nq + 1]
    return hs, hb, hl, hr, base, ta, tb, zero


@kernel()
def _copy(dst, at, src, a0, a1):
    for t in range(a1 - a0):
        dst[at + t] = src[a0 + t]
    return at + a1 - a0


@kernel()
def _place(k, c, s, w0, w1, gid, ns, oscore, oid, loc, wbuf):
    """Put a candidate (score ``s``, its word at ``wbuf[w0:w1]``, answer id ``gid``) into
    the ranked top ``k`` held in ``oscore``, ``oid`` and ``loc`` (row ``r``'s word is
    ``wbuf[loc[2r]:loc[2r + 1]]``). Returns the new count, or -1 when the candidate does not enter."""
    pos = c
    if c == k:
        pos = k - 1
        if not _ranks_before(s, w0, w1, gid, ns, oscore[pos], loc[2 * pos], loc[2 * pos + 1], oid[pos], wbuf):
            return -1
    else:
        c += 1
    while pos > 0 and _ranks_before(s, w0, w1, gid, ns, oscore[pos - 1], loc[2 * pos - 2], loc[2 * pos - 1], oid[pos - 1], wbuf):
        oscore[pos] = oscore[pos - 1]
        oid[pos] = oid[pos - 1]
        loc[2 * pos] = loc[2 * pos - 2]
        loc[2 * pos + 1] = loc[2 * pos - 1]
        pos -= 1
    oscore[pos] = s
    oid[pos] = gid
    loc[2 * pos] = w0
    loc[2 * pos + 1] = w1
    return c


@kernel()
def _ranks_before(s, w0, w1, gid, ns, other_s, o0, o1, other_gid, wbuf):
    """Higher score first, then the smaller word (static ids are in word order)."""
    if s != other_s:
        return s > other_s
    if 0 <= gid < ns and 0 <= other_gid < ns:
        return gid < other_gid
    return _cmp_full(wbuf, w0, w1, wbuf, o0, o1) < 0


@kernel(_ex_boosted_static)
def boosted_top_static(
    sdata, soffs, sfreq, stree, sslots, sheavy,
    udata, umeta, uvals, rdata, rmeta, rvals, tdata, tmeta, tvals,
    w0, w1, w2, q, k, ulo, uhi, rlo, rhi, tlo, thi, fw, iw, wbuf,
):  # fmt: skip
    """:func:`boosted_top` for an index with nothing pending (no delta to pass)."""
    hs, hb, hl, hr, base, _ta, _tb, no_offsets = _carve(iw, q.shape[0], k)
    nb = _index_top(sdata, soffs, sfreq, stree, sslots, sheavy, q, 0, q.shape[0], k, base, hs, hb, hl, hr)
    return _boost(
        sdata, soffs, sfreq, sdata, no_offsets, sfreq, base, nb,
        udata, umeta, uvals, rdata, rmeta, rvals, tdata, tmeta, tvals,
        w0, w1, w2, k, ulo, uhi, rlo, rhi, tlo, thi, fw, iw, wbuf,
    )  # fmt: skip


@kernel(_ex_boosted)
def boosted_top(
    sdata, soffs, sfreq, stree, sslots, sheavy,
    ddata, doffs, dfreq, dtree, dslots, dheavy,
    udata, umeta, uvals, rdata, rmeta, rvals, tdata, tmeta, tvals,
    w0, w1, w2, q, k, ulo, uhi, rlo, rhi, tlo, thi, fw, iw, wbuf,
):  # fmt: skip
    """The top ``k`` of ``score = base + w0 * user + w1 * region + w2 * trending`` (left to
    right) over the completions of ``q``: the index's own top k and every profile word
    under ``q``, which the caller gives as positions (``[ulo, uhi)`` of the user's sorted
    words, ``[rlo, rhi)`` the region's, ``[tlo, thi)`` trending's). A profile is its
    sorted words' bytes, ``meta`` (row 0 the words' offsets, row 1 their static ids,
    -1 where not in the static index) and their boosts. ``fw`` (float64, ``2k``), ``iw``
    (int64, at least :func:`work_size`) and ``wbuf`` (uint8, at least the profiles'
    bytes together) are work arrays; no other array is allocated. Answer ``r`` is
    ``fw[r]`` (its score) and ``iw[r]``: a static
    id, ``n_static + delta id``, or ``-1 - (3 * position + profile)`` for a word only a
    profile (0 user, 1 region, 2 trending) holds. Returns the count ``c``, or ``-1 - c``
    when an answer is not a static id."""
    hs, hb, hl, hr, base, ta, tb, _zero = _carve(iw, q.shape[0], k)
    nb = _suggest_into(
        sdata, soffs, sfreq, stree, sslots, sheavy, ddata, doffs, dfreq, dtree, dslots, dheavy,
        q, 0, q.shape[0], k, base, ta, tb, hs, hb, hl, hr,
    )  # fmt: skip
    return _boost(
        sdata, soffs, sfreq, ddata, doffs, dfreq, base, nb,
        udata, umeta, uvals, rdata, rmeta, rvals, tdata, tmeta, tvals,
        w0, w1, w2, k, ulo, uhi, rlo, rhi, tlo, thi, fw, iw, wbuf,
    )  # fmt: skip


@kernel()
def _boost(
    sdata, soffs, sfreq, ddata, doffs, dfreq, base, nb,
    udata, umeta, uvals, rdata, rmeta, rvals, tdata, tmeta, tvals,
    w0, w1, w2, k, ulo, uhi, rlo, rhi, tlo, thi, fw, iw, wbuf,
):  # fmt: skip
    """Rank the index's top rows ``base[:nb]`` (already in rank order) with the profile
    words under the prefix (``[ulo, uhi)`` of the user's sorted words, and so on; the
    three ranges merged by word)."""
    ns = soffs.shape[0] - 1
    nd = doffs.shape[0] - 1
    at = 0  # wbuf holds every profile word under the prefix: each is copied at most once
    oscore = fw[:k]
    oid = iw[:k]
    # the best k profile words: scores, answer ids, their words in wbuf
    pscore = fw[k : 2 * k]
    pid = iw[k : 2 * k]
    loc = iw[2 * k : 4 * k]
    boosted = iw[4 * k : 5 * k]  # base rows that are also profile words (1)
    for x in range(nb):
        boosted[x] = 0
    c = 0
    code, a0, a1, pos = _U, 0, 0, 0
    i, j, t = ulo, rlo, tlo
    while i < uhi or j < rhi or t < thi:
        # the profiles whose current word is the smallest (the same word in several)
        take_u = i < uhi
        take_r = j < rhi
        take_t = t < thi
        if take_u and take_r:
            x = _cmp_full(udata, umeta[0, i], umeta[0, i + 1], rdata, rmeta[0, j], rmeta[0, j + 1])
            if x < 0:
                take_r = False
            elif x > 0:
                take_u = False
        if take_t and (take_u or take_r):
            if take_u:
                x = _cmp_full(udata, umeta[0, i], umeta[0, i + 1], tdata, tmeta[0, t], tmeta[0, t + 1])
            else:
                x = _cmp_full(rdata, rmeta[0, j], rmeta[0, j + 1], tdata, tmeta[0, t], tmeta[0, t + 1])
            if x < 0:
                take_t = False
            elif x > 0:
                take_u = False
                take_r = False
        u = 0.0
        r = 0.0
        tr = 0.0
        sid = -1
        if take_u:
            u = uvals[i]
            sid = umeta[1, i]
            code, a0, a1, pos = _U, umeta[0, i], umeta[0, i + 1], i
            i += 1
        if take_r:
            r = rvals[j]
            sid = max(sid, rmeta[1, j])  # the same static id in every profile that holds the word
            if not take_u:
                code, a0, a1, pos = _U + 1, rmeta[0, j], rmeta[0, j + 1], j
            j += 1
        if take_t:
            tr = tvals[t]
            sid = max(sid, tmeta[1, t])
            if not (take_u or take_r):
                code, a0, a1, pos = _U + 2, tmeta[0, t], tmeta[0, t + 1], t
            t += 1
        # the word's bytes (the same in every buffer that holds it) go to the scratch buffer
        if code == _U:
            end = _copy(wbuf, at, udata, a0, a1)
        elif code == _U + 1:
            end = _copy(wbuf, at, rdata, a0, a1)
        else:
            end = _copy(wbuf, at, tdata, a0, a1)
        gid = -1 - (3 * pos + code - _U)
        b = 0.0
        if sid >= 0:
            b = sfreq[sid]
            gid = sid
        elif nd > 0:
            di = find_exact(ddata, doffs, wbuf, at, end)
            if di >= 0:
                b = dfreq[di]
                gid = ns + di
        if gid >= 0:
            for x in range(nb):
                if base[x] == gid:
                    boosted[x] = 1
        s = b + w0 * u + w1 * r + w2 * tr
        if c == k and s < pscore[k - 1]:
            continue  # cannot enter
        placed = _place(k, c, s, at, end, gid, ns, pscore, pid, loc, wbuf)
        if placed >= 0:
            c = placed
            at = end
    # merge them with the index's rows not boosted (both in rank order)
    pc = c
    c = 0
    x = 0
    y = 0
    g = 0
    bs = 0.0
    static = True
    while c < k:
        while y < nb and boosted[y] != 0:
            y += 1
        if y < nb:
            g = base[y]
            bs = sfreq[g] if g < ns else dfreq[g - ns]
            take = x < pc
            if take and pscore[x] == bs:  # a tie: the smaller word first
                pg = pid[x]
                if 0 <= pg < ns and g < ns:
                    take = pg < g
                elif g < ns:
                    take = _cmp_full(wbuf, loc[2 * x], loc[2 * x + 1], sdata, soffs[g], soffs[g + 1]) < 0
                else:
                    take = _cmp_full(wbuf, loc[2 * x], loc[2 * x + 1], ddata, doffs[g - ns], doffs[g - ns + 1]) < 0
            elif take:
                take = pscore[x] > bs
        elif x < pc:
            take = True
        else:
            break
        if take:
            oscore[c] = pscore[x]
            oid[c] = pid[x]
            x += 1
        else:
            oscore[c] = bs
            oid[c] = g
            y += 1
        if not 0 <= oid[c] < ns:
            static = False
        c += 1
    return c if static else -1 - c
