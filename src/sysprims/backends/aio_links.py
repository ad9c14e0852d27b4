"""The redirect's store call without a worker thread per click.

:class:`SQLiteLinkResolver` runs a SQLite click on the event loop, on a connection
of its own that never waits: busy timeout 0, so a database locked by a writer makes
it hand that one click to a worker thread (the store's own connection and busy
timeout) instead of stalling the loop. A click is one ``UPDATE ... RETURNING`` in a
WAL file, tens of microseconds; the hop to a thread cost about 100 us of CPU. The
WAL is checkpointed as SQLite does by default, by the commit that fills it (one
click in about a thousand pays a few milliseconds): a checkpoint in a worker thread
was tried and measured worse, its sync delays every click written meanwhile (p99 of
an inline click 4-6 ms against 0.2 ms).

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
import sqlite3
import weakref
from typing import Any

from .._deps import require
from ..errors import BackendError, InvalidParameterError

__all__ = ["AsyncLinkResolver", "SQLiteLinkResolver", "sqlite_locked"]

_BUSY, _LOCKED = 5, 6  # SQLITE_BUSY, SQLITE_LOCKED (primary codes of the extended ones)


def sqlite_locked(exc: BaseException) -> bool:
    """Whether a store's :class:`BackendError` is SQLite saying the database is locked
    (busy): the statement did nothing and may run again."""
    cause = exc.__cause__
    if not isinstance(cause, sqlite3.OperationalError):
        return False
    code = getattr(cause, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (_BUSY, _LOCKED)
    text = str(cause)
    return "database is locked" in text or "database table is locked" in text or "busy" in text


class SQLiteLinkResolver:
    """``await resolver.resolve(code, now_ms, count_click)`` for a
    :class:`~sysprims.backends.shortener_sqlite.SQLiteLinkStore` (a file, not
    ``:memory:``): inline on the event loop unless the database is locked, then in a
    worker thread; see the module docstring. Both paths run the store's own
    statement, so a click is counted exactly once either way (a locked attempt wrote
    nothing). ``inline`` and ``offloaded`` count the calls of each path.

    Made before the server starts (it opens its connection); use it from one event
    loop; :meth:`close` closes its connection.
    """

    def __init__(self, store: Any):
        if getattr(store, "path", ":memory:") == ":memory:":
            raise InvalidParameterError("SQLiteLinkResolver needs a SQLite file: a second connection to "
                                        ":memory: would open another database")
        from .shortener_sqlite import SQLiteLinkStore

        self.store = store
        self.inline = 0
        self.offloaded = 0
        # the loop's connection: busy timeout 0 from the start (and on a reopen after fork)
        self._fast = SQLiteLinkStore(store.path, table=store.table, timeout=0.0)

    async def resolve(self, code: str, now_ms: int, count_click: bool = True) -> str | None:
        from ..asgi._common import run_blocking

        try:
            url = self._fast.resolve(code, now_ms, count_click)
        except BackendError as exc:
            if not sqlite_locked(exc):
                raise
            self.offloaded += 1  # a writer holds the lock: wait for it in a thread, not on the loop
            return await run_blocking(self.store.resolve, code, now_ms, count_click)
        self.inline += 1
        return url

    def stats(self) -> dict[str, int]:
        return {"inline": self.inline, "offloaded": self.offloaded}

    def close(self) -> None:
        self._fast.close()


class _Retry(Exception):
    """The redirect that gathered a batch was cancelled before sending it."""


class AsyncLinkResolver:
    """``await resolver.resolve(code, now_ms, count_click)``: the URL of a live link
    (one click counted when asked), else None, for a :class:`RedisLinkStore` reached
    at ``url``. Errors are :class:`~sysprims.errors.BackendError`, as the store's.

    The redirects that start in one turn of the event loop go to Redis as one
    pipeline (one write, one read, one wake-up of the loop for all of them): under
    load that halves the CPU of the Redis calls; a lone redirect is one EVALSHA,
    one turn of the loop later. ``batches`` and ``batched`` count them.
    """

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
        self._batches: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
        self.batches = 0  # pipelines sent (or single calls), and the redirects they carried
        self.batched = 0

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
        call = ([store._link(code), store._top], [code, int(now_ms), "1" if count_click else "0"])
        loop = asyncio.get_running_loop()
        batch = self._batches.get(loop)
        if batch is not None:  # another redirect is gathering a batch: go with it
            fut = loop.create_future()
            batch.append((call, fut))
            try:
                v = await fut
            except _Retry:  # that redirect was cancelled before it sent ours: send it alone
                v = (await self._execute([call]))[0]
        else:
            v = await self._lead(loop, call)
        if isinstance(v, BaseException):
            raise v
        return None if v is None else v.decode("utf-8")

    async def _lead(self, loop: Any, call: Any) -> Any:
        """Gather the redirects that start in this turn of the loop, send them as one
        pipeline, hand each its answer; ours is returned."""
        batch: list[Any] = []
        self._batches[loop] = batch
        try:
            await asyncio.sleep(0)  # the requests read in the same turn join here
        except BaseException:
            self._batches.pop(loop, None)
            for _, fut in batch:
                fut.set_exception(_Retry())
            raise
        self._batches.pop(loop, None)
        try:
            results = await self._execute([call, *(c for c, _ in batch)])
        except BaseException as exc:  # cancelled once sent: the others may have run, never send them twice
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception)
                                      else BackendError("the Redis call of this redirect was cancelled"))
            raise
        self.batches += 1
        self.batched += len(batch) + 1
        for (_, fut), v in zip(batch, results[1:], strict=True):
            if not fut.done():
                fut.set_result(v)
        return results[0]

    async def _execute(self, calls: list[Any]) -> list[Any]:
        """The store's resolve script for every ``(keys, args)``: one EVALSHA, or one
        pipeline of them; a result is the reply or a :class:`BackendError`."""
        script = self.store._resolve
        client = self._client()
        try:
            if len(calls) == 1:
                keys, args = calls[0]
                try:
                    return [await client.evalsha(script.sha, 2, *keys, *args)]
                except self._noscript:
                    await client.script_load(script.source)
                    return [await client.evalsha(script.sha, 2, *keys, *args)]
            out = await self._pipeline(client, script, calls)
            missing = [i for i, v in enumerate(out) if isinstance(v, self._noscript)]
            if missing:  # Redis lost the script (restart, SCRIPT FLUSH): load it, run those again
                await client.script_load(script.source)
                again = await self._pipeline(client, script, [calls[i] for i in missing])
                for i, v in zip(missing, again, strict=True):
                    out[i] = v
        except self._response_error as exc:
            raise BackendError(f"Redis script {script.name} failed: {exc}") from exc
        except self._errors as exc:
            raise BackendError(f"Redis is unavailable ({script.name}): {exc}") from exc
        return [BackendError(f"Redis script {script.name} failed: {v}") if isinstance(v, self._response_error) else v
                for v in out]

    @staticmethod
    async def _pipeline(client: Any, script: Any, calls: list[Any]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(script.sha, 2, *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    def stats(self) -> dict[str, int]:
        return {"batches": self.batches, "batched": self.batched}

    async def aclose(self) -> None:
        """Close the client of the running loop (others close with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
