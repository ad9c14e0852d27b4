"""SQLite redirects on the event loop, and in a worker thread only while the database
is locked: a real second connection holds the write lock."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

pytest.importorskip("starlette")

from sysprims.backends.aio_links import SQLiteLinkResolver, sqlite_locked  # noqa: E402
from sysprims.backends.shortener_sqlite import SQLiteLinkStore  # noqa: E402
from sysprims.clock import ManualClock  # noqa: E402
from sysprims.errors import BackendError, InvalidParameterError  # noqa: E402
from sysprims.service import create_app  # noqa: E402
from sysprims.service.validation import LinkRequest  # noqa: E402

T0 = 1_700_000_000.0


async def asgi(app, method, path):
    """One in-process ASGI request on the running loop: (status, headers dict, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5), "server": ("testserver", 80)}
    got: dict = {"body": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            got["status"], got["headers"] = message["status"], dict(message["headers"])
        elif message["type"] == "http.response.body":
            got["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return got["status"], got["headers"], got["body"]


@pytest.fixture
def shortener(tmp_path):
    app = create_app(f"sqlite:///{tmp_path}/links.db", clock=ManualClock(T0), rate_capacity=0)
    svc = app.state.service
    code = svc.create_link("ip:t", LinkRequest("https://example.com/x", None, None), None, "http://t/")["body"]["code"]
    yield app, svc, code, str(tmp_path / "links.db")
    svc.close()


def clicks(svc, code):
    return svc.store.info(code, svc.shortener._now_ms()).clicks


def test_redirects_run_inline_and_count_once(shortener):
    app, svc, code, _ = shortener
    resolver = app.state.redirect_resolver
    assert isinstance(resolver, SQLiteLinkResolver)

    async def main():
        return [await asgi(app, "GET", f"/{code}") for _ in range(3)]

    for status, headers, _ in asyncio.run(main()):
        assert status == 302 and headers[b"location"] == b"https://example.com/x"
    assert clicks(svc, code) == 3 and svc._stats_snapshot()["redirects"] == 3
    assert (resolver.inline, resolver.offloaded) == (3, 0)
    assert asyncio.run(asgi(app, "GET", "/nosuchcode"))[0] == 404
    # the loop's connection never waits for a lock
    assert resolver._fast._db.run(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 0


def test_a_locked_database_moves_the_click_to_a_thread_and_the_loop_keeps_serving(shortener):
    """A second connection holds the write lock: the redirect waits in a worker thread
    while the loop answers other requests; once the lock is released the redirect
    completes and its click is counted exactly once."""
    app, svc, code, path = shortener
    resolver = app.state.redirect_resolver
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(f"UPDATE {svc.store.table}_links SET clicks = clicks WHERE code = ?", (code,))

    first_done = []

    async def run():
        first = asyncio.ensure_future(asgi(app, "GET", f"/{code}"))
        await asyncio.sleep(0)  # the redirect starts, finds the lock and goes to a thread
        health = await asgi(app, "GET", "/healthz")
        assert health[0] == 200 and not first.done()  # the loop served while the click waits
        assert (resolver.inline, resolver.offloaded) == (0, 1)
        holder.execute("COMMIT")
        first_done.append(await first)
        holder.execute("BEGIN IMMEDIATE")  # again, released by a rollback this time
        second = asyncio.ensure_future(asgi(app, "GET", f"/{code}"))
        await asyncio.sleep(0)
        assert (await asgi(app, "GET", "/healthz"))[0] == 200 and not second.done()
        assert resolver.offloaded == 2
        holder.execute("ROLLBACK")
        return await second

    status, headers, _ = asyncio.run(run())
    assert first_done[0][0] == 302 and status == 302 and headers[b"location"] == b"https://example.com/x"
    assert clicks(svc, code) == 2 and svc._stats_snapshot()["redirects"] == 2  # nothing lost, nothing twice
    before = resolver.inline
    assert asyncio.run(asgi(app, "GET", f"/{code}"))[0] == 302
    assert resolver.inline == before + 1 and clicks(svc, code) == 3  # unlocked: inline again
    holder.close()


def test_sqlite_locked_tells_a_lock_from_other_errors(tmp_path):
    path = str(tmp_path / "l.db")
    store = SQLiteLinkStore(path, timeout=0)
    store.create("abc", "https://e.com/", "alias", 0, None, 0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(BackendError) as locked:
        store.resolve("abc", 0, True)
    assert sqlite_locked(locked.value)
    holder.execute("ROLLBACK")
    holder.execute(f"DROP TABLE {store.table}_links")
    with pytest.raises(BackendError) as other:
        store.resolve("abc", 0, True)
    assert not sqlite_locked(other.value)
    assert not sqlite_locked(BackendError("Redis is unavailable"))
    holder.close()
    store.close()


def test_other_store_errors_are_the_apps_503(shortener):
    app, svc, code, path = shortener
    asyncio.run(asgi(app, "GET", f"/{code}"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute(f"DROP TABLE {svc.store.table}_links")
    holder.close()
    status, headers, body = asyncio.run(asgi(app, "GET", f"/{code}"))
    assert status == 503 and headers[b"content-type"] == b"application/problem+json"
    assert app.state.redirect_resolver.offloaded == 0


def test_memory_sqlite_is_refused():
    with pytest.raises(InvalidParameterError, match="file"):
        SQLiteLinkResolver(SQLiteLinkStore(":memory:"))
