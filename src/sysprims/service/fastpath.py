"""The redirect route without the framework: ``GET /{code}`` answered in pure ASGI.

A redirect is most of a shortener's traffic, and on it Starlette's router tries every
route before the catch-all ``/{code}`` and builds a ``Request`` and a
``RedirectResponse`` per request: about as much CPU as the store lookup itself. This
middleware sits innermost (after the rate-limit and idempotency middlewares, so both
still see every request) and answers a ``GET`` of one path segment that no other
route owns with the same status, headers and body the route would send. Anything else,
``HEAD`` included, goes on to the app. Not installed when redirects are rate limited
(``rate_redirects``): then the route's own client check applies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from ..errors import BackendError
from .validation import ApiError

__all__ = ["RedirectFastPath", "location_header"]

# Starlette's RedirectResponse quotes the URL with exactly these safe characters
_SAFE = ":/%#?=@[]!$&'()*+,;"


@lru_cache(maxsize=4096)
def location_header(url: str) -> bytes:
    """The ``Location`` value RedirectResponse sends for ``url`` (memoised: a few hot
    links take most clicks)."""
    return quote(url, safe=_SAFE).encode("latin-1")


class RedirectFastPath:
    """Pure ASGI middleware: ``GET /<code>`` resolved by ``resolve(code)`` (awaitable;
    None when no live link) and answered directly.

    ``reserved``: the one-segment paths of other routes (``docs``, ``healthz``...),
    which go to the app; ``status``: 301/302/307/308; ``cache_control``: the value sent
    with it, if any; ``not_found(code)`` and ``unavailable(exc)`` build the app's own
    404 and 503 responses (problem+json), so errors look as they do on the route.
    """

    def __init__(self, app: Any, *, resolve: Callable[[str], Awaitable[str | None]], reserved: Collection[str],
                 status: int, cache_control: str | None, not_found: Callable[[ApiError], Any],
                 unavailable: Callable[[BackendError], Any]):
        self.app = app
        self.resolve = resolve
        self.reserved = frozenset(reserved)
        self.status = status
        self.extra = [(b"cache-control", cache_control.encode("latin-1"))] if cache_control else []
        self.not_found = not_found
        self.unavailable = unavailable

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            return await self.app(scope, receive, send)
        code = scope["path"][1:]
        if not code or "/" in code or code in self.reserved:
            return await self.app(scope, receive, send)
        try:
            url = await self.resolve(code)
        except BackendError as exc:
            return await self.unavailable(exc)(scope, receive, send)
        if url is None:
            err = ApiError(404, "not_found", f"no live link with code {code!r}"[:200], {})
            return await self.not_found(err)(scope, receive, send)
        headers = [*self.extra, (b"content-length", b"0"), (b"location", location_header(url))]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
