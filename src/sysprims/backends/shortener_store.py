"""Where the shortener's SQLite and Redis stores lived before 0.2 (kept importable).

They are :mod:`sysprims.backends.shortener_sqlite` and
:mod:`sysprims.backends.shortener_redis` now; open stores with
``URLShortener(store=...)`` or :func:`sysprims.backends.registry.open_store`.
"""

from .shortener_redis import RedisLinkStore
from .shortener_sqlite import SQLiteLinkStore

__all__ = ["RedisLinkStore", "SQLiteLinkStore"]
