"""IdempotencyMiddleware against draft-ietf-httpapi-idempotency-key-header.

Each test's docstring says, in our words, the draft requirement it checks."""

from __future__ import annotations

import asyncio
import json
import warnings

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from sysprims.asgi import (  # noqa: E402
    IdempotencyMiddleware,
    RateLimitMiddleware,
    idempotent,
    idempotent_handler,
    parse_key_header,
)
from sysprims.clock import ManualClock  # noqa: E402
from sysprims.errors import IdempotencyKeyMismatch, InvalidParameterError, RequestInProgress  # noqa: E402
from sysprims.idempotency import IdempotencyManager  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

T0 = 1_700_000_000.0


class Orders:
    """A tiny app whose POST creates an order (counted) and whose failures are switchable."""

    def __init__(self):
        self.created = 0
        self.fail_next = False
        self.gate: asyncio.Event | None = None

    async def create(self, request):
        if self.gate is not None:
            await self.gate.wait()
        body = await request.json()
        if self.fail_next:
            self.fail_next = False
            return JSONResponse({"error": "database down"}, status_code=503)
        if body.get("qty", 1) <= 0:
            return JSONResponse({"error": "qty must be positive"}, status_code=400)
        self.created += 1
        return JSONResponse({"order": self.created, **body}, status_code=201,
                            headers={"Location": f"/orders/{self.created}", "X-Trace": f"t{self.created}"})

    async def read(self, request):
        return JSONResponse({"created": self.created})


def make(**kw):
    orders = Orders()
    app = Starlette(routes=[Route("/orders", orders.create, methods=["POST", "PATCH"]),
                            Route("/orders", orders.read, methods=["GET"]),
                            Route("/other", orders.create, methods=["POST"])])
    kw.setdefault("clock", ManualClock(T0))
    app.add_middleware(IdempotencyMiddleware, **kw)  # the one line
    return app, orders, TestClient(app)


