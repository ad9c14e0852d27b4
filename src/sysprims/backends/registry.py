"""The one registry that turns a store spec into a store, for every component.

Every component takes ``store=`` (docs/stores.md) and hands it here:

==========================================  ===========================================
spec                                        store
==========================================  ===========================================
``None``, ``"memory"``, ``"memory://"``     the component's in-memory store
``"sqlite:///path.db"``, a path             SQLite (``sqlite://:memory:`` for a private one)
``"redis://..."``, ``"rediss://..."``,      one Redis server (``redis.Redis.from_url``)
``"unix://..."``
``"redis+cluster://h:p[,h:p...]"``          Redis Cluster (``redis.cluster.RedisCluster``)
a redis-py client                           Redis over that client
a store object                              used as it is, once it passes the component's
                                            contract (its ``Protocol``)
==========================================  ===========================================

Anything else (``"postgres://x"``, ``"redis:/typo"``, ``"memory:"``) raises one
:class:`~sysprims.errors.InvalidParameterError` listing the forms the component
accepts; a Redis spec without redis-py raises
:class:`~sysprims.errors.MissingDependencyError` naming the ``redis`` extra.

Adding an engine is one module in this folder plus one line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidParameterError, MissingDependencyError
from .redis import CLUSTER_SCHEME, is_cluster_client, is_redis_client, is_redis_url

__all__ = ["ENGINES", "PROTOCOLS", "accepted_forms", "check_store", "engine", "open_store", "spec_kind", "sqlite_path"]

#: component -> engine kind -> "module:attribute" of the store class (or factory)
ENGINES: dict[str, dict[str, str]] = {
    "shortener": {
        "memory": "sysprims.shortener._store:MemoryLinkStore",
        "sqlite": "sysprims.backends.shortener_sqlite:SQLiteLinkStore",
        "redis": "sysprims.backends.shortener_redis:RedisLinkStore",
    },
    "idempotency": {
        "memory": "sysprims.idempotency.stores:MemoryStore",
        "sqlite": "sysprims.backends.idempotency_sqlite:SQLiteStore",
        "redis": "sysprims.backends.idempotency_redis:RedisStore",
    },
    "ratelimit": {  # these take the algorithm first: see _construct
        "memory": "sysprims.ratelimit:MemoryBackend",
        "redis": "sysprims.backends.redis_ratelimit:RedisRateLimitBackend",
    },
    "shard": {
        "memory": "builtins:dict",
        "sqlite": "sysprims.backends.shard_sqlite:SqliteShard",
    },
}
# Redis Cluster runs on the same engine as one server: the client differs, not the store
_ENGINE_OF_KIND = {"memory": "memory", "sqlite": "sqlite", "redis": "redis", "redis_cluster": "redis"}

#: component -> "module:attribute" of the contract a store object must meet
PROTOCOLS: dict[str, str] = {
    "shortener": "sysprims.shortener._store:LinkStore",
    "idempotency": "sysprims.idempotency.stores:IdempotencyStore",
    "ratelimit": "sysprims.ratelimit.contract:RateLimitStore",
    "shard": "sysprims.sharding.database:ShardStore",
}

_FORMS = {
    "memory": "None, 'memory' or 'memory://'",
    "sqlite": "'sqlite:///path.db' or a file path",
    "redis": "'redis://host:port/db', 'rediss://...', 'unix:///path.sock' or a redis client",
    "redis_cluster": "'redis+cluster://host:port[,host:port...]'",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def accepted_forms(component: str) -> str:
    engines = ENGINES[component]
    kinds = [k for k in _FORMS if _ENGINE_OF_KIND[k] in engines]
    return "; ".join(_FORMS[k] for k in kinds) + f"; or a store object with the {component} store's methods"


def spec_kind(spec: Any) -> str:
    """``"memory"``, ``"sqlite"``, ``"redis"``, ``"redis_cluster"`` or ``"object"``
    for a spec; an unknown URL scheme raises :class:`InvalidParameterError`."""
    if spec is None:
        return "memory"
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if isinstance(spec, bytes):
        raise InvalidParameterError(f"a store spec must be a str, a path or an object, got bytes {spec!r:.60}")
    if isinstance(spec, str):
        if spec in ("memory", "memory://"):
            return "memory"
        if is_redis_url(spec):
            return "redis_cluster" if spec.startswith(CLUSTER_SCHEME) else "redis"
        if spec.startswith("sqlite://"):
            return "sqlite"
        m = _SCHEME.match(spec)
        if m is None or len(m.group(1)) == 1:  # no scheme, or a Windows drive letter: a path
            if not spec:
                raise InvalidParameterError("a store spec must not be empty; " + _all_forms())
            return "sqlite"
        raise InvalidParameterError(f"unknown store spec {spec!r:.80} (scheme {m.group(1)!r}); " + _all_forms())
    if is_redis_client(spec):
        return "redis_cluster" if is_cluster_client(spec) else "redis"
    return "object"


def _all_forms() -> str:
    return "accepted: " + "; ".join(_FORMS.values()) + "; or a store object"


def sqlite_path(spec: Any) -> str:
    """The file path of a SQLite spec (``sqlite:///path`` or a path)."""
    from .sqlite import path_from_url

    if spec_kind(spec) != "sqlite":
        raise InvalidParameterError(f"not a SQLite spec: {spec!r:.80}")
    return path_from_url(os.fspath(spec))


def engine(component: str, kind: str) -> Any:
    """The store class (or factory) of ``component`` on engine ``kind``."""
    if component not in ENGINES:
        raise InvalidParameterError(f"component must be one of {sorted(ENGINES)}, got {component!r}")
    engines = ENGINES[component]
    name = _ENGINE_OF_KIND.get(kind, kind)
    if name not in engines:
        raise InvalidParameterError(
            f"the {component} store has no {kind} engine; accepted: {accepted_forms(component)}"
        )
    if name == "memory":
        return _load(engines[name])
    from .._deps import install_hint, require

    if name == "redis":
        require("redis")  # MissingDependencyError naming the extra, before any import of it
    try:
        return _load(engines[name])
    except ImportError as exc:
        raise MissingDependencyError(
            f"the {component} store on {kind} needs {engines[name].partition(':')[0]} and its dependencies "
            f"({install_hint('redis' if name == 'redis' else 'dev')}): {exc}"
        ) from exc


def check_store(component: str, obj: Any) -> Any:
    """``obj`` if it has every method of ``component``'s store contract, else a
    clear :class:`InvalidParameterError` naming what it lacks."""
    protocol = _load(PROTOCOLS[component])
    if isinstance(protocol, type) and isinstance(obj, protocol):
        return obj
    names = sorted(_contract_names(protocol))
    missing = [n for n in names if not callable(getattr(obj, n, None))]
    missing = sorted(missing + [a for a in getattr(protocol, "__annotations__", {}) if not hasattr(obj, a)])
    if missing:
        raise InvalidParameterError(
            f"store must be a {component} store spec or object; {type(obj).__name__} lacks "
            f"{', '.join(missing)} (accepted: {accepted_forms(component)})"
        )
    return obj


def _contract_names(protocol: Any) -> set[str]:
    """The methods a contract names: its public callables and ``__len__``."""
    names = set(getattr(protocol, "__abstractmethods__", ()))
    for base in protocol.__mro__:
        if base.__module__ in ("builtins", "typing", "abc"):
            continue
        names.update(n for n, v in vars(base).items() if callable(v) and (not n.startswith("_") or n == "__len__"))
    return names


def open_store(component: str, spec: Any, /, **options: Any) -> Any:
    """The store of ``component`` for ``spec`` (see the table above); ``options``
    go to the engine's constructor (``table=``, ``namespace=``...)."""
    kind = spec_kind(spec)
    if kind == "object":
        if options:
            raise InvalidParameterError(f"store options {sorted(options)} apply to a store spec, not to a store object")
        return check_store(component, spec)
    factory: Callable[..., Any] = engine(component, kind)
    target: Any = None
    if kind == "sqlite":
        target = sqlite_path(spec)
    elif kind != "memory":
        target = spec
    return _construct(component, factory, target, options)


def _construct(component: str, factory: Callable[..., Any], target: Any, options: dict[str, Any]) -> Any:
    if component == "ratelimit":  # (algorithm spec, params, seed, then the engine's own)
        head = [options.pop("spec"), options.pop("params"), options.pop("seed")]
        if target is None:
            head += [options.pop("initial_capacity", None), options.pop("max_memory", None)]
        else:
            head.append(target)
        return factory(*head, **options)
    return factory(**options) if target is None else factory(target, **options)
