"""What both middlewares share: who the client is, problem+json answers, and
running a blocking store call without holding the event loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
from collections.abc import Callable
from typing import Any

from ..errors import InvalidParameterError

__all__ = ["KeyFunc", "client_ip", "header_key", "problem", "resolve_key_func", "run_blocking", "send_problem"]

KeyFunc = Callable[[dict[str, Any]], Any]


def _header(scope: dict[str, Any], name: bytes) -> list[bytes]:
    return [v for k, v in scope.get("headers", ()) if k.lower() == name]


def client_ip(trust_forwarded: bool = False) -> KeyFunc:
    """A key function: ``"ip:<peer address>"``; with ``trust_forwarded`` the right-most
    ``X-Forwarded-For`` entry over every line of the field (the one your proxy added:
    entries left of it come from the client)."""

    def key(scope: dict[str, Any]) -> str:
        if trust_forwarded:
            lines = _header(scope, b"x-forwarded-for")
            if lines:
                last = b",".join(lines).rsplit(b",", 1)[-1].strip()
                if last:
                    return "ip:" + last.decode("latin-1")
        client = scope.get("client")
        return "ip:" + (str(client[0]) if client else "unknown")

    key.__name__ = "client_ip"
    return key


def header_key(name: str = "x-api-key", fallback: KeyFunc | None = None) -> KeyFunc:
    """A key function: ``"key:<value of header name>"``; requests without the header are
    keyed by ``fallback`` (default: :func:`client_ip`). Only use it when the app checks
    the header (else a client dodges its limit by inventing values)."""
    wanted = name.lower().encode("latin-1")
    other = fallback or client_ip()

    def key(scope: dict[str, Any]) -> Any:
        values = _header(scope, wanted)
        return "key:" + values[-1].decode("latin-1") if values else other(scope)

    key.__name__ = f"header_key({name!r})"
    return key


def resolve_key_func(key: Any) -> tuple[KeyFunc, bool]:
    """``(function of the scope, is_async)`` from ``"ip"``, ``"header:<name>"`` or a callable.

    A callable gets the ASGI scope and returns the client key (a str), or None to
    leave the request unlimited / unscoped; it may be ``async``."""
    if key is None or key == "ip":
        return client_ip(), False
    if isinstance(key, str) and key.startswith("header:") and len(key) > 7:
        return header_key(key[7:]), False
    if callable(key):
        return key, inspect.iscoroutinefunction(key) or inspect.iscoroutinefunction(type(key).__call__)
    raise InvalidParameterError(f"key must be 'ip', 'header:<name>' or a callable of the ASGI scope, got {key!r}")


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> bytes:
    """An RFC 9457 problem details body."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


async def send_problem(send: Any, status: int, title: str, detail: str,
                       headers: list[tuple[str, str]] | None = None, **extra: Any) -> None:
    body = problem(status, title, detail, **extra)
    raw = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers or ()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


_EXECUTOR: Any = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> Any:
    """The store threads: one pool for every blocking store call of this process
    (created on first use, so a forked worker makes its own)."""
    global _EXECUTOR
    if _EXECUTOR is None:
        with _EXECUTOR_LOCK:
            if _EXECUTOR is None:
                from concurrent.futures import ThreadPoolExecutor

                _EXECUTOR = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4),
                                               thread_name_prefix="sysprims-store")
    return _EXECUTOR


async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread, without holding the event loop.

    On asyncio, straight to a thread pool of our own (``loop.run_in_executor``): a
    third less CPU per call than anyio's ``to_thread`` (its capacity limiter and
    cancel scope), which still serves other event loops (trio)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio through anyio)
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn, *args)
    return await loop.run_in_executor(_executor(), fn, *args)
