"""Snowflake ID kernels: fill a run of consecutive IDs, split IDs into fields.

Kernels trust their inputs: the wrapper (``sysprims.ids``) checks the layout,
converts to int64 once and guarantees the values fit.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel


def _examples_fill():
    return (np.empty(4, dtype=np.int64), np.int64(0), np.int64(4), np.int64(1 << 22))


def _examples_decode():
    ids = np.array([0, 1 << 22, (1 << 22) | (3 << 12) | 5], dtype=np.int64)
    n = ids.shape[0]
    return (
        ids, np.int64(22), np.int64(12), np.int64(1023), np.int64(4095),
        np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64),
    )


@kernel(_examples_fill)
def fill_consecutive(out, pos, count, first):
    """``out[pos + i] = first + i`` for ``i < count`` (one millisecond's run of sequences)."""
    for i in range(count):
        out[pos + i] = first + i


@kernel(_examples_decode)
def decode_snowflakes(ids, ts_shift, machine_shift, machine_mask, seq_mask, ts_out, machine_out, seq_out):
    """Split IDs into (timestamp offset, machine id, sequence)."""
    for i in range(ids.shape[0]):
        v = ids[i]
        ts_out[i] = v >> ts_shift
        machine_out[i] = (v >> machine_shift) & machine_mask
        seq_out[i] = v & seq_mask
