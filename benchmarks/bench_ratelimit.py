"""Rate limiting: sysprims against limits (memory storage, its fastest),
pyrate-limiter (a bucket per key, fed the trace's timestamps) and a plain dict
token bucket, on the same Zipf request trace (limit 100 per second per key).

Every contender (adapter, call shape, check) comes from the one registry,
``sysprims.bench.cases.case_ratelimit``, that ``sysprims bench`` and the tour
use. Groups keep call shapes apart: ``[batch]`` is sysprims' ``allow_many``
(no peer has a batch call); ``[single]`` is one call per request: sysprims
``allow()``, ``limits`` ``hit``, pyrate-limiter ``try_acquire`` and the dict
bucket. ``extra_info`` records the admitted share and, where a reference
exists, that every decision matches it. Timestamps are float seconds.
"""

from __future__ import annotations

from peers import registry_test
from sysprims.bench.cases import case_ratelimit


def _data(n_keys):
    return case_ratelimit.data(n_keys // 4)  # 5,000 requests in the smoke run, 50,000 measured


test_registry = registry_test(case_ratelimit, _data, rounds=3)
