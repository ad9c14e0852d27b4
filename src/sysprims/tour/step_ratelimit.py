"""Tour step: a request trace through the rate limiters (the bench's ratelimit case),
and how far the sliding-window counter is from the exact log."""

from __future__ import annotations

import numpy as np

from . import Row, Show, timed

NAME = "ratelimit"
ORDER = 40
COMPONENT = "ratelimit"
STR = "decide (Zipf trace, str keys)"


def _share(r, b) -> str:
    out = f"admitted {r.accuracy.get('admitted', 0):.1%}"
    if b is not None and "admitted" in b.accuracy:
        if b.n == r.n:  # the same requests: the shares compare
            out += f" vs {b.accuracy['admitted']:.1%}"
        else:
            out += f" (the baseline admitted {b.accuracy['admitted']:.1%} of the first {b.n:,})"
    if r.accuracy.get("same_decisions", 1.0) != 1.0:
        out += "; MISMATCH with the reference"
    return out


SHOW = [
    Show(STR, "sysprims allow_many token_bucket", "dict token bucket allow() loop", "allow_many token bucket (str keys)",
         _share),
    Show("decide (Zipf trace, int64 keys)", "sysprims allow_many token_bucket", None,
         "allow_many token bucket (int keys)", _share),
    Show(STR, "sysprims allow() loop token_bucket", "dict token bucket allow() loop", "allow() token bucket",
         _share),
    Show(STR, "sysprims allow() loop sliding_window_log", "pyrate-limiter try_acquire loop (bucket per key)",
         "allow() sliding log vs pyrate-limiter", _share),
    Show(STR, "sysprims allow() loop sliding_window_log", "limits MovingWindow hit loop", "allow() sliding log vs limits",
         lambda r, b: _share(r, b) + " (limits reads the real clock)"),
]


def extra(size: int, rng: np.random.Generator) -> list[Row]:
    from ..bench.cases.case_ratelimit import data
    from ..ratelimit import accuracy_report

    d = data(min(size, 200_000))
    t, rep = timed(lambda: accuracy_report(d["ids"], d["ts"], max_requests=100, window_seconds=1.0))
    return [Row(NAME, "sliding counter vs exact log", d["n"], t,
                f"{rep['wrong_fraction']:.4%} of decisions differ (trace mostly over the limit)")]
