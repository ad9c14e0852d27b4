"""Batch MurmurHash3 against per-key loops of mmh3 and xxhash, same keys, same run.

The contenders (adapters, call shapes, the bit-exact check against mmh3) come
from the one registry, ``sysprims.bench.cases.case_hashing``, that
``sysprims bench`` and the tour use.

Goals (issue #2), as ratios to the ``mmh3.hash64`` per-key loop:
list of str >= 1.4x (conversion included); pyarrow strings or pre-encoded
bytes >= 4x; NumPy integer array >= 10x.
"""

from __future__ import annotations

from peers import registry_test
from sysprims.bench.cases import case_hashing

test_registry = registry_test(case_hashing, case_hashing.data, rounds=5)
