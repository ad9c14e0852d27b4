"""The shared Redis layer: connections, Lua scripts and key naming.

* :func:`connect` takes a URL (``redis://127.0.0.1:6379/0``, ``rediss://``,
  ``unix://``, or ``redis+cluster://host:port[,host:port...]`` for a
  ``redis.cluster.RedisCluster``) or an existing client. :func:`is_redis_url`
  and :func:`is_redis_client` are the one place that tells a Redis spec.
* :class:`LuaScript` loads a script shipped in ``sysprims/backends/lua/`` once,
  runs it with ``EVALSHA`` and falls back to ``SCRIPT LOAD`` on ``NOSCRIPT``
  (after a server restart or ``SCRIPT FLUSH``); it also works inside pipelines.
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

    def ensure_loaded(self, client: Any) -> None:
        """Load the script if the server does not have it (before pipelining)."""
        redis = require("redis")
        try:
            if not client.script_exists(self.sha)[0]:
                client.script_load(self.source)
        except (redis.exceptions.RedisError, OSError) as exc:
            raise BackendError(f"Redis is unavailable ({self.name}): {exc}") from exc
