"""Rate limits and idempotency keys for ASGI apps (Starlette, FastAPI, any ASGI server).

* :class:`RateLimitMiddleware`: per-client limits (any of the five algorithms, any
  store, several limits per route) with the IETF ``RateLimit`` and
  ``RateLimit-Policy`` fields; ``app.add_middleware(RateLimitMiddleware, limits=["10/s", "1000/h"])``.
* :class:`IdempotencyMiddleware`: the ``Idempotency-Key`` header, scoped per client,
  replaying stored responses; ``app.add_middleware(IdempotencyMiddleware, store="sqlite:///idem.db")``.
* decorators: :func:`rate_limit` and :func:`idempotent_handler` (handlers),
  :func:`limited` and :func:`idempotent` (plain sync or async functions).

Both middlewares are pure ASGI (no ``BaseHTTPMiddleware``) and never block the event
loop on a store call: memory stores answer inline, the others run in a worker thread
or through their async twins (:mod:`sysprims.backends.aio_ratelimit`). See docs/asgi.md.
"""

from __future__ import annotations

from ._common import client_ip, header_key
from .idempotency import (
    IdempotencyMiddleware,
    fingerprint_request,
    idempotent,
    idempotent_handler,
    parse_key_header,
)
from .policy import Limit, parse_limits, ratelimit_fields
from .ratelimit import RateLimitGate, RateLimitMiddleware, limited, rate_limit

__all__ = [
    "IdempotencyMiddleware",
    "Limit",
    "RateLimitGate",
    "RateLimitMiddleware",
    "client_ip",
    "fingerprint_request",
    "header_key",
    "idempotent",
    "idempotent_handler",
    "limited",
    "parse_key_header",
    "parse_limits",
    "rate_limit",
    "ratelimit_fields",
]
