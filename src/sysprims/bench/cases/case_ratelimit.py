"""Rate limiting: sysprims against limits, pyrate-limiter and a plain-Python
dict token bucket, on the same Zipf request trace (limit 100 per second per
key, 10,000 keys, 20,000 requests per second), in the same run.

Call shapes are kept apart. *batch*: sysprims ``allow_many`` over the whole
trace (neither peer has a batch call). *single*: one call per request in a
Python loop: sysprims ``allow()``, ``limits`` ``hit`` (memory storage, its
fastest), pyrate-limiter ``try_acquire`` (a bucket per key, as its docs do it,
fed the trace's timestamps through its item-wrapping hook) and a dict token
bucket. Every row shows the share it admitted; where a peer cannot be given
the trace's timestamps (limits reads the real clock, so the whole trace falls
in a few milliseconds of its time) the share differs because the policy it
was shown differs, and the row says so. Timestamps are float seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..naive import DictTokenBucket
from ..registry import BATCH, FLOOR, NAIVE, SINGLE, Contender, measure_all, read_keys_floor

NAME = "ratelimit"
TITLE = "Rate limiting (100 requests/s per key)"
ORDER = 30
REQUIRES = ("sysprims.ratelimit",)
LIMIT = 100
N_USERS = 10_000
RATE = 20_000.0  # requests per second in the trace
STR_CASE, INT_CASE = "decide (Zipf trace, str keys)", "decide (Zipf trace, int64 keys)"

ALGOS: dict[str, dict[str, Any]] = {
    "token_bucket": {"capacity": LIMIT, "refill_rate": float(LIMIT)},
    "sliding_window_counter": {"max_requests": LIMIT, "window_seconds": 1.0},
    "fixed_window": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_log": {"max_requests": LIMIT, "window_seconds": 1.0},
}


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """``n`` requests: Zipf(1.2) keys over 10,000 users, sorted float-second timestamps."""
    rng = np.random.default_rng([seed, 42])
    ids = ((rng.zipf(1.2, n) - 1) % N_USERS).astype(np.int64)
    ts = np.sort(rng.uniform(0.0, n / RATE, n)) + 1.7e9
    return {"n": n, "ids": ids, "keys": [f"user:{i:08d}" for i in ids.tolist()], "ts": ts,
            "ts_list": ts.tolist()}


_REF: dict[tuple[str, int, int], tuple[list, np.ndarray]] = {}


def reference(d: dict[str, Any], algo: str) -> np.ndarray:
    """The decisions the batch must equal on ``d``: the loop of sysprims' scalar
    ``allow`` (its Python steps, not the kernels) for ``token_bucket``, sysprims'
    exact sliding log for ``sliding_window_log``; cached per data set. (The dict
    token bucket is not the reference: it compares floats without slack, so it
    denies a request that arrives exactly when its token is due.)"""
    key = (algo, id(d["keys"]), d["n"])
    if key not in _REF:
        if algo == "token_bucket":
            from ...ratelimit import RateLimiter

            allow = RateLimiter(algo, **ALGOS[algo]).allow
            ref = np.fromiter(map(allow, d["keys"], d["ts_list"]), dtype=bool, count=d["n"])
        else:
            from ...ratelimit import RateLimiter

            ref = RateLimiter(algo, **ALGOS[algo]).allow_many(d["keys"], d["ts"])
        _REF[key] = (d["keys"], ref)  # keeps the keys alive, so their id is not reused
    return _REF[key][1]


def _admitted(ref_algo: str | None = None, name: str = "", per_key_slack: int = 0) -> Any:
    """The admitted share, and with ``ref_algo`` the share of decisions equal to
    the reference. Every decision must match, except with ``per_key_slack``:
    then each key's admitted total must be within that many of the
    reference's (the dict token bucket, which compares floats without slack,
    denies a request that arrives exactly when its token is due; after that
    its bucket for the key is one token apart, so its total differs by at most 1)."""

    def check(out, _state, d):
        got = np.asarray(out, dtype=bool)
        acc = {"admitted": float(got.mean())}
        if ref_algo is not None:
            ref = reference(d, ref_algo)
            same = float((got == ref).mean())
            acc["same_decisions"] = same
            if not per_key_slack:
                assert same == 1.0, f"{name}: {1 - same:.2%} of decisions differ from the reference"
            else:
                ids = d["ids"]
                gap = np.abs(np.bincount(ids, weights=got, minlength=N_USERS)
                             - np.bincount(ids, weights=ref, minlength=N_USERS)).max()
                assert gap <= per_key_slack, f"{name}: a key's admitted total differs by {gap:.0f} from the reference"
        return acc

    return check


def _limiter(algo: str) -> Any:
    def setup(_mod, _d):
        from ...ratelimit import RateLimiter

        return RateLimiter(algo, **ALGOS[algo])

    return setup


def _allow_loop(rl, d):
    allow = rl.allow
    return list(map(allow, d["keys"], d["ts_list"]))


def _limits_setup(strategy: str):
    def setup(limits, _d):
        from limits.storage import MemoryStorage

        return getattr(limits.strategies, strategy)(MemoryStorage()).hit, limits.RateLimitItemPerSecond(LIMIT)

    return setup


def _limits_loop(state, d):
    hit, item = state
    return [hit(item, k) for k in d["keys"]]


class _TraceBuckets:
    """pyrate-limiter's documented extension point: a BucketFactory that keeps
    one in-memory bucket per key and stamps each item with the trace's time."""

    def __new__(cls, pl):
        class Factory(pl.BucketFactory):
            def __init__(self):
                self.rates = [pl.Rate(LIMIT, pl.Duration.SECOND)]
                self.buckets = {}
                self.now_ms = 0

            def wrap_item(self, name, weight=1):
                return pl.RateItem(name, self.now_ms, weight=weight)

            def get(self, item):
                b = self.buckets.get(item.name)
                if b is None:  # no leak thread: the run is short and leaking would add a thread to the timing
                    b = self.buckets[item.name] = pl.InMemoryBucket(self.rates)
                return b

        return Factory()


