"""The shared Redis layer: connections, Lua scripts and key naming.

* :func:`connect` takes a URL (``redis://127.0.0.1:6379/0``, ``rediss://``,
  ``unix://``, or ``redis+cluster://host:port[,host:port...]`` for a
  ``redis.cluster.RedisCluster``) or an existing client. :func:`is_redis_url`
  and :func:`is_redis_client` are the one place that tells a Redis spec.
* :class:`LuaScript` loads a script shipped in ``sysprims/backends/lua/`` once,
  runs it with ``EVALSHA`` and falls back to ``SCRIPT LOAD`` on ``NOSCRIPT``
  (after a server restart or ``SCRIPT FLUSH``); :meth:`LuaScript.run_many` pipelines
  many calls, on a ``RedisCluster`` too (one pipeline per node: redis-py's cluster
  pipelines refuse ``EVALSHA``).
* :func:`key` builds namespaced keys whose ``{hash tag}`` keeps every key of one
  logical object in one Redis Cluster slot:
  ``<namespace>:v2:<kind>:{<name>}[:<part>...]``. The name and the parts are
  escaped (:func:`escape`: ``%``, ``{``, ``}``, ``:`` and lone surrogates become
  ``%XX`` / ``%uXXXX``), so the layout is injective: two different
  ``(namespace, kind, name, parts)`` never share a key, and the hash tag is
  exactly the escaped name. ``v2`` is the layout's version; sysprims 0.1 wrote
  ``<namespace>:<kind>:{<name>}...`` with ``{``/``}`` replaced by ``(``/``)``
  (not injective), which 0.2 does not read.

Redis errors surface as :class:`~sysprims.errors.BackendError`.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from .._deps import require
from ..errors import BackendError, InvalidParameterError

__all__ = [
    "CLUSTER_SCHEME", "DEFAULT_NAMESPACE", "KEY_LAYOUT", "REDIS_SCHEMES", "LuaScript", "connect", "escape",
    "is_cluster_client", "is_redis_client", "is_redis_url", "key", "redis_errors", "scan_pattern", "unescape",
]

DEFAULT_NAMESPACE = "sysprims"
KEY_LAYOUT = "v2"  # the version segment of every key built by key()

_SPECIAL = re.compile(r"[%{}:\ud800-\udfff]")
_ESCAPED = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")
_GLOB = re.compile(r"([\\*?\[\]])")


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")  # one server: redis.Redis.from_url
CLUSTER_SCHEME = "redis+cluster://"  # redis+cluster://host:port[,host:port...]: redis.cluster.RedisCluster


def is_redis_url(spec: Any) -> bool:
    """True for a str naming a Redis server or cluster (the schemes above)."""
    return isinstance(spec, str) and spec.startswith((*REDIS_SCHEMES, CLUSTER_SCHEME))


def is_redis_client(obj: Any) -> bool:
    """True for a ready redis-py client (``redis.Redis``, ``RedisCluster`` or alike)."""
    return callable(getattr(obj, "evalsha", None)) and callable(getattr(obj, "pipeline", None))


def is_cluster_client(obj: Any) -> bool:
    """True for a Redis Cluster client (``redis.cluster.RedisCluster``)."""
    return is_redis_client(obj) and type(obj).__name__ == "RedisCluster"


def _cluster_nodes(url: str) -> list[tuple[str, int]]:
    rest = url[len(CLUSTER_SCHEME):].split("/", 1)[0]
    nodes = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidParameterError(f"a Redis Cluster URL must be redis+cluster://host:port[,host:port...], got {url!r}")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


def connect(url_or_client: Any = None, **kwargs: Any) -> Any:
    """A redis-py client from a URL, or the client given."""
    if is_redis_client(url_or_client):
        return url_or_client
    if not is_redis_url(url_or_client):
        raise InvalidParameterError(
            "redis must be a URL (redis://, rediss://, unix:// or redis+cluster://host:port[,host:port...]) "
            f"or a redis client, got {url_or_client!r:.80}"
        )
    redis = require("redis")
    if url_or_client.startswith(CLUSTER_SCHEME):
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(h, p) for h, p in _cluster_nodes(url_or_client)]
        return RedisCluster(startup_nodes=nodes, **kwargs)
    return redis.Redis.from_url(url_or_client, **kwargs)


def redis_errors() -> tuple[type[BaseException], ...]:
    """The exception types a Redis call may raise (for ``except`` clauses)."""
    redis = require("redis")
    return (redis.exceptions.RedisError, OSError)


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"%u{c:04X}" if c > 0xFF else f"%{c:02X}"


def escape(part: str) -> str:
    """``part`` with ``%``, ``{``, ``}``, ``:`` and lone surrogates percent-escaped:
    one-to-one, and free of the characters that delimit keys and hash tags."""
    return _SPECIAL.sub(_escape_char, part) if _SPECIAL.search(part) else part


def unescape(part: str) -> str:
    """The inverse of :func:`escape`."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), part)