def assert_problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_retry_replays_status_headers_and_body():
    """A retried request with the same key and the same payload gets the outcome of the
    first one (status, headers, body) instead of running again."""
    app, orders, c = make()
    h = {"Idempotency-Key": "order-1"}
    r1 = c.post("/orders", json={"item": "tea"}, headers=h)
    r2 = c.post("/orders", json={"item": "tea"}, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.content == r2.content and r2.json() == {"order": 1, "item": "tea"}
    assert r2.headers["location"] == r1.headers["location"] == "/orders/1"
    assert r2.headers["x-trace"] == "t1"
    assert "idempotent-replayed" not in r1.headers and r2.headers["idempotent-replayed"] == "true"
    assert orders.created == 1
    # no key: no idempotency
    c.post("/orders", json={"item": "tea"})
    assert orders.created == 2


def test_the_key_may_be_an_sf_string():
    """The draft's field is an Item whose value is a String (``"8e03978e-..."``); the bare
    value most APIs use is accepted too and names the same key."""
    assert parse_key_header('"8e03978e-40d5"') == parse_key_header("8e03978e-40d5") == "8e03978e-40d5"
    assert parse_key_header(r'"a\"b"') == 'a"b'
    with pytest.raises(InvalidParameterError):
        parse_key_header(r'"a\qb"')
    app, orders, c = make()
    c.post("/orders", json={"item": "x"}, headers={"Idempotency-Key": '"k-7"'})
    r = c.post("/orders", json={"item": "x"}, headers={"Idempotency-Key": "k-7"})
    assert r.headers["idempotent-replayed"] == "true" and orders.created == 1


def test_reuse_with_another_payload_is_422():
    """Reusing a key with a different request payload is answered 422 with a problem
    document (the fingerprint covers method, path and body)."""
    app, orders, c = make()
    h = {"Idempotency-Key": "k"}
    assert c.post("/orders", json={"item": "a"}, headers=h).status_code == 201
    assert_problem(c.post("/orders", json={"item": "b"}, headers=h), 422)
    assert_problem(c.post("/other", json={"item": "a"}, headers=h), 422)
    assert_problem(c.patch("/orders", json={"item": "a"}, headers=h), 422)
    assert_problem(c.post("/orders?dry=1", json={"item": "a"}, headers=h), 422)
    assert orders.created == 1


def test_concurrent_retry_is_409_while_the_first_runs():
    """A request whose key is still being processed is answered 409 Conflict; once the
    first one finished, a retry gets its result."""
    app, orders, _ = make()

    async def scenario():
        orders.gate = asyncio.Event()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            h = {"Idempotency-Key": "slow"}
            first = asyncio.create_task(client.post("/orders", json={"item": "a"}, headers=h))
            for _ in range(20):  # let the first request claim the key
                await asyncio.sleep(0)
            second = await client.post("/orders", json={"item": "a"}, headers=h)
            orders.gate.set()
            done = await first
            third = await client.post("/orders", json={"item": "a"}, headers=h)
            return second, done, third

    second, done, third = asyncio.run(scenario())
    body = assert_problem(second, 409)
    assert "retry" in body["detail"] and second.headers["retry-after"] == "1"
    assert done.status_code == 201 and third.headers["idempotent-replayed"] == "true"
    assert third.json() == done.json() and orders.created == 1


def test_missing_key_is_400_when_required():
    """For an operation documented to need the key, a request without it is a 400 whose
    problem document (and Link) points at the documentation."""
    app, orders, c = make(required=True)
    r = c.post("/orders", json={"item": "a"})
    assert_problem(r, 400)
    assert 'rel="describedby"' in r.headers["link"]
    assert c.get("/orders").status_code == 200  # GET is not guarded
    assert orders.created == 0


def test_invalid_or_repeated_key_fields_are_400():
    """The field is a single Item (one String): a value that is not a valid key, or two
    field lines, is a client error (400), never silently one of them."""
    app, orders, c = make()
    assert_problem(c.post("/orders", json={}, headers={"Idempotency-Key": "x" * 300}), 400)
    r = c.post("/orders", json={}, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
    assert_problem(r, 400)
    assert orders.created == 0


def test_keys_are_scoped_per_client():
    """One client's key never replays, or blocks, another client's request."""
    app, orders, c = make(key="header:X-API-Key")
    h = {"Idempotency-Key": "same"}
    a = c.post("/orders", json={"item": "a"}, headers={**h, "X-API-Key": "alice"})
    b = c.post("/orders", json={"item": "a"}, headers={**h, "X-API-Key": "bob"})
    assert a.json()["order"] == 1 and b.json()["order"] == 2 and "idempotent-replayed" not in b.headers
    # and a different body under bob's key is bob's problem only
    assert_problem(c.post("/orders", json={"item": "z"}, headers={**h, "X-API-Key": "bob"}), 422)


def test_server_errors_are_not_stored_client_errors_are():
    """A 5xx is not the request's final answer: the key is released and a retry runs;
    a 4xx for the same payload is, and is replayed."""
    app, orders, c = make()
    orders.fail_next = True
    h = {"Idempotency-Key": "e"}
    assert c.post("/orders", json={"item": "a"}, headers=h).status_code == 503
    r = c.post("/orders", json={"item": "a"}, headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    h = {"Idempotency-Key": "bad"}
    assert c.post("/orders", json={"qty": 0}, headers=h).status_code == 400
    r = c.post("/orders", json={"qty": 0}, headers=h)
    assert r.status_code == 400 and r.headers["idempotent-replayed"] == "true"


def test_records_expire_with_the_ttl():
    """A key is valid for a limited time (the server's expiry policy): after it, the same
    key starts a new request."""
    clock = ManualClock(T0)
    app, orders, c = make(ttl=60, clock=clock)
    h = {"Idempotency-Key": "t"}
    c.post("/orders", json={"item": "a"}, headers=h)
    clock.advance(59)
    assert c.post("/orders", json={"item": "a"}, headers=h).headers.get("idempotent-replayed") == "true"
    clock.advance(2)
    assert "idempotent-replayed" not in c.post("/orders", json={"item": "a"}, headers=h).headers
    assert orders.created == 2


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_persistent_store_replays_across_instances(kind, tmp_path, request):
    """A persistent store keeps the outcome for every worker sharing it."""
    url = f"sqlite:///{tmp_path / 'idem.db'}" if kind == "sqlite" else request.getfixturevalue("redis_url")
    clock = ManualClock(T0)
    _, o1, c1 = make(store=url, clock=clock)
    _, o2, c2 = make(store=url, clock=clock)
    h = {"Idempotency-Key": "shared"}
    r1 = c1.post("/orders", json={"item": "a"}, headers=h)
    r2 = c2.post("/orders", json={"item": "a"}, headers=h)
    assert r1.content == r2.content and r2.headers["idempotent-replayed"] == "true"
    assert (o1.created, o2.created) == (1, 0)
    assert_problem(c2.post("/orders", json={"item": "b"}, headers=h), 422)


def test_under_the_rate_limiter_replays_get_fresh_fields():
    """Stored responses never replay stale RateLimit fields: the limiter outside adds the
    current ones to every answer."""
    orders = Orders()
    app = Starlette(routes=[Route("/orders", orders.create, methods=["POST"])])
    clock = ManualClock(T0)
    app.add_middleware(IdempotencyMiddleware, clock=clock)
    app.add_middleware(RateLimitMiddleware, limits="10/minute", clock=clock)
    c = TestClient(app)
    h = {"Idempotency-Key": "rl"}
    r1 = c.post("/orders", json={"item": "a"}, headers=h)
    r2 = c.post("/orders", json={"item": "a"}, headers=h)
    assert '"10-per-60s";r=9;' in r1.headers["ratelimit"]
    assert '"10-per-60s";r=8;' in r2.headers["ratelimit"] and r2.headers.get_list("ratelimit") == [r2.headers["ratelimit"]]


def test_plain_function_decorator_sync_and_async():
    clock = ManualClock(T0)
    manager = IdempotencyManager(clock=clock)
    calls = []

    @idempotent(manager, key=lambda payment_id, amount: payment_id)
    def charge(payment_id, amount):
        calls.append(amount)
        return {"charged": amount}

    assert charge("p1", 5) == {"charged": 5}
    assert charge("p1", 5) == {"charged": 5}
    assert calls == [5]
    with pytest.raises(IdempotencyKeyMismatch):
        charge("p1", 6)

    @idempotent(manager, key=lambda job: job)
    async def run(job):
        calls.append(job)
        if job == "wait":
            await asyncio.sleep(0)
        return job.upper()

    async def both():
        return await run("a"), await run("a")

    assert asyncio.run(both()) == ("A", "A") and calls == [5, "a"]

    async def overlap():
        first = asyncio.create_task(run("wait"))
        await asyncio.sleep(0)  # the first call holds its claim across its await
        with pytest.raises(RequestInProgress):
            await run("wait")
        return await first

    assert asyncio.run(overlap()) == "WAIT"


def test_body_limits():
    """The payload is read to fingerprint it, so its size is bounded (413 beyond)."""
    app, orders, c = make(max_body_bytes=64)
    r = c.post("/orders", content=json.dumps({"item": "x" * 100}), headers={"Idempotency-Key": "big"})
    assert_problem(r, 413)
    assert orders.created == 0


def test_handler_decorator():
    """One handler with the middleware's behaviour: replay, 422 on another payload, 400
    when the key is required and missing."""
    created = []

    @idempotent_handler(clock=ManualClock(T0), required=True)
    async def pay(request):
        body = await request.json()
        created.append(body)
        return JSONResponse({"paid": body["amount"], "n": len(created)}, status_code=201, headers={"X-Id": "p1"})

    c = TestClient(Starlette(routes=[Route("/pay", pay, methods=["POST"])]))
    h = {"Idempotency-Key": "pay-1"}
    r1 = c.post("/pay", json={"amount": 5}, headers=h)
    r2 = c.post("/pay", json={"amount": 5}, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json() == {"paid": 5, "n": 1}
    assert r2.headers["idempotent-replayed"] == "true" and r2.headers["x-id"] == "p1"
    assert_problem(c.post("/pay", json={"amount": 6}, headers=h), 422)
    assert_problem(c.post("/pay", json={"amount": 6}), 400)
    assert len(created) == 1


@pytest.mark.parametrize("status,stored", [(201, "done"), (503, None)])
def test_the_response_ends_only_after_its_outcome_is_settled(status, stored):
    """A client may retry the moment it has the response: by then the first request's
    outcome must be stored (a replay, not a 409 "in progress"), or released (a rerun)."""
    from sysprims.asgi.idempotency import scoped_key

    manager = IdempotencyManager(clock=ManualClock(T0))

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"part ", "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    mw = IdempotencyMiddleware(app, manager)
    scope = {"type": "http", "method": "POST", "path": "/x", "query_string": b"", "client": ("10.0.0.1", 1),
             "headers": [(b"idempotency-key", b"k1")]}
    seen = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body":
            seen.append((message.get("body"), manager.status(scoped_key("ip:10.0.0.1", "k1"))))

    asyncio.run(mw(scope, receive, send))
    assert seen == [(b"part ", "running"), (b"end", stored)]


def test_fingerprint_is_sha256_of_length_prefixed_parts():
    """Stored fingerprints outlive a release: the digest is pinned to its definition
    (SHA-256 over method, path, query and body, each after its 8-byte little-endian length)."""
    import hashlib
    import struct

    from sysprims.asgi import fingerprint_request

    for method, path, query, body in [("POST", "/api/links", b"", b'{"url": "x"}'), ("PATCH", "/a/\udcff", b"q=1", b""),
                                      ("POST", "/", b"", bytes(range(256)) * 100)]:
        want = hashlib.sha256()
        for part in (method.encode(), path.encode("utf-8", "surrogateescape"), query, body):
            want.update(struct.pack("<Q", len(part)) + part)
        assert fingerprint_request(method, path, query, body) == want.hexdigest()