def _pyrate_setup(pl, _d):
    factory = _TraceBuckets(pl)
    return factory, pl.Limiter(factory).try_acquire


def _pyrate_loop(state, d):
    factory, acquire = state
    out = []
    for k, t in zip(d["keys"], d["ts_list"], strict=True):
        factory.now_ms = int(t * 1000)
        out.append(acquire(k, blocking=False))
    return out


def _dict_loop(bucket, d):
    return list(map(bucket.allow, d["keys"], d["ts_list"]))


def _contenders() -> list[Contender]:
    out = []
    for algo in ALGOS:
        ref = algo if algo in ("token_bucket", "sliding_window_log") else None
        out.append(Contender(STR_CASE, f"sysprims allow_many {algo}", "sysprims", BATCH, setup=_limiter(algo),
                             call=lambda rl, d: rl.allow_many(d["keys"], d["ts"]), check=_admitted(ref, algo)))
    out.append(Contender(INT_CASE, "sysprims allow_many token_bucket", "sysprims", BATCH,
                         setup=_limiter("token_bucket"), call=lambda rl, d: rl.allow_many(d["ids"], d["ts"]),
                         check=_admitted()))
    for algo in ("token_bucket", "sliding_window_log"):
        out.append(Contender(STR_CASE, f"sysprims allow() loop {algo}", "sysprims", SINGLE, setup=_limiter(algo),
                             call=_allow_loop, size="slow", check=_admitted(algo, f"allow() {algo}")))
    for strategy in ("FixedWindowRateLimiter", "MovingWindowRateLimiter", "SlidingWindowCounterRateLimiter"):
        out.append(Contender(STR_CASE, f"limits {strategy.removesuffix('RateLimiter')} hit loop", "limits", SINGLE,
                             peer="limits", setup=_limits_setup(strategy), call=_limits_loop, size="slow",
                             check=_admitted(),
                             note="memory storage; reads the real clock, so it sees the trace in milliseconds"))
    out.append(Contender(STR_CASE, "pyrate-limiter try_acquire loop (bucket per key)", "pyrate-limiter", SINGLE,
                         peer="pyrate_limiter", setup=_pyrate_setup, call=_pyrate_loop, size="slow",
                         check=_admitted("sliding_window_log", "pyrate-limiter"),
                         note="sliding log per key, trace timestamps: same policy as sysprims sliding_window_log"))
    out.append(Contender(STR_CASE, "dict token bucket allow() loop", NAIVE, SINGLE,
                         setup=lambda _m, _d: DictTokenBucket(LIMIT, float(LIMIT)), call=_dict_loop, size="slow",
                         check=_admitted("token_bucket", "dict token bucket", per_key_slack=1),
                         note="plain Python, trace timestamps; the same requests as the other loops; no float slack, "
                              "so a key's admitted total may differ by 1"))
    out.append(read_keys_floor(STR_CASE))
    out.append(Contender(INT_CASE, "floor: NumPy gather + scatter of one state per request", FLOOR, BATCH,
                         setup=lambda _m, d: np.zeros(N_USERS, dtype=np.float64), call=_touch_state,
                         note="each request's 8-byte key state read and written once, no decision"))
    return out


def _touch_state(state: np.ndarray, d: dict[str, Any]) -> np.ndarray:
    ids = d["ids"]
    state[ids] = state[ids] + 1.0
    return state


CONTENDERS = _contenders()


def run(ctx) -> None:
    measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
    _REF.clear()