def _component(what: str, value: Any) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameterError(f"{what} must be UTF-8, got {value!r:.60}") from None
    if not isinstance(value, str):
        raise InvalidParameterError(f"{what} must be a str, got {type(value).__name__}: {value!r:.60}")
    return escape(value)


def key(namespace: str, kind: str, name: str | bytes | tuple[str, ...], *parts: str) -> str:
    """``namespace:v2:kind:{name}[:part...]``; the braces are the Cluster hash tag.

    ``name`` may be a tuple of components (joined by ``:`` after escaping), for a
    record named by several user strings. The namespace may hold ``:`` but no
    braces; the kind is one of ours (a word)."""
    if not isinstance(namespace, str) or not namespace or "{" in namespace or "}" in namespace:
        raise InvalidParameterError(f"namespace must be a non-empty str without braces, got {namespace!r}")
    names = name if isinstance(name, tuple) else (name,)
    tag = ":".join(_component("name", n) for n in names)
    tail = "".join(":" + _component("key part", p) for p in parts)
    return f"{namespace}:{KEY_LAYOUT}:{kind}:{{{tag}}}{tail}"


def scan_pattern(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern for every key that starts with ``prefix``."""
    return _GLOB.sub(r"\\\1", prefix) + "*"


def _by_node(client: Any, calls: list[tuple[list[str], list[Any]]], todo: list[int]) -> list[tuple[Any, list[int]]]:
    """``todo`` (indices into ``calls``) grouped by the cluster node serving the
    slot of each call's first key, with that node's plain ``redis.Redis`` client."""
    from redis.crc import key_slot

    groups: dict[str, tuple[Any, list[int]]] = {}
    nodes = client.nodes_manager
    for i in todo:
        node = nodes.get_node_from_slot(key_slot(calls[i][0][0].encode()))
        groups.setdefault(node.name, (node, []))[1].append(i)
    return [(client.get_redis_connection(node), idx) for node, idx in groups.values()]


def _bulk(value: Any) -> bytes:
    v = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def _send_evalsha(conn: Any, sha: str, calls: list[tuple[list[str], list[Any]]], idx: list[int]) -> tuple[Any, Any]:
    """Write ``EVALSHA`` of every call in ``idx`` on one pooled connection of
    ``conn`` (RESP packed here: redis-py's per-command packing was most of the
    client's time); returns ``(pool, connection)`` for :func:`_receive`."""
    head = b"$7\r\nEVALSHA\r\n" + _bulk(sha)
    out = []
    for i in idx:
        keys, args = calls[i]
        out.append(b"*%d\r\n" % (3 + len(keys) + len(args)))
        out.append(head)
        out.append(_bulk(len(keys)))
        out.extend(_bulk(k.encode()) for k in keys)
        out.extend(_bulk(a) for a in args)
    pool = conn.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([b"".join(out)])
    except BaseException:
        connection.disconnect()
        pool.release(connection)
        raise
    return pool, connection


def _receive(pending: tuple[Any, Any], n: int, response_error: type[BaseException]) -> list[Any]:
    """The ``n`` replies of :func:`_send_evalsha` (an error reply as its exception)."""
    pool, connection = pending
    out: list[Any] = []
    try:
        for _ in range(n):
            try:
                out.append(connection.read_response())
            except response_error as exc:
                out.append(exc)
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    return out


class LuaScript:
    """A Lua script from package data, run with EVALSHA and a NOSCRIPT fallback."""

    def __init__(self, filename: str, source: str | None = None):
        self.name = filename
        if source is None:
            source = resources.files("sysprims.backends").joinpath("lua").joinpath(filename).read_text("utf-8")
        self.source = source
        import hashlib

        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def __call__(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        redis = require("redis")
        try:
            try:
                return client.evalsha(self.sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                client.script_load(self.source)
                return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.ResponseError as exc:
            raise BackendError(f"Redis script {self.name} failed: {exc}") from exc
        except (redis.exceptions.RedisError, OSError) as exc:
            raise BackendError(f"Redis is unavailable ({self.name}): {exc}") from exc

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        """Queue a call on a pipeline; call :meth:`ensure_loaded` on the client first."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)

    def run_many(self, client: Any, calls: list[tuple[list[str], list[Any]]], *, partial: bool = False) -> list[Any]:
        """Run many calls ``(keys, args)`` of the script, pipelined; results in order.

        Every call's keys must share one Cluster slot. On a ``RedisCluster``
        client (whose pipelines refuse ``EVALSHA``) the calls go to the node serving
        their slot, one pipeline per node. ``NOSCRIPT`` loads the script on that node
        and redoes those calls; ``MOVED``/``ASK`` refreshes the slot map and redoes
        them (neither ran). With ``partial=True`` the calls of a node that failed get
        the exception as their result instead of raising ``BackendError``."""
        redis = require("redis")
        errors = (redis.exceptions.RedisError, OSError)
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        cluster = is_cluster_client(client)
        for _attempt in range(3):
            again: list[int] = []
            refresh = False

            def failed(idx: list[int], exc: BaseException) -> None:
                if not partial:
                    raise BackendError(f"Redis is unavailable ({self.name}): {exc}") from exc
                for i in idx:
                    results[i] = exc

            # a Cluster: send every node its calls first, then read the replies (the
            # nodes work in parallel); a single server: one redis-py pipeline
            sent = []
            for conn, idx in _by_node(client, calls, todo) if cluster else [(client, todo)]:
                try:
                    sent.append((conn, idx, _send_evalsha(conn, self.sha, calls, idx) if cluster else None))
                except errors as exc:
                    failed(idx, exc)
                    refresh = True
            for conn, idx, pending in sent:
                try:
                    if pending is None:
                        pipe = conn.pipeline(transaction=False)
                        for i in idx:
                            keys, args = calls[i]
                            pipe.evalsha(self.sha, len(keys), *keys, *args)
                        got = pipe.execute(raise_on_error=False)
                    else:
                        got = _receive(pending, len(idx), redis.exceptions.ResponseError)
                except errors as exc:
                    failed(idx, exc)
                    refresh = True
                    continue
                missing = []
                for i, r in zip(idx, got, strict=True):
                    if isinstance(r, redis.exceptions.NoScriptError):
                        missing.append(i)
                    elif isinstance(r, redis.exceptions.AskError):  # MOVED too: a subclass
                        again.append(i)
                        refresh = True
                    elif isinstance(r, Exception) and not partial:
                        raise BackendError(f"Redis script {self.name} failed: {r}") from r
                    else:
                        results[i] = r
                if missing:
                    self.ensure_loaded(conn)
                    again.extend(missing)
            if refresh and cluster:
                client.nodes_manager.initialize()
            if not again:
                return results
            todo = sorted(again)
        raise BackendError(f"Redis script {self.name} could not be run: the slots kept moving or the script kept vanishing")

    def ensure_loaded(self, client: Any) -> None:
        """Load the script if the server does not have it (before pipelining)."""
        redis = require("redis")
        try:
            if not client.script_exists(self.sha)[0]:
                client.script_load(self.source)
        except (redis.exceptions.RedisError, OSError) as exc:
            raise BackendError(f"Redis is unavailable ({self.name}): {exc}") from exc
