"""The one exception tree of sysprims.

Every error the library raises on purpose derives from :class:`SysprimsError`.
Errors that are also standard Python errors inherit from both, so callers who
catch ``ValueError`` or ``TypeError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "AliasTakenError",
    "BackendError",
    "CachedOperationError",
    "CapacityError",
    "ClockMovedBackwardsError",
    "IdempotencyError",
    "IdempotencyKeyMismatch",
    "IncompatibleError",
    "InvalidIdempotencyKey",
    "InvalidParameterError",
    "KeyTypeError",
    "MissingDependencyError",
    "NoShardError",
    "NotFoundError",
    "RateLimitExceeded",
    "RequestInProgress",
    "SerializationError",
    "SysprimsError",
    # defined here, re-exported where they were first defined
    "InputError",
    "ReadOnlyFilterError",
    "WordTooLongError",
]


class SysprimsError(Exception):
    """Root of every error raised by sysprims."""


class InvalidParameterError(SysprimsError, ValueError):
    """A parameter is outside its documented domain.

    The message names the parameter, the rule and the value received, e.g.
    ``false_positive_rate must be in (0, 1), got 1.5``.
    """


class KeyTypeError(SysprimsError, TypeError):
    """A key (or an element of a key batch) has a type sysprims cannot hash."""


class IncompatibleError(SysprimsError, ValueError):
    """Two structures (or a structure and pre-hashed keys) cannot be combined:
    their parameters, seeds or kinds differ."""


class SerializationError(SysprimsError, ValueError):
    """Bytes or a file are not a valid sysprims container: wrong magic, unknown
    version, wrong kind, truncated or corrupted (CRC mismatch)."""


class BackendError(SysprimsError):
    """A storage backend (SQLite, Redis) failed or is unreachable."""


class MissingDependencyError(SysprimsError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class ClockMovedBackwardsError(SysprimsError):
    """The clock went backwards further than the configured tolerance."""


class CapacityError(SysprimsError):
    """A fixed-capacity structure cannot take more (sequence space, ID space)."""


class RateLimitExceeded(SysprimsError):
    """A call was refused by a rate limit (HTTP 429); ``decision`` is the refusing
    :class:`~sysprims.ratelimit.Decision` and ``retry_after`` its seconds to wait."""

    def __init__(self, message: str, decision: object = None, retry_after: float | None = None):
        super().__init__(message)
        self.decision = decision
        self.retry_after = retry_after


class AliasTakenError(SysprimsError, ValueError):
    """A custom alias (short code) is already in use (HTTP 409)."""


class NotFoundError(SysprimsError, KeyError):
    """A requested item does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NoShardError(NotFoundError):
    """A key matches no shard (outside every range, unknown region) and the
    strategy has no ``fallback`` shard."""


class IdempotencyError(SysprimsError):
    """Base of the idempotency-key errors."""


class IdempotencyKeyMismatch(IdempotencyError):
    """The idempotency key was reused with a different request (HTTP 422)."""


class RequestInProgress(IdempotencyError):
    """A request with the same idempotency key is still running (HTTP 409)."""


class InvalidIdempotencyKey(IdempotencyError, InvalidParameterError):
    """The idempotency key is not a str of 1 to 255 printable characters (HTTP 400)."""


class CachedOperationError(IdempotencyError):
    """Replay of an operation whose error was cached (``cache_errors``).

    ``error_type`` is the qualified name of the original exception class and
    ``error_message`` its ``str()``; on the in-memory store ``original`` is the
    exception object itself (else None).
    """

    def __init__(self, key: str, error_type: str, error_message: str, original: BaseException | None = None):
        super().__init__(f"the operation for idempotency key {key!r} failed earlier with {error_type}: {error_message}")
        self.key = key
        self.error_type = error_type
        self.error_message = error_message
        self.original = original


class ReadOnlyFilterError(SysprimsError, TypeError):
    """The filter views read-only memory (``load(path, mmap=True)``); copy it
    with ``.copy()`` before adding. Also importable from :mod:`sysprims.bloom`."""


class WordTooLongError(InvalidParameterError):
    """A word is longer than the index's ``max_length``. Also importable from
    :mod:`sysprims.autocomplete`."""


class InputError(SysprimsError, ValueError):
    """An input file cannot be read as asked: missing column, malformed row, bad
    format, binary data given as text. Also importable from :mod:`sysprims.io`."""
