"""The redirect's store call on ``redis.asyncio``: no worker thread per click.

:class:`AsyncLinkResolver` runs the very script of
:class:`~sysprims.backends.shortener_redis.RedisLinkStore` (``shortener_resolve.lua``,
the same keys and arguments), so an async redirect counts its click exactly where a
blocking one does, and both may share one Redis. A thread hop costs a redirect about
as much CPU as the Redis call itself; awaiting the call on the event loop saves it,
and a stalled Redis still never holds the loop (the client's socket timeout applies).

One ``redis.asyncio`` client is kept per event loop (a client is bound to the loop
that first used it).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from .._deps import require
from ..errors import BackendError

__all__ = ["AsyncLinkResolver"]


class AsyncLinkResolver:
    """``await resolver.resolve(code, now_ms, count_click)``: the URL of a live link
    (one click counted when asked), else None, for a :class:`RedisLinkStore` reached
    at ``url``. Errors are :class:`~sysprims.errors.BackendError`, as the store's."""

    def __init__(self, store: Any, url: str):
        require("redis")
        from redis.exceptions import NoScriptError, RedisError, ResponseError

        self.store = store
        self.url = url
        kwargs = getattr(getattr(store.client, "connection_pool", None), "connection_kwargs", {})
        self._timeouts = {k: kwargs[k] for k in ("socket_timeout", "socket_connect_timeout") if kwargs.get(k)}
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._noscript, self._response_error = NoScriptError, ResponseError
        self._errors = (RedisError, OSError, asyncio.TimeoutError)

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as aredis

            client = self._clients[loop] = aredis.Redis.from_url(self.url, **self._timeouts)
        return client

    async def resolve(self, code: str, now_ms: int, count_click: bool = True) -> str | None:
        store = self.store
        if not store._layout_checked:  # the store's one-time layout check (blocking, once)
            from ..asgi._common import run_blocking

            await run_blocking(store._ready)
        script = store._resolve
        keys = [store._link(code), store._top]
        args = [code, int(now_ms), "1" if count_click else "0"]
        client = self._client()
        try:
            try:
                v = await client.evalsha(script.sha, 2, *keys, *args)
            except self._noscript:
                await client.script_load(script.source)
                v = await client.evalsha(script.sha, 2, *keys, *args)
        except self._response_error as exc:
            raise BackendError(f"Redis script {script.name} failed: {exc}") from exc
        except self._errors as exc:
            raise BackendError(f"Redis is unavailable ({script.name}): {exc}") from exc
        return None if v is None else v.decode("utf-8")

    async def aclose(self) -> None:
        """Close the client of the running loop (others close with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
