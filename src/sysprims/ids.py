"""Snowflake IDs: 64-bit, time-ordered, unique across machines without coordination.

The classic primer API's ``SnowflakeID(machine_id, epoch)`` with ``generate()`` is kept (its
bugs fixed: an out-of-range ``machine_id`` is rejected instead of being masked
onto another machine's ID, and the clock is injectable), and extended with:

* :class:`SnowflakeLayout` - configurable bit layout with presets for the classic primer API
  (``"classic"``: 41/10/12, epoch 2021-01-01; ``"seed"`` is a deprecated alias), Twitter (41/10/12, epoch 1288834974657) and
  Discord (42/10/12 with 5 worker + 5 process bits, epoch 1420070400000);
* :meth:`SnowflakeID.generate_many` - a NumPy batch at the layout's ceiling
  (``2**sequence_bits`` IDs per millisecond), one clock read per millisecond;
* :func:`decode` - timestamp (ms and datetime), machine id and sequence;
* a clock-backwards policy (``"raise"``, bounded ``"wait"``, ``"logical"``) and
  an optional high-water-mark file so a restart with a clock behind the last
  issued ID cannot issue duplicates. Every public method is thread-safe.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time as _time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._highwater import HighWaterMark
from ._html import html_table
from ._kernels.ids import fill_consecutive
from ._snowflake_layout import (
    CLASSIC_EPOCH_MS,
    CLASSIC_LAYOUT,
    DISCORD,
    PRESETS,
    TWITTER,
    SnowflakeLayout,
    SnowflakeParts,
    decode,
    decode_many,
    resolve_layout,
)
from ._validate import check_choice, check_int
from .clock import SystemClock, resolve_clock
from .errors import CapacityError, ClockMovedBackwardsError

__all__ = [
    "CLASSIC_EPOCH_MS",
    "CLASSIC_LAYOUT",
    "CLOCK_POLICIES",
    "DISCORD",
    "PRESETS",
    "SnowflakeID",
    "SnowflakeLayout",
    "SnowflakeParts",
    "TWITTER",
    "decode",
    "decode_many",
]

CLOCK_POLICIES = ("raise", "wait", "logical")


def __getattr__(name: str) -> Any:
    # the names of the classic layout before 0.2, kept as deprecated aliases
    if name in ("SEED_LAYOUT", "SEED_EPOCH_MS"):
        warnings.warn(
            f"sysprims.ids.{name} is now {name.replace('SEED', 'CLASSIC')}; {name} will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return CLASSIC_LAYOUT if name == "SEED_LAYOUT" else CLASSIC_EPOCH_MS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_time_ns = _time.time_ns


def _system_ms() -> int:
    return _time_ns() // 1_000_000


class SnowflakeID:
    """Twitter-style Snowflake ID generator (the classic primer API's class, fixed and extended).

    Parameters
    ----------
    machine_id:
        This generator's machine field, ``0 <= machine_id < 2**machine_bits``
        (0..1023 for the ``"classic"`` layout of the classic primer API); out-of-range values raise
        :class:`~sysprims.errors.InvalidParameterError`.
    epoch:
        Custom epoch in Unix ms; ``None`` keeps the layout's (the classic primer API's
        2021-01-01 by default).
    layout:
        A :class:`SnowflakeLayout` or ``"classic"`` (the default), ``"twitter"``, ``"discord"``.
    clock:
        Any :mod:`sysprims.clock` clock (``ManualClock`` in tests).
    on_clock_backwards:
        ``"raise"`` (:class:`~sysprims.errors.ClockMovedBackwardsError`),
        ``"wait"`` (sleep until the clock catches up, at most ``max_wait_ms``,
        else raise) or ``"logical"`` (keep the last timestamp and carry on).
    state_file:
        Optional high-water-mark file. The generator records a timestamp
        ``reserve_ms`` ahead of the IDs it issues (one small atomic write per
        ``reserve_ms``) and, when restarted, never issues a timestamp at or
        below the recorded mark. A restart whose clock is behind the mark by at
        most ``reserve_ms`` (the usual quick restart: the mark lies ahead of the
        clock by design) waits on its clock until the mark has passed (with
        ``"logical"``, it carries on from the mark at once); a clock further
        behind is a clock that moved backwards (the policy applies).
    """

    def __init__(
        self,
        machine_id: int,
        epoch: int | None = None,
        *,
        layout: SnowflakeLayout | str | None = None,
        clock: Any = None,
        on_clock_backwards: str = "raise",
        max_wait_ms: int = 1000,
        state_file: str | os.PathLike[str] | None = None,
        reserve_ms: int = 100,
    ):
        lay = resolve_layout(layout)
        if epoch is not None:
            check_int("epoch", epoch, min=0)
            if epoch != lay.epoch:
                lay = SnowflakeLayout(lay.timestamp_bits, lay.machine_bits, lay.sequence_bits, int(epoch), lay.worker_bits, lay.name)
        self.layout = lay
        self.machine_id = check_int("machine_id", machine_id, min=0, max=lay.max_machine_id)
        self.epoch = lay.epoch
        self.policy = check_choice("on_clock_backwards", on_clock_backwards, CLOCK_POLICIES)
        self.max_wait_ms = check_int("max_wait_ms", max_wait_ms, min=0)
        self.reserve_ms = check_int("reserve_ms", reserve_ms, min=1)
        self.clock = resolve_clock(clock)
        self._system = isinstance(self.clock, SystemClock)
        self._time_ms = _system_ms if self._system else self._clock_ms
        self.sequence = 0
        self.last_timestamp = -1
        self._lock = threading.Lock()
        self._ts_shift = lay.timestamp_shift
        self._mpart = self.machine_id << lay.machine_shift
        self._max_seq = lay.max_sequence
        self._max_ts = lay.max_timestamp_ms
        self._backwards_events = 0
        self._hi: float = -1  # the first ID goes through the checked path
        if self._system:
            self.generate = self._generate_system  # type: ignore[method-assign]
        self.state_file = None if state_file is None else Path(state_file)
        self._mark = None if state_file is None else HighWaterMark(state_file)
        self._reserved = float("inf")
        self._restart_mark: int | None = None
        if self.state_file is not None:
            self._reserved = -1
            mark = self._read_mark()
            if mark is not None:
                # everything up to the mark may have been issued before the restart
                self.last_timestamp = mark
                self.sequence = self._max_seq
                self._reserved = mark
                self._restart_mark = mark

    # -- clock helpers -------------------------------------------------------
    def _clock_ms(self) -> int:
        tm = getattr(self.clock, "time_ms", None)
        if tm is not None:
            return int(tm())
        return int(round(self.clock.time() * 1000.0))

    def _sleep_until(self, target_ms: int) -> int:
        """Wait until the clock reads >= target_ms; returns the reading."""
        while True:
            now = self._time_ms()
            if now >= target_ms:
                return now
            if self._system:
                if target_ms - now > 2:
                    _time.sleep((target_ms - now - 1) / 1000.0)
                # else spin: sub-millisecond sleeps overshoot
            else:
                self.clock.sleep((target_ms - now) / 1000.0)

    def _backwards(self, now: int, last: int) -> int:
        """Apply the policy when ``now < last``; returns the timestamp to use."""
        if last == self._restart_mark and last - now <= self.reserve_ms and self.policy != "logical":
            # a restart inside the reserve window: the saved mark lies ahead of the
            # clock by design, so this is no backwards clock; wait the reserve out
            # ("logical" carries on from the mark at once, as it always did)
            return self._sleep_until(last)
        self._backwards_events += 1
        if self.policy == "logical":
            return last
        if self.policy == "wait" and last - now <= self.max_wait_ms:
            return self._sleep_until(last)
        raise ClockMovedBackwardsError(
            f"clock moved backwards by {last - now} ms (last issued timestamp {last}, clock {now}); "
            f"policy {self.policy!r}, max_wait_ms={self.max_wait_ms}"
        )

    def _next_slot(self) -> tuple[int, int]:
        """(timestamp, sequence) of the next ID; caller holds the lock."""
        now = self._time_ms()
        last = self.last_timestamp
        if now < last:
            now = self._backwards(now, last)
        if now == last:
            seq = self.sequence + 1
            if seq > self._max_seq:
                if self.policy == "logical" and self._time_ms() < last:
                    now = last + 1  # logical time runs ahead of a clock that is behind
                else:
                    # sequence exhausted: move to the next millisecond (one wait per ms)
                    now = self._sleep_until(last + 1)
                    if now < last:  # pragma: no cover - clock jumped back while waiting
                        now = self._backwards(now, last)
                seq = 0
        else:
            seq = 0
        if now > self._max_ts or now < self.epoch:
            raise CapacityError(
                f"timestamp {now} ms is outside the layout's range [{self.epoch}, {self._max_ts}] "
                f"({self.layout.timestamp_bits} timestamp bits from epoch {self.epoch})"
            )
        if now > self._reserved:
            self._write_mark(now + self.reserve_ms)
        # the fast path may take any later millisecond up to here without checks
        self._hi = min(self._reserved, self._max_ts)
        return now, seq

    # -- high-water mark -----------------------------------------------------
    def _read_mark(self) -> int | None:
        return None if self._mark is None else self._mark.read()

    def _write_mark(self, mark: int) -> None:
        if self._mark is None:  # pragma: no cover - only called with a state file
            return
        self._mark.write(mark)
        self._reserved = mark

    # -- public API ----------------------------------------------------------
    def generate(self) -> int:
        """Generate one unique 64-bit ID (thread-safe)."""
        with self._lock:
            now = self._time_ms()
            last = self.last_timestamp
            if last < now <= self._hi:  # a new millisecond, inside the layout and the reserved mark
                self.last_timestamp = now
                self.sequence = 0
                return ((now - self.epoch) << self._ts_shift) | self._mpart
            if now == last:
                seq = self.sequence + 1
                if seq <= self._max_seq:
                    self.sequence = seq
                    return ((now - self.epoch) << self._ts_shift) | self._mpart | seq
            return self._generate_slow()

    def _generate_system(self) -> int:
        # generate() with the system clock read inline (the hot path of most users)
        with self._lock:
            now = _time_ns() // 1_000_000
            last = self.last_timestamp
            if last < now <= self._hi:
                self.last_timestamp = now
                self.sequence = 0
                return ((now - self.epoch) << self._ts_shift) | self._mpart
            if now == last:
                seq = self.sequence + 1
                if seq <= self._max_seq:
                    self.sequence = seq
                    return ((now - self.epoch) << self._ts_shift) | self._mpart | seq
            return self._generate_slow()

    def _generate_slow(self) -> int:
        ts, seq = self._next_slot()
        self.last_timestamp = ts
        self.sequence = seq
        return ((ts - self.epoch) << self._ts_shift) | self._mpart | seq

    def generate_many(self, n: int) -> np.ndarray:
        """``n`` IDs as a strictly increasing int64 array, exactly what ``n``
        calls of :meth:`generate` would return. Fills a whole millisecond's
        sequence space at a time and waits once per exhausted millisecond."""
        n = check_int("n", n, min=0)
        from ._memory import check_fits

        check_fits(f"generate_many(n={n})", 8 * n)
        out = np.empty(n, dtype=np.int64)
        pos = 0
        with self._lock:
            while pos < n:
                ts, seq = self._next_slot()
                count = min(n - pos, self._max_seq + 1 - seq)
                first = ((ts - self.epoch) << self._ts_shift) | self._mpart | seq
                fill_consecutive(out, np.int64(pos), np.int64(count), np.int64(first))
                self.last_timestamp = ts
                self.sequence = seq + count - 1
                pos += count
        return out

    def decode(self, snowflake: int) -> SnowflakeParts:
        """Decode an ID under this generator's layout."""
        return self.layout.decode(snowflake)

    @property
    def clock_backwards_events(self) -> int:
        """How many times the clock was seen behind the last issued timestamp."""
        return self._backwards_events

    def __repr__(self) -> str:
        lay = self.layout
        return (
            f"SnowflakeID(machine_id={self.machine_id}, layout={lay.name!r} "
            f"{lay.timestamp_bits}/{lay.machine_bits}/{lay.sequence_bits}, epoch={self.epoch}, "
            f"policy={self.policy!r}, last_timestamp={self.last_timestamp})"
        )

    def _repr_html_(self) -> str:
        lay = self.layout
        return html_table(
            "SnowflakeID",
            [
                ("machine_id", self.machine_id),
                ("layout", f"{lay.name}: {lay.timestamp_bits} ts / {lay.machine_bits} machine / {lay.sequence_bits} seq bits"),
                ("epoch", f"{self.epoch} ({_dt.datetime.fromtimestamp(self.epoch / 1000, tz=_dt.timezone.utc).isoformat()})"),
                ("ceiling", f"{lay.ids_per_ms:,} IDs/ms"),
                ("lasts until", _dt.datetime.fromtimestamp(lay.max_timestamp_ms / 1000, tz=_dt.timezone.utc).date().isoformat()),
                ("clock policy", self.policy),
                ("last timestamp", self.last_timestamp),
                ("state file", self.state_file or "-"),
            ],
        )
