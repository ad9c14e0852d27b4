"""Rate-limiter kernels over an array-backed open-addressing key table.

Table layout (struct of arrays, capacity a power of two):

* ``th`` ``(cap, 2)`` uint64: the MurmurHash3 (h1, h2) of the key in each slot;
* ``used`` ``(cap,)`` uint8: 1 where the slot holds a key;
* ``state`` ``(cap, W)`` float64: the per-key algorithm state (one row per key);
* ``meta`` int64 ``[n_used, max_used]``.

Slots are found by linear probing from ``h1 & (cap - 1)``; a key is identified
by both 64-bit halves. Algorithms (``algo``) and their state rows, with
``params = [limit, rate, window]``:

0 token bucket     ``[tokens, last]``            fresh: ``[limit, now]``
1 leaky bucket     ``[level, last]``             fresh: ``[0, now]``

(tokens may be owed, down to minus the slack of ``algorithms.bucket_slack``; the
level may exceed the limit by it.)
2 fixed window     ``[window_index, count]``     fresh: ``[floor(now/W), 0]``
3 sliding log      ``[n, head, ts_0 .. ts_L-1]`` fresh: ``[0, 0, ...]`` (a ring of L)
4 sliding counter  ``[window_index, cur, prev]`` fresh: ``[floor(now/W), 0, 0]``

``row_idle`` says when a row decides exactly like a fresh row from ``now`` on
(timestamps never decrease), which is what lets a rebuild drop it.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .machine import prefetch

TOKEN_BUCKET = 0
LEAKY_BUCKET = 1
FIXED_WINDOW = 2
SLIDING_LOG = 3
SLIDING_COUNTER = 4


@kernel(inline="always")
def init_row(st, s, algo, params, now):
    if algo == 0:
        st[s, 0] = params[0]
        st[s, 1] = now
    elif algo == 1:
        st[s, 0] = 0.0
        st[s, 1] = now
    elif algo == 3:
        st[s, 0] = 0.0
        st[s, 1] = 0.0
    else:
        st[s, 0] = np.floor(now / params[2])
        st[s, 1] = 0.0
        if algo == 4:
            st[s, 2] = 0.0


# The slack is algorithms.bucket_slack (SLACK_NS = 1e-9, SLACK_REL = 2**-50), the same
# operations written out: a helper kernel for it, even inline="always", made the
# bucket loops 5x slower (measured: 6 ns vs 30-40 ns per request on 100 hot keys), as
# did the leaky comparison without its local `room`.
@kernel(inline="always")
def _step_token_bucket(st, s, params, now, cost):
    limit, rate = params[0], params[1]
    tokens = min(limit, st[s, 0] + (now - st[s, 1]) * rate)
    st[s, 1] = now
    slack = (1e-9 + abs(now) * 8.881784197001252e-16) * rate + limit * 8.881784197001252e-16
    if cost <= limit and cost <= tokens + slack:
        st[s, 0] = tokens - cost  # may owe up to the slack
        return True
    st[s, 0] = tokens
    return False


@kernel(inline="always")
def _step_leaky_bucket(st, s, params, now, cost):
    limit, rate = params[0], params[1]
    level = max(0.0, st[s, 0] - (now - st[s, 1]) * rate)
    st[s, 1] = now
    slack = (1e-9 + abs(now) * 8.881784197001252e-16) * rate + limit * 8.881784197001252e-16
    room = (limit + slack) - level
    if cost <= limit and cost <= room:
        st[s, 0] = level + cost  # may pass the limit by up to the slack
        return True
    st[s, 0] = level
    return False


# The window steps keep the row in locals and store each field once: read-modify-write
# through the row (``st[s, 1] += cost`` after a test of ``st[s, 1]``) made the fixed
# window loop 2.2x slower (measured: 25 vs 11.5 ns per request, 10k Zipf keys).
@kernel(inline="always")
def _step_fixed_window(st, s, params, now, cost):
    idx = np.floor(now / params[2])
    count = st[s, 1]
    if idx != st[s, 0]:
        st[s, 0] = idx
        count = 0.0
    ok = count + cost <= params[0]
    if ok:
        count += cost
    st[s, 1] = count
    return ok


@kernel(inline="always")
def _step_sliding_log(st, s, params, now, cost):
    L = np.int64(params[0])
    c = np.int64(cost)
    if c > L:
        return False
    if c == 0:
        return True
    n = np.int64(st[s, 0])
    head = np.int64(st[s, 1])
    k = L - c + 1  # allowed iff fewer than k accepted timestamps are in the window
    if n >= k:
        pos = head - k
        if pos < 0:
            pos += L
        if not (st[s, 2 + pos] < now - params[2]):
            return False
    for _ in range(c):
        st[s, 2 + head] = now
        head += 1
        if head == L:
            head = 0
    st[s, 0] = min(n + c, L)
    st[s, 1] = head
    return True


@kernel(inline="always")
def _step_sliding_counter(st, s, params, now, cost):
    W = params[2]
    idx = np.floor(now / W)
    cur = st[s, 1]
    prev = st[s, 2]
    if idx != st[s, 0]:
        if idx - st[s, 0] == 1.0:  # a difference: exact past 2**53, unlike index + 1
            prev = cur
        else:
            prev = 0.0
        cur = 0.0
        st[s, 0] = idx
        st[s, 2] = prev
    elapsed = now - idx * W
    estimate = prev * ((W - elapsed) / W) + cur
    ok = estimate + cost <= params[0]
    if ok:
        cur += cost
    st[s, 1] = cur
    return ok


@kernel(inline="always")
def step_row(st, s, algo, params, now, cost):
    """Decide one request of ``cost`` at ``now`` and update row ``s``; True if allowed."""
    if algo == 0:
        return _step_token_bucket(st, s, params, now, cost)
    if algo == 1:
        return _step_leaky_bucket(st, s, params, now, cost)
    if algo == 2:
        return _step_fixed_window(st, s, params, now, cost)
    if algo == 3:
        return _step_sliding_log(st, s, params, now, cost)
    return _step_sliding_counter(st, s, params, now, cost)


@kernel(inline="always")
def row_idle(st, s, algo, params, now):
    """True when the row decides like a fresh row at every time >= now."""
    if algo == 0:
        return st[s, 0] + (now - st[s, 1]) * params[1] >= params[0]
    if algo == 1:
        return st[s, 0] - (now - st[s, 1]) * params[1] <= 0.0
    if algo == 2:
        return st[s, 1] == 0.0 or np.floor(now / params[2]) != st[s, 0]
    if algo == 3:
        n = np.int64(st[s, 0])
        if n == 0:
            return True
        L = np.int64(params[0])
        newest = np.int64(st[s, 1]) - 1
        if newest < 0:
            newest += L
        return st[s, 2 + newest] < now - params[2]
    # windows ahead as a difference of two indexes, exact at any magnitude (beyond 2**53
    # ``index + 1`` and ``index + 2`` round back to the index and a live row looked idle)
    ahead = np.floor(now / params[2]) - st[s, 0]
    if st[s, 1] == 0.0 and (st[s, 2] == 0.0 or ahead >= 1.0):
        return True
    return ahead >= 2.0


@kernel(inline="always")
def find_slot(th, used, h1, h2):
    """Slot holding (h1, h2), or -(empty slot) - 1 where it would go."""
    mask = np.uint64(th.shape[0] - 1)
    i = np.int64(h1 & mask)
    while True:
        if used[i] == 0:
            return -i - 1
        if th[i, 0] == h1 and th[i, 1] == h2:
            return i
        i = np.int64((np.uint64(i) + np.uint64(1)) & mask)


def _examples_table():
    th = np.zeros((4, 2), dtype=np.uint64)
    used = np.zeros(4, dtype=np.uint8)
    state = np.zeros((4, 2), dtype=np.float64)
    meta = np.array([0, 2], dtype=np.int64)
    params = np.array([2.0, 1.0, 1.0], dtype=np.float64)
    hashes = np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)
    ts = np.array([0.0, 0.5, 1.0], dtype=np.float64)
    costs = np.ones(3, dtype=np.float64)
    out = np.zeros(3, dtype=np.bool_)
    return (th, used, state, meta, np.int64(0), params, hashes, ts, costs, np.int64(0), out)


@kernel(inline="always")
def claim_slot(th, used, meta, s, h1, h2):
    """Take the empty slot ``-s - 1`` (as returned by find_slot) for (h1, h2)."""
    t = -s - 1
    used[t] = 1
    th[t, 0] = h1
    th[t, 1] = h2
    meta[0] += 1
    return t


#: Requests ahead whose home slot is prefetched: a table past the caches (10M
#: requests over ~600k Zipf keys: 1M slots, 33 MB) otherwise stalls on one miss
#: per request; a hint changes no decision.
AHEAD = 16


@kernel(inline="always")
def _prefetch_home(thf, used, stf, hashes, j, mask, width):
    """Prefetch the hash, flag and first state word of request ``j``'s home slot."""
    h = np.int64(hashes[j, 0] & mask)
    prefetch(thf, 2 * h)
    prefetch(used, h)
    prefetch(stf, width * h)


