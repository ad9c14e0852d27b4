"""Benchmark profiles: how many keys, how many repeats.

``n`` is the batch size of sysprims and of the peers' own batch calls
(``rbloom.update``, ``bounter.update``, ``set(keys)``, ...); ``n_loop`` is the
prefix of the same data that a Python ``for`` loop calling a native function
per key runs on (an ``mmh3.hash64`` loop, ``k in bloom`` loops); ``n_slow`` is
the prefix the pure-Python implementations (the naive baselines, pyprobables,
limits, ...) run on. Everything is reported per key, so the ratios compare
per-key costs; a loop's per-key cost barely depends on its length.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    name: str
    n: int  # keys per batch for the fast contenders
    n_slow: int  # keys for pure-Python implementations (naive baselines, pyprobables, ...)
    n_loop: int  # keys for Python loops over a native per-key call (mmh3 loop, ...)
    repeats: int  # timed repeats; the median is reported
    n_queries: int  # autocomplete queries, feed reads ...
    sweep: bool = True  # accuracy-vs-memory sweeps (Bloom, Count-Min)
    # one untimed call of each sysprims contender before the timed repeats; the
    # full profile skips it (a 10M-key call costs seconds) and relies on
    # sysprims.warmup() at the start plus the median of the repeats instead
    warmup_calls: bool = True


PROFILES: dict[str, Profile] = {
    # end-to-end test of the machinery, a few seconds
    "tiny": Profile("tiny", n=2_000, n_slow=500, n_loop=2_000, repeats=2, n_queries=200),
    # < 3 minutes on a 2-core machine
    "quick": Profile("quick", n=200_000, n_slow=10_000, n_loop=200_000, repeats=3, n_queries=5_000),
    # the component issues' sizes (10M keys); < 30 minutes
    "full": Profile("full", n=10_000_000, n_slow=20_000, n_loop=1_000_000, repeats=3, n_queries=20_000,
                    warmup_calls=False),
}


def get_profile(name: str) -> Profile:
    from ..errors import InvalidParameterError

    try:
        return PROFILES[name]
    except KeyError:
        raise InvalidParameterError(f"profile must be one of {sorted(PROFILES)}, got {name!r}") from None
