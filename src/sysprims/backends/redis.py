"""The shared Redis layer: connections, Lua scripts and key naming.

* :func:`connect` takes a URL (``redis://127.0.0.1:6379/0``) or an existing
  ``redis.Redis`` client.
* :class:`LuaScript` loads a script shipped in ``sysprims/backends/lua/`` once,
  runs it with ``EVALSHA`` and falls back to ``SCRIPT LOAD`` on ``NOSCRIPT``
  (after a server restart or ``SCRIPT FLUSH``); it also works inside pipelines.
* :func:`key` builds namespaced keys whose ``{hash tag}`` keeps every key of one
  logical object in one Redis Cluster slot.

Redis errors surface as :class:`~sysprims.errors.BackendError`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from .._deps import require
from ..errors import BackendError, InvalidParameterError

__all__ = ["DEFAULT_NAMESPACE", "LuaScript", "connect", "key", "redis_errors"]

DEFAULT_NAMESPACE = "sysprims"


def connect(url_or_client: Any = None, **kwargs: Any) -> Any:
    """A ``redis.Redis`` client from a URL, or the client given."""
    redis = require("redis")
    if url_or_client is None:
        raise InvalidParameterError("redis must be a URL like redis://127.0.0.1:6379/0 or a redis.Redis client, got None")
    if isinstance(url_or_client, str):
        if not url_or_client.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidParameterError(f"redis URL must start with redis://, rediss:// or unix://, got {url_or_client!r}")
        return redis.Redis.from_url(url_or_client, **kwargs)
    if hasattr(url_or_client, "evalsha") and hasattr(url_or_client, "pipeline"):
        return url_or_client
    raise InvalidParameterError(f"redis must be a URL or a redis.Redis client, got {type(url_or_client).__name__}")


def redis_errors() -> tuple[type[BaseException], ...]:
    """The exception types a Redis call may raise (for ``except`` clauses)."""
    redis = require("redis")
    return (redis.exceptions.RedisError, OSError)


def key(namespace: str, kind: str, name: str | bytes, *parts: str) -> str:
    """``namespace:kind:{name}[:part...]``; the braces are the Cluster hash tag."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "backslashreplace")
    name = str(name).replace("{", "(").replace("}", ")")
    tail = "".join(f":{p}" for p in parts)
    return f"{namespace}:{kind}:{{{name}}}{tail}"


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
