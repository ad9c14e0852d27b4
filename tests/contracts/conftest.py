"""The engines every store contract runs on, in one place.

``ENGINES`` maps an engine name to how a test gets a store spec for it; each
contract module names its component (``COMPONENT``) and takes the ``spec``
fixture, which is parametrised over the engines the store registry
(:data:`sysprims.backends.registry.ENGINES`) has for that component. Adding an
engine is one line here (and one module plus one registry line in
``src/sysprims/backends``), as the Redis Cluster engine shows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sysprims.backends import registry

ENGINES: dict[str, Callable[[Any, Path], Any]] = {
    "memory": lambda request, tmp_path: "memory://",
    "sqlite": lambda request, tmp_path: f"sqlite:///{tmp_path}/store.db",
    "redis": lambda request, tmp_path: request.getfixturevalue("redis_url"),
    "redis_cluster": lambda request, tmp_path: _flushed_cluster_url(request),
}


def _flushed_cluster_url(request: Any) -> str:
    """The session cluster's ``redis+cluster://`` URL, every node flushed first
    (the ``cluster_client`` fixture flushes)."""
    request.getfixturevalue("cluster_client")
    return request.getfixturevalue("redis_cluster").url
_MARKS = {"redis": [pytest.mark.redis], "redis_cluster": [pytest.mark.redis]}


def _served(component: str, engine: str) -> bool:
    return registry._ENGINE_OF_KIND.get(engine, engine) in registry.ENGINES[component]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    component = getattr(metafunc.module, "COMPONENT", None)
    if component is None or "engine" not in metafunc.fixturenames:
        return
    engines = [e for e in ENGINES if _served(component, e)]
    metafunc.parametrize("engine", [pytest.param(e, marks=_MARKS.get(e, [])) for e in engines], ids=engines)


@pytest.fixture
def spec(engine: str, request: Any, tmp_path: Path) -> Any:
    """A store spec of the engine under test (a fresh, empty store)."""
    return ENGINES[engine](request, tmp_path)


@pytest.fixture
def reopen_spec(engine: str, spec: Any) -> Any:
    """The spec again, for a second store over the same data (None for memory)."""
    return None if engine == "memory" else spec


@pytest.fixture
def store(request: Any, spec: Any) -> Any:
    """A fresh store of the module's ``COMPONENT`` on the engine under test, closed afterwards."""
    s = registry.open_store(request.module.COMPONENT, spec)
    yield s
    getattr(s, "close", lambda: None)()
