"""Clocks: everything time-dependent takes ``clock=`` so tests and replays never sleep.

A clock has ``time()`` (wall-clock seconds since the Unix epoch, float),
``time_ms()`` (int milliseconds), ``monotonic()`` (seconds, never goes back on
the system clock) and ``sleep(seconds)``. :class:`ManualClock` only moves when
told to, and its ``sleep`` advances it instead of blocking.
"""

from __future__ import annotations

import threading
import time as _time
from typing import Protocol, runtime_checkable

from .errors import InvalidParameterError

__all__ = ["Clock", "ManualClock", "SystemClock", "SYSTEM_CLOCK", "resolve_clock"]


@runtime_checkable
class Clock(Protocol):
    def time(self) -> float: ...

    def time_ms(self) -> int: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks."""

    def time(self) -> float:
        return _time.time()

    def time_ms(self) -> int:
        return _time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        _time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told: ``advance``, ``set`` or ``sleep``.

    ``time()`` and ``monotonic()`` return the same value. Thread-safe. Setting
    it backwards is allowed (to test clock-skew handling) unless
    ``allow_backwards=False``.
    """

    def __init__(self, start: float = 0.0, *, allow_backwards: bool = True):
        self._now = float(start)
        self._allow_backwards = allow_backwards
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._now

    def time_ms(self) -> int:
        return int(round(self._now * 1000.0))

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0 and not self._allow_backwards:
            raise InvalidParameterError(f"seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, now: float) -> None:
        if now < self._now and not self._allow_backwards:
            raise InvalidParameterError(f"now must be >= {self._now}, got {now}")
        with self._lock:
            self._now = float(now)

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidParameterError(f"seconds must be >= 0, got {seconds}")
        self.advance(seconds)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"


def resolve_clock(clock: Clock | None) -> Clock:
    """``clock`` or the system clock; rejects objects that are not clocks."""
    if clock is None:
        return SYSTEM_CLOCK
    for attr in ("time", "monotonic"):
        if not callable(getattr(clock, attr, None)):
            raise InvalidParameterError(
                f"clock must provide time() and monotonic() (see sysprims.clock), got {clock!r}"
            )
    return clock
