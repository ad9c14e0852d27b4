"""``Idempotency-Key`` for ASGI apps (draft-ietf-httpapi-idempotency-key-header):
:class:`IdempotencyMiddleware` and the plain-function decorator :func:`idempotent`.

One line adds it to a Starlette or FastAPI app::

    app.add_middleware(IdempotencyMiddleware, store="sqlite:///idem.db")

A request of a guarded method (POST and PATCH by default) with the header runs once
per (client, key); a retry with the same method, path and body gets the stored
status, headers and body again (with ``Idempotent-Replayed: true``); the same key on
a different request is 422, a retry while the first is still running is 409, a
missing key is 400 when ``required``. Errors are ``application/problem+json``. It is
built on :class:`~sysprims.idempotency.IdempotencyManager` and any of its stores.
"""

from __future__ import annotations

import base64
import contextvars
import fnmatch
import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import (
    BackendError,
    IdempotencyError,
    IdempotencyKeyMismatch,
    InvalidParameterError,
    RequestInProgress,
)
from ..idempotency import IdempotencyManager, MemoryStore, check_idempotency_key
from ._common import resolve_key_func, run_blocking, send_problem

__all__ = ["IdempotencyMiddleware", "fingerprint_request", "idempotent", "idempotent_handler", "parse_key_header",
           "scoped_key"]

DOCS = "https://github.com/sysprims/sysprims/blob/main/docs/asgi.md#idempotency"
# fields that describe one transmission, not the resource: never replayed
_NOT_STORED = {b"date", b"server", b"retry-after", b"ratelimit", b"ratelimit-policy", b"ratelimit-limit",
               b"ratelimit-remaining", b"ratelimit-reset", b"idempotent-replayed"}


def parse_key_header(value: str) -> str:
    """The key of an ``Idempotency-Key`` field: the draft's sf-string (``"8e03978e"``)
    or, as most APIs accept, the bare value."""
    v = value.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        inner = v[1:-1]
        out, i = [], 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\":
                if i + 1 >= len(inner) or inner[i + 1] not in '"\\':
                    raise InvalidParameterError("the Idempotency-Key sf-string has an invalid escape")
                out.append(inner[i + 1])
                i += 2
                continue
            if ch == '"':
                raise InvalidParameterError("the Idempotency-Key sf-string has an unescaped quote")
            out.append(ch)
            i += 1
        v = "".join(out)
    return check_idempotency_key(v)


