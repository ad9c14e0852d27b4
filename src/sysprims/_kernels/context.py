"""Batch exact lookups in an autocomplete index's sorted word arrays
(``sysprims.autocomplete.ContextualAutocomplete`` asks for many words at once)."""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .autocomplete import _cmp_full, find_exact, prefix_range_in
from .autocomplete_table import WIDTH, _scratch, _suggest_into


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


def _ex_boosted():
    from .autocomplete_table import _empty_table, _ex_table

    prof = (
        _ro(np.frombuffer(b"abdzz", np.uint8)),
        _ro(np.array([0, 3, 5], np.int64)),
        np.array([2.0, 1.0]),
        np.array([1, -1], np.int64),
    )
    empty = (_ro(np.frombuffer(b"", np.uint8)), _ro(np.zeros(1, np.int64)), np.zeros(0), np.zeros(0, np.int64))
    q = _ro(np.frombuffer(b"ab", np.uint8))
    return (
        *_ex_table(), *_empty_table(), q, np.int64(3), 1.0, 0.5, 0.0,
        *prof, *empty, *empty, np.zeros(3), np.zeros((3, 4), np.int64),
    )  # fmt: skip


def _ex_boosted_static():
    a = _ex_boosted()
    return (*a[:6], *a[12:])


@kernel()
def _pick(code, sdata, ddata, ud, rd, td):
    if code == 0:
        return sdata
    if code == 1:
        return ddata
    if code == 2:
        return ud
    if code == 3:
        return rd
    return td


@kernel()
def _insert(k, c, s, code, a0, a1, idx, arrays, oscore, orow):
    """Put a candidate (score ``s``, its word ``a0:a1`` of array ``code``, its position
    ``idx`` there) into the ranked top k: ``oscore`` and rows ``(code, a0, a1, idx)``."""
    sdata, ddata, ud, rd, td = arrays
    w = _pick(code, sdata, ddata, ud, rd, td)
    if c == k:
        pos = c - 1
        if not _ranks_before(s, w, a0, a1, oscore[pos], orow[pos], arrays):
            return c
    else:
        pos = c
        c += 1
    while pos > 0 and _ranks_before(s, w, a0, a1, oscore[pos - 1], orow[pos - 1], arrays):
        oscore[pos] = oscore[pos - 1]
        orow[pos, :] = orow[pos - 1, :]
        pos -= 1
    oscore[pos] = s
    orow[pos, 0] = code
    orow[pos, 1] = a0
    orow[pos, 2] = a1
    orow[pos, 3] = idx
    return c


@kernel()
def _ranks_before(s, w, a0, a1, other_score, other_row, arrays):
    """True when (s, word) ranks before the row: a higher score, or the same and a smaller word."""
    if s != other_score:
        return s > other_score
    sdata, ddata, ud, rd, td = arrays
    ow = _pick(other_row[0], sdata, ddata, ud, rd, td)
    return _cmp_full(w, a0, a1, ow, other_row[1], other_row[2]) < 0


@kernel()
def _head(data, offs, vals, ids, pos, hi, w, a0, a1):
    """``(boost, static id, next position)`` when the profile's word at ``pos`` is
    ``w[a0:a1]``, else ``(0.0, -1, pos)``."""
    if pos < hi and _cmp_full(data, offs[pos], offs[pos + 1], w, a0, a1) == 0:
        return vals[pos], ids[pos], pos + 1
    return 0.0, np.int64(-1), pos


@kernel(_ex_boosted_static)
def boosted_top_static(
    sdata, soffs, sfreq, stree, sslots, sheavy, q, k, w0, w1, w2,
    udata, uoffs, uvals, uids, rdata, roffs, rvals, rids, tdata, toffs, tvals, tids, oscore, orow,
):  # fmt: skip
    """:func:`boosted_top` for an index with nothing pending (an empty delta made here:
    six arguments fewer to convert per call)."""
    no_offsets = np.zeros(1, np.int64)
    no_slots = np.full(16, -1, np.int64)
    return boosted_top(
        sdata, soffs, sfreq, stree, sslots, sheavy,
        sdata, no_offsets, np.zeros(0, np.float64), np.zeros(0, np.int64), no_slots, np.zeros((0, WIDTH), np.int64),
        q, k, w0, w1, w2, udata, uoffs, uvals, uids, rdata, roffs, rvals, rids, tdata, toffs, tvals, tids, oscore, orow,
    )  # fmt: skip


