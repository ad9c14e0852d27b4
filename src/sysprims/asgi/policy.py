"""Quota policies and the IETF RateLimit fields.

A :class:`Limit` is "``amount`` requests per ``seconds``" enforced by one of the five
algorithms; ``Limit.parse("10/second")`` reads the notation of the ``limits``
package (``10/s``, ``1000 per hour``, ``5/30s``). :func:`ratelimit_fields` turns the
decisions of a request's limits into the two structured fields of
draft-ietf-httpapi-ratelimit-headers (-08 and later)::

    RateLimit-Policy: "10-per-1s";q=10;w=1, "1000-per-3600s";q=1000;w=3600
    RateLimit: "10-per-1s";r=9;t=1

Every value is an sf-integer (the draft requires Integers for ``q``, ``w``, ``r`` and
``t``); the policy names are sf-strings, which every version since -08 accepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterError
from ..ratelimit import ALGORITHMS, Decision

__all__ = ["Limit", "parse_limits", "ratelimit_fields"]

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_LIMIT_RE = re.compile(r"\s*(\d+)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)?\s*", re.IGNORECASE)
_NAME_RE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")  # printable ASCII, no " or \


@dataclass(frozen=True)
class Limit:
    """``amount`` requests per ``seconds`` with ``algorithm`` (one of the five).

    The parameters of each algorithm: token bucket ``capacity=amount``,
    ``refill_rate=amount/seconds``; leaky bucket ``capacity=amount``,
    ``leak_rate=amount/seconds``; the windows ``max_requests=amount``,
    ``window_seconds=seconds``. ``name`` is the policy's identifier in the fields
    (default ``"<amount>-per-<seconds>s"``).
    """

    amount: int
    seconds: float
    algorithm: str = "sliding_window_counter"
    name: str = ""
    params: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise InvalidParameterError(f"amount must be an int >= 1, got {self.amount!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) \
                or not math.isfinite(self.seconds) or self.seconds <= 0:
            raise InvalidParameterError(f"seconds must be a finite number > 0, got {self.seconds!r}")
        if self.algorithm not in ALGORITHMS:
            raise InvalidParameterError(f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        name = self.name or f"{self.amount}-per-{self.seconds:g}s"
        if not _NAME_RE.fullmatch(name):
            raise InvalidParameterError(f"name must be 1-64 printable ASCII characters without \" or \\, got {name!r}")
        object.__setattr__(self, "name", name)
        a, s = float(self.amount), float(self.seconds)
        params = {
            "token_bucket": {"capacity": a, "refill_rate": a / s},
            "leaky_bucket": {"capacity": a, "leak_rate": a / s},
        }.get(self.algorithm, {"max_requests": self.amount, "window_seconds": s})
        object.__setattr__(self, "params", params)

    @classmethod
    def parse(cls, text: str, algorithm: str = "sliding_window_counter") -> Limit:
        """``"10/second"``, ``"10/s"``, ``"1000 per hour"``, ``"5/30s"``, ``"100/15 minutes"``."""
        m = _LIMIT_RE.fullmatch(text) if isinstance(text, str) else None
        unit = (m.group(3) or "s").lower() if m else ""
        if m is None or unit not in _UNITS:
            raise InvalidParameterError(
                f"a limit must look like '10/second', '1000 per hour' or '5/30s', got {text!r}"
            )
        count = float(m.group(2)) if m.group(2) else 1.0
        seconds = count * _UNITS[unit]
        return cls(int(m.group(1)), int(seconds) if float(seconds).is_integer() else seconds, algorithm)

    @property
    def window(self) -> int:
        """The policy's ``w``: whole seconds over which ``amount`` applies (at least 1)."""
        return max(1, math.ceil(self.seconds))

    def policy_item(self) -> str:
        return f'"{self.name}";q={self.amount};w={self.window}'


def parse_limits(limits: Any, algorithm: str = "sliding_window_counter") -> tuple[Limit, ...]:
    """A tuple of :class:`Limit` from one limit or a sequence of them (strings or ``Limit``)."""
    if isinstance(limits, (str, Limit)):
        limits = [limits]
    if not isinstance(limits, Iterable):
        raise InvalidParameterError(f"limits must be a limit string, a Limit or a list of them, got {limits!r}")
    out = tuple(x if isinstance(x, Limit) else Limit.parse(x, algorithm) for x in limits)
    names = [x.name for x in out]
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"the limits of one route need distinct names, got {names}")
    return out


def _ceil(x: float) -> int:
    return max(0, math.ceil(x - 1e-9)) if math.isfinite(x) else 0


def policy_field(limits: Sequence[Limit]) -> str:
    """The ``RateLimit-Policy`` value of a route (constant: compute it once)."""
    return ", ".join(x.policy_item() for x in limits)


def ratelimit_fields(limits: Sequence[Limit], decisions: Sequence[Decision | None],
                     legacy: bool = False, policy: str | None = None) -> list[tuple[str, str]]:
    """Header (name, value) pairs for one request.

    ``decisions[i]`` is the outcome of ``limits[i]`` (None: not evaluated because an
    earlier limit refused the request). On a refusal the refusing policy's ``t`` is
    its ``Retry-After`` value, so that both name the same moment: the first whole
    second at which the request would pass; ``retry_after``
    (a denial's) is returned last as a ``Retry-After`` pair when finite.
    """
    if policy is None:
        policy = policy_field(limits)
    items = []
    retry: int | None = None
    tightest: tuple[int, Limit, int] | None = None
    for lim, d in zip(limits, decisions, strict=True):
        if d is None:
            continue
        remaining = max(0, int(d.remaining))
        if not d.allowed:
            remaining = 0
            if math.isfinite(d.retry_after):
                # the first whole second at which the request passes: the sliding log
                # admits only strictly after the moment it names, the others at it
                x = d.retry_after
                t = max(1, math.floor(x) + 1 if lim.algorithm == "sliding_window_log" else math.ceil(x))
                retry = t if retry is None else max(retry, t)
            else:
                t = _ceil(d.reset_after)
        else:
            t = _ceil(d.reset_after)
        remaining = min(remaining, lim.amount)
        items.append(f'"{lim.name}";r={remaining};t={t}')
        if tightest is None or remaining < tightest[0]:
            tightest = (remaining, lim, t)
    out = [("ratelimit-policy", policy)]
    if items:
        out.append(("ratelimit", ", ".join(items)))
    if legacy and tightest is not None:
        out += [("ratelimit-limit", str(tightest[1].amount)), ("ratelimit-remaining", str(tightest[0])),
                ("ratelimit-reset", str(tightest[2]))]
    if retry is not None:
        out.append(("retry-after", str(retry)))
    return out
