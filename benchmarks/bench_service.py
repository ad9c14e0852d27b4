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