def fingerprint_request(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 over the method, the path with its query and the body (length-prefixed)."""
    parts = (method.encode(), path.encode("utf-8", "surrogateescape"), query, body)
    framed: list[bytes] = []
    for part in parts:  # one update of the joined bytes: the same digest as one per part
        framed += (len(part).to_bytes(8, "little"), part)
    return hashlib.sha256(b"".join(framed)).hexdigest()


def scoped_key(client: str, key: str) -> str:
    """The stored key of a client's ``Idempotency-Key``: length-prefixed (injective), then hashed."""
    return "c-" + hashlib.sha256(f"{len(client)}:{client}{key}".encode("utf-8", "surrogateescape")).hexdigest()


def _default_store_status(status: int) -> bool:
    # a retry of these may succeed: they are not the request's final answer
    return status < 500 and status not in (408, 409, 425, 429)


class IdempotencyMiddleware:
    """Pure ASGI ``Idempotency-Key`` middleware.

    Args:
        manager: an :class:`IdempotencyManager` (else one is built from ``store``,
            ``ttl``, ``lock_ttl`` and ``clock``).
        store: ``"memory"``, ``sqlite:///path``, ``redis://...`` or a store object.
        methods: the guarded methods (POST and PATCH, as the draft suggests).
        paths: globs of the guarded paths (default every path).
        required: a guarded request without the header is 400.
        key: who the keys belong to: ``"ip"``, ``"header:X-API-Key"`` or a callable of
            the scope (sync or async; None means no scope); one client's key never
            replays or blocks another's.
        max_body_bytes: larger request bodies are 413; ``max_stored_bytes``: larger
            responses are passed on but not stored (the key is released).
        store_status: which statuses are stored (default: below 500, except 408,
            409, 425, 429); others release the key so a retry runs again.
        fingerprint: ``(scope, body) -> str`` replacing :func:`fingerprint_request`
            (e.g. over the parsed JSON, so that whitespace does not count).
        offload: run store calls in a worker thread (default: every store but memory).
        on_replay: called with the scope of every replayed request (metrics).
    """

    def __init__(self, app: Any, manager: IdempotencyManager | None = None, *, store: Any = None,
                 ttl: float = 86400.0, lock_ttl: float = 60.0, clock: Any = None,
                 methods: Sequence[str] = ("POST", "PATCH"), paths: Sequence[str] = ("/*",),
                 required: bool = False, key: Any = "ip", max_body_bytes: int = 1 << 20,
                 max_stored_bytes: int = 1 << 20, store_status: Callable[[int], bool] | None = None,
                 fingerprint: Callable[[dict[str, Any], bytes], Any] | None = None, offload: bool | None = None,
                 on_replay: Callable[[dict[str, Any]], Any] | None = None):
        self.app = app
        self.manager = manager if manager is not None else IdempotencyManager(
            store=store, ttl=ttl, lock_ttl=lock_ttl, clock=clock)
        self.methods = frozenset(m.upper() for m in methods)
        self.paths = tuple(paths)
        self._guarded_paths: dict[str, bool] = {}
        self.required = bool(required)
        self.key, self._key_async = resolve_key_func(key)
        self.max_body_bytes = int(max_body_bytes)
        self.max_stored_bytes = int(max_stored_bytes)
        self.store_status = store_status or _default_store_status
        self.fingerprint = fingerprint
        self.on_replay = on_replay
        self._persistent = not isinstance(self.manager.store, MemoryStore)
        self.offload = self._persistent if offload is None else bool(offload)
        self._aio = None
        if offload is None and isinstance(getattr(self.manager.store, "_url", None), str):
            try:  # a Redis store from a URL: its async twin, no thread per call
                from ..backends.aio_idempotency import AsyncRedisIdempotency

                self._aio = AsyncRedisIdempotency(self.manager)
            except (ImportError, InvalidParameterError):
                self._aio = None

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.offload:
            return await run_blocking(functools.partial(fn, *args, **kwargs))
        return fn(*args, **kwargs)

    def _guarded(self, scope: dict[str, Any]) -> bool:
        method = scope["method"]
        if method not in self.methods:
            return False
        path = scope["path"]
        hit = self._guarded_paths.get(path)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(path, p) for p in self.paths)
            if len(self._guarded_paths) < 4096:  # bounded: paths with ids would grow it forever
                self._guarded_paths[path] = hit
        return hit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self._guarded(scope):
            return await self.app(scope, receive, send)
        values = [v for k, v in scope.get("headers", ()) if k.lower() == b"idempotency-key"]
        if not values:
            if self.required:
                return await send_problem(send, 400, "Idempotency-Key is missing",
                                          f"{scope['method']} {scope['path']} requires an Idempotency-Key header",
                                          [("link", f'<{DOCS}>; rel="describedby"')], code="idempotency_key_missing")
            return await self.app(scope, receive, send)
        try:
            if len(values) > 1:
                raise InvalidParameterError("send exactly one Idempotency-Key field")
            idem_key = parse_key_header(values[0].decode("latin-1"))
        except InvalidParameterError as exc:
            return await send_problem(send, 400, "Invalid Idempotency-Key", str(exc)[:300],
                                      code="invalid_idempotency_key")
        client = await self.key(scope) if self._key_async else self.key(scope)
        body, too_big = await _read_body(receive, self.max_body_bytes)
        if too_big:
            return await send_problem(send, 413, "Content Too Large",
                                      f"the request body must be at most {self.max_body_bytes} bytes", code="body_too_large")
        if self.fingerprint is None:
            fp = fingerprint_request(scope["method"], scope["path"], scope.get("query_string", b""), body)
        else:  # the method and path still count: only the body's reading is the caller's
            fp = fingerprint_request(scope["method"], scope["path"], scope.get("query_string", b""),
                                     str(self.fingerprint(scope, body)).encode("utf-8", "surrogatepass"))
        stored_key = scoped_key("" if client is None else str(client), idem_key)
        try:
            if self._aio is not None:
                claim = await self._aio.claim(stored_key, fingerprint=fp)
            else:
                claim = await self._call(self.manager.claim, stored_key, fingerprint=fp, wait=0)
        except IdempotencyKeyMismatch:
            return await send_problem(send, 422, "Idempotency-Key is already used",
                                      "this Idempotency-Key was used with a different request (method, path or body)",
                                      [("link", f'<{DOCS}>; rel="describedby"')], code="idempotency_key_reused")
        except RequestInProgress:
            return await send_problem(send, 409, "A request with this Idempotency-Key is in progress",
                                      "the first request with this key has not finished; retry later",
                                      [("retry-after", "1")], code="request_in_progress")
        except BackendError as exc:
            return await send_problem(send, 503, "Service Unavailable",
                                      f"the idempotency store is unavailable: {exc}"[:300], [("retry-after", "1")],
                                      code="backend_unavailable")
        except IdempotencyError as exc:
            return await send_problem(send, 500, "Stored error", str(exc)[:300])
        if claim.replayed:
            if self.on_replay is not None:
                self.on_replay(scope)
            result = claim.result if self._aio is not None else claim.outcome.result  # type: ignore[union-attr,attr-defined]
            return await _replay(send, result)
        await self._run(scope, body, send, claim)

    async def _run(self, scope: dict[str, Any], body: bytes, send: Any, claim: Any) -> None:
        sent_body = False

        async def replay_receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        storable = True
        final: dict[str, Any] | None = None

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status, headers, size, storable, final
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                final = message  # held back until the outcome is stored: a retry that follows
                # the response at once must find it done, not "in progress"
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body" and storable:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_stored_bytes:
                    storable = False
                    chunks.clear()
                else:
                    chunks.append(chunk)
            if message is not final:
                await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await self._settle(claim.release)
            raise
        if storable and status and self.store_status(status):
            kept = [(bytes(k), bytes(v)) for k, v in headers if bytes(k).lower() not in _NOT_STORED]
            out_body = b"".join(chunks)
            if self._persistent:  # JSON-serialisable for the store's serializer
                record: dict[str, Any] = {"status": status, "body": base64.b64encode(out_body).decode("ascii"),
                                          "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in kept]}
            else:  # the memory store keeps objects as they are
                record = {"status": status, "body": out_body, "headers": kept}
            await self._settle(claim.complete, record)
        else:
            await self._settle(claim.release)
        if final is not None:
            await send(final)

    async def _settle(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            if self._aio is not None:
                await fn(*args)
            else:
                await self._call(fn, *args)
        except BackendError:  # the response went out; a retry may run again (logged by the manager's store)
            pass


async def _read_body(receive: Any, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


async def _replay(send: Any, record: dict[str, Any]) -> None:
    raw = record["body"]
    if isinstance(raw, bytes):  # memory store
        body, headers = raw, list(record["headers"])
    else:
        body = base64.b64decode(raw)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record["headers"]]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": int(record["status"]), "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _default_fingerprint(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        return json.dumps([list(args), kwargs], sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr((args, sorted(kwargs.items())))


def idempotent(manager: IdempotencyManager, *, key: Callable[..., str],
               fingerprint: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a plain (sync or async) function to run once per ``key(*args, **kwargs)``.

    A repeat call with the same key returns the stored result; with other arguments
    (``fingerprint(*args, **kwargs)``, default: the arguments as JSON) it raises
    :class:`~sysprims.errors.IdempotencyKeyMismatch`; while the first call runs,
    :class:`~sysprims.errors.RequestInProgress`."""

    def fp_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return fingerprint(*args, **kwargs) if fingerprint else _default_fingerprint(args, kwargs)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            offload = not isinstance(manager.store, MemoryStore)

            async def call(f: Callable[..., Any], *a: Any, **kw: Any) -> Any:
                return await run_blocking(functools.partial(f, *a, **kw)) if offload else f(*a, **kw)

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                claim = await call(manager.claim, key(*args, **kwargs), fingerprint=fp_of(args, kwargs))
                if claim.replayed:
                    return claim.outcome.result
                try:
                    result = await fn(*args, **kwargs)
                except BaseException:
                    await call(claim.release)
                    raise
                await call(claim.complete, result)
                return result

            return awrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return manager.execute(key(*args, **kwargs), lambda: fn(*args, **kwargs), fingerprint=fp_of(args, kwargs))

        return wrapper

    return wrap


def idempotent_handler(manager: IdempotencyManager | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate one Starlette/FastAPI handler (``async def handler(request)``) with the
    middleware's behaviour: ``options`` are :class:`IdempotencyMiddleware`'s (``store``,
    ``required``, ``key``, ``methods``...). The handler runs as a small ASGI app behind
    the middleware, so replays, 409, 422 and 400 are exactly the middleware's."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError("@idempotent_handler decorates async handlers; use @idempotent for plain functions")
        call_args: contextvars.ContextVar[tuple[tuple[Any, ...], dict[str, Any]]] = contextvars.ContextVar("call_args")

        async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
            from starlette.requests import Request

            args, kwargs = call_args.get()  # this call's own (a context per task: concurrent calls never mix)
            response = await handler(Request(scope, receive), *args, **kwargs)
            await response(scope, receive, send)

        middleware = IdempotencyMiddleware(inner, manager, **options)

        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            from starlette.responses import Response

            request = next((a for a in (*args, *kwargs.values()) if hasattr(a, "scope") and hasattr(a, "receive")), None)
            if request is None:
                raise TypeError("@idempotent_handler needs the handler to take the request")
            call_args.set((tuple(a for a in args if a is not request), {k: v for k, v in kwargs.items() if v is not request}))
            out: dict[str, Any] = {"status": 500, "headers": [], "body": []}

            async def collect(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    out["status"], out["headers"] = message["status"], list(message.get("headers", ()))
                elif message["type"] == "http.response.body":
                    out["body"].append(message.get("body", b""))

            await middleware(request.scope, request.receive, collect)
            response = Response(b"".join(out["body"]), status_code=out["status"])
            response.raw_headers = out["headers"]
            return response

        wrapper.idempotency = middleware  # type: ignore[attr-defined]
        return wrapper

    return wrap
