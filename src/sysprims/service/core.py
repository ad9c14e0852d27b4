"""The shortener service without HTTP: composes the primitives.

:class:`ShortenerService` owns one link store (memory, SQLite or Redis) behind a
:class:`~sysprims.shortener.URLShortener`, an
:class:`~sysprims.idempotency.IdempotencyManager`, a per-client token bucket
(:class:`~sysprims.ratelimit.RateLimiter`), a scalable Bloom filter of taken
aliases and a Count-Min top-K tracker of clicks. The Starlette layer
(:mod:`sysprims.service.app`) only turns requests into calls of its methods and
their results or :class:`~sysprims.service.validation.ApiError` into responses.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

from ..backends.registry import engine
from ..bloom import ScalableBloomFilter
from ..clock import resolve_clock
from ..countmin import TrendingTopK
from ..errors import (
    AliasTakenError,
    BackendError,
    CapacityError,
    IdempotencyKeyMismatch,
    InvalidParameterError,
    RequestInProgress,
)
from ..idempotency import IdempotencyManager, InvalidIdempotencyKey, check_idempotency_key
from ..ratelimit import Decision, RateLimiter
from ..shortener import LinkInfo, MemoryLinkStore, URLShortener
from .links import LinkRegistry
from .settings import ServiceSettings, store_kind
from .validation import CODE_RE, ApiError, LinkRequest

__all__ = ["MachineLease", "ShortenerService"]

log = logging.getLogger("sysprims.service")

_RENEW_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1
end
if not holder then  -- expired or lost in a Redis restart: nobody took it, take it back
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class MachineLease:
    """A Snowflake machine id leased from Redis, distinct among live instances.

    ``SET key token NX PX ttl`` on ``<namespace>:v2:machine:{<service>}:<id>`` for the
    first free id (starting after a shared counter, so restarts spread over the
    ids); renewed every ``ttl/3`` by a daemon thread with a compare-and-expire
    script (which takes the id back if its key vanished, e.g. after a Redis
    restart, and nobody else took it), stopped and released on :meth:`close`. If a renewal finds the id taken over (the
    instance stalled longer than ``ttl``), the loss is logged: codes stay unique
    anyway, because the store refuses a taken code and the shortener draws a new ID.
    """

    def __init__(self, client: Any, namespace: str, service: str, ttl: float = 60.0, ids: int = 1024):
        from ..backends.redis import LuaScript, key, redis_errors

        self.client = client
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.token = uuid.uuid4().hex
        self._key = lambda mid: key(namespace, "machine", service, str(mid))  # noqa: E731
        self._renew = LuaScript("service_machine_renew.lua", _RENEW_LUA)
        self._release = LuaScript("service_machine_release.lua", _RELEASE_LUA)
        self.lost = False
        try:
            start = int(client.incr(key(namespace, "machine", service, "next")))
            for i in range(ids):
                mid = (start + i) % ids
                if client.set(self._key(mid), self.token, nx=True, px=self.ttl_ms):
                    self.machine_id = mid
                    break
            else:
                raise CapacityError(f"all {ids} Snowflake machine ids of service {service!r} are leased")
        except redis_errors() as exc:
            raise BackendError(f"cannot lease a machine id from Redis: {exc}") from exc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sysprims-lease-{self.machine_id}", daemon=True)
        self._thread.start()

    def renew(self) -> bool:
        ok = bool(self._renew(self.client, [self._key(self.machine_id)], [self.token, self.ttl_ms]))
        if not ok and not self.lost:
            self.lost = True
            log.error("Snowflake machine id %d lease was lost (another instance may use it)", self.machine_id)
        return ok

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                self.renew()
            except Exception as exc:  # keep renewing through Redis hiccups
                log.warning("machine id lease renewal failed: %s", exc)

    def close(self, join_timeout: float = 10.0) -> None:
        """Stop renewing, then give the id back. The renewal thread is joined first
        (for at most ``join_timeout`` s, a renewal stuck on a hung Redis): a renewal
        running after the release would find the key gone and take the id back."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(join_timeout)
        try:
            self._release(self.client, [self._key(self.machine_id)], [self.token])
        except Exception:  # pragma: no cover - best effort on shutdown
            pass

    def __repr__(self) -> str:
        return f"MachineLease(machine_id={self.machine_id}, ttl_ms={self.ttl_ms}, lost={self.lost})"


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ShortenerService:
    """The URL shortener service: links, limits, idempotency, aliases, trending.

    ``store``: ``None``/``"memory"``, a ``sqlite:///path.db`` URL or path, or a
    ``redis://`` URL. With Redis every instance shares links, click counts,
    rate limits and idempotency records, and leases its own Snowflake machine id.
    """

    def __init__(self, store: Any = None, *, settings: ServiceSettings | None = None, clock: Any = None):
        self.settings = s = settings if settings is not None else ServiceSettings()
        self._closed = False
        self._on_close: list[Any] = []
        self.clock = resolve_clock(clock)
        self.kind = store_kind(store)
        self.lease: MachineLease | None = None
        self.redis = None
        self.strategy = s.strategy_for(self.kind)
        machine_id = s.machine_id
        if self.kind == "redis":
            from ..backends.redis import connect

            if not isinstance(store, str):
                raise InvalidParameterError("the service needs Redis as a redis:// URL (its rate limiter opens its own client)")
            self.redis = connect(store)
            link_store: Any = engine("shortener", "redis")(self.redis, name=s.service_name, namespace=s.namespace)
            if self.strategy == "snowflake" and machine_id is None:
                self.lease = MachineLease(self.redis, s.namespace, s.service_name, s.machine_lease_seconds)
                machine_id = self.lease.machine_id
            idem_store: Any = _idem_redis(self.redis, s)
        elif self.kind == "sqlite":
            link_store = engine("shortener", "sqlite")(os.fspath(store), table=s.service_name.replace("-", "_"))
            path = link_store.path
            idem_store = None if path == ":memory:" else _idem_sqlite(path, s)
        else:
            link_store = MemoryLinkStore()
            idem_store = None
        if self.strategy == "snowflake" and machine_id is None:
            machine_id = 0
        self.machine_id = machine_id
        try:
            self._compose(s, store, link_store, idem_store, machine_id, clock)
        except BaseException:
            if self.lease is not None:
                self.lease.close()
            raise

    def _compose(self, s: ServiceSettings, store: Any, link_store: Any, idem_store: Any, machine_id: int | None,
                 clock: Any) -> None:
        self.shortener = URLShortener(
            link_store,
            strategy=self.strategy,
            clock=self.clock,
            code_length=s.code_length,
            secret=s.secret,
            max_url_length=s.max_url_length,
            machine_id=machine_id,
        )
        self.store = link_store
        self.registry = LinkRegistry(
            self.kind, path=getattr(link_store, "path", None), table=s.service_name.replace("-", "_"),
            client=self.redis, namespace=s.namespace, name=s.service_name, flush_every=s.trending_flush)
        self.idempotency = IdempotencyManager(
            store=idem_store, ttl=s.idempotency_ttl, lock_ttl=s.idempotency_lock_ttl, clock=clock
        )
        self.limiter: RateLimiter | None = None
        if s.rate_capacity > 0:
            if self.kind == "redis":
                self.limiter = RateLimiter(
                    "token_bucket", capacity=s.rate_capacity, refill_rate=s.rate_refill, clock=clock,
                    backend=store, backend_options={"namespace": f"{s.namespace}-{s.service_name}"},
                )
            else:
                self.limiter = RateLimiter("token_bucket", capacity=s.rate_capacity, refill_rate=s.rate_refill,
                                           clock=clock)
        self.aliases = ScalableBloomFilter(s.alias_capacity, s.alias_false_positive_rate)
        self._alias_lock = threading.Lock()
        self._trend_lock = threading.Lock()
        # trending = the last two buckets of trending_window seconds (sliding by bucket),
        # with a baseline of the ten before for rising links
        self._trending = TrendingTopK(s.trending_k, s.trending_width, s.trending_depth,
                                      interval=s.trending_window, window=2, history=12)
        self._trend_buffer: list[str] = []
        self._trend_times: list[float] = []
        # load the jitted kernels now, not in the middle of the first busy second
        TrendingTopK(1, 16, 1, window=1, history=2).update_many(["warm-up"], [0.0])
        self._stats_lock = threading.Lock()
        self.stats = {"created": 0, "redirects": 0, "not_found": 0, "rate_limited": 0, "replayed": 0,
                      "alias_bloom_negative": 0, "alias_bloom_positive": 0, "alias_bloom_false_positive": 0}

    def _bump(self, name: str) -> None:
        with self._stats_lock:
            self.stats[name] += 1

    # ------------------------------------------------------------ clients
    def client_id(self, api_key: str | None, address: str | None, forwarded: str | None = None) -> str:
        """Who a request is limited as: ``key:<api key>`` or ``ip:<address>``."""
        keys = self.settings.api_keys
        if keys is not None and api_key is not None:
            if api_key not in keys:
                raise ApiError(401, "invalid_api_key", "the X-API-Key header does not name a known API key")
            return "key:" + api_key
        if self.settings.trust_forwarded and forwarded:
            # the right-most entry is the one your proxy added; entries left of it
            # come from the client and could be anything
            address = forwarded.split(",")[-1].strip() or address
        return "ip:" + (address or "unknown")

    def check_rate(self, client: str) -> dict[str, str]:
        """The RateLimit headers for one request of ``client``; 429 :class:`ApiError` when over."""
        if self.limiter is None:
            return {}
        try:
            decision: Decision = self.limiter.decide(client)
        except BackendError as exc:
            raise ApiError(503, "backend_unavailable", f"the rate limiter's store is unavailable: {exc}") from None
        headers = decision.headers()
        if not decision.allowed:
            self._bump("rate_limited")
            raise ApiError(
                429, "rate_limited",
                f"too many requests: the limit is {self.settings.rate_capacity:g} requests in a burst, refilled at "
                f"{self.settings.rate_refill:g} per second; retry after {headers.get('Retry-After', '?')} s",
                headers,
            )
        return headers

    # ------------------------------------------------------------ links
    def create_link(self, client: str, request: LinkRequest, idempotency_key: str | None,
                    base_url: str) -> dict[str, Any]:
        """``{"status", "body", "headers"}`` of ``POST /api/links`` (replayed for a known key)."""
        if idempotency_key is None:
            return self._create(request, base_url)
        try:
            check_idempotency_key(idempotency_key)
        except InvalidIdempotencyKey as exc:
            raise ApiError(400, "invalid_idempotency_key", str(exc)) from None
        scoped = self.scoped_idempotency_key(client, idempotency_key)
        try:
            claim = self.idempotency.claim(scoped, fingerprint=request.canonical(), wait=0)
        except IdempotencyKeyMismatch:
            raise ApiError(422, "idempotency_key_reused",
                           "this Idempotency-Key was already used with a different request body") from None
        except RequestInProgress:
            raise ApiError(409, "request_in_progress",
                           "a request with this Idempotency-Key is still being processed; retry later",
                           {"Retry-After": "1"}) from None
        except BackendError as exc:
            raise ApiError(503, "backend_unavailable", f"the idempotency store is unavailable: {exc}") from None
        if claim.replayed:
            self._bump("replayed")
            out = dict(claim.outcome.result)  # type: ignore[union-attr]  # replayed: outcome is set
            out["headers"] = {**out.get("headers", {}), "Idempotent-Replayed": "true"}
            return out
        try:
            result = self._create(request, base_url)
        except BaseException:
            claim.release()  # errors are not cached: a retry runs again
            raise
        try:
            claim.complete(result)
        except BackendError as exc:  # the link exists: answer it; a retry may create a second one
            log.warning("could not store the idempotent response for a created link: %s", exc)
        return result

    @staticmethod
    def scoped_idempotency_key(client: str, idempotency_key: str) -> str:
        """The key stored for a client's ``Idempotency-Key``: keys are scoped per client,
        so one client can never replay (or block) another's request."""
        return "c-" + hashlib.sha256(f"{client}\0{idempotency_key}".encode()).hexdigest()

    def _alias_seen_taken(self, alias: str) -> bool:
        """Bloom filter first: a negative answer skips the store read entirely."""
        with self._alias_lock:
            maybe = alias in self.aliases
        if not maybe:
            self._bump("alias_bloom_negative")
            return False
        self._bump("alias_bloom_positive")
        taken = self.store.info(alias, self.shortener._now_ms()) is not None
        if not taken:
            self._bump("alias_bloom_false_positive")
        return taken

    def _create(self, req: LinkRequest, base_url: str) -> dict[str, Any]:
        alias = req.alias
        if alias is not None and self._alias_seen_taken(alias):
            raise ApiError(409, "alias_taken", f"the alias {alias!r} is already taken")
        try:
            code = self.shortener.shorten(req.url, alias=alias, ttl=req.ttl_seconds)
        except AliasTakenError:
            with self._alias_lock:
                self.aliases.add(alias)
            raise ApiError(409, "alias_taken", f"the alias {alias!r} is already taken") from None
        except InvalidParameterError as exc:
            raise ApiError(400, "invalid_alias" if alias is not None else "invalid_request", str(exc)) from None
        except CapacityError as exc:
            raise ApiError(503, "no_free_code", str(exc)) from None
        if alias is not None:
            with self._alias_lock:
                self.aliases.add(alias)
        info = self.store.info(code, self.shortener._now_ms())
        if info is None:  # expired or deleted in between (a tiny ttl): describe what was stored
            now = self.shortener._now_ms()
            info = LinkInfo(code, req.url, "alias" if alias else self.strategy, now, None, 0)
        self._bump("created")
        self.registry.added(info.code, info.url, info.strategy, info.created_ms, info.expires_ms)
        body = self.link_body(info, base_url)
        return {"status": 201, "body": body, "headers": {"Location": body["short_url"]}}

    def link_body(self, info: LinkInfo, base_url: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON of a link; ``meta`` (the registry's record) adds the clicks it had
        before its target changed and whether it is disabled."""
        base = (self.settings.base_url or base_url).rstrip("/")
        return {
            "code": info.code,
            "url": info.url,
            "short_url": f"{base}/{info.code}",
            "created_at": _iso(info.created_ms),
            "expires_at": _iso(info.expires_ms),
            "clicks": info.clicks + (meta["offset"] if meta else 0),
            "strategy": info.strategy,
            "disabled": bool(meta and meta["disabled"]),
        }

    def resolve(self, code: str, count: bool = True) -> str | None:
        """The URL behind a live code (one click counted, exactly in the store and in
        the trending sketch), else None."""
        if CODE_RE.fullmatch(code) is None:
            self._bump("not_found")
            return None
        url = self.shortener.click(code) if count else self.shortener.expand(code)
        if url is None:
            self._bump("not_found")
            return None
        if count and self._clicked(code):
            self.registry.flush()
        return url

    async def aresolve(self, resolver: Any, code: str) -> str | None:
        """:meth:`resolve` of a counted redirect with the store call awaited on
        ``resolver`` (:class:`~sysprims.backends.aio_links.AsyncLinkResolver` or
        :class:`~sysprims.backends.aio_links.SQLiteLinkResolver`); the
        click buckets' periodic write runs in a worker thread."""
        if CODE_RE.fullmatch(code) is None:
            self._bump("not_found")
            return None
        url = await resolver.resolve(code, self.shortener._now_ms(), True)
        if url is None:
            self._bump("not_found")
            return None
        if self._clicked(code):
            from ..asgi._common import run_blocking

            await run_blocking(self.registry.flush)
        return url

    def _clicked(self, code: str) -> bool:
        """Count a click beyond the store (stats, per-minute buckets, trending); True
        when the buckets are due to be written (:meth:`LinkRegistry.flush`)."""
        self._bump("redirects")
        now = self.clock.time()
        due = self.registry.clicked(code, now, flush=False)
        with self._trend_lock:
            self._trend_buffer.append(code)
            self._trend_times.append(now)
            if len(self._trend_buffer) >= self.settings.trending_flush:
                self._flush_trending()
        return due

    def link_info(self, code: str, base_url: str) -> dict[str, Any]:
        from .editing import describe

        return describe(self, code, base_url)

    def top(self, k: int, base_url: str) -> list[dict[str, Any]]:
        """The ``k`` most clicked live links, exact counts from the store."""
        return [self.link_body(info, base_url) for info in self.shortener.top(k)]

    # ------------------------------------------------------------ trending
    def _flush_trending(self) -> None:
        """Caller holds ``_trend_lock``: count the buffered clicks at their times in one batch."""
        if self._trend_buffer:
            self._trending.update_many(self._trend_buffer, self._trend_times)
            self._trend_buffer, self._trend_times = [], []

    def trending(self, k: int) -> list[dict[str, Any]]:
        """Codes clicked most on this instance in the current and previous
        ``trending_window``, estimated by the sliding-window Count-Min tracker
        (never below the true count of those windows)."""
        with self._trend_lock:
            self._flush_trending()
            self._trending.advance(self.clock.time())
            rows = self._trending.top(min(k, self._trending.capacity))
        return [{"code": code if isinstance(code, str) else bytes(code).decode(), "estimated_clicks": int(n)}
                for code, n in rows]

    # ------------------------------------------------------------ housekeeping
    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "store": self.kind,
            "strategy": self.strategy,
            "machine_id": self.machine_id,
            "redirect_status": s.redirect_status,
            "rate_limit": None if self.limiter is None else {"capacity": s.rate_capacity, "refill_per_second": s.rate_refill},
            "links": len(self.store),
            "stats": self._stats_snapshot(),
            "alias_filter": {"aliases": self.aliases.count, "bytes": self.aliases.nbytes},
        }

    def _stats_snapshot(self) -> dict[str, int]:
        with self._stats_lock:
            return dict(self.stats)

    def on_close(self, fn: Any) -> None:
        """Call ``fn()`` first when the service closes (a resolver's own connection)."""
        self._on_close.append(fn)

    def close(self) -> None:
        """Release the machine-id lease and close every store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for fn in self._on_close:
            fn()
        if self.lease is not None:
            self.lease.close()
            self.lease = None
        backend = getattr(self.limiter, "backend", None) if self.limiter is not None else None
        if backend is not None and hasattr(backend, "close"):
            backend.close()
        self.idempotency.close()
        self.registry.close()
        self.shortener.close()

    def __repr__(self) -> str:
        return (f"ShortenerService(store={self.kind}, strategy={self.strategy!r}, machine_id={self.machine_id}, "
                f"links={len(self.store)})")


def _idem_sqlite(path: str, s: ServiceSettings) -> Any:
    return engine("idempotency", "sqlite")(path, table=f"{s.service_name.replace('-', '_')}_idempotency")


def _idem_redis(client: Any, s: ServiceSettings) -> Any:
    return engine("idempotency", "redis")(client, namespace=s.namespace, scope=s.service_name)