@kernel(inline="always")
def _cost_mask(costs, n):
    """Index mask into ``costs``: one cost per request, or one for all (length 1)."""
    return np.int64(-1) if costs.shape[0] == n else np.int64(0)


# One loop per algorithm: branching between inlined steps inside the loop costs
# ~5x (measured: 14 ns vs 86 ns per request), so the dispatch happens once per batch.
@kernel()
def _loop_token_bucket(th, used, state, meta, params, hashes, ts, costs, start, out):
    n = hashes.shape[0]
    mask = np.uint64(th.shape[0] - 1)
    thf, stf, width = th.reshape(th.size), state.reshape(state.size), state.shape[1]
    cm = _cost_mask(costs, n)
    for i in range(start, n):
        if i + AHEAD < n:
            _prefetch_home(thf, used, stf, hashes, i + AHEAD, mask, width)
        now = ts[i]
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = claim_slot(th, used, meta, s, hashes[i, 0], hashes[i, 1])
            state[s, 0] = params[0]
            state[s, 1] = now
        out[i] = _step_token_bucket(state, s, params, now, costs[i & cm])
    return n


@kernel()
def _loop_leaky_bucket(th, used, state, meta, params, hashes, ts, costs, start, out):
    n = hashes.shape[0]
    mask = np.uint64(th.shape[0] - 1)
    thf, stf, width = th.reshape(th.size), state.reshape(state.size), state.shape[1]
    cm = _cost_mask(costs, n)
    for i in range(start, n):
        if i + AHEAD < n:
            _prefetch_home(thf, used, stf, hashes, i + AHEAD, mask, width)
        now = ts[i]
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = claim_slot(th, used, meta, s, hashes[i, 0], hashes[i, 1])
            state[s, 0] = 0.0
            state[s, 1] = now
        out[i] = _step_leaky_bucket(state, s, params, now, costs[i & cm])
    return n


