"""RateLimitMiddleware against draft-ietf-httpapi-ratelimit-headers (the current
draft's ``RateLimit`` and ``RateLimit-Policy`` structured fields).

Each test's docstring says, in our words, the draft requirement it checks."""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from sysprims.asgi import Limit, RateLimitMiddleware, limited, rate_limit  # noqa: E402
from sysprims.clock import ManualClock  # noqa: E402
from sysprims.errors import InvalidParameterError, RateLimitExceeded  # noqa: E402
from sysprims.ratelimit import ALGORITHMS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

T0 = 1_700_000_000.0

# --- a strict reader of the two fields (RFC 8941 List of Items, String values, Integer params)
_ITEM = re.compile(r'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"((?:;[a-z][a-z0-9_.*-]*=-?[0-9]{1,15})*)')


def parse_list(value: str) -> dict[str, dict[str, int]]:
    out = {}
    for member in value.split(","):
        m = _ITEM.fullmatch(member.strip())
        assert m, f"not an sf-item with a String value and Integer parameters: {member!r}"
        params = {}
        for p in m.group(2).split(";")[1:]:
            k, v = p.split("=")
            assert k not in params
            params[k] = int(v)
        out[m.group(1)] = params
    return out


def fields(resp):
    return parse_list(resp.headers["ratelimit-policy"]), parse_list(resp.headers["ratelimit"])


async def hello(request):
    return PlainTextResponse("hello")


async def boom(request):
    return JSONResponse({"error": "bad"}, status_code=400)


def make_app(**kw):
    clock = kw.pop("clock", None) or ManualClock(T0)
    app = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"]), Route("/bad", boom),
                            Route("/healthz", hello), Route("/api/{x}", hello)])
    app.add_middleware(RateLimitMiddleware, clock=clock, **kw)  # the one line
    return TestClient(app, raise_server_exceptions=True), clock


def test_policy_and_ratelimit_fields_have_the_drafts_syntax():
    """RateLimit-Policy is a List of quota policy Items whose value is the policy name and
    whose ``q`` (quota) parameter is a required Integer and ``w`` (window) an Integer of
    seconds; RateLimit is a List of Items naming a policy, with ``r`` (remaining, a
    required Integer) and ``t`` (seconds until reset, an Integer)."""
    c, _ = make_app(limits=["10/second", "1000/hour"])
    r = c.get("/hello")
    assert r.status_code == 200 and r.text == "hello"
    policy, current = fields(r)
    assert policy == {"10-per-1s": {"q": 10, "w": 1}, "1000-per-3600s": {"q": 1000, "w": 3600}}
    assert set(current) == set(policy)
    assert current["10-per-1s"]["r"] == 9 and current["1000-per-3600s"]["r"] == 999
    assert all(v["t"] >= 0 for v in current.values())
    assert "ratelimit-limit" not in r.headers  # the older fields only on request


def test_values_are_integers_even_for_fractional_rates():
    """The draft defines q, w, r and t as Integers: a token bucket of 5 per 30 s refills
    1/6 token a second, and still every value on the wire is an integer."""
    clock = ManualClock(T0)
    c, _ = make_app(limits=[Limit(5, 30, "token_bucket")], clock=clock)
    for i in range(5):
        policy, current = fields(c.get("/hello"))
        assert current["5-per-30s"]["r"] == 4 - i
    clock.advance(7.3)  # 1.2 tokens back
    policy, current = fields(c.get("/hello"))
    assert policy == {"5-per-30s": {"q": 5, "w": 30}}
    assert current["5-per-30s"]["r"] == 0  # 1.2 - 1 = 0.2 tokens: no whole request left
    assert isinstance(current["5-per-30s"]["t"], int)


