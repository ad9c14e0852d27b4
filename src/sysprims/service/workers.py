"""Several uvicorn worker processes for one shortener: the app factory they import.

``uvicorn --workers N`` starts each worker by importing the app by name, so the
options of ``sysprims serve shortener`` travel to them in one environment variable
(:data:`ENV`, JSON written by :func:`options_to_env`) and each worker builds its own
app with :func:`app_from_env` (``uvicorn.run("sysprims.service.workers:app_from_env",
factory=True, workers=N)``). The workers share the listening socket (uvicorn binds it
once in the supervisor) and the store; each has its own event loop, SQLite
connections or Redis clients, counters of ``/api/stats`` and trending sketch.

:func:`check_workers` refuses the combinations that would change what the service
means with more than one process: the memory store (each worker would hold other
links), a rate limit kept in process memory (SQLite or memory store: a client would
get N buckets), and Snowflake codes with one fixed or default machine id outside
Redis or with ``--machine-id`` (two workers would mint the same ids). With Redis
every worker leases its own machine id and shares the limiter's buckets.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from ..errors import InvalidParameterError
from .settings import store_kind

__all__ = ["ENV", "app_from_env", "check_workers", "options_to_env"]

ENV = "SYSPRIMS_SERVE_SHORTENER"


def check_workers(workers: int, store: str | None, options: dict[str, Any]) -> None:
    """:class:`InvalidParameterError` naming why ``workers`` processes cannot serve
    ``store`` with ``options`` (``create_app`` keywords); nothing for one worker."""
    if workers <= 1:
        return
    kind = "memory" if store is None else store_kind(store)
    if kind == "memory":
        raise InvalidParameterError("--workers needs a shared store (sqlite:///... or redis://...): "
                                    "with the memory store each worker would hold its own links")
    if kind != "redis" and options.get("rate_capacity", 0) > 0:
        raise InvalidParameterError("--workers with a SQLite store needs --rate 0: its rate limit lives in "
                                    "process memory, so each worker would give a client a bucket of its own "
                                    "(use Redis, whose buckets every worker shares)")
    strategy = options.get("strategy") or ("snowflake" if kind == "redis" else "permuted")
    if strategy == "snowflake" and (kind != "redis" or options.get("machine_id") is not None):
        raise InvalidParameterError("--workers with Snowflake codes needs Redis and no --machine-id, so that each "
                                    "worker leases a machine id of its own: otherwise they would mint the same ids")


def options_to_env(store: str | None, options: dict[str, Any]) -> str:
    """The JSON of ``store`` and ``options`` (``create_app`` keywords) for :data:`ENV`.
    A permuted strategy without a secret gets one random secret here, shared by every
    worker (each would otherwise draw its own and permute the shared counter
    differently)."""
    out = dict(options)
    for name in ("api_keys", "allowed_hosts"):
        if out.get(name) is not None:
            out[name] = sorted(out[name])
    if out.get("secret") is None:
        out["secret"] = secrets.token_hex(16)  # one per start, as a single process draws one
    return json.dumps({"store": store, "options": out})


def app_from_env() -> Any:
    """The app of one worker, built from :data:`ENV` (uvicorn's ``factory=True``)."""
    from .app import create_app

    raw = os.environ.get(ENV)
    if raw is None:
        raise InvalidParameterError(f"{ENV} is not set: start the workers with sysprims serve shortener --workers N")
    data = json.loads(raw)
    options = dict(data["options"])
    for name in ("api_keys", "allowed_hosts"):
        if options.get(name) is not None:
            options[name] = frozenset(options[name])
    return create_app(data["store"], **options)