@kernel()
def _loop_fixed_window(th, used, state, meta, params, hashes, ts, costs, start, out):
    n = hashes.shape[0]
    mask = np.uint64(th.shape[0] - 1)
    thf, stf, width = th.reshape(th.size), state.reshape(state.size), state.shape[1]
    cm = _cost_mask(costs, n)
    for i in range(start, n):
        if i + AHEAD < n:
            _prefetch_home(thf, used, stf, hashes, i + AHEAD, mask, width)
        now = ts[i]
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = claim_slot(th, used, meta, s, hashes[i, 0], hashes[i, 1])
            state[s, 0] = np.floor(now / params[2])
            state[s, 1] = 0.0
        out[i] = _step_fixed_window(state, s, params, now, costs[i & cm])
    return n


@kernel()
def _loop_sliding_log(th, used, state, meta, params, hashes, ts, costs, start, out):
    n = hashes.shape[0]
    mask = np.uint64(th.shape[0] - 1)
    thf, stf, width = th.reshape(th.size), state.reshape(state.size), state.shape[1]
    cm = _cost_mask(costs, n)
    for i in range(start, n):
        if i + AHEAD < n:
            _prefetch_home(thf, used, stf, hashes, i + AHEAD, mask, width)
        now = ts[i]
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = claim_slot(th, used, meta, s, hashes[i, 0], hashes[i, 1])
            state[s, 0] = 0.0
            state[s, 1] = 0.0
        out[i] = _step_sliding_log(state, s, params, now, costs[i & cm])
    return n


@kernel()
def _loop_sliding_counter(th, used, state, meta, params, hashes, ts, costs, start, out):
    n = hashes.shape[0]
    mask = np.uint64(th.shape[0] - 1)
    thf, stf, width = th.reshape(th.size), state.reshape(state.size), state.shape[1]
    cm = _cost_mask(costs, n)
    for i in range(start, n):
        if i + AHEAD < n:
            _prefetch_home(thf, used, stf, hashes, i + AHEAD, mask, width)
        now = ts[i]
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = claim_slot(th, used, meta, s, hashes[i, 0], hashes[i, 1])
            state[s, 0] = np.floor(now / params[2])
            state[s, 1] = 0.0
            state[s, 2] = 0.0
        out[i] = _step_sliding_counter(state, s, params, now, costs[i & cm])
    return n


