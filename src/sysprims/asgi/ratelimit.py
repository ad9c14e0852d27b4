"""Rate limits for ASGI apps: :class:`RateLimitMiddleware`, the handler decorator
:func:`rate_limit` and the plain-function decorator :func:`limited`.

One line adds it to a Starlette or FastAPI app::

    app.add_middleware(RateLimitMiddleware, limits=["10/second", "1000/hour"])

The fields follow draft-ietf-httpapi-ratelimit-headers (-08 and later): every
response of a limited route (the app's errors included) carries ``RateLimit-Policy``
and ``RateLimit``; a refusal is a 429 ``application/problem+json`` whose
``Retry-After`` equals the refusing policy's ``t``. ``legacy_headers=True`` adds
``RateLimit-Limit/-Remaining/-Reset`` (draft -06 and older) for the tightest policy.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import BackendError, InvalidParameterError, RateLimitExceeded
from ..ratelimit import Decision, RateLimiter
from ._common import resolve_key_func, run_blocking, send_problem
from .policy import Limit, parse_limits, policy_field, ratelimit_fields

__all__ = ["RateLimitGate", "RateLimitMiddleware", "limited", "rate_limit"]


def _limiter_factory(store: Any, clock: Any, namespace: str) -> Callable[[Limit, str], Any]:
    """``(limit, rule name) -> limiter`` for a store spec."""
    if callable(store) and not isinstance(store, str):
        return store
    from ..backends.redis import CLUSTER_SCHEME, is_redis_url

    if is_redis_url(store) and not store.startswith(CLUSTER_SCHEME):  # the async twin: no thread per decision, the event loop never waits
        from ..backends.aio_ratelimit import redis_limiters

        return redis_limiters(store, clock=clock, namespace=namespace)

    def make(limit: Limit, rule: str) -> Any:
        params: dict[str, Any] = dict(limit.params)
        return RateLimiter(limit.algorithm, clock=clock, store=store, **params)

    return make


class RateLimitGate:
    """Several limits checked in order for one client key (the core of the middleware
    and the decorators). A request refused by one limit is not charged to the limits
    after it (those before it were charged, as in ``limits``/slowapi)."""

    def __init__(self, limits: Any, *, algorithm: str = "sliding_window_counter", store: Any = "memory",
                 clock: Any = None, namespace: str = "sysprims-asgi", rule: str = "default",
                 offload: bool | None = None, legacy_headers: bool = False):
        self.limits: tuple[Limit, ...] = parse_limits(limits, algorithm)
        if not self.limits:
            raise InvalidParameterError("a rate-limited route needs at least one limit")
        make = _limiter_factory(store, clock, namespace)
        self.limiters = [make(lim, rule) for lim in self.limits]
        self.legacy_headers = bool(legacy_headers)
        self.policy = policy_field(self.limits)
        self._async = [callable(getattr(x, "adecide", None)) for x in self.limiters]
        # the memory table answers in microseconds: a thread hop would cost more than it saves
        self.offload = (store not in (None, "memory")) if offload is None else bool(offload)

    def decide(self, client: str, cost: float = 1) -> list[Decision]:
        """The decisions, stopping at the first refusal (blocking)."""
        out = []
        for limiter in self.limiters:
            d = limiter.decide(client, cost=cost)
            out.append(d)
            if not d.allowed:
                break
        return out

    async def adecide(self, client: str, cost: float = 1) -> list[Decision]:
        """Like :meth:`decide` without blocking the event loop (async limiters are
        awaited, blocking stores run in a worker thread)."""
        if not any(self._async):
            return await run_blocking(self.decide, client, cost) if self.offload else self.decide(client, cost)
        out = []
        for limiter, is_async in zip(self.limiters, self._async, strict=True):
            if is_async:
                d = await limiter.adecide(client, cost=cost)
            elif self.offload:
                d = await run_blocking(functools.partial(limiter.decide, client, cost=cost))
            else:
                d = limiter.decide(client, cost=cost)
            out.append(d)
            if not d.allowed:
                break
        return out

    def fields(self, decisions: Sequence[Decision]) -> list[tuple[str, str]]:
        padded = list(decisions) + [None] * (len(self.limits) - len(decisions))
        return ratelimit_fields(self.limits, padded, self.legacy_headers, self.policy)

    def refusal(self, decisions: Sequence[Decision]) -> str:
        lim = self.limits[len(decisions) - 1]
        return f"too many requests: the limit {lim.name!r} allows {lim.amount} requests per {lim.seconds:g} s"

    def close(self) -> None:
        for limiter in self.limiters:
            backend = getattr(limiter, "backend", None)
            closer = getattr(backend, "close", None) or getattr(limiter, "close", None)
            if callable(closer) and not inspect.iscoroutinefunction(closer):
                closer()


def _compile_routes(routes: Mapping[str, Any] | None) -> list[tuple[set[str] | None, str, Any]]:
    out = []
    for spec, limits in (routes or {}).items():
        if not isinstance(spec, str) or not spec:
            raise InvalidParameterError(f"route patterns must be strings like '/api/*' or 'POST /login', got {spec!r}")
        method, _, pattern = spec.partition(" ") if " " in spec.strip() else ("", "", spec)
        methods = {m.upper() for m in method.split("|")} if method else None
        if not pattern.startswith("/"):
            raise InvalidParameterError(f"a route pattern's path must start with /, got {spec!r}")
        out.append((methods, pattern.strip(), limits))
    return out


class RateLimitMiddleware:
    """Pure ASGI rate limiting middleware.

    Args:
        limits: the default limits of every route: ``"10/second"``, a :class:`Limit`,
            or a list (``["10/s", "1000/h"]``: each is checked, in order).
        routes: ``{"POST /api/links": ["5/s"], "/api/*": "100/minute", "/static/*": None}``;
            the first matching pattern (glob over the path, optional ``METHOD`` or
            ``GET|HEAD`` prefix) gives the route's limits, ``None`` leaves it unlimited;
            unmatched paths get ``limits``. Each pattern has buckets of its own.
        key: who is limited: ``"ip"`` (peer address), ``"header:X-API-Key"``, or a
            callable (sync or async) of the ASGI scope returning a str, or None to let
            the request through unlimited.
        algorithm: one of the five (``sliding_window_counter`` by default) for string limits.
        store: ``"memory"``, a ``redis://`` URL, or a factory ``(limit, rule) -> limiter``
            whose limiter has ``decide(key, cost=)`` or ``async adecide(key, cost=)``
            (:class:`sysprims.backends.aio_ratelimit.AsyncRateLimiter`).
        exclude: path globs never limited and never given fields (``/healthz``).
        clock: a :mod:`sysprims.clock` clock for the limiters (``ManualClock`` in tests).
        legacy_headers: also send ``RateLimit-Limit/-Remaining/-Reset``.
        fail_open: when the store fails, let requests through without fields instead of
            answering 503.
        offload: run blocking store calls in a worker thread (default: every store but memory).
    """

    def __init__(self, app: Any, limits: Any = "60/minute", *, routes: Mapping[str, Any] | None = None,
                 key: Any = "ip", algorithm: str = "sliding_window_counter", store: Any = "memory",
                 exclude: Sequence[str] = (), clock: Any = None, legacy_headers: bool = False,
                 fail_open: bool = False, offload: bool | None = None, namespace: str = "sysprims-asgi"):
        self.app = app
        self.key, self._key_async = resolve_key_func(key)
        self.exclude = tuple(exclude)
        self.fail_open = bool(fail_open)
        opts = {"algorithm": algorithm, "store": store, "clock": clock, "namespace": namespace,
                "offload": offload, "legacy_headers": legacy_headers}
        self.rules: list[tuple[set[str] | None, str, RateLimitGate | None]] = []
        for i, (methods, pattern, lim) in enumerate(_compile_routes(routes)):
            self.rules.append((methods, pattern, None if lim is None else RateLimitGate(lim, rule=f"r{i}", **opts)))
        self.default = None if limits is None else RateLimitGate(limits, rule="default", **opts)
        self._cache: dict[tuple[str, str], RateLimitGate | None] = {}

    def gate_for(self, method: str, path: str) -> RateLimitGate | None:
        """The gate of a request (None: not limited); memoised per (method, path)."""
        k = (method, path)
        try:
            return self._cache[k]
        except KeyError:
            pass
        gate = self.default
        if any(fnmatch.fnmatchcase(path, p) for p in self.exclude):
            gate = None
        else:
            for methods, pattern, g in self.rules:
                if (methods is None or method in methods) and fnmatch.fnmatchcase(path, pattern):
                    gate = g
                    break
        if len(self._cache) < 4096:  # bounded: paths with ids would grow it forever
            self._cache[k] = gate
        return gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        gate = self.gate_for(scope["method"], scope["path"])
        if gate is None:
            return await self.app(scope, receive, send)
        client = await self.key(scope) if self._key_async else self.key(scope)
        if client is None:
            return await self.app(scope, receive, send)
        try:
            decisions = await gate.adecide(str(client))
        except BackendError as exc:
            if self.fail_open:
                return await self.app(scope, receive, send)
            return await send_problem(send, 503, "Service Unavailable",
                                      f"the rate limiter's store is unavailable: {exc}"[:300], [("retry-after", "1")],
                                      code="backend_unavailable")
        fields = gate.fields(decisions)
        scope.setdefault("state", {})["ratelimit"] = decisions
        if not decisions[-1].allowed:
            return await send_problem(send, 429, "Too Many Requests", gate.refusal(decisions), fields, code="rate_limited")
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields]

        async def send_with_fields(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *raw]
            await send(message)

        await self.app(scope, receive, send_with_fields)

    def close(self) -> None:
        for *_, gate in self.rules:
            if gate is not None:
                gate.close()
        if self.default is not None:
            self.default.close()


def _find_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for value in (*args, *kwargs.values()):
        if hasattr(value, "scope") and hasattr(value, "headers"):
            return value
    raise TypeError("@rate_limit needs the handler to take the request (a starlette Request parameter)")


def rate_limit(limits: Any, *, key: Any = "ip", **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Starlette or FastAPI handler (``async def handler(request: Request)``):
    a 429 problem+json response when refused, else the handler's response with the
    RateLimit fields added. ``options`` are those of :class:`RateLimitGate`."""
    gate = RateLimitGate(limits, **options)
    key_func, key_async = resolve_key_func(key)

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError("@rate_limit decorates async handlers; use @limited for plain functions")

        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            from starlette.responses import Response

            request = _find_request(args, kwargs)
            client = await key_func(request.scope) if key_async else key_func(request.scope)
            if client is None:
                return await handler(*args, **kwargs)
            decisions = await gate.adecide(str(client))
            fields = gate.fields(decisions)
            if not decisions[-1].allowed:
                from ._common import problem

                return Response(problem(429, "Too Many Requests", gate.refusal(decisions), code="rate_limited"),
                                status_code=429,
                                headers=dict(fields), media_type="application/problem+json")
            response = await handler(*args, **kwargs)
            if hasattr(response, "headers"):
                for k, v in fields:
                    response.headers[k] = v
            return response

        wrapper.rate_limit_gate = gate  # type: ignore[attr-defined]
        return wrapper

    return wrap


def limited(limits: Any, *, key: Callable[..., Any] | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a plain (sync or async) function: a refused call raises
    :class:`~sysprims.errors.RateLimitExceeded` instead of running.

    ``key(*args, **kwargs)`` names who is limited (default: one shared key)."""
    gate = RateLimitGate(limits, **options)

    def refuse(decisions: list[Decision]) -> RateLimitExceeded:
        d = decisions[-1]
        return RateLimitExceeded(gate.refusal(decisions) + f"; retry after {d.retry_after:.3g} s", d, d.retry_after)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                decisions = await gate.adecide(str(key(*args, **kwargs)) if key else "global")
                if not decisions[-1].allowed:
                    raise refuse(decisions)
                return await fn(*args, **kwargs)

            awrapper.rate_limit_gate = gate  # type: ignore[attr-defined]
            return awrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            decisions = gate.decide(str(key(*args, **kwargs)) if key else "global")
            if not decisions[-1].allowed:
                raise refuse(decisions)
            return fn(*args, **kwargs)

        wrapper.rate_limit_gate = gate  # type: ignore[attr-defined]
        return wrapper

    return wrap
