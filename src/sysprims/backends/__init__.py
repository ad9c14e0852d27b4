"""Storage backends (layer 3), imported lazily.

* :mod:`sysprims.backends.sqlite`: embedded, zero-setup SQLite helpers.
* :mod:`sysprims.backends.redis`: the shared Redis layer (connections, Lua
  scripts shipped as package data and run with EVALSHA, key namespacing).
"""