@kernel(_examples_table)
def allow_batch(th, used, state, meta, algo, params, hashes, ts, costs, start, out):
    """Decide requests ``start..n-1`` in order; stops (returns i) when a new key
    would push the table past ``meta[1]`` keys, else returns n. ``costs`` holds
    one cost per request, or a single cost for every request."""
    if algo == 0:
        return _loop_token_bucket(th, used, state, meta, params, hashes, ts, costs, start, out)
    if algo == 1:
        return _loop_leaky_bucket(th, used, state, meta, params, hashes, ts, costs, start, out)
    if algo == 2:
        return _loop_fixed_window(th, used, state, meta, params, hashes, ts, costs, start, out)
    if algo == 3:
        return _loop_sliding_log(th, used, state, meta, params, hashes, ts, costs, start, out)
    return _loop_sliding_counter(th, used, state, meta, params, hashes, ts, costs, start, out)


def _examples_one():
    ex = _examples_table()
    return (ex[0], ex[1], ex[2], ex[3], ex[4], ex[5], np.uint64(1), np.uint64(2), 0.0, 1.0)


@kernel(_examples_one)
def allow_one(th, used, state, meta, algo, params, h1, h2, now, cost):
    """One request; returns 1 allowed, 0 denied, -1 table full (rebuild first)."""
    s = find_slot(th, used, h1, h2)
    if s < 0:
        if meta[0] >= meta[1]:
            return -1
        s = -s - 1
        used[s] = 1
        th[s, 0] = h1
        th[s, 1] = h2
        meta[0] += 1
        init_row(state, s, algo, params, now)
    return 1 if step_row(state, s, algo, params, now, cost) else 0


def _examples_lookup():
    ex = _examples_table()
    return (ex[0], ex[1], np.uint64(1), np.uint64(2))


@kernel(_examples_lookup)
def lookup(th, used, h1, h2):
    return find_slot(th, used, h1, h2)


def _examples_live():
    ex = _examples_table()
    return (ex[1], ex[2], ex[4], ex[5], 0.0, np.zeros(4, dtype=np.bool_))


@kernel(_examples_live)
def live_mask(used, state, algo, params, now, out):
    """out[s] = slot s holds a key whose state is not idle at ``now``; returns the count."""
    count = 0
    for s in range(used.shape[0]):
        keep = used[s] == 1 and not row_idle(state, s, algo, params, now)
        out[s] = keep
        if keep:
            count += 1
    return count


def _examples_rebuild():
    ex = _examples_table()
    keep = np.zeros(4, dtype=np.bool_)
    return (ex[0], ex[2], keep, ex[0].copy(), ex[1].copy(), ex[2].copy())


@kernel(_examples_rebuild)
def rebuild(th, state, keep, new_th, new_used, new_state):
    """Insert the kept slots of the old table into an empty new one (the new home
    slot of the slot AHEAD on is prefetched: a table past the caches otherwise
    stalls on one miss per kept key)."""
    n = th.shape[0]
    mask = np.uint64(new_th.shape[0] - 1)
    thf, stf, width = new_th.reshape(new_th.size), new_state.reshape(new_state.size), new_state.shape[1]
    for s in range(n):
        if s + AHEAD < n and keep[s + AHEAD]:
            _prefetch_home(thf, new_used, stf, th, s + AHEAD, mask, width)
        if keep[s]:
            t = -find_slot(new_th, new_used, th[s, 0], th[s, 1]) - 1
            new_used[t] = 1
            new_th[t, 0] = th[s, 0]
            new_th[t, 1] = th[s, 1]
            new_state[t, :] = state[s, :]


def _examples_put():
    ex = _examples_table()
    return (
        ex[0],
        ex[1],
        ex[2],
        ex[3],
        np.array([[1, 2]], dtype=np.uint64),
        np.zeros((1, 2)),
        np.int64(0),
    )


@kernel(_examples_put)
def put_rows(th, used, state, meta, hashes, rows, start):
    """Store (insert or overwrite) ``rows[i]`` for key ``hashes[i]``, from ``start``;
    stops (returns i) when a new key would push the table past ``meta[1]`` keys."""
    n = hashes.shape[0]
    for i in range(start, n):
        s = find_slot(th, used, hashes[i, 0], hashes[i, 1])
        if s < 0:
            if meta[0] >= meta[1]:
                return i
            s = -s - 1
            used[s] = 1
            th[s, 0] = hashes[i, 0]
            th[s, 1] = hashes[i, 1]
            meta[0] += 1
        state[s, :] = rows[i, :]
    return n
