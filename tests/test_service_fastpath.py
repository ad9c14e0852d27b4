"""The pure-ASGI redirect path answers exactly as the Starlette route does."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("starlette")

from starlette.responses import RedirectResponse  # noqa: E402

from sysprims.clock import ManualClock  # noqa: E402
from sysprims.errors import BackendError  # noqa: E402
from sysprims.service import create_app  # noqa: E402
from sysprims.service.fastpath import location_header  # noqa: E402
from sysprims.service.validation import LinkRequest  # noqa: E402

T0 = 1_700_000_000.0


def call(app, method, path, body=b""):
    """One in-process ASGI request: (status, raw header list, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5), "server": ("testserver", 80)}
    got: dict = {"body": b""}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            got["status"], got["headers"] = message["status"], list(message["headers"])
        elif message["type"] == "http.response.body":
            got["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return got["status"], got["headers"], got["body"]


def make(**kw):
    clock = ManualClock(T0)
    kw.setdefault("rate_capacity", 1000)
    app = create_app(None, clock=clock, **kw)
    return app, app.state.service


@pytest.mark.parametrize("url", ["https://example.com/", "https://example.com/straße?q=ü&x=a|b c",
                                 "https://dom.example/日本#frag", "http://e.com/%41;a=(1)*!$'@[x]"])
def test_location_equals_redirect_response(url):
    assert location_header(url) == dict(RedirectResponse(url).raw_headers)[b"location"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_headers_and_body_equal_the_route(status):
    """The route (reached with rate-limited redirects, where the fast path is off) and
    the fast path send the same status, header list and body, and count one click each."""
    fast, svc = make(redirect_status=status)
    slow, svc2 = make(redirect_status=status, rate_redirects=True, rate_capacity=1e9, rate_refill=1e9)
    url = "https://example.com/straße?q=ü"
    code = svc.create_link("ip:t", LinkRequest(url, "same", None), None, "http://t/")["body"]["code"]
    svc2.create_link("ip:t", LinkRequest(url, "same", None), None, "http://t/")
    f = call(fast, "GET", f"/{code}")
    s = call(slow, "GET", f"/{code}")
    s_headers = [h for h in s[1] if not h[0].startswith(b"ratelimit")]  # the limiter's own fields
    assert (f[0], f[1], f[2]) == (s[0], s_headers, s[2])
    assert f[0] == status and (b"cache-control" in dict(f[1])) == (status == 301)
    assert svc.store.info(code, svc.shortener._now_ms()).clicks == 1
    assert svc2.store.info(code, svc2.shortener._now_ms()).clicks == 1
    assert svc._stats_snapshot()["redirects"] == 1


def test_unknown_code_is_the_apps_problem_404_and_other_routes_are_untouched():
    app, svc = make()
    status, headers, body = call(app, "GET", "/nosuchcode")
    assert status == 404 and dict(headers)[b"content-type"] == b"application/problem+json"
    assert b'"code":"not_found"' in body
    assert svc._stats_snapshot()["not_found"] == 1
    assert call(app, "GET", "/healthz")[2] == b'{"status":"ok"}'
    assert call(app, "GET", "/openapi.json")[0] == 200
    assert call(app, "GET", "/docs")[0] == 200
    assert call(app, "GET", "/")[0] == 200
    assert call(app, "GET", "/a/b")[0] == 404  # two segments: no route, the router's 404
    code = svc.create_link("ip:t", LinkRequest("https://example.com/x", None, None), None, "http://t/")["body"]["code"]
    assert call(app, "HEAD", f"/{code}")[0] == 302  # HEAD goes to the route and counts no click
    assert svc.store.info(code, svc.shortener._now_ms()).clicks == 0


def test_store_failure_is_the_apps_503(monkeypatch):
    app, svc = make()

    def broken(code, count=True):
        raise BackendError("store down")

    monkeypatch.setattr(svc, "resolve", broken)
    status, headers, body = call(app, "GET", "/abcdef")
    assert status == 503 and dict(headers)[b"retry-after"] == b"1"
    assert b'"code":"backend_unavailable"' in body
