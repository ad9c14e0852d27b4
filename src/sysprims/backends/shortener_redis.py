"""The URL shortener's links in Redis (one server or a Cluster): a
:class:`sysprims.shortener.LinkStore`.

One hash per link, a url index hash, a counter per strategy, zsets for expiry
and clicks; every write is one Lua script (atomic). Keys are
``namespace:v2:short:{name}:...`` (:func:`sysprims.backends.redis.key`:
injective, so two store names never share keys); the store's name is the hash
tag, so one store lives in one Cluster slot and its multi-key scripts run
there. A store that finds links written by sysprims 0.1 under the old layout
``namespace:short:{name}:...`` (and none under the new one) refuses to run
until :meth:`RedisLinkStore.migrate_from_v01` has moved them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import BackendError
from ..shortener._store import LinkInfo, LinkStore

__all__ = ["RedisLinkStore"]


class RedisLinkStore(LinkStore):
    """Links in Redis; every write is an atomic Lua script."""

    def __init__(self, redis: Any, *, name: str = "links", namespace: str = "sysprims"):
        from . import redis as _redis

        self._r = _redis
        self.client = _redis.connect(redis)
        self.name = name
        self.namespace = namespace
        k = lambda *parts: _redis.key(namespace, "short", name, *parts)  # noqa: E731
        self._k = k
        self._index, self._count, self._expz, self._top = k("urls"), k("count"), k("expiry"), k("clicks")
        LS = _redis.LuaScript
        self._reserve = LS("shortener_reserve.lua")
        self._create = LS("shortener_create.lua")
        self._create_many = LS("shortener_create_many.lua")
        self._resolve = LS("shortener_resolve.lua")
        self._delete = LS("shortener_delete.lua")
        self._layout_checked = False

    @staticmethod
    def _v01_prefix(namespace: str, name: str) -> str:
        """Where sysprims 0.1 kept this store (braces were rewritten as parentheses)."""
        return f"{namespace}:short:{{{name.replace('{', '(').replace('}', ')')}}}"

    def _ready(self) -> None:
        """Refuse (once per store, on first use) to run over links of the 0.1 layout."""
        if self._layout_checked:
            return
        old = self._v01_prefix(self.namespace, self.name)
        if self._call(self.client.exists, f"{old}:count", f"{old}:urls") and not self._call(
            self.client.exists, self._count, self._index
        ):
            raise BackendError(
                f"Redis holds links written by sysprims 0.1 under {old}:* (the 0.1 key layout); this "
                f"version keeps them under {self._count[: -len(':count')]}:*. Move them once with "
                f"RedisLinkStore.migrate_from_v01(redis, name={self.name!r}, namespace={self.namespace!r}), "
                "or keep running sysprims 0.1"
            )
        self._layout_checked = True

    @classmethod
    def migrate_from_v01(cls, redis: Any, *, name: str = "links", namespace: str = "sysprims") -> int:
        """Move a link store written by sysprims 0.1 to this version's key layout;
        returns the number of Redis keys moved. In 0.1, names that differ only by
        ``{}`` versus ``()`` shared one store: it moves to the ``name`` given."""
        store = cls(redis, name=name, namespace=namespace)
        store._layout_checked = True
        client = store.client
        if store._call(client.exists, store._count, store._index):
            raise BackendError(f"link store {name!r} already holds links in the new layout; not migrating over them")
        old = cls._v01_prefix(namespace, name) + ":"
        moved = 0
        for raw in store._call(lambda: list(client.scan_iter(match=store._r.scan_pattern(old), count=1000))):
            src = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            tail = src[len(old) :]
            kind, sep, rest = tail.partition(":")
            dst = store._k(kind, rest) if sep else store._k(tail)
            try:
                store._call(client.rename, src, dst)
            except BackendError:  # another Cluster slot: copy, then delete
                ttl = store._call(client.pttl, src)
                store._call(client.restore, dst, max(ttl, 0), store._call(client.dump, src))
                store._call(client.delete, src)
            moved += 1
        return moved

    def _link(self, code: str) -> str:
        return self._k("l", code)

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except self._r.redis_errors() as exc:
            raise BackendError(f"Redis link store: {exc}") from exc

    def reserve_counter(self, name, n, start):
        self._ready()
        return int(self._reserve(self.client, [self._k("counter", name)], [n, start]))

    def create(self, code, url, strategy, created_ms, expires_ms, now_ms):
        self._ready()
        keys = [self._link(code), self._index, self._count, self._expz, self._top]
        exp = "" if expires_ms is None else int(expires_ms)
        return bool(self._create(self.client, keys, [code, url, strategy, int(created_ms), exp, int(now_ms)]))

    def create_many(self, codes, urls, strategy, created_ms, expires_ms):
        self._ready()
        keys = [self._index, self._count, self._expz, *[self._link(c) for c in codes]]
        args: list[Any] = [strategy, int(created_ms), "" if expires_ms is None else int(expires_ms)]
        for c, u in zip(codes, urls, strict=False):
            args.append(c)
            args.append(u)
        return bool(self._create_many(self.client, keys, args))

    def find_codes(self, urls, strategy):
        self._ready()
        urls = list(urls)
        out: dict[str, str] = {}
        for lo in range(0, len(urls), 10000):
            part = urls[lo : lo + 10000]
            vals = self._call(self.client.hmget, self._index, [f"{strategy}\0{u}" for u in part])
            for u, v in zip(part, vals, strict=False):
                if v is not None:
                    out[u] = v.decode("utf-8")
        return out

    def resolve(self, code, now_ms, count_click=False):
        self._ready()
        v = self._resolve(self.client, [self._link(code), self._top], [code, int(now_ms), "1" if count_click else "0"])
        return None if v is None else v.decode("utf-8")

    def _fetch(self, codes: Sequence[str]) -> list[list]:
        self._ready()
        def run() -> list:
            pipe = self.client.pipeline(transaction=False)
            for c in codes:
                pipe.hmget(self._link(c), "u", "s", "c", "e", "k")
            return pipe.execute()

        return self._call(run)

    @staticmethod
    def _live(row: list, now_ms: int) -> bool:
        return row[0] is not None and (not row[3] or int(row[3]) > now_ms)

    def resolve_many(self, codes, now_ms):
        codes = list(codes)
        out: list[str | None] = []
        for lo in range(0, len(codes), 10000):
            for row in self._fetch(codes[lo : lo + 10000]):
                out.append(row[0].decode("utf-8") if self._live(row, now_ms) else None)
        return out

    def _info(self, code: str, row: list) -> LinkInfo:
        return LinkInfo(
            code, row[0].decode("utf-8"), row[1].decode("utf-8"), int(row[2]),
            int(row[3]) if row[3] else None, int(row[4] or 0),
        )

    def info(self, code, now_ms):
        row = self._fetch([code])[0]
        return self._info(code, row) if self._live(row, now_ms) else None

    def top(self, n, now_ms):
        self._ready()
        if n == 0:
            return []
        window = n
        while True:
            ranked = self._call(self.client.zrevrange, self._top, 0, window - 1, withscores=True)
            if not ranked:
                return []
            # everything tied with the last score, so ties can be broken by code
            tied = self._call(self.client.zrangebyscore, self._top, ranked[-1][1], "+inf", withscores=True)
            codes = [c.decode("utf-8") for c, _ in tied]
            infos = [self._info(c, row) for c, row in zip(codes, self._fetch(codes), strict=False) if self._live(row, now_ms)]
            infos.sort(key=lambda i: (-i.clicks, i.code))
            total = self._call(self.client.zcard, self._top)
            if len(infos) >= n or len(tied) >= total:
                return infos[:n]
            window = min(total, window * 2 + len(tied) - len(infos))

    def delete(self, code):
        self._ready()
        keys = [self._link(code), self._index, self._count, self._expz, self._top]
        return bool(self._delete(self.client, keys, [code, ""]))

    def purge_expired(self, now_ms):
        self._ready()
        codes = self._call(self.client.zrangebyscore, self._expz, "-inf", int(now_ms))
        removed = 0
        for c in codes:
            code = c.decode("utf-8")
            keys = [self._link(code), self._index, self._count, self._expz, self._top]
            removed += int(self._delete(self.client, keys, [code, int(now_ms)]))
        return removed

    def __len__(self):
        self._ready()
        v = self._call(self.client.get, self._count)
        return int(v or 0)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # pragma: no cover - closing is best effort
            pass

    def __repr__(self) -> str:
        return f"RedisLinkStore(name={self.name!r}, namespace={self.namespace!r})"
