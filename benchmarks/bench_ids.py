"""Snowflake IDs and the URL shortener against naive plain-Python versions, uuid4,
a plain dict and per-row SQLite INSERTs, on the same data in the same run.

Every contender (adapter, call shape, check) comes from the one registry,
``sysprims.bench.cases.case_ids``, that ``sysprims bench`` and the tour use;
``extra_info`` carries ns per ID / URL and the call shape. The Snowflake
ceiling is 1e6 / 4096 = 244 ns per ID (12 sequence bits).
"""

from __future__ import annotations

from peers import registry_test
from sysprims.bench.cases import case_ids

test_registry = registry_test(case_ids, case_ids.data, rounds=3)
