"""The Starlette application of the URL-shortener service.

Routes (every error is RFC 9457 ``application/problem+json``: ``type``, ``title``,
``status``, ``detail`` and our stable ``code``):

========================  =====================================================
``POST /api/links``       create a link: ``{url, alias?, ttl_seconds?}``; honours
                          ``Idempotency-Key``; rate limited per client
``GET /api/links/{code}`` the link and its exact click count
``GET /api/top?k=10``     the most clicked live links (exact, from the store)
``GET /api/trending?k=``  the most clicked codes of this instance (Count-Min top-K)
``GET /api/stats``        what this instance is and has done
``GET /openapi.json``     the OpenAPI 3.1 description
``GET /healthz``          liveness
``GET /{code}``           redirect (302 by default) and count the click
========================  =====================================================

Rate limits and ``Idempotency-Key`` are the middlewares of :mod:`sysprims.asgi`
(``RateLimit``/``RateLimit-Policy`` fields of the current IETF draft on every response
of a limited route, errors included).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from .._deps import require
from ..asgi import IdempotencyMiddleware, Limit, RateLimitMiddleware
from ..errors import BackendError
from .core import ShortenerService
from .openapi import openapi_spec
from .settings import ServiceSettings
from .validation import ApiError, check_host, host_of, parse_link_request, problem_response

__all__ = ["create_app"]

_MAX_K = 1000


def create_app(store: Any = None, *, settings: ServiceSettings | None = None, clock: Any = None,
               service: ShortenerService | None = None, **overrides: Any) -> Any:
    """A Starlette app serving the shortener over ``store`` (``None``/``"memory"``,
    ``sqlite:///links.db``, ``redis://host:port/db``).

    ``settings`` (a :class:`ServiceSettings`) and keyword ``overrides`` (the same
    field names) tune it; ``clock`` drives expiry, rate limits and idempotency
    (a ``ManualClock`` in tests). The composed :class:`ShortenerService` is
    ``app.state.service``; it is closed when the app shuts down.
    """
    require("starlette")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    if service is None:
        settings = (settings or ServiceSettings()).with_overrides(**overrides)
        service = ShortenerService(store, settings=settings, clock=clock)
    elif settings is not None or overrides:
        raise ValueError("pass either service= or settings/overrides, not both")
    svc = service
    cfg = svc.settings

    if cfg.threadpool:
        async def call(fn: Any, *args: Any) -> Any:
            return await run_in_threadpool(fn, *args)
    else:
        async def call(fn: Any, *args: Any) -> Any:
            return fn(*args)

    def error_response(err: ApiError) -> Response:
        return problem_response(Response, err)

    fixed_hosts = set(cfg.allowed_hosts or ())
    if cfg.base_url is not None:
        fixed_hosts.add(host_of(cfg.base_url) or "")

    def base_url(request: Request) -> str:
        """The base of ``short_url``: the configured one, else the checked Host header."""
        if cfg.allowed_hosts is not None or cfg.base_url is None:
            check_host(request.headers.get("host"), cfg.allowed_hosts)
        return cfg.base_url or str(request.base_url)

    def self_hosts(request: Request) -> set[str]:
        name = host_of("http://" + request.headers.get("host", "")) if request.headers.get("host") else None
        return fixed_hosts | ({name} if name else set())

    def client_of(request: Request) -> str:
        """Who the request is (401 for an unknown API key)."""
        host = request.client.host if request.client else None
        lines = request.headers.getlist("x-forwarded-for")  # every line: a second one must not hide the proxy's
        return svc.client_id(request.headers.get("x-api-key"), host, ",".join(lines) if lines else None)

    def client_key(scope: dict[str, Any]) -> str:
        """The middlewares' client: a known API key, else the address (an unknown key is
        limited by its address, and the route answers 401)."""
        headers = scope.get("headers", ())
        keys = [v.decode("latin-1") for k, v in headers if k == b"x-api-key"]
        if cfg.api_keys is not None and keys and keys[-1] in cfg.api_keys:
            return "key:" + keys[-1]
        lines = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
        peer = scope.get("client")
        return svc.client_id(None, str(peer[0]) if peer else None, ",".join(lines) if lines else None)

    def link_fingerprint(scope: dict[str, Any], body: bytes) -> str:
        """A POST's fingerprint: the parsed request (whitespace and key order do not count)."""
        try:
            req = parse_link_request(body, max_url_length=cfg.max_url_length, max_ttl_seconds=cfg.max_ttl_seconds)
        except ApiError:
            return "raw:" + body.decode("utf-8", "surrogateescape")
        return json.dumps(req.canonical(), sort_keys=True)

    def query_k(request: Request) -> int:
        raw = request.query_params.get("k", "10")
        try:
            k = int(raw)
        except ValueError:
            raise ApiError(400, "invalid_k", f"k must be an integer in [1, {_MAX_K}], got {raw!r}"[:200]) from None
        if not 1 <= k <= _MAX_K:
            raise ApiError(400, "invalid_k", f"k must be an integer in [1, {_MAX_K}], got {k}")
        return k

    async def create_link(request: Request) -> Response:
        client_of(request)
        headers: dict[str, str] = {}
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", "") and not ctype.endswith("+json"):
            raise ApiError(415, "unsupported_media_type",
                           f"the request body must be application/json, got {ctype!r}"[:200], headers)
        try:
            length = int(request.headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        if length > cfg.max_body_bytes:
            raise ApiError(413, "body_too_large", f"the request body must be at most {cfg.max_body_bytes} bytes, got {length}", headers)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # stop reading as soon as the limit is passed
            size += len(chunk)
            if size > cfg.max_body_bytes:
                raise ApiError(413, "body_too_large",
                               f"the request body must be at most {cfg.max_body_bytes} bytes", headers)
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            base = base_url(request)
            req = parse_link_request(body, max_url_length=cfg.max_url_length, max_ttl_seconds=cfg.max_ttl_seconds,
                                     self_hosts=self_hosts(request))
            out = await call(svc.create_link, None, req, None, base)
        except ApiError as err:
            err.headers = {**headers, **err.headers}
            raise
        return JSONResponse(out["body"], status_code=out["status"], headers={**headers, **out.get("headers", {})})

    async def get_link(request: Request) -> Response:
        client_of(request)
        body = await call(svc.link_info, request.path_params["code"], base_url(request))
        return JSONResponse(body)

    async def top(request: Request) -> Response:
        client_of(request)
        k = query_k(request)
        links = await call(svc.top, k, base_url(request))
        return JSONResponse({"k": k, "links": links})

    async def trending(request: Request) -> Response:
        client_of(request)
        k = query_k(request)
        links = await call(svc.trending, k)
        return JSONResponse({"k": k, "window_seconds": cfg.trending_window, "links": links})

    async def stats(request: Request) -> Response:
        client_of(request)
        return JSONResponse(await call(svc.describe))

    async def redirect(request: Request) -> Response:
        headers: dict[str, str] = {}
        if cfg.rate_redirects:
            client_of(request)
        code = request.path_params["code"]
        url = await call(svc.resolve, code, request.method == "GET")  # HEAD does not count a click
        if url is None:
            raise ApiError(404, "not_found", f"no live link with code {code!r}"[:200], headers)
        if cfg.redirect_status == 301:
            headers["Cache-Control"] = "private, max-age=90"  # bounded caching: most clicks still reach us
        return RedirectResponse(url, status_code=cfg.redirect_status, headers=headers)

    spec = openapi_spec(cfg)

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def index(request: Request) -> Response:
        return JSONResponse({"service": "sysprims URL shortener", "openapi": "/openapi.json",
                             "create": "POST /api/links"})

    async def on_api_error(request: Request, exc: Exception) -> Response:
        return error_response(exc)  # type: ignore[arg-type]

    async def on_http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        codes = {404: "not_found", 405: "method_not_allowed"}
        detail = getattr(exc, "detail", "") or "error"
        if status == 404:
            detail = f"no route for {request.method} {request.url.path}"[:200]
        elif status == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"[:200]
        err = ApiError(status, codes.get(status, "http_error"), str(detail), dict(getattr(exc, "headers", None) or {}))
        return error_response(err)

    async def on_backend_error(request: Request, exc: Exception) -> Response:
        return error_response(ApiError(503, "backend_unavailable", f"the store is unavailable: {exc}", {"Retry-After": "1"}))

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(ApiError(500, "internal_error", f"internal error ({type(exc).__name__})"))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/links", create_link, methods=["POST"]),
        Route("/api/links/{code}", get_link, methods=["GET"]),
        Route("/api/top", top, methods=["GET"]),
        Route("/api/trending", trending, methods=["GET"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route("/{code}", redirect, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        yield
        svc.close()

    middleware = []
    if svc.limiter is not None:
        # the service's token bucket (memory, or Redis shared by every instance) behind
        # the IETF fields: q = whole tokens of the burst, w = seconds to refill it
        cap, refill = cfg.rate_capacity, cfg.rate_refill
        limits = [Limit(max(1, int(cap)), cap / refill, "token_bucket", name="api")]
        middleware.append(Middleware(
            RateLimitMiddleware, limits=limits if cfg.rate_redirects else None, routes={"/api/*": limits},
            exclude=["/", "/healthz", "/openapi.json"], key=client_key, store=lambda limit, rule: svc.limiter,
            offload=svc.kind != "memory", legacy_headers=True))
    middleware.append(Middleware(
        IdempotencyMiddleware, manager=svc.idempotency, methods=["POST"], paths=["/api/links"], key=client_key,
        fingerprint=link_fingerprint, store_status=lambda status: 200 <= status < 300,
        max_body_bytes=cfg.max_body_bytes, offload=svc.kind != "memory",
        on_replay=lambda scope: svc._bump("replayed")))

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, BackendError: on_backend_error,
                            Exception: on_error},
        lifespan=lifespan,
    )
    app.state.service = svc
    app.state.openapi = spec
    return app
