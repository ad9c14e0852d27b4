"""The five algorithms' parameters, state rows and pure-Python step.

This module is the single description of *what* each algorithm does; the jitted
kernels in :mod:`sysprims._kernels.ratelimit` perform the same float operations
in the same order, so a Python step and a kernel step give identical rows.

Every algorithm is described by ``params = (limit, rate, window)`` (unused
entries are 0.0) and a per-key state *row* of float64 (see :data:`SPECS`).
Timestamps are float seconds and never decrease for one limiter.

Buckets and exact pacing: a request that arrives when its token is due must pass,
but float seconds cannot say "due" exactly (``0.3 - 0.2 != 0.1``, and an epoch
time carries ~0.24 us of rounding). The buckets therefore admit a request that is
due within :func:`bucket_slack` (``SLACK_NS`` plus ``SLACK_REL`` times the time,
about 1.5 us at today's epoch seconds) and *owe* the difference: the token count
may go that far below 0 (the level that far above the capacity), so the slack
never adds up to a higher long-run rate (at most ``capacity + rate * (T + slack)``
in any interval ``T``). ``remaining`` uses the same comparison as the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._validate import check_int, check_number
from ..errors import InvalidParameterError

TOKEN_BUCKET = 0
LEAKY_BUCKET = 1
FIXED_WINDOW = 2
SLIDING_LOG = 3
SLIDING_COUNTER = 4

#: Slack of the bucket comparisons: ``SLACK_NS`` seconds plus ``SLACK_REL`` times
#: ``|now|`` (4 to 8 ulps), converted to tokens at the rate, plus ``SLACK_REL`` of the
#: capacity. The kernels and the Lua scripts spell out the same expression.
SLACK_NS = 1e-9
SLACK_REL = 2.0**-50

#: Largest ``max_requests`` of a sliding log (its ring holds that many floats per key).
MAX_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class AlgorithmSpec:
    code: int
    name: str
    limit_param: str
    second_param: str  # refill_rate / leak_rate / window_seconds
    integer_limit: bool
    state_fields: tuple[str, ...]


SPECS: dict[str, AlgorithmSpec] = {
    "token_bucket": AlgorithmSpec(
        TOKEN_BUCKET, "token_bucket", "capacity", "refill_rate", False, ("tokens", "last")
    ),
    "leaky_bucket": AlgorithmSpec(
        LEAKY_BUCKET, "leaky_bucket", "capacity", "leak_rate", False, ("level", "last")
    ),
    "fixed_window": AlgorithmSpec(
        FIXED_WINDOW,
        "fixed_window",
        "max_requests",
        "window_seconds",
        True,
        ("window_index", "count"),
    ),
    "sliding_window_log": AlgorithmSpec(
        SLIDING_LOG,
        "sliding_window_log",
        "max_requests",
        "window_seconds",
        True,
        ("n", "head", "ring..."),
    ),
    "sliding_window_counter": AlgorithmSpec(
        SLIDING_COUNTER,
        "sliding_window_counter",
        "max_requests",
        "window_seconds",
        True,
        ("window_index", "current", "previous"),
    ),
}
BY_CODE = {spec.code: spec for spec in SPECS.values()}


def check_params(spec: AlgorithmSpec, limit: Any, second: Any) -> tuple[float, float, float]:
    """Validate and return ``(limit, rate, window)``."""
    if spec.integer_limit:
        hi = MAX_LOG_LIMIT if spec.code == SLIDING_LOG else None
        lim = float(check_int(spec.limit_param, limit, min=1, max=hi))
    else:
        lim = check_number(spec.limit_param, limit, min=0.0, min_inclusive=False)
    val = check_number(spec.second_param, second, min=0.0, min_inclusive=False)
    if spec.code in (TOKEN_BUCKET, LEAKY_BUCKET):
        return (lim, val, 0.0)
    return (lim, 0.0, val)


def check_cost(spec: AlgorithmSpec, cost: Any) -> float:
    c = check_number("cost", cost, min=0.0)
    if spec.code == SLIDING_LOG and not c.is_integer():
        raise InvalidParameterError(
            f"cost must be a whole number for a sliding window log, got {cost!r}"
        )
    return c


def row_width(code: int, limit: float) -> int:
    if code == SLIDING_LOG:
        return 2 + int(limit)
    return 3 if code == SLIDING_COUNTER else 2


def fresh_row(code: int, params: tuple[float, float, float], now: float) -> list[float]:
    limit, _rate, window = params
    if code == TOKEN_BUCKET:
        return [limit, now]
    if code == LEAKY_BUCKET:
        return [0.0, now]
    if code == SLIDING_LOG:
        return [0.0, 0.0] + [0.0] * int(limit)
    row = [float(math.floor(now / window)), 0.0]
    if code == SLIDING_COUNTER:
        row.append(0.0)
    return row


def bucket_slack(now: float, rate: float, limit: float) -> float:
    """Tokens by which a bucket may fall short of a request's cost at ``now`` and still
    admit it (the time slack at the rate, plus rounding of the bucket itself)."""
    return (SLACK_NS + abs(now) * SLACK_REL) * rate + limit * SLACK_REL


# The two bucket steps are the scalar hot path: min/max/abs and the constants are
# spelled out (same values: Python's min(limit, x) is x only if x < limit), which
# keeps them as fast as the comparisons without slack were. ratelimit/_scalar.py
# repeats the token bucket's operations inline (RateLimiter.allow's fast path): an
# edit here is an edit there (test_ratelimit_exact.py compares the two).
def _step_token_bucket(row, now, cost, params):
    limit, rate, _ = params
    tokens = row[0] + (now - row[1]) * rate
    if not tokens < limit:
        tokens = limit
    row[1] = now
    # cost <= tokens + bucket_slack(now, rate, limit); 8.88e-16 = SLACK_REL
    if (
        cost
        <= tokens
        + (
            (1e-9 + (now if now >= 0.0 else -now) * 8.881784197001252e-16) * rate
            + limit * 8.881784197001252e-16
        )
        and cost <= limit
    ):
        row[0] = tokens - cost  # may owe up to the slack
        return True
    row[0] = tokens
    return False


def _step_leaky_bucket(row, now, cost, params):
    limit, rate, _ = params
    level = row[0] - (now - row[1]) * rate
    if not level > 0.0:
        level = 0.0
    row[1] = now
    # cost <= limit + bucket_slack(now, rate, limit) - level
    if (
        cost
        <= (
            limit
            + (
                (1e-9 + (now if now >= 0.0 else -now) * 8.881784197001252e-16) * rate
                + limit * 8.881784197001252e-16
            )
        )
        - level
        and cost <= limit
    ):
        row[0] = level + cost  # may pass the limit by up to the slack
        return True
    row[0] = level
    return False


def _step_fixed_window(row, now, cost, params):
    idx = float(math.floor(now / params[2]))
    if idx != row[0]:
        row[0] = idx
        row[1] = 0.0
    if row[1] + cost <= params[0]:
        row[1] += cost
        return True
    return False


def _step_sliding_log(row, now, cost, params):
    L = int(params[0])
    c = int(cost)
    if c > L:
        return False
    if c == 0:
        return True
    n = int(row[0])
    head = int(row[1])
    k = L - c + 1  # allowed iff fewer than k accepted timestamps are in the window
    if n >= k and not (row[2 + (head - k) % L] < now - params[2]):
        return False
    for _ in range(c):
        row[2 + head] = now
        head = (head + 1) % L
    row[0] = float(min(n + c, L))
    row[1] = float(head)
    return True


def _step_sliding_counter(row, now, cost, params):
    limit, _, window = params
    idx = float(math.floor(now / window))
    if idx != row[0]:
        # the next window iff one index ahead: a difference, exact past 2**53 too
        row[2] = row[1] if idx - row[0] == 1.0 else 0.0
        row[1] = 0.0
        row[0] = idx
    elapsed = now - idx * window
    estimate = row[2] * ((window - elapsed) / window) + row[1]
    if estimate + cost <= limit:
        row[1] += cost
        return True
    return False


#: code -> ``stepper(row, now, cost, params) -> bool`` (updates ``row`` in place)
STEPPERS = {
    TOKEN_BUCKET: _step_token_bucket,
    LEAKY_BUCKET: _step_leaky_bucket,
    FIXED_WINDOW: _step_fixed_window,
    SLIDING_LOG: _step_sliding_log,
    SLIDING_COUNTER: _step_sliding_counter,
}


def step(
    row: list[float], code: int, params: tuple[float, float, float], now: float, cost: float
) -> bool:
    """Decide one request and update ``row`` in place (the kernel's ``step_row``)."""
    return STEPPERS[code](row, now, cost, params)


def log_in_window(row: list[float], limit: float, window: float, now: float) -> list[float]:
    """The accepted timestamps of a sliding-log row still inside the window at ``now``, oldest first."""
    L = int(limit)
    n = int(row[0])
    head = int(row[1])
    out = [row[2 + (head - k) % L] for k in range(n, 0, -1)]
    return [t for t in out if not t < now - window]


def details(
    row: list[float],
    code: int,
    params: tuple[float, float, float],
    now: float,
    cost: float,
    allowed: bool,
):
    """``(remaining, retry_after, reset_after)`` of a row just stepped at ``now``.

    * remaining: requests of cost 1 that would be allowed right now;
    * retry_after: seconds until this request (same cost) would be allowed
      (0 if allowed, ``inf`` if its cost exceeds the limit);
    * reset_after: seconds until the key is back to its fresh, unused state.
    """
    limit, rate, window = params
    inf = math.inf
    if code == TOKEN_BUCKET:
        tokens = row[0]
        # the decision's own comparison: a unit request passes iff 1 <= this
        remaining = max(0, int(math.floor(tokens + bucket_slack(now, rate, limit))))
        retry = 0.0 if allowed else ((cost - tokens) / rate if cost <= limit else inf)
        return remaining, retry, (limit - tokens) / rate
    if code == LEAKY_BUCKET:
        level = row[0]
        remaining = max(0, int(math.floor((limit + bucket_slack(now, rate, limit)) - level)))
        retry = 0.0 if allowed else ((level + cost - limit) / rate if cost <= limit else inf)
        return remaining, retry, max(0.0, level) / rate
    if code == FIXED_WINDOW:
        reset = (row[0] + 1.0) * window - now
        remaining = _agree(int(limit - row[1]), row, code, params, now)
        retry = 0.0 if allowed else (reset if cost <= limit else inf)
        return remaining, retry, reset if row[1] > 0 else 0.0
    if code == SLIDING_LOG:
        L = int(limit)
        inside = log_in_window(row, limit, window, now)
        remaining = L - len(inside)
        reset = inside[-1] + window - now if inside else 0.0
        if allowed:
            retry = 0.0
        elif cost > L:
            retry = inf
        else:
            k = L - int(cost) + 1  # the k-th most recent must leave the window
            retry = inside[-k] + window - now
        return remaining, retry, reset
    idx, cur, prev = row
    start = idx * window
    elapsed = now - start
    estimate = prev * ((window - elapsed) / window) + cur
    remaining = _agree(max(0, int(math.floor(limit - estimate))), row, code, params, now)
    if cur > 0:
        reset = start + 2 * window - now
    elif prev > 0:
        reset = start + window - now
    else:
        reset = 0.0
    if allowed:
        retry = 0.0
    elif cost > limit:
        retry = inf
    else:
        room = limit - cost - cur
        if room >= 0 and prev > 0:
            t = start + window * (1.0 - room / prev)
        else:  # next window: estimate = cur * (1 - e/W)
            room = limit - cost
            t = start + window + (window * (1.0 - room / cur) if cur > 0 else 0.0)
        retry = max(0.0, t - now)
    return remaining, retry, reset


def _agree(remaining: int, row: list[float], code: int, params, now: float) -> int:
    """``remaining`` made to agree with the decision: >= 1 exactly when a request of
    cost 1 at ``now`` would be allowed (decided on a copy of the row)."""
    if STEPPERS[code](list(row), now, 1.0, params):
        return max(1, remaining)
    return 0


def resolve_algorithm(algorithm: Any) -> AlgorithmSpec:
    name = getattr(algorithm, "ALGORITHM", algorithm)
    if isinstance(name, str):
        key = name.lower().replace("-", "_").replace(" ", "_")
        key = {
            "sliding_log": "sliding_window_log",
            "sliding_counter": "sliding_window_counter",
        }.get(key, key)
        if key in SPECS:
            return SPECS[key]
    raise InvalidParameterError(
        f"algorithm must be one of {sorted(SPECS)} (or one of their classes), got {algorithm!r}"
    )
