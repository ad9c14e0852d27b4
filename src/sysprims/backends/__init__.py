"""Storage backends (layer 3), imported lazily; domain code reaches them through the registry.

* :mod:`sysprims.backends.registry`: the one map from a store spec (``None``,
  ``memory://``, ``sqlite:///path``, ``redis://``, ``redis+cluster://``, an
  object) to a store, for every component (docs/stores.md).
* :mod:`sysprims.backends.sqlite`: ``SQLiteDB``, the one SQLite layer (WAL,
  ``BEGIN IMMEDIATE``, reconnect after fork, ``BackendError``).
* :mod:`sysprims.backends.redis`: the shared Redis layer (connections, Lua
  scripts shipped as package data and run with EVALSHA, the injective key encoding).
* :mod:`sysprims.backends.codec`: the safe typed encoding of stored values.
* One module per component and engine: ``redis_ratelimit``, ``shortener_sqlite``,
  ``shortener_redis``, ``idempotency_sqlite``, ``idempotency_redis``, ``shard_sqlite``.
"""
