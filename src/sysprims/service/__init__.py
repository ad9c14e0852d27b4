"""The URL shortener as an HTTP service (Starlette on uvicorn).

``create_app(store=...)`` composes the primitives: links from
:mod:`sysprims.shortener` (Snowflake codes with Redis), ``Idempotency-Key`` from
:mod:`sysprims.idempotency`, per-client token buckets from
:mod:`sysprims.ratelimit`, a Bloom filter of taken aliases from
:mod:`sysprims.bloom` and trending links from :mod:`sysprims.countmin`.
Run it with ``sysprims serve shortener --store sqlite:///links.db``.
This package imports Starlette when its app is built (``pip install "sysprims[service]"``).
"""

from __future__ import annotations

from .app import create_app
from .core import MachineLease, ShortenerService
from .settings import ServiceSettings
from .validation import ApiError, LinkRequest, parse_link_request

__all__ = [
    "ApiError",
    "LinkRequest",
    "MachineLease",
    "ServiceSettings",
    "ShortenerService",
    "create_app",
    "parse_link_request",
]
