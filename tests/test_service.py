"""The shortener service through an HTTP client (Starlette's TestClient), memory and SQLite stores."""

from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import warnings  # noqa: E402

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from sysprims.asgi.idempotency import fingerprint_request, scoped_key  # noqa: E402
from sysprims.clock import ManualClock  # noqa: E402
from sysprims.service import ServiceSettings, create_app, parse_link_request  # noqa: E402
from sysprims.service.validation import ApiError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    return None if request.param == "memory" else f"sqlite:///{tmp_path / 'links.db'}"


def make(store=None, clock=None, **kw):
    clock = clock or ManualClock(T0)
    kw.setdefault("rate_capacity", 1000)
    app = create_app(store, clock=clock, **kw)
    client = TestClient(app, follow_redirects=False)
    return app, client, clock


def assert_error(resp, status, code=None):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    err = resp.json()
    assert err["status"] == status and err["type"] and err["title"]
    assert isinstance(err["detail"], str) and len(err["detail"]) > 10
    if code is not None:
        assert err["code"] == code, err
    return err


def test_create_redirect_stats_top(store):
    app, c, clock = make(store)
    urls = [f"https://example.com/page/{i}?q=1" for i in range(3)]
    codes = []
    for u in urls:
        r = c.post("/api/links", json={"url": u})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["url"] == u and body["clicks"] == 0 and body["expires_at"] is None
        assert r.headers["location"] == body["short_url"] == f"http://testserver/{body['code']}"
        codes.append(body["code"])
    assert len(set(codes)) == 3
    clicks = [3, 1, 2]
    for code, n, u in zip(codes, clicks, urls, strict=True):
        for _ in range(n):
            r = c.get(f"/{code}")
            assert r.status_code == 302
            assert r.headers["location"] == u
    for code, n in zip(codes, clicks, strict=True):
        r = c.get(f"/api/links/{code}")
        assert r.status_code == 200
        assert r.json()["clicks"] == n
    top = c.get("/api/top", params={"k": 2}).json()
    assert [link["code"] for link in top["links"]] == [codes[0], codes[2]]
    assert [link["clicks"] for link in top["links"]] == [3, 2]
    # HEAD resolves without counting a click
    assert c.head(f"/{codes[1]}").status_code == 302
    assert c.get(f"/api/links/{codes[1]}").json()["clicks"] == 1
    stats = c.get("/api/stats").json()
    assert stats["links"] == 3 and stats["stats"]["redirects"] == 6 and stats["stats"]["created"] == 3
    app.state.service.close()


def test_redirect_301_option():
    _, c, _ = make(redirect_status=301)
    code = c.post("/api/links", json={"url": "https://example.org/"}).json()["code"]
    r = c.get(f"/{code}")
    assert r.status_code == 301 and r.headers["location"] == "https://example.org/"
    assert "max-age" in r.headers["cache-control"]


def test_unknown_and_expired_codes_are_404(store):
    _, c, clock = make(store)
    assert_error(c.get("/doesNotExist"), 404, "not_found")
    assert_error(c.get("/api/links/doesNotExist"), 404, "not_found")
    r = c.post("/api/links", json={"url": "https://example.com/soon-gone", "ttl_seconds": 10})
    assert r.status_code == 201
    body = r.json()
    assert body["expires_at"] == "2023-11-14T22:13:30.000Z"  # T0 + 10 s
    assert c.get(f"/{body['code']}").status_code == 302
    clock.advance(9.9)
    assert c.get(f"/{body['code']}").status_code == 302
    clock.advance(0.2)
    assert_error(c.get(f"/{body['code']}"), 404, "not_found")
    assert_error(c.get(f"/api/links/{body['code']}"), 404, "not_found")


