"""The async twin of ``RateLimiter(..., backend="redis://...")`` on ``redis.asyncio``.

:class:`AsyncRateLimiter` runs the very Lua scripts of
:mod:`sysprims.backends.redis_ratelimit` (loaded by name through ``script_for``, with
the same arguments and the same result rows), so for the same keys and timestamps it
makes the same decisions as the blocking limiter, and both may share one Redis.
Its configuration (algorithm, parameters, namespace, time source, failure policy) is
a blocking :class:`~sysprims.ratelimit.RateLimiter` built beside it, which never
connects unless you call its own methods.

One ``redis.asyncio`` client is kept per event loop (a client is bound to the loop
that first used it; test clients may run a loop per request).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from .._deps import require
from ..errors import BackendError, InvalidParameterError
from ..hashing import hash128
from ..ratelimit import Decision, RateLimiter
from ..ratelimit import algorithms as A
from . import redis_ratelimit as sync_backend
from .redis import CLUSTER_SCHEME, is_redis_url

__all__ = ["AsyncRateLimiter", "redis_limiters"]


class AsyncRateLimiter:
    """``await limiter.adecide(key)`` (a :class:`~sysprims.ratelimit.Decision`) and
    ``await limiter.allow(key)`` for limits kept in Redis, without blocking the loop.

    ``AsyncRateLimiter("token_bucket", "redis://127.0.0.1:6379/0", capacity=10,
    refill_rate=5, namespace="api")`` takes what ``RateLimiter`` takes with a
    ``redis://`` backend; ``backend_options`` are those of
    :class:`~sysprims.backends.redis_ratelimit.RedisRateLimitBackend` (namespace,
    on_error, timeout, grace, time). ``decide`` is the blocking twin (same state).
    """

    def __init__(self, algorithm: Any, url: str, *, clock: Any = None, seed: int = 0,
                 backend_options: dict[str, Any] | None = None, **params: Any):
        require("redis")
        if not is_redis_url(url) or url.startswith(CLUSTER_SCHEME):
            raise InvalidParameterError(f"url must be a redis://, rediss:// or unix:// URL, got {url!r}")
        self.url = url
        self.sync = RateLimiter(algorithm, clock=clock, store=url, seed=seed,
                                backend_options=dict(backend_options or {}), **params)
        self._backend = self.sync.backend
        self._spec = A.resolve_algorithm(algorithm)
        self._params = self._backend.params
        self._seed = self.sync.seed
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        from redis.exceptions import NoScriptError, RedisError, ResponseError

        self._noscript = NoScriptError
        self._response_error = ResponseError
        self._errors = (RedisError, OSError, asyncio.TimeoutError)

    @property
    def algorithm(self) -> str:
        return self._spec.name

    @property
    def limit(self) -> float:
        return self._params[0]

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as aredis

            timeout = self._backend.timeout
            client = aredis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)
            self._clients[loop] = client
        return client

    def _time(self, now: Any) -> float | None:
        """The time of a decision, as the blocking limiter picks it (None: Redis TIME)."""
        if now is None and self.sync._server_time:
            return None
        with self._lock:
            return self.sync._now(now)

    async def _eval(self, key: str, args: list[Any]) -> Any:
        client = self._client()
        script = self._backend._script
        try:
            return await client.evalsha(script.sha, 1, key, *args)
        except self._noscript:
            await client.script_load(script.source)
            return await client.evalsha(script.sha, 1, key, *args)

    async def adecide(self, key: Any, now: Any = None, cost: float = 1) -> Decision:
        """Decide one request of ``key`` at ``now`` (default: the clock, or Redis TIME)."""
        hk = hash128(key, self._seed)
        c = A.check_cost(self._spec, cost)
        t = self._time(now)
        b = self._backend
        blob = sync_backend._PAIR.pack(sync_backend._NAN if t is None else t, c)
        try:
            if b._down_until and b._cooling():
                raise BackendError("Redis is cooling down after an error")
            res = await self._eval(b.key_of(hk), [*b._fixed_args, "1", blob])
        except self._response_error as exc:
            return self._failed(BackendError(f"Redis script {b._script.name} failed: {exc}"))
        except (BackendError, *self._errors) as exc:
            return self._failed(exc)
        allowed = res[0] == b"1"
        used = float(res[1])
        row = [float(v) for v in res[2:]]
        remaining, retry, reset = A.details(row, self._spec.code, self._params, used, c, allowed)
        return Decision(allowed, self._params[0], remaining, retry, reset, c)

    def _failed(self, exc: BaseException) -> Decision:
        ok = self._backend._failed(exc if isinstance(exc, BackendError) else BackendError(f"Redis is unavailable: {exc}"))
        limit = self._params[0]
        cooldown = self._backend.cooldown
        return Decision(ok, limit, int(limit) if ok else 0, 0.0 if ok else max(cooldown, 1.0), 0.0)

    async def allow(self, key: Any, now: Any = None, cost: float = 1) -> bool:
        return (await self.adecide(key, now, cost)).allowed

    def decide(self, key: Any, now: Any = None, cost: float = 1) -> Decision:
        """The blocking twin (the same state in Redis)."""
        return self.sync.decide(key, now, cost)

    async def aclose(self) -> None:
        """Close the client of the running loop (others close with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        self._backend.close()

    def __repr__(self) -> str:
        return f"AsyncRateLimiter({self._spec.name!r}, {self.sync.params}, backend={self._backend!r})"


def redis_limiters(url: str, *, clock: Any = None, namespace: str = "sysprims-asgi",
                   **backend_options: Any) -> Any:
    """A ``store`` factory for :class:`~sysprims.asgi.RateLimitMiddleware`: one
    :class:`AsyncRateLimiter` per (limit, route rule), each in a namespace of its own."""

    def make(limit: Any, rule: str) -> AsyncRateLimiter:
        ns = f"{namespace}-{rule}-{limit.name}".replace("{", "(").replace("}", ")")
        return AsyncRateLimiter(limit.algorithm, url, clock=clock,
                                backend_options={**backend_options, "namespace": ns}, **limit.params)

    return make
