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
from ..asgi._common import run_blocking
from ..errors import BackendError
from . import apidocs, editing, ui
from .core import ShortenerService
from .fastpath import RedirectFastPath
from .openapi import openapi_spec
from .settings import ServiceSettings
from .validation import ApiError, check_host, host_of, parse_link_request, problem_response

__all__ = ["create_app"]

_MAX_K = 1000
_FORM = "application/x-www-form-urlencoded"


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
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    if service is None:
        settings = (settings or ServiceSettings()).with_overrides(**overrides)
        service = ShortenerService(store, settings=settings, clock=clock)
    elif settings is not None or overrides:
        raise ValueError("pass either service= or settings/overrides, not both")
    svc = service
    cfg = svc.settings

    if cfg.threadpool and svc.kind != "memory":  # process memory never blocks: no thread hop
        async def call(fn: Any, *args: Any) -> Any:
            return await run_blocking(fn, *args)
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

    async def read_json_body(request: Request, form: bool = False) -> bytes:
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        ok = ctype in ("application/json", "") or ctype.endswith("+json") or (form and ctype == _FORM)
        if not ok:
            raise ApiError(415, "unsupported_media_type", f"the request body must be application/json, got {ctype!r}"[:200])
        try:
            length = int(request.headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        if length > cfg.max_body_bytes:
            raise ApiError(413, "body_too_large", f"the request body must be at most {cfg.max_body_bytes} bytes, got {length}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # stop reading as soon as the limit is passed
            size += len(chunk)
            if size > cfg.max_body_bytes:
                raise ApiError(413, "body_too_large", f"the request body must be at most {cfg.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def new_link(request: Request, body: bytes) -> dict[str, Any]:
        base = base_url(request)
        req = parse_link_request(body, max_url_length=cfg.max_url_length, max_ttl_seconds=cfg.max_ttl_seconds,
                                 self_hosts=self_hosts(request))
        return await call(svc.create_link, None, req, None, base)

    async def create_link(request: Request) -> Response:
        client_of(request)
        out = await new_link(request, await read_json_body(request))
        return JSONResponse(out["body"], status_code=out["status"], headers=out.get("headers", {}))

    def query_int(request: Request, name: str, default: int, hi: int) -> int:
        raw = request.query_params.get(name, str(default))
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= hi):
            raise ApiError(400, f"invalid_{name}", f"{name} must be an integer in [1, {hi}], got {raw!r}"[:200])
        return int(raw)

    async def list_links(request: Request) -> Response:
        client_of(request)
        limit = query_int(request, "limit", 20, 100)
        out = await call(editing.list_links, svc, limit, request.query_params.get("cursor"), base_url(request))
        return JSONResponse(out)

    def owner_of(request: Request) -> None:
        """PATCH and DELETE: with configured API keys, only a known key may change links."""
        client_of(request)
        if cfg.api_keys is not None and request.headers.get("x-api-key") is None:
            raise ApiError(401, "api_key_required", "changing or deleting a link needs an X-API-Key header")

    async def patch_link(request: Request) -> Response:
        owner_of(request)
        changes = editing.parse_patch(await read_json_body(request), cfg.max_url_length, cfg.max_ttl_seconds,
                                      self_hosts(request))
        return JSONResponse(await call(editing.patch_link, svc, request.path_params["code"], changes, base_url(request)))

    async def delete_link(request: Request) -> Response:
        owner_of(request)
        await call(editing.delete_link, svc, request.path_params["code"])
        return Response(status_code=204)

    async def link_clicks(request: Request) -> Response:
        client_of(request)
        return JSONResponse(await call(editing.click_series, svc, request.path_params["code"]))

    # ------------------------------------------------------------ HTML pages
    async def index(request: Request) -> Response:
        base = base_url(request)
        page = await call(editing.list_links, svc, 50, request.query_params.get("cursor") or None, base)
        created = None
        code = request.query_params.get("created")
        if code:
            try:
                created = await call(svc.link_info, code, base)
            except ApiError:
                created = None
        return HTMLResponse(ui.index_page(page["links"], page["next_cursor"], None, created))

    async def ui_create(request: Request) -> Response:
        from urllib.parse import parse_qs, quote

        raw = await read_json_body(request, form=True)
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items() if v and v[0]}
        data: dict[str, Any] = {"url": fields.get("url", "")}
        if fields.get("alias"):
            data["alias"] = fields["alias"]
        if fields.get("ttl_seconds"):
            try:
                data["ttl_seconds"] = float(fields["ttl_seconds"])
            except ValueError:
                data["ttl_seconds"] = fields["ttl_seconds"]
        try:
            out = await new_link(request, json.dumps(data).encode())
        except ApiError as err:  # the form again with the reason (never a message carried in a URL)
            page = await call(editing.list_links, svc, 50, None, base_url(request))
            return HTMLResponse(ui.index_page(page["links"], page["next_cursor"], err.message), status_code=err.status)
        return RedirectResponse("/?created=" + quote(out["body"]["code"]), status_code=303)

    async def link_page(request: Request) -> Response:
        code = request.path_params["code"]
        link = await call(svc.link_info, code, base_url(request))
        series = await call(editing.click_series, svc, code)
        return HTMLResponse(ui.link_page(link, series))

    async def docs(request: Request) -> Response:
        return HTMLResponse(apidocs.page())

    async def docs_asset(request: Request) -> Response:
        found = apidocs.asset(request.path_params["name"])
        if found is None:
            raise ApiError(404, "not_found", "no such API page asset")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=86400"})

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
        out = await call(svc.describe)
        if resolver is not None:  # how the redirects reached the store
            out["redirect_store"] = resolver.stats()
        return JSONResponse(out)

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

    spec: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})


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

    def backend_unavailable(exc: Exception) -> Response:
        return error_response(ApiError(503, "backend_unavailable", f"the store is unavailable: {exc}", {"Retry-After": "1"}))

    async def on_backend_error(request: Request, exc: Exception) -> Response:
        return backend_unavailable(exc)

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(ApiError(500, "internal_error", f"internal error ({type(exc).__name__})"))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/ui/links", ui_create, methods=["POST"]),
        Route("/links/{code}", link_page, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/assets/{name}", docs_asset, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/links", create_link, methods=["POST"]),
        Route("/api/links", list_links, methods=["GET"]),
        Route("/api/links/{code}", get_link, methods=["GET"]),
        Route("/api/links/{code}", patch_link, methods=["PATCH"]),
        Route("/api/links/{code}", delete_link, methods=["DELETE"]),
        Route("/api/links/{code}/clicks", link_clicks, methods=["GET"]),
        Route("/api/top", top, methods=["GET"]),
        Route("/api/trending", trending, methods=["GET"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route("/{code}", redirect, methods=["GET"]),
    ]

    spec.update(openapi_spec(cfg, routes))

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
        limiter: Any = svc.limiter
        if svc.kind == "redis" and isinstance(store, str):
            # the async twin of the same bucket (same namespace, same keys): no thread per request
            from ..backends.aio_ratelimit import AsyncRateLimiter

            limiter = AsyncRateLimiter("token_bucket", store, clock=clock, capacity=cap, refill_rate=refill,
                                       backend_options={"namespace": f"{cfg.namespace}-{cfg.service_name}"})
        middleware.append(Middleware(
            RateLimitMiddleware, limits=limits if cfg.rate_redirects else None, routes={"/api/*": limits, "/ui/*": limits},
            exclude=["/", "/healthz", "/openapi.json", "/docs", "/docs/*", "/links/*"], key=client_key,
            store=lambda limit, rule: limiter, offload=svc.kind != "memory", legacy_headers=True))
    middleware.append(Middleware(
        IdempotencyMiddleware, manager=svc.idempotency, methods=["POST"], paths=["/api/links"], key=client_key,
        fingerprint=link_fingerprint, store_status=lambda status: 200 <= status < 300,
        max_body_bytes=cfg.max_body_bytes, offload=svc.kind != "memory",
        on_replay=lambda scope: svc._bump("replayed")))

    resolver: Any = None
    if not cfg.rate_redirects:  # innermost: both middlewares above still see every redirect
        reserved = {r.path[1:] for r in routes if r.path.count("/") == 1 and "{" not in r.path}

        if svc.kind == "redis" and isinstance(store, str) and cfg.threadpool:
            # the store's own script on redis.asyncio: no worker thread per click
            from ..backends.aio_links import AsyncLinkResolver

            resolver = AsyncLinkResolver(svc.store, store)

            async def resolve(code: str) -> str | None:
                return await svc.aresolve(resolver, code)
        elif svc.kind == "sqlite" and cfg.threadpool and svc.store.path != ":memory:":
            # on the loop with a busy timeout of 0; a locked database sends the click to a thread
            from ..backends.aio_links import SQLiteLinkResolver

            resolver = SQLiteLinkResolver(svc.store)
            svc.on_close(resolver.close)

            async def resolve(code: str) -> str | None:
                return await svc.aresolve(resolver, code)
        else:
            async def resolve(code: str) -> str | None:
                return await call(svc.resolve, code, True)

        middleware.append(Middleware(
            RedirectFastPath, resolve=resolve, reserved=reserved, status=cfg.redirect_status,
            cache_control="private, max-age=90" if cfg.redirect_status == 301 else None, not_found=error_response,
            unavailable=backend_unavailable))

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, BackendError: on_backend_error,
                            Exception: on_error},
        lifespan=lifespan,
    )
    app.state.service = svc
    app.state.openapi = spec
    app.state.redirect_resolver = resolver  # the redirects' own store path, if any
    return app