@kernel(_ex_boosted)
def boosted_top(
    sdata, soffs, sfreq, stree, sslots, sheavy,
    ddata, doffs, dfreq, dtree, dslots, dheavy,
    q, k, w0, w1, w2,
    udata, uoffs, uvals, uids,
    rdata, roffs, rvals, rids,
    tdata, toffs, tvals, tids,
    oscore, orow,
):  # fmt: skip
    """The top ``k`` of ``score = base + w0 * user + w1 * region + w2 * trending`` over the
    completions of ``q``: the index's own top k (static ids, then ``n_static + delta id``)
    and every profile word under ``q``. A profile is its sorted words' bytes, their boosts
    and their static ids (-1: not in the static index). Answer ``r``: ``oscore[r]`` and
    ``orow[r] = (code, start, end, position)``, code 0 static, 1 delta, 2-4 a profile,
    the position of the word there. Returns the count."""
    ns = soffs.shape[0] - 1
    nd = doffs.shape[0] - 1
    base = np.empty(k, np.int64)
    hs, hb, hl, hr, ta, tb = _scratch(q.shape[0], k)
    nb = _suggest_into(
        sdata, soffs, sfreq, stree, sslots, sheavy, ddata, doffs, dfreq, dtree, dslots, dheavy,
        q, 0, q.shape[0], k, base, ta, tb, hs, hb, hl, hr,
    )  # fmt: skip
    arrays = (sdata, ddata, udata, rdata, tdata)
    # the profile ranges under q, merged by word (each profile is sorted)
    ulo, uhi = prefix_range_in(udata, uoffs, q, 0, q.shape[0], 0, uoffs.shape[0] - 1)
    rlo, rhi = prefix_range_in(rdata, roffs, q, 0, q.shape[0], 0, roffs.shape[0] - 1)
    tlo, thi = prefix_range_in(tdata, toffs, q, 0, q.shape[0], 0, toffs.shape[0] - 1)
    boosted = np.zeros(nb, np.bool_)  # base rows that are also profile words
    c = 0
    i, j, t = ulo, rlo, tlo
    while i < uhi or j < rhi or t < thi:
        # the smallest current word among the three ranges
        code = -1
        a0 = 0
        a1 = 0
        if i < uhi:
            code, a0, a1 = 2, uoffs[i], uoffs[i + 1]
        if j < rhi:
            if code < 0 or _cmp_full(rdata, roffs[j], roffs[j + 1], _pick(code, sdata, ddata, udata, rdata, tdata), a0, a1) < 0:
                code, a0, a1 = 3, roffs[j], roffs[j + 1]
        if t < thi:
            if code < 0 or _cmp_full(tdata, toffs[t], toffs[t + 1], _pick(code, sdata, ddata, udata, rdata, tdata), a0, a1) < 0:
                code, a0, a1 = 4, toffs[t], toffs[t + 1]
        w = _pick(code, sdata, ddata, udata, rdata, tdata)
        idx = i if code == 2 else (j if code == 3 else t)
        u, su, i = _head(udata, uoffs, uvals, uids, i, uhi, w, a0, a1)
        r, sr, j = _head(rdata, roffs, rvals, rids, j, rhi, w, a0, a1)
        tr, st, t = _head(tdata, toffs, tvals, tids, t, thi, w, a0, a1)
        sid = max(su, sr, st)  # the same static id in every profile that holds the word
        b = 0.0
        gid = -1  # the word's id in the base rows' numbering
        if sid >= 0:
            b = sfreq[sid]
            gid = sid
        elif nd > 0:
            di = find_exact(ddata, doffs, w, a0, a1)
            if di >= 0:
                b = dfreq[di]
                gid = ns + di
        for x in range(nb):
            if base[x] == gid and gid >= 0:
                boosted[x] = True
        s = b + w0 * u + w1 * r + w2 * tr
        c = _insert(k, c, s, code, a0, a1, idx, arrays, oscore, orow)
    for x in range(nb):
        if not boosted[x]:
            g = base[x]
            if g < ns:
                c = _insert(k, c, sfreq[g], 0, soffs[g], soffs[g + 1], g, arrays, oscore, orow)
            else:
                h = g - ns
                c = _insert(k, c, dfreq[h], 1, doffs[h], doffs[h + 1], h, arrays, oscore, orow)
    return c