def test_429_retry_after_names_the_same_moment_as_the_reset():
    """When a response carries both Retry-After and RateLimit, the refusing policy's ``t``
    and Retry-After name the same point in time; and a client that waits that long is
    served again (the reset is honest)."""
    clock = ManualClock(T0)
    c, _ = make_app(limits="3/10s", algorithm="fixed_window", clock=clock)
    clock.advance(2.5)  # inside the window [T0, T0+10)
    assert [c.get("/hello").status_code for _ in range(3)] == [200, 200, 200]
    r = c.get("/hello")
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests" and "3 requests per 10 s" in body["detail"]
    _, current = fields(r)
    retry = int(r.headers["retry-after"])
    assert current["3-per-10s"] == {"r": 0, "t": retry}
    assert retry == 8  # ceil(10 - 2.5)
    clock.advance(retry - 1)
    assert c.get("/hello").status_code == 429
    clock.advance(1)
    assert c.get("/hello").status_code == 200


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_limits_and_reports(algorithm):
    """Whatever the algorithm, a refused request is a 429 with the fields, and waiting
    Retry-After seconds gets it served."""
    clock = ManualClock(T0)
    c, _ = make_app(limits="4/20s", algorithm=algorithm, clock=clock)
    codes = [c.get("/hello").status_code for _ in range(5)]
    assert codes == [200] * 4 + [429]
    r = c.get("/hello")
    assert r.status_code == 429
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 41  # a sliding counter may need up to two windows
    if algorithm in ("fixed_window", "sliding_window_log"):
        assert retry == 20 + (algorithm == "sliding_window_log")  # the log admits strictly after 20 s
    _, current = fields(r)
    assert current["4-per-20s"]["t"] == retry and current["4-per-20s"]["r"] == 0
    clock.advance(retry - 1)
    assert c.get("/hello").status_code == 429
    clock.advance(1)
    assert c.get("/hello").status_code == 200


def test_error_responses_carry_the_fields_too():
    """The fields describe the quota whatever the status: a 400 or a 404 of the app that
    consumed quota carries them as well."""
    c, _ = make_app(limits="5/minute")
    r = c.get("/bad")
    assert r.status_code == 400 and fields(r)[1]["5-per-60s"]["r"] == 4
    r = c.get("/no-such-route")
    assert r.status_code == 404 and fields(r)[1]["5-per-60s"]["r"] == 3


def test_several_limits_per_route_each_checked():
    """Several quota policies may apply at once; each appears in both fields, and the
    refusal names the policy that refused."""
    clock = ManualClock(T0)
    c, _ = make_app(limits=["2/second", "3/minute"], algorithm="fixed_window", clock=clock)
    assert [c.get("/hello").status_code for _ in range(3)] == [200, 200, 429]
    r = c.get("/hello")
    assert "2 requests per 1 s" in r.json()["detail"]
    clock.advance(1)
    assert c.get("/hello").status_code == 200  # third request of the minute
    r = c.get("/hello")
    assert r.status_code == 429 and "3 requests per 60 s" in r.json()["detail"]
    _, current = fields(r)
    retry = int(r.headers["retry-after"])
    assert current["3-per-60s"] == {"r": 0, "t": retry}
    # the minute window in force ends at the next multiple of 60 s: 39 s from now
    assert (T0 + 1 + 39) % 60 == 0 and retry == 39
    clock.advance(retry - 1)
    assert c.get("/hello").status_code == 429
    clock.advance(1)
    assert c.get("/hello").status_code == 200


