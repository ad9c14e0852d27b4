"""Idempotency records in Redis (one server or a Cluster), claimed and completed by Lua scripts.

Each record is one hash under :func:`sysprims.backends.redis.key`
``namespace:v2:idem:{<scope>:<key>}`` (scope and key escaped, so the layout is
injective); the hash tag is the whole record name, so each record lives in one
Cluster slot and every script touches one key. Results are the bytes the
manager's serializer made (JSON by default; nothing is unpickled unless you
opt in with :class:`~sysprims.idempotency.PickleSerializer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._html import html_table
from ..errors import BackendError, InvalidParameterError
from ..idempotency.stores import Record

__all__ = ["RedisStore"]


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class RedisStore:
    """Redis: each key is one hash, claimed and completed by Lua scripts.

    The claim is atomic (``idempotency_begin.lua``) and carries an expiry both
    as a field checked against the caller's clock and as a native ``PEXPIRE``
    (a backstop, so a crashed client's claim disappears even if nobody calls
    ``cleanup``).
    """

    persistent = True

    def __init__(self, redis: Any, *, namespace: str = "sysprims", scope: str = "default"):
        from ..backends import redis as layer

        if not isinstance(namespace, str) or not namespace or "{" in namespace or "}" in namespace:
            raise InvalidParameterError(f"namespace must be a non-empty str without braces, got {namespace!r}")
        if not isinstance(scope, str) or not scope:
            raise InvalidParameterError(f"scope must be a non-empty str, got {scope!r}")
        self._layer = layer
        self._url = redis if isinstance(redis, str) else None
        self.client = layer.connect(redis)
        self.namespace = namespace
        self.scope = scope
        self._begin = layer.LuaScript("idempotency_begin.lua")
        self._complete = layer.LuaScript("idempotency_complete.lua")
        self._release = layer.LuaScript("idempotency_release.lua")
        self._expire = layer.LuaScript("idempotency_expire.lua")
        # 'ns:v2:idem:{<scope>:' - scope and key are escaped, so no other scope's keys start so
        self._prefix = layer.key(namespace, "idem", (scope, ""))[:-1]

    def _key(self, key: str) -> str:
        return self._layer.key(self.namespace, "idem", (self.scope, key))

    def _unkey(self, rkey: str) -> str:
        return self._layer.unescape(rkey[len(self._prefix) : -1])

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, int(seconds * 1000) + 1000)

    def begin(self, key: str, token: str, fingerprint: str | None, now: float, lock_expires_at: float):
        r = self._begin(self.client, [self._key(key)], [repr(now), token, fingerprint or "", repr(lock_expires_at), self._ms(lock_expires_at - now)])
        if len(r) == 1:
            return True, None
        return False, self._record(key, r)

    @staticmethod
    def _record(key: str, r: list[Any]) -> Record:
        fp = _s(r[1])
        payload = r[2] if isinstance(r[2], bytes) else _s(r[2]).encode("utf-8")
        completed = _s(r[4])
        return Record(key, _s(r[0]), fp or None, payload or None, float(_s(r[3])), float(completed) if completed else None, float(_s(r[5])))

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool:
        return bool(self._complete(self.client, [self._key(key)], [token, state, payload, repr(now), repr(expires_at), self._ms(expires_at - now)]))

    def release(self, key: str, token: str) -> bool:
        return bool(self._release(self.client, [self._key(key)], [token]))

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except self._layer.redis_errors() as exc:
            raise BackendError(f"Redis store failed: {exc}") from exc

    def _hget(self, rkey: str) -> list[Any]:
        return self._call(lambda: self.client.hmget(rkey, "state", "fp", "payload", "created", "completed", "exp"))

    def get(self, key: str, now: float) -> Record | None:
        r = self._hget(self._key(key))
        if r[0] is None or float(_s(r[5])) <= now:
            return None
        return self._record(key, [v if v is not None else b"" for v in r])

    def delete(self, key: str) -> bool:
        return bool(self._call(lambda: self.client.delete(self._key(key))))

    def _scan(self) -> list[str]:
        pattern = self._layer.scan_pattern(self._prefix)
        return [_s(k) for k in self._call(lambda: list(self.client.scan_iter(match=pattern, count=1000)))]

    def cleanup(self, now: float) -> int:
        keys = self._scan()
        if not keys:
            return 0

        def run() -> int:  # one key per call, pipelined per node: Cluster-safe
            return int(sum(self._expire.run_many(self.client, [([k], [repr(now)]) for k in keys])))

        return self._call(run)

    def clear(self) -> None:
        keys = self._scan()
        if keys:
            self._call(lambda: self.client.delete(*keys))

    def records(self, now: float) -> Iterator[Record]:
        for rk in self._scan():
            r = self._hget(rk)
            if r[0] is not None and float(_s(r[5])) > now:
                yield self._record(self._unkey(rk), [v if v is not None else b"" for v in r])

    def close(self) -> None:
        if self._url is not None:
            self.client.close()

    def __getstate__(self) -> dict[str, Any]:
        if self._url is None:
            raise BackendError("a RedisStore built from a client cannot be pickled; build it from a URL")
        return {"url": self._url, "namespace": self.namespace, "scope": self.scope}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], namespace=state["namespace"], scope=state["scope"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"RedisStore(namespace={self.namespace!r}, scope={self.scope!r})"

    def _repr_html_(self) -> str:
        return html_table("RedisStore", [("namespace", self.namespace), ("scope", self.scope)])
