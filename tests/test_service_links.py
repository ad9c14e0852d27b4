"""Managing links (list, PATCH, DELETE, clicks per minute and hour) and the HTML pages."""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from sysprims.clock import ManualClock  # noqa: E402
from sysprims.service import create_app  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def client(request, tmp_path):
    store = {"memory": None, "sqlite": f"sqlite:///{tmp_path / 'links.db'}"}.get(request.param)
    if request.param == "redis":
        store = request.getfixturevalue("redis_url")
    clock = ManualClock(T0)
    app = create_app(store, clock=clock, rate_capacity=1000, strategy="snowflake" if store else None,
                     trending_flush=4)
    c = TestClient(app, follow_redirects=False)
    yield c, clock, app.state.service
    app.state.service.close()


def create(c, url, **kw):
    r = c.post("/api/links", json={"url": url, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def test_list_with_pagination_newest_first(client):
    c, clock, _ = client
    codes = []
    for i in range(7):
        codes.append(create(c, f"https://example.com/{i}")["code"])
        clock.advance(1)
    seen, cursor, pages = [], None, 0
    while True:
        r = c.get("/api/links", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200 and "ratelimit" in r.headers
        page = r.json()
        seen += [x["code"] for x in page["links"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == codes[::-1] and pages == 3
    # many links created in the same millisecond still page without loss or repeats
    same = [create(c, f"https://example.com/same/{i}")["code"] for i in range(70)]
    seen, cursor = [], None
    while True:
        page = c.get("/api/links", params={"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        seen += [x["code"] for x in page["links"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(same + codes) and len(seen) == len(set(seen))
    assert c.get("/api/links", params={"limit": 0}).status_code == 400
    assert c.get("/api/links", params={"cursor": "garbage!"}).status_code == 400


def test_patch_target_ttl_disable_and_delete(client):
    c, clock, svc = client
    link = create(c, "https://example.com/old")
    code = link["code"]
    for _ in range(3):
        assert c.get(f"/{code}").status_code == 302
    r = c.patch(f"/api/links/{code}", json={"url": "https://example.com/new"})
    assert r.status_code == 200 and r.json()["url"] == "https://example.com/new" and r.json()["clicks"] == 3
    assert c.get(f"/{code}").headers["location"] == "https://example.com/new"
    assert c.get(f"/api/links/{code}").json()["clicks"] == 4  # the clicks before the change are kept
    # disable: the redirect is gone, the link is still described and listed
    r = c.patch(f"/api/links/{code}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert c.get(f"/{code}").status_code == 404
    assert c.get(f"/api/links/{code}").json()["disabled"] is True
    assert c.get("/api/links").json()["links"][0]["disabled"] is True
    r = c.patch(f"/api/links/{code}", json={"disabled": False})
    assert r.json()["disabled"] is False and c.get(f"/{code}").status_code == 302
    assert c.get(f"/api/links/{code}").json()["clicks"] == 5
    # TTL: expires 10 s from now, then never again
    r = c.patch(f"/api/links/{code}", json={"ttl_seconds": 10})
    assert r.json()["expires_at"] is not None
    r = c.patch(f"/api/links/{code}", json={"ttl_seconds": None})
    assert r.json()["expires_at"] is None
    clock.advance(11)
    assert c.get(f"/{code}").status_code == 302
    # bad patches
    for body in ({}, {"clicks": 5}, {"disabled": "yes"}, {"url": "javascript:alert(1)"}, {"ttl_seconds": -1}):
        assert c.patch(f"/api/links/{code}", json=body).status_code == 400, body
    assert c.patch("/api/links/nope123", json={"disabled": True}).status_code == 404
    # delete
    assert c.delete(f"/api/links/{code}").status_code == 204
    assert c.get(f"/{code}").status_code == 404
    assert c.delete(f"/api/links/{code}").status_code == 404
    assert code not in [x["code"] for x in c.get("/api/links").json()["links"]]


def test_clicks_per_minute_and_hour(client):
    c, clock, _ = client
    code = create(c, "https://example.com/clicky")["code"]
    start = clock.time()
    pattern = [2, 0, 5, 1]  # clicks in four consecutive minutes
    for i, n in enumerate(pattern):
        if i:
            clock.advance(60)
        for _ in range(n):
            c.get(f"/{code}")
    r = c.get(f"/api/links/{code}/clicks")
    assert r.status_code == 200
    series = r.json()
    assert len(series["per_minute"]) == 60 and len(series["per_hour"]) == 48
    # count what we sent per minute and per hour, from the timestamps themselves
    want_minutes, want_hours = {}, {}
    for i, n in enumerate(pattern):
        m = int((start + 60 * i) // 60)
        want_minutes[m] = want_minutes.get(m, 0) + n
        want_hours[m // 60] = want_hours.get(m // 60, 0) + n
    now_minute = int(clock.time() // 60)
    got_minutes = {now_minute - 59 + i: v for i, v in enumerate(series["per_minute"]) if v}
    assert got_minutes == {m: n for m, n in want_minutes.items() if n}
    got_hours = {now_minute // 60 - 47 + i: v for i, v in enumerate(series["per_hour"]) if v}
    assert got_hours == want_hours and sum(series["per_hour"]) == sum(pattern)
    assert c.get("/api/links/nope123/clicks").status_code == 404


def test_reserved_aliases_are_refused(client):
    c, _, _ = client
    for alias in ("docs", "API", "links", "ui", "healthz"):
        r = c.post("/api/links", json={"url": "https://example.com/", "alias": alias})
        assert r.status_code == 400 and r.json()["code"] == "invalid_alias", alias


def test_html_pages(client):
    c, clock, _ = client
    r = c.post("/ui/links", data={"url": "https://example.com/from-form", "alias": "", "ttl_seconds": ""})
    assert r.status_code == 303 and r.headers["location"].startswith("/?created=")
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    code = re.search(r"created=(\w+)", r.headers["location"]).group(1)
    assert f"/links/{code}" in page.text and "https://example.com/from-form" in page.text
    assert "id=created" in page.text
    c.get(f"/{code}")
    link = c.get(f"/links/{code}")
    assert link.status_code == 200 and "<svg" in link.text and "id=clicks>1<" in link.text
    bad = c.post("/ui/links", data={"url": "javascript:alert(1)"})
    assert bad.status_code == 400 and "id=error" in bad.text and "http:// or https://" in bad.text
    # no message is ever taken from the URL (no text injection through a crafted link)
    assert "pwned" not in c.get("/?error=pwned").text
    # hostile values are escaped in the pages
    create(c, "https://example.com/<script>alert(1)</script>")
    assert "<script>alert" not in c.get("/").text


def test_api_page_served_from_package_files(client):
    c, _, _ = client
    pytest.importorskip("swagger_ui_bundle")
    page = c.get("/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.replace("/openapi.json", "")  # nothing from another origin
    js = c.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert c.get("/docs/assets/../../etc/passwd").status_code == 404
    assert c.get("/docs/assets/index.html").status_code == 404


def test_changes_need_an_api_key_when_the_service_has_them():
    app = create_app(None, clock=ManualClock(T0), rate_capacity=1000, api_keys={"owner"})
    c = TestClient(app, follow_redirects=False)
    code = create(c, "https://example.com/mine")["code"]
    for call in (lambda h: c.patch(f"/api/links/{code}", json={"disabled": True}, headers=h),
                 lambda h: c.delete(f"/api/links/{code}", headers=h)):
        assert call({}).status_code == 401
        assert call({"X-API-Key": "intruder"}).status_code == 401
    assert c.patch(f"/api/links/{code}", json={"disabled": True}, headers={"X-API-Key": "owner"}).status_code == 200
    assert c.delete(f"/api/links/{code}", headers={"X-API-Key": "owner"}).status_code == 204
    app.state.service.close()
