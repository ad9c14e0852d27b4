"""The async twin of the Redis idempotency store (``redis.asyncio``).

:class:`AsyncRedisIdempotency` claims, completes and releases keys of an
:class:`~sysprims.idempotency.IdempotencyManager` whose store is a
:class:`~sysprims.idempotency.RedisStore`, with the store's own Lua scripts, key
names and record layout (taken from the store object, never copied), so the
blocking manager and this twin read and write the same records. Only the claim
protocol of ``IdempotencyManager.claim`` with ``wait=0`` is mirrored: claimed,
replayed, :class:`~sysprims.errors.IdempotencyKeyMismatch` or
:class:`~sysprims.errors.RequestInProgress`.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from typing import Any

from .._deps import require
from ..errors import (
    BackendError,
    CachedOperationError,
    IdempotencyKeyMismatch,
    InvalidParameterError,
    RequestInProgress,
)
from ..idempotency import IdempotencyManager, RedisStore, check_idempotency_key
from ..idempotency.serializers import fingerprint_of

__all__ = ["AsyncClaim", "AsyncRedisIdempotency"]

DONE, ERROR = "done", "error"


class AsyncClaim:
    """Ownership of a key (``replayed`` False) or its stored result (``replayed`` True)."""

    __slots__ = ("owner", "key", "token", "replayed", "result")

    def __init__(self, owner: AsyncRedisIdempotency, key: str, token: str | None, result: Any = None,
                 replayed: bool = False):
        self.owner, self.key, self.token, self.result, self.replayed = owner, key, token, result, replayed

    async def complete(self, result: Any) -> bool:
        """Store ``result`` for the manager's TTL; False if the claim was lost meanwhile."""
        o = self.owner
        payload = o.manager.serializer.dumps(result)
        now = o.manager.clock.time()
        exp = now + o.manager.ttl_seconds
        return bool(await o._script(o.store._complete, self.key,
                                    [self.token, DONE, payload, repr(now), repr(exp), o.store._ms(exp - now)]))

    async def release(self) -> bool:
        o = self.owner
        return bool(await o._script(o.store._release, self.key, [self.token]))


class AsyncRedisIdempotency:
    """``await twin.claim(key, fingerprint=...)`` for a manager on a ``RedisStore``
    built from a URL; one ``redis.asyncio`` client per event loop."""

    def __init__(self, manager: IdempotencyManager):
        require("redis")
        store = manager.store
        if not isinstance(store, RedisStore) or not isinstance(getattr(store, "_url", None), str):
            raise InvalidParameterError("AsyncRedisIdempotency needs a manager whose store is a RedisStore built from a URL")
        self.manager = manager
        self.store = store
        self.url: str = str(store._url)
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        from redis.exceptions import NoScriptError, RedisError

        self._noscript = NoScriptError
        self._errors = (RedisError, OSError, asyncio.TimeoutError)

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as aredis

            client = self._clients[loop] = aredis.Redis.from_url(self.url)
        return client

    async def _script(self, script: Any, key: str, args: list[Any]) -> Any:
        client = self._client()
        rkey = self.store._key(key)
        try:
            try:
                return await client.evalsha(script.sha, 1, rkey, *args)
            except self._noscript:
                await client.script_load(script.source)
                return await client.evalsha(script.sha, 1, rkey, *args)
        except self._errors as exc:
            raise BackendError(f"Redis is unavailable ({script.name}): {exc}") from exc

    async def claim(self, idempotency_key: str, *, fingerprint: Any = None) -> AsyncClaim:
        key = check_idempotency_key(idempotency_key)
        fp = None if fingerprint is None else fingerprint_of(fingerprint)
        m = self.manager
        now = m.clock.time()
        token = "a-" + uuid.uuid4().hex
        lock_exp = now + m.lock_ttl
        r = await self._script(self.store._begin, key,
                               [repr(now), token, fp or "", repr(lock_exp), self.store._ms(lock_exp - now)])
        if len(r) == 1:
            return AsyncClaim(self, key, token)
        rec = self.store._record(key, r)
        if rec.fingerprint != fp:
            raise IdempotencyKeyMismatch(
                f"idempotency key {key!r} was first used with a different request; use a new key for a new request")
        if rec.state == DONE:
            return AsyncClaim(self, key, None, m.serializer.loads(rec.payload), replayed=True)
        if rec.state == ERROR:
            raise CachedOperationError(key, "stored error", "the first request with this key failed")
        raise RequestInProgress(f"a request with idempotency key {key!r} is still in progress; retry later")

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