def test_legacy_fields_on_request():
    """The older drafts' RateLimit-Limit/-Remaining/-Reset may be sent besides, for the
    policy closest to its limit."""
    c, _ = make_app(limits=["10/second", "3/hour"], legacy_headers=True)
    r = c.get("/hello")
    assert (r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"]) == ("3", "2")
    assert int(r.headers["ratelimit-reset"]) >= 0


def test_client_keys_ip_header_and_callable():
    """The draft leaves the partition (who shares a quota) to the server: by IP, by an API
    key header, or by any function of the request; each partition has its own quota."""
    c, _ = make_app(limits="1/minute", key="header:X-API-Key")
    assert c.get("/hello", headers={"x-api-key": "a"}).status_code == 200
    assert c.get("/hello", headers={"x-api-key": "a"}).status_code == 429
    assert c.get("/hello", headers={"x-api-key": "b"}).status_code == 200
    assert c.get("/hello").status_code == 200  # no key: limited by IP, its own bucket
    assert c.get("/hello").status_code == 429

    def tenant(scope):
        return dict(scope["headers"]).get(b"x-tenant", b"").decode() or None

    c, _ = make_app(limits="1/minute", key=tenant)
    assert c.get("/hello", headers={"x-tenant": "t1"}).status_code == 200
    assert c.get("/hello", headers={"x-tenant": "t1"}).status_code == 429
    r = c.get("/hello")  # None: not limited, no fields
    assert r.status_code == 200 and "ratelimit" not in r.headers

    async def akey(scope):
        return "everyone"

    c, _ = make_app(limits="1/minute", key=akey)
    assert [c.get("/hello").status_code for _ in range(2)] == [200, 429]


def test_routes_and_excluded_paths():
    """Policies apply per resource: a route may have its own policies, none (no fields at
    all), or the defaults."""
    c, _ = make_app(limits="100/minute", routes={"POST /hello": "1/minute", "/api/*": ["2/minute"],
                                                 "/bad": None}, exclude=["/healthz"])
    assert [c.post("/hello").status_code for _ in range(2)] == [200, 429]
    assert c.get("/hello").status_code == 200  # GET falls to the default limits
    assert fields(c.get("/hello"))[0] == {"100-per-60s": {"q": 100, "w": 60}}
    assert [c.get(f"/api/{i}").status_code for i in range(3)] == [200, 200, 429]
    for path in ("/healthz", "/bad"):
        r = c.get(path)
        assert "ratelimit" not in r.headers and "ratelimit-policy" not in r.headers


def test_bad_configuration_is_refused():
    for kw in ({"limits": "ten per second"}, {"limits": ["1/s", "1/s"]}, {"limits": "1/s", "algorithm": "nope"},
               {"limits": "1/s", "routes": {"api": "1/s"}}, {"limits": "0/s"}, {"limits": "1/0s"},
               {"limits": "1/fortnight"}, {"key": 42}):
        with pytest.raises(InvalidParameterError):
            RateLimitMiddleware(hello, **kw)


def test_redis_store(redis_url):
    """The same behaviour with the limits kept in Redis (shared by every instance)."""
    clock = ManualClock(T0)
    c1, _ = make_app(limits="2/minute", store=redis_url, clock=clock)
    c2, _ = make_app(limits="2/minute", store=redis_url, clock=clock)
    assert c1.get("/hello").status_code == 200
    assert c2.get("/hello").status_code == 200
    r = c1.get("/hello")
    assert r.status_code == 429 and fields(r)[1]["2-per-60s"]["r"] == 0


def test_store_failure_is_503_or_open(own_redis):
    clock = ManualClock(T0)
    closed, _ = make_app(limits="5/minute", store=own_redis.url, clock=clock)
    open_, _ = make_app(limits="5/minute", store=own_redis.url, clock=clock, fail_open=True)
    assert closed.get("/hello").status_code == 200
    own_redis.proc.terminate()
    own_redis.proc.wait(5)
    r = closed.get("/hello")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"
    r = open_.get("/hello")
    assert r.status_code == 200 and "ratelimit" not in r.headers


def test_handler_decorator():
    clock = ManualClock(T0)

    @rate_limit("2/minute", clock=clock)
    async def endpoint(request):
        return PlainTextResponse("ok")

    c = TestClient(Starlette(routes=[Route("/x", endpoint)]))
    r = c.get("/x")
    assert r.status_code == 200 and fields(r)[1]["2-per-60s"]["r"] == 1
    assert c.get("/x").status_code == 200
    r = c.get("/x")
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert fields(r)[1]["2-per-60s"]["t"] == int(r.headers["retry-after"])


def test_plain_function_decorator_sync_and_async():
    clock = ManualClock(T0)

    @limited("2/minute", key=lambda user, amount: user, clock=clock)
    def pay(user, amount):
        return f"{user} paid {amount}"

    assert pay("ann", 1) == "ann paid 1" and pay("ann", 2) == "ann paid 2"
    with pytest.raises(RateLimitExceeded) as info:
        pay("ann", 3)
    assert 0 < info.value.retry_after <= 120 and not info.value.decision.allowed
    assert pay("bob", 1) == "bob paid 1"
    clock.advance(info.value.retry_after)
    assert pay("ann", 4) == "ann paid 4"

    import asyncio

    @limited("1/minute", clock=clock)
    async def fetch():
        return "data"

    assert asyncio.run(fetch()) == "data"
    with pytest.raises(RateLimitExceeded):
        asyncio.run(fetch())


def test_fastapi_one_line():
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()

    @app.get("/x")
    async def x():
        return {"ok": True}

    app.add_middleware(RateLimitMiddleware, limits="1/minute", clock=ManualClock(T0))
    c = TestClient(app)
    assert [c.get("/x").status_code for _ in range(2)] == [200, 429]
