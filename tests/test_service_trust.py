"""Trust at the service's edges (issue #17 items 12, 14, 15): forwarded headers,
a hung Redis, hostile request bodies and the URL rules."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import urllib.parse

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from sysprims.clock import ManualClock  # noqa: E402
from sysprims.service import create_app  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

T0 = 1_700_000_000.0


def make(store=None, **kw):
    kw.setdefault("rate_capacity", 1000)
    app = create_app(store, clock=ManualClock(T0), **kw)
    return app, TestClient(app, follow_redirects=False, raise_server_exceptions=False)


def post(c, raw: str | bytes, **headers):
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return c.post("/api/links", content=body, headers={"content-type": "application/json", **headers})


def assert_400(resp, code=None):
    assert resp.status_code == 400, resp.text
    err = resp.json()
    if code is not None:
        assert err["code"] == code, err
    return err


# ---------------------------------------------------------------- item 12
def test_every_forwarded_for_line_is_read():
    """A client that adds its own X-Forwarded-For line ahead of the proxy's is still
    limited by the address the proxy appended (RFC 9110 5.3: several field lines are
    one comma-joined list, so the right-most entry is on the last line)."""
    app, c = make(rate_capacity=2, rate_refill=0.001, trust_forwarded=True)
    statuses = []
    for i in range(5):
        headers = [("x-forwarded-for", f"10.9.8.{i}"), ("x-forwarded-for", "203.0.113.7")]
        statuses.append(c.get("/api/stats", headers=headers).status_code)
    assert statuses == [200, 200, 429, 429, 429]
    # the same client by one joined line is the same client
    assert c.get("/api/stats", headers={"x-forwarded-for": "10.1.1.1, 203.0.113.7"}).status_code == 429
    assert c.get("/api/stats", headers={"x-forwarded-for": "203.0.113.8"}).status_code == 200
    app.state.service.close()


# ---------------------------------------------------------------- item 14
class Paused:
    """A redis-server stopped with SIGSTOP (connections open, no replies) until
    :meth:`resume`; a timer resumes it after ``safety`` seconds anyway, so that code
    blocked on it fails its assertions instead of hanging (a safety net, never an
    assertion)."""

    def __init__(self, server, safety: float = 10.0):
        self.pid = server.proc.pid
        self._resumed = threading.Event()
        self._net = threading.Timer(safety, self.resume)

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        self._net.start()
        return self

    def resume(self):
        if not self._resumed.is_set():
            self._resumed.set()
            os.kill(self.pid, signal.SIGCONT)

    def __exit__(self, *exc):
        self._net.cancel()
        self.resume()


def test_healthz_answers_while_a_store_call_hangs_on_a_stopped_redis(own_redis):
    """With default settings a redirect waiting on a stopped (SIGSTOP) Redis must not
    hold the event loop: /healthz completes while that redirect is still pending."""
    app = create_app(own_redis.url, clock=ManualClock(T0))
    svc = app.state.service
    code = svc.shortener.shorten("https://example.com/hung")

    async def scenario(paused):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            redirect = asyncio.create_task(client.get(f"/{code}"))
            await asyncio.sleep(0)  # let the redirect start and reach the store
            health = await client.get("/healthz")
            pending_at_health = not redirect.done()
            paused.resume()
            resp = await redirect
            return health, pending_at_health, resp

    try:
        with Paused(own_redis) as paused:
            health, pending_at_health, resp = asyncio.run(scenario(paused))
    finally:
        svc.close()
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert pending_at_health, "/healthz waited for the store call: the store ran on the event loop"
    assert resp.status_code == 302 and resp.headers["location"] == "https://example.com/hung"


# ---------------------------------------------------------------- item 15: bodies
def test_a_400_digit_ttl_is_400():
    app, c = make()
    assert_400(post(c, '{"url": "https://example.com/", "ttl_seconds": %s}' % ("9" * 400)), "invalid_ttl")
    assert_400(post(c, '{"url": "https://example.com/", "ttl_seconds": -%s}' % ("9" * 400)), "invalid_ttl")
    assert_400(post(c, '{"url": "https://example.com/", "ttl_seconds": 1e400}'), "invalid_ttl")
    assert_400(post(c, '{"url": "https://example.com/", "ttl_seconds": %s}' % ("9" * 5000)))
    assert post(c, '{"url": "https://example.com/", "ttl_seconds": 60}').status_code == 201


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_json_nested_8000_deep_is_400(opener, closer):
    app, c = make(max_body_bytes=1 << 20)
    err = assert_400(post(c, opener * 8000 + "1" + closer * 8000))
    assert "nest" in err["detail"]
    # the service still answers afterwards
    assert post(c, '{"url": "https://example.com/after"}').status_code == 201


def test_lone_surrogate_in_url_or_alias_is_400():
    app, c = make()
    assert_400(post(c, '{"url": "https://example.com/\\ud800"}'), "invalid_url")
    assert_400(post(c, '{"url": "https://example.com/\\udfff/x"}'), "invalid_url")
    assert_400(post(c, '{"url": "https://example.com/", "alias": "a\\ud800"}'), "invalid_alias")
    # raw (not escaped) surrogate bytes are not UTF-8: invalid JSON
    assert_400(post(c, b'{"url": "https://example.com/\xed\xa0\x80"}'))


# ---------------------------------------------------------------- item 15: URL rules
@pytest.mark.parametrize("char", [
    "\u00a0",  # no-break space
    "\u1680", "\u2000", "\u2009", "\u202f", "\u205f", "\u3000",  # Unicode space separators
    "\u2028", "\u2029",  # line / paragraph separators
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width and BOM
    "\u200e", "\u200f", "\u061c",  # direction marks
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\ue000",  # private use
])
def test_unicode_whitespace_and_direction_marks_are_refused(char):
    app, c = make()
    for url in (f"https://example.com/a{char}b", f"https://exam{char}ple.com/"):
        err = assert_400(post(c, json.dumps({"url": url})), "invalid_url")
        assert f"U+{ord(char):04X}" in err["detail"]


def test_non_ascii_letters_are_allowed():
    """International paths and hosts (IRIs) are fine: only invisible or layout characters are refused."""
    app, c = make()
    for url in ("https://example.com/caf\u00e9", "https://\u0434\u043e\u043c.example/\u65e5\u672c"):
        r = post(c, json.dumps({"url": url}))
        assert r.status_code == 201, r.text
        location = c.get(f"/{r.json()['code']}").headers["location"]
        assert location.isascii() and urllib.parse.unquote(location) == url
        assert r.json()["url"] == url


@pytest.mark.parametrize("url", [
    "https://good.com@evil.com/",
    "https://user:pass@example.com/",
    "https://good.com:443@evil.com/x",
])
def test_userinfo_is_refused(url):
    app, c = make()
    err = assert_400(post(c, json.dumps({"url": url})), "invalid_url")
    assert "userinfo" in err["detail"]


def test_an_at_sign_in_the_path_or_query_is_fine():
    app, c = make()
    for url in ("https://example.com/@user", "https://example.com/?mail=a@b.c", "https://example.com/#@x"):
        assert post(c, json.dumps({"url": url})).status_code == 201, url


@pytest.mark.parametrize("url", [
    "https://good.com\\@evil.com/",
    "https://good.com\\evil.com/",
    "https://example.com/a\\b",
])
def test_backslashes_are_refused(url):
    """Browsers read a backslash as a slash in http(s) URLs while Python's urlsplit does not:
    ``good.com\\@evil.com`` would be judged by one host and opened at another."""
    app, c = make()
    err = assert_400(post(c, json.dumps({"url": url})), "invalid_url")
    assert "backslash" in err["detail"]


def test_bad_ports_are_refused():
    app, c = make()
    for url in ("https://example.com:99999/", "https://example.com:http/"):
        assert_400(post(c, json.dumps({"url": url})), "invalid_url")


def test_links_to_the_service_itself_are_refused():
    """A short link pointing at this service redirects to itself (a loop that inflates clicks)."""
    app, c = make()
    err = assert_400(post(c, json.dumps({"url": "http://testserver/abc"})), "self_link")
    assert "testserver" in err["detail"]
    assert_400(post(c, json.dumps({"url": "https://TestServer./x"})), "self_link")
    app, c = make(base_url="https://sho.rt")
    assert_400(post(c, json.dumps({"url": "https://sho.rt/abc"})), "self_link")
    assert_400(post(c, json.dumps({"url": "https://SHO.RT:8443/abc"})), "self_link")
    assert post(c, json.dumps({"url": "https://sub.sho.rt/abc"})).status_code == 201
    app, c = make(allowed_hosts=frozenset({"links.example", "testserver"}))
    assert_400(post(c, json.dumps({"url": "https://links.example/abc"})), "self_link")


def test_host_header_is_checked_before_it_becomes_short_url():
    app, c = make()
    err = assert_400(post(c, '{"url": "https://example.com/"}', host="evil.com/phish?"), "invalid_host")
    assert "Host" in err["detail"]
    assert_400(post(c, '{"url": "https://example.com/"}', host="a b"), "invalid_host")
    r = post(c, '{"url": "https://example.com/"}', host="links.example:8080")
    assert r.status_code == 201 and r.json()["short_url"].startswith("http://links.example:8080/")
    # with allowed_hosts, another Host is refused
    app, c = make(allowed_hosts=frozenset({"links.example"}))
    assert_400(post(c, '{"url": "https://example.com/"}', host="evil.com"), "invalid_host")
    r = post(c, '{"url": "https://example.com/"}', host="links.example")
    assert r.status_code == 201 and r.json()["short_url"].startswith("http://links.example/")
    # with a base URL, the Host header never reaches short_url
    app, c = make(base_url="https://sho.rt")
    r = post(c, '{"url": "https://example.com/"}', host="evil.com")
    assert r.status_code == 201 and r.json()["short_url"].startswith("https://sho.rt/")