def test_idempotent_retry_replays_and_creates_once(store):
    # snowflake codes: every creation makes a new code, so a double creation would show
    app, c, _ = make(store, strategy="snowflake")
    svc = app.state.service
    a = c.post("/api/links", json={"url": "https://example.com/a"}).json()["code"]
    b = c.post("/api/links", json={"url": "https://example.com/a"}).json()["code"]
    assert a != b and len(svc.store) == 2  # without a key: two links
    h = {"Idempotency-Key": "order-42"}
    r1 = c.post("/api/links", json={"url": "https://example.com/b"}, headers=h)
    r2 = c.post("/api/links", content=json.dumps({"url": "https://example.com/b"}, indent=2), headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert r2.headers["location"] == r1.headers["location"]
    assert "idempotent-replayed" not in r1.headers and r2.headers["idempotent-replayed"] == "true"
    assert len(svc.store) == 3
    assert svc.stats["replayed"] == 1


def test_idempotency_key_reused_with_other_body_is_422(store):
    app, c, _ = make(store, strategy="snowflake")
    h = {"Idempotency-Key": "k-1"}
    assert c.post("/api/links", json={"url": "https://example.com/1"}, headers=h).status_code == 201
    n = len(app.state.service.store)
    err = assert_error(c.post("/api/links", json={"url": "https://example.com/2"}, headers=h), 422,
                       "idempotency_key_reused")
    assert "different request" in err["detail"]
    assert len(app.state.service.store) == n


def test_idempotency_keys_are_scoped_per_client():
    app, c, _ = make(strategy="snowflake", api_keys={"alice", "bob"})
    body = {"url": "https://example.com/shared"}
    ra = c.post("/api/links", json=body, headers={"Idempotency-Key": "same", "X-API-Key": "alice"})
    rb = c.post("/api/links", json=body, headers={"Idempotency-Key": "same", "X-API-Key": "bob"})
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["code"] != rb.json()["code"]
    assert "idempotent-replayed" not in rb.headers
    assert_error(c.post("/api/links", json=body, headers={"X-API-Key": "mallory"}), 401, "invalid_api_key")


def test_in_flight_request_is_409_then_runs_after_release(store):
    app, c, _ = make(store, strategy="snowflake")
    svc = app.state.service
    # another worker holds the key mid-request (as a second process sharing the store would)
    scoped = scoped_key("ip:testclient", "busy")
    canonical = json.dumps({"url": "https://example.com/x", "alias": None, "ttl_seconds": None}, sort_keys=True)
    claim = svc.idempotency.claim(scoped, fingerprint=fingerprint_request("POST", "/api/links", b"", canonical.encode()))
    r = c.post("/api/links", json={"url": "https://example.com/x"}, headers={"Idempotency-Key": "busy"})
    assert_error(r, 409, "request_in_progress")
    assert r.headers["retry-after"] == "1"
    assert len(svc.store) == 0
    claim.release()
    r = c.post("/api/links", json={"url": "https://example.com/x"}, headers={"Idempotency-Key": "busy"})
    assert r.status_code == 201 and len(svc.store) == 1


def test_in_flight_with_real_concurrency(tmp_path):
    """Two concurrent requests with one key: the second sees 409 while the first runs."""
    app, c, _ = make(f"sqlite:///{tmp_path / 'l.db'}", strategy="snowflake", threadpool=True)
    svc = app.state.service
    entered, go = threading.Event(), threading.Event()
    real_create = svc.store.create

    def slow_create(*args, **kwargs):
        entered.set()
        assert go.wait(10)
        return real_create(*args, **kwargs)

    svc.store.create = slow_create
    results = {}
    h = {"Idempotency-Key": "slow"}
    with c:  # one event loop for both requests
        t = threading.Thread(target=lambda: results.setdefault(
            "first", c.post("/api/links", json={"url": "https://example.com/slow"}, headers=h)))
        t.start()
        assert entered.wait(10)
        second = c.post("/api/links", json={"url": "https://example.com/slow"}, headers=h)
        go.set()
        t.join(10)
        third = c.post("/api/links", json={"url": "https://example.com/slow"}, headers=h)
        stored = len(svc.store)
    assert_error(second, 409, "request_in_progress")
    assert results["first"].status_code == 201
    assert third.status_code == 201 and third.json() == results["first"].json()
    assert third.headers["idempotent-replayed"] == "true"
    assert stored == 1


def test_rate_limit_429_with_headers():
    app, c, clock = make(rate_capacity=3, rate_refill=0.5, api_keys={"k1", "k2"})
    svc = app.state.service
    remaining = []
    for i in range(3):
        r = c.post("/api/links", json={"url": f"https://example.com/{i}"}, headers={"X-API-Key": "k1"})
        assert r.status_code == 201
        assert r.headers["ratelimit-limit"] == "3"
        remaining.append(int(r.headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    r = c.post("/api/links", json={"url": "https://example.com/over"}, headers={"X-API-Key": "k1"})
    err = assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "2"  # one token at 0.5 tokens/s
    assert r.headers["ratelimit-remaining"] == "0"
    # the reset of a refusal names the moment of Retry-After (the draft: both name one time)
    assert r.headers["ratelimit"] == '"api";r=0;t=2' and r.headers["ratelimit-reset"] == "2"
    assert r.headers["ratelimit-policy"] == '"api";q=3;w=6'  # a burst of 3, refilled in 6 s
    assert "3 requests per 6 s" in err["detail"]
    assert len(svc.store) == 3  # the refused request stored nothing
    # another client has its own bucket; the IP of key-less requests too
    assert c.post("/api/links", json={"url": "https://example.com/k2"}, headers={"X-API-Key": "k2"}).status_code == 201
    assert c.get("/api/top").status_code == 200
    clock.advance(1.9)
    assert c.get("/api/top", headers={"X-API-Key": "k1"}).status_code == 429
    clock.advance(0.1)
    r = c.get("/api/top", headers={"X-API-Key": "k1"})
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "0"
    # redirects are not limited by default
    code = c.post("/api/links", json={"url": "https://example.com/r"}, headers={"X-API-Key": "k2"}).json()["code"]
    assert all(c.get(f"/{code}").status_code == 302 for _ in range(10))


def test_rate_limited_redirects_option():
    _, c, _ = make(rate_capacity=2, rate_refill=1, rate_redirects=True)
    assert c.get("/nope").status_code == 404
    assert c.get("/nope").status_code == 404
    r = c.get("/nope")
    assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "1"


BAD_URLS = [
    ("javascript:alert(1)", "http:// or https://"),
    ("JavaScript://example.com/%0Aalert(1)", "http:// or https://"),
    ("data:text/html,<script>alert(1)</script>", "http:// or https://"),
    ("ftp://example.com/file", "http:// or https://"),
    ("https://example.com/" + "a" * 2100, "at most 2048 characters"),
    ("https://example.com/\x00evil", "control characters"),
    ("https://example.com/a\r\nSet-Cookie: x=1", "control characters"),
    ("https://example.com/\x7f", "control characters"),
    ("https://example.com/\u0085", "control characters"),
    ("https://exa mple.com/", "control characters or whitespace"),
    ("https:///no-host", "host"),
    ("", "http:// or https://"),
    (42, "must be a str"),
    (None, "must be a str"),
]


@pytest.mark.parametrize(("url", "why"), BAD_URLS)
def test_invalid_urls_refused_nothing_stored(store, url, why):
    app, c, _ = make(store)
    r = c.post("/api/links", json={"url": url}, headers={"Idempotency-Key": "bad-url"})
    err = assert_error(r, 400, "invalid_url")
    assert why in err["detail"]
    assert len(app.state.service.store) == 0
    # the key was not consumed by the refused request
    ok = c.post("/api/links", json={"url": "https://example.com/fine"}, headers={"Idempotency-Key": "bad-url"})
    assert ok.status_code == 201 and len(app.state.service.store) == 1


def test_aliases_bloom_then_store(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    app, c, _ = make(db)
    svc = app.state.service
    r = c.post("/api/links", json={"url": "https://example.com/sale", "alias": "summer-sale"})
    assert r.status_code == 201 and r.json()["code"] == "summer-sale" and r.json()["strategy"] == "alias"
    assert svc.stats["alias_bloom_negative"] == 1
    assert c.get("/summer-sale").headers["location"] == "https://example.com/sale"
    n = len(svc.store)
    err = assert_error(c.post("/api/links", json={"url": "https://x.org/", "alias": "summer-sale"}), 409, "alias_taken")
    assert "summer-sale" in err["detail"]
    assert svc.stats["alias_bloom_positive"] == 1 and len(svc.store) == n
    assert_error(c.post("/api/links", json={"url": "https://x.org/", "alias": "api"}), 400, "invalid_alias")
    assert_error(c.post("/api/links", json={"url": "https://x.org/", "alias": "no/slash"}), 400, "invalid_alias")
    assert_error(c.post("/api/links", json={"url": "https://x.org/", "alias": "ab"}), 400, "invalid_alias")
    # a second instance on the same file does not know the alias yet: its Bloom filter
    # says "free", the store refuses, and the filter learns it
    app2, c2, _ = make(db)
    svc2 = app2.state.service
    assert_error(c2.post("/api/links", json={"url": "https://x.org/", "alias": "summer-sale"}), 409, "alias_taken")
    assert svc2.stats["alias_bloom_negative"] == 1 and "summer-sale" in svc2.aliases
    assert_error(c2.post("/api/links", json={"url": "https://x.org/", "alias": "summer-sale"}), 409, "alias_taken")
    assert svc2.stats["alias_bloom_positive"] == 1
    assert len(svc.store) == n


def test_expired_alias_can_be_taken_again():
    app, c, clock = make()
    assert c.post("/api/links", json={"url": "https://a.example/", "alias": "flash", "ttl_seconds": 5}).status_code == 201
    assert_error(c.post("/api/links", json={"url": "https://b.example/", "alias": "flash"}), 409, "alias_taken")
    clock.advance(6)
    r = c.post("/api/links", json={"url": "https://b.example/", "alias": "flash"})
    assert r.status_code == 201  # the Bloom filter said "maybe", the store said "expired"
    assert c.get("/flash").headers["location"] == "https://b.example/"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/no/such/route", {}, 404, "not_found"),
        ("delete", "/api/links", {}, 405, "method_not_allowed"),
        ("post", "/api/links", {"content": b"{not json"}, 400, "invalid_json"),
        ("post", "/api/links", {"content": b""}, 400, "invalid_body"),
        ("post", "/api/links", {"json": ["https://a.b/"]}, 400, "invalid_body"),
        ("post", "/api/links", {"json": {"link": "https://a.b/"}}, 400, "unknown_field"),
        ("post", "/api/links", {"json": {}}, 400, "invalid_url"),
        ("post", "/api/links", {"json": {"url": "https://a.b/", "ttl_seconds": -1}}, 400, "invalid_ttl"),
        ("post", "/api/links", {"json": {"url": "https://a.b/", "ttl_seconds": "10"}}, 400, "invalid_ttl"),
        ("post", "/api/links", {"json": {"url": "https://a.b/", "ttl_seconds": True}}, 400, "invalid_ttl"),
        ("post", "/api/links", {"json": {"url": "https://a.b/", "alias": 7}}, 400, "invalid_alias"),
        ("post", "/api/links", {"content": b"url=https://a.b/",
                                "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
         "unsupported_media_type"),
        ("post", "/api/links", {"content": b'{"url": "https://a.b/' + b"a" * 20000 + b'"}'}, 413, "body_too_large"),
        ("post", "/api/links", {"json": {"url": "https://a.b/"}, "headers": {"Idempotency-Key": "\x01"}}, 400,
         "invalid_idempotency_key"),
        ("get", "/api/top?k=0", {}, 400, "invalid_k"),
        ("get", "/api/top?k=ten", {}, 400, "invalid_k"),
        ("get", "/api/trending?k=100000", {}, 400, "invalid_k"),
    ],
)
def test_every_4xx_is_a_json_error(method, path, kwargs, status, code):
    app, c, _ = make()
    r = getattr(c, method)(path, **kwargs)
    assert_error(r, status, code)
    assert len(app.state.service.store) == 0


def test_trending_count_min(store):
    app, c, clock = make(store, trending_window=60, trending_flush=16)
    codes = [c.post("/api/links", json={"url": f"https://example.com/t{i}"}).json()["code"] for i in range(5)]
    true = {codes[0]: 12, codes[1]: 70, codes[2]: 3, codes[3]: 25, codes[4]: 1}  # several flushes of 16
    for code, n in true.items():
        for _ in range(n):
            assert c.get(f"/{code}").status_code == 302
    body = c.get("/api/trending", params={"k": 3}).json()
    got = [(x["code"], x["estimated_clicks"]) for x in body["links"]]
    assert [g[0] for g in got] == [codes[1], codes[3], codes[0]]
    for code, est in got:
        # Count-Min never underestimates; with 5 keys in a 4 x 8192 sketch, a key is
        # overestimated only if it collides in all 4 rows: P <= 4 * (4/8192)**4 ~ 2e-13
        assert est == true[code]
    # exact counts in the store agree with the true counts
    assert [x["clicks"] for x in c.get("/api/top", params={"k": 3}).json()["links"]] == [70, 25, 12]
    clock.advance(60)  # the window rolls: last window still counts
    assert c.get("/api/trending").json()["links"][0]["code"] == codes[1]
    clock.advance(120)  # two windows later: nothing trends
    assert c.get("/api/trending").json()["links"] == []
    assert c.get("/api/top").json()["links"][0]["clicks"] == 70


def test_openapi_valid_and_complete():
    from openapi_spec_validator import validate

    app, c, _ = make()
    spec = c.get("/openapi.json").json()
    validate(spec)
    # generated from the routes: exactly their paths and methods
    routes = {(r.path, m.lower()) for r in app.routes for m in r.methods if m != "HEAD"}
    assert routes == {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert "/docs" in spec["paths"] and "delete" in spec["paths"]["/api/links/{code}"]
    post = spec["paths"]["/api/links"]["post"]["responses"]
    assert {"201", "400", "409", "422", "429"} <= set(post)


def test_parse_link_request_direct():
    req = parse_link_request(b'{"url": "https://a.example/x", "ttl_seconds": 1.5}', max_url_length=2048,
                             max_ttl_seconds=10)
    assert req.url == "https://a.example/x" and req.ttl_seconds == 1.5 and req.alias is None
    same = [parse_link_request(b, max_url_length=2048, max_ttl_seconds=100).canonical()
            for b in (b'{"url": "https://a.example/", "ttl_seconds": 10}', b'{"ttl_seconds": 10.0, "url": "https://a.example/"}')]
    assert same[0] == same[1]
    with pytest.raises(ApiError) as info:
        parse_link_request(b'{"url": "https://a.example/x", "ttl_seconds": 11}', max_url_length=2048,
                           max_ttl_seconds=10)
    assert info.value.status == 400 and "(0, 10]" in info.value.message


def test_settings_validation():
    from sysprims.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="redirect_status"):
        ServiceSettings(redirect_status=303)
    with pytest.raises(InvalidParameterError, match="unknown service setting"):
        ServiceSettings().with_overrides(colour="blue")
    with pytest.raises(InvalidParameterError, match="rate_refill"):
        create_app(rate_refill=0)
    assert ServiceSettings().strategy_for("redis") == "snowflake"
    assert ServiceSettings().strategy_for("sqlite") == "permuted"


def test_import_sysprims_does_not_import_starlette():
    import subprocess
    import sys

    code = "import sys, sysprims, sysprims.cli; assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_location_header_is_percent_encoded_and_safe():
    _, c, _ = make()
    url = "https://example.com/straße?q=ü&x=a|b"
    code = c.post("/api/links", json={"url": url}).json()["code"]
    loc = c.get(f"/{code}").headers["location"]
    assert loc.isascii()
    from urllib.parse import unquote

    assert unquote(loc) == url


def test_forwarded_for_only_when_trusted():
    app, c, _ = make(rate_capacity=1, rate_refill=0.001, trust_forwarded=True)
    # the right-most entry (added by our proxy) identifies the client; the left part is client-controlled
    assert c.get("/api/top", headers={"X-Forwarded-For": "6.6.6.6, 10.0.0.1"}).status_code == 200
    assert c.get("/api/top", headers={"X-Forwarded-For": "7.7.7.7, 10.0.0.1"}).status_code == 429
    assert c.get("/api/top", headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 200
    _, c2, _ = make(rate_capacity=1, rate_refill=0.001)  # not trusted: the header is ignored
    assert c2.get("/api/top", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
    assert c2.get("/api/top", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 429


def test_clicks_exact_under_concurrency(tmp_path):
    """Two services on one SQLite file, 4 threads each: every click counted once."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    a, _, _ = make(db)
    b, _, _ = make(db)
    sa, sb = a.state.service, b.state.service
    code = sa.create_link("ip:x", parse_link_request(b'{"url": "https://example.com/hot"}', max_url_length=2048,
                                                     max_ttl_seconds=1e9), None, "http://t/")["body"]["code"]
    per = 50

    def hammer(svc):
        for _ in range(per):
            assert svc.resolve(code) == "https://example.com/hot"

    threads = [threading.Thread(target=hammer, args=(s,)) for s in (sa, sb) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sa.link_info(code, "http://t/")["clicks"] == 8 * per
    assert sa.stats["redirects"] + sb.stats["redirects"] == 8 * per
    sa.close()
    sa.close()  # idempotent
    sb.close()


def test_cli_serve_help_and_bad_rate():
    from sysprims.cli import main

    assert main(["serve", "shortener", "--help"]) == 0
    assert main(["serve", "shortener", "--rate", "fast", "--store", "memory"]) == 2


def test_limited_error_responses_carry_integer_ratelimit_fields():
    """Issue #20: a 404 or 400 of a limited route consumed quota, so it carries the fields
    too; a fractional burst still gives integers (the draft's q and r are Integers)."""
    _, c, _ = make(rate_capacity=2.5, rate_refill=0.5)
    r = c.get("/api/links/doesNotExist")
    assert r.status_code == 404
    assert r.headers["ratelimit-policy"] == '"api";q=2;w=5' and r.headers["ratelimit"].startswith('"api";r=1;')
    r = c.get("/api/top", params={"k": 0})
    assert r.status_code == 400 and r.headers["ratelimit"].startswith('"api";r=0;')
    r = c.get("/api/top")
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["ratelimit"] == f'"api";r=0;t={r.headers["retry-after"]}'
    assert "." not in r.headers["ratelimit-limit"] + r.headers["ratelimit-policy"]
