"""The shortener service: cost of one redirect at each layer, and a tiny load run.

* ``service-resolve``: one counted redirect through :class:`ShortenerService`
  (store click + trending buffer) against the bare ``URLShortener.click`` it wraps
  (the baseline: what composing the primitives costs per redirect);
* ``service-asgi``: one redirect through the whole Starlette app (routing, error
  handling, response), called as ASGI in-process, no network;
* ``service-load``: ``benchmarks/load_service.py`` on loopback with a real uvicorn
  process (tiny here; run the script itself for the 20,000-request figures).

Issue goal: report redirects/s and p50/p99 for SQLite and Redis (no numeric target).
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

pytest.importorskip("starlette")

from sysprims.service import create_app  # noqa: E402
from sysprims.service.validation import LinkRequest  # noqa: E402

CALLS = 100


@pytest.fixture(scope="module")
def redis_url_bench():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    from load_service import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def service(request, tmp_path):
    if request.param == "memory":
        store = None
    elif request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'links.db'}"
    else:
        store = request.getfixturevalue("redis_url_bench")
        import redis

        redis.Redis.from_url(store).flushall()
    app = create_app(store, rate_capacity=0)
    svc = app.state.service
    codes = [svc.create_link("ip:bench", LinkRequest(f"https://example.com/{i}", None, None), None,
                             "http://bench/")["body"]["code"] for i in range(64)]
    yield request.param, app, svc, codes
    svc.close()


def test_resolve_service(benchmark, service):
    name, _, svc, codes = service
    benchmark.group = f"service-resolve-{name}"
    code = codes[0]
    benchmark(svc.resolve, code)
    assert svc.store.info(code, svc.shortener._now_ms()).clicks >= 1


def test_resolve_bare_shortener(benchmark, service):
    name, _, svc, codes = service
    benchmark.group = f"service-resolve-{name}"
    benchmark.extra_info["baseline"] = "URLShortener.click without the service"
    benchmark(svc.shortener.click, codes[0])


def test_redirect_asgi(benchmark, service):
    name, app, svc, codes = service
    benchmark.group = f"service-asgi-{name}"
    benchmark.extra_info["calls_per_round"] = CALLS
    path = "/" + codes[1]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    statuses = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def batch():
        for _ in range(CALLS):
            await app(scope, receive, send)

    loop = asyncio.new_event_loop()
    try:
        benchmark(lambda: loop.run_until_complete(batch()))
    finally:
        loop.close()
    assert set(statuses) == {302}


def test_load_run_loopback(benchmark):
    from load_service import run_load

    benchmark.group = "service-load"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = benchmark.pedantic(run_load, args=(f"sqlite:///{tmp}/links.db",),
                                 kwargs={"requests": 200, "clients": 2, "links": 20}, rounds=1, iterations=1)
    benchmark.extra_info.update({k: out[k] for k in ("redirects_per_s", "p50_ms", "p99_ms", "errors")})
    assert out["errors"] == 0
    assert out["clicks_counted"] == out["clicks_expected"]


# ---------------------------------------------------------------- middleware cost
def _asgi_bench_apps(clock=None):
    """A bare Starlette route, and the same route behind each middleware (memory stores)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from sysprims.asgi import IdempotencyMiddleware, RateLimitMiddleware

    async def ok(request):
        return PlainTextResponse("ok")

    routes = [Route("/r", ok, methods=["GET", "POST"])]
    limits = ["1000000000/second", "1000000000/hour"]
    return {
        "bare": Starlette(routes=routes),
        "ratelimit": Starlette(routes=routes, middleware=[Middleware(RateLimitMiddleware, limits=limits,
                                                                     clock=clock)]),
        "idempotency": Starlette(routes=routes, middleware=[Middleware(IdempotencyMiddleware, clock=clock)]),
        "both": Starlette(routes=routes, middleware=[Middleware(RateLimitMiddleware, limits=limits, clock=clock),
                                                     Middleware(IdempotencyMiddleware, clock=clock)]),
    }


def asgi_calls(app, n: int, method: str = "GET", keyed: bool = False) -> float:
    """CPU seconds for ``n`` in-process ASGI requests (distinct, never reused Idempotency-Keys
    when ``keyed``: every request claims, runs and stores)."""
    import time

    base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": "/r", "raw_path": b"/r", "query_string": b"", "root_path": "",
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    body = {"type": "http.request", "body": b'{"x": 1}', "more_body": False}

    async def receive():
        return body

    async def send(message):
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']}")

    counter = iter(range(1 << 62))

    async def run():
        for _ in range(n):
            headers = [(b"host", b"bench")]
            if keyed:
                headers.append((b"idempotency-key", f"k{next(counter)}".encode()))
            await app({**base, "headers": headers}, receive, send)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())  # warm-up and middleware stack build
        t0 = time.process_time()  # CPU seconds: the other jobs of a shared machine do not count
        loop.run_until_complete(run())
        return time.process_time() - t0
    finally:
        loop.close()


def middleware_cost(n: int = 20_000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per request of each app (best of ``repeats``) and the middlewares'
    added cost over the bare route, all in one run."""
    out = {}
    apps = _asgi_bench_apps()
    for name, app in apps.items():
        out[name] = min(asgi_calls(app, n) for _ in range(repeats)) / n * 1e6
    for name in ("idempotency", "both"):
        fresh = _asgi_bench_apps()  # new keys every time: each request claims and stores
        out[name + "_keyed_post"] = min(asgi_calls(fresh[name], n, "POST", keyed=True) for _ in range(1)) / n * 1e6
    out["bare_post"] = min(asgi_calls(apps["bare"], n, "POST") for _ in range(repeats)) / n * 1e6
    for name in ("ratelimit", "idempotency", "both"):
        out[name + "_added_us"] = out[name] - out["bare"]
    for name in ("idempotency_keyed_post", "both_keyed_post"):
        out[name + "_added_us"] = out[name] - out["bare_post"]
    return out


@pytest.mark.parametrize("name", ["bare", "ratelimit", "idempotency", "both"])
def test_middleware_cost(benchmark, name):
    """The middlewares against a bare Starlette route (memory stores), same run; issue
    goal: at most 50 us added per request."""
    app = _asgi_bench_apps()[name]
    benchmark.group = "asgi-middleware"
    benchmark.extra_info["calls_per_round"] = CALLS
    benchmark(asgi_calls, app, CALLS)


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps({k: round(v, 2) for k, v in middleware_cost(n).items()}, indent=1))
