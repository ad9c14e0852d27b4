"""Snowflake bit layouts: the fields of an ID, the presets, and decoding (one or a batch).

Re-exported by :mod:`sysprims.ids`; import from there.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._kernels.ids import decode_snowflakes
from ._validate import check_choice, check_int
from .errors import InvalidParameterError

CLASSIC_EPOCH_MS = 1609459200000  # 2021-01-01T00:00:00Z, the classic primer API's default


@dataclass(frozen=True)
class SnowflakeLayout:
    """Bit layout of a Snowflake ID: ``timestamp | machine | sequence`` (high to low).

    ``worker_bits`` optionally splits the machine field into a worker id (high
    part) and a process id (low part), as Discord does (5 + 5).
    """

    timestamp_bits: int = 41
    machine_bits: int = 10
    sequence_bits: int = 12
    epoch: int = CLASSIC_EPOCH_MS
    worker_bits: int | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        check_int("timestamp_bits", self.timestamp_bits, min=1, max=62)
        check_int("machine_bits", self.machine_bits, min=0, max=61)
        check_int("sequence_bits", self.sequence_bits, min=1, max=61)
        total = self.timestamp_bits + self.machine_bits + self.sequence_bits
        if total > 64:
            raise InvalidParameterError(
                f"timestamp_bits + machine_bits + sequence_bits must be <= 64, got {total}"
            )
        check_int("epoch", self.epoch, min=0)
        if self.worker_bits is not None:
            check_int("worker_bits", self.worker_bits, min=0, max=self.machine_bits)

    # derived constants
    @property
    def machine_shift(self) -> int:
        return self.sequence_bits

    @property
    def timestamp_shift(self) -> int:
        return self.sequence_bits + self.machine_bits

    @property
    def max_machine_id(self) -> int:
        return (1 << self.machine_bits) - 1

    @property
    def max_sequence(self) -> int:
        return (1 << self.sequence_bits) - 1

    @property
    def max_timestamp_ms(self) -> int:
        """The last Unix millisecond this layout can encode as a positive int64
        (a 64-bit layout such as Discord's stops one bit early, in 2084)."""
        usable = min(self.timestamp_bits, 63 - self.timestamp_shift)
        return self.epoch + (1 << usable) - 1

    @property
    def ids_per_ms(self) -> int:
        return 1 << self.sequence_bits

    def compose(self, timestamp_ms: int, machine_id: int, sequence: int) -> int:
        """The ID for a Unix timestamp (ms), machine id and sequence (validated)."""
        check_int("timestamp_ms", timestamp_ms, min=self.epoch, max=self.max_timestamp_ms)
        check_int("machine_id", machine_id, min=0, max=self.max_machine_id)
        check_int("sequence", sequence, min=0, max=self.max_sequence)
        return ((timestamp_ms - self.epoch) << self.timestamp_shift) | (machine_id << self.machine_shift) | sequence

    def machine_id_of(self, worker_id: int, process_id: int) -> int:
        """Machine field from a (worker, process) pair (layouts with ``worker_bits``)."""
        if self.worker_bits is None:
            raise InvalidParameterError(f"layout {self.name!r} has no worker/process split (worker_bits=None)")
        pbits = self.machine_bits - self.worker_bits
        check_int("worker_id", worker_id, min=0, max=(1 << self.worker_bits) - 1)
        check_int("process_id", process_id, min=0, max=(1 << pbits) - 1)
        return (worker_id << pbits) | process_id

    def decode(self, snowflake: int) -> SnowflakeParts:
        """Split an ID into its fields."""
        check_int("id", snowflake, min=0, max=(1 << 64) - 1)
        ts = (snowflake >> self.timestamp_shift) + self.epoch
        machine = (snowflake >> self.machine_shift) & self.max_machine_id
        seq = snowflake & self.max_sequence
        worker = process = None
        if self.worker_bits is not None:
            pbits = self.machine_bits - self.worker_bits
            worker, process = machine >> pbits, machine & ((1 << pbits) - 1)
        when = _dt.datetime.fromtimestamp(ts / 1000.0, tz=_dt.timezone.utc)
        return SnowflakeParts(snowflake, ts, when, machine, seq, worker, process)


class SnowflakeParts(NamedTuple):
    """What :func:`decode` returns."""

    id: int
    timestamp_ms: int  # Unix milliseconds
    datetime: _dt.datetime  # UTC
    machine_id: int
    sequence: int
    worker_id: int | None = None
    process_id: int | None = None


CLASSIC_LAYOUT = SnowflakeLayout(41, 10, 12, CLASSIC_EPOCH_MS, None, "classic")
TWITTER = SnowflakeLayout(41, 10, 12, 1288834974657, None, "twitter")
DISCORD = SnowflakeLayout(42, 10, 12, 1420070400000, 5, "discord")
PRESETS = {"classic": CLASSIC_LAYOUT, "twitter": TWITTER, "discord": DISCORD}


def resolve_layout(layout: SnowflakeLayout | str | None) -> SnowflakeLayout:
    """A layout from a :class:`SnowflakeLayout`, a preset name or ``None`` (the classic one)."""
    if layout is None:
        return CLASSIC_LAYOUT
    if isinstance(layout, str):
        if layout == "seed":
            warnings.warn(
                'the Snowflake preset "seed" is now called "classic"; "seed" will be removed',
                DeprecationWarning,
                stacklevel=3,
            )
            return CLASSIC_LAYOUT
        check_choice("layout", layout, tuple(PRESETS))
        return PRESETS[layout]
    if not isinstance(layout, SnowflakeLayout):
        raise InvalidParameterError(
            f"layout must be a SnowflakeLayout or one of {list(PRESETS)}, got {layout!r}"
        )
    return layout


def decode(snowflake: int, layout: SnowflakeLayout | str = "classic") -> SnowflakeParts:
    """Decode one ID under a layout (a :class:`SnowflakeLayout` or a preset name)."""
    return resolve_layout(layout).decode(snowflake)


def decode_many(ids: Any, layout: SnowflakeLayout | str = "classic") -> dict[str, np.ndarray]:
    """Decode a batch: ``{"timestamp_ms", "machine_id", "sequence"}`` int64 arrays."""
    lay = resolve_layout(layout)
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise InvalidParameterError(f"ids must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or (arr.dtype.kind == "u" and arr.max() > (1 << 63) - 1)):
        bad = tuple(int(i) for i in np.argwhere(arr > (1 << 63) - 1 if arr.dtype.kind == "u" else arr < 0)[0])
        raise InvalidParameterError(
            f"ids must be in [0, 2**63 - 1], got ids[{', '.join(map(str, bad))}] = {arr[bad]}"
        )
    arr = np.ascontiguousarray(arr.ravel(), dtype=np.int64)
    n = arr.shape[0]
    ts, mach, seq = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    decode_snowflakes(
        arr, np.int64(lay.timestamp_shift), np.int64(lay.machine_shift),
        np.int64(lay.max_machine_id), np.int64(lay.max_sequence), ts, mach, seq,
    )
    ts += lay.epoch
    return {"timestamp_ms": ts, "machine_id": mach, "sequence": seq}
