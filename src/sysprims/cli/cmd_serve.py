"""``sysprims serve shortener``: the URL shortener as an HTTP service on uvicorn."""

from __future__ import annotations

from typing import Any

import click

ORDER = 90


@click.group("serve")
def COMMAND() -> None:
    """Run a sysprims HTTP service (needs pip install "sysprims[service]")."""


@COMMAND.command("shortener")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="port (0: any free one)")
@click.option("--store", default="sqlite:///links.db", show_default=True,
              help="sqlite:///path.db (embedded), redis://host:port/db (shared by instances) or memory")
@click.option("--strategy", type=click.Choice(["counter", "permuted", "hash", "snowflake"]), default=None,
              help="code strategy [default: permuted with SQLite, snowflake with Redis]")
@click.option("--secret", envvar="SYSPRIMS_SHORTENER_SECRET", default=None,
              help="key of the permuted codes (env SYSPRIMS_SHORTENER_SECRET); keep it fixed across restarts")
@click.option("--machine-id", type=click.IntRange(0, 1023), default=None,
              help="Snowflake machine id [default: leased from Redis, 0 otherwise]")
@click.option("--redirect-status", type=click.Choice(["301", "302", "307", "308"]), default="302", show_default=True,
              help="HTTP status of the redirects (302/307: clients ask again each time, so clicks are counted)")
@click.option("--rate", "rate", default="60/min", show_default=True,
              help="token bucket per client for the /api routes, written as in limit replay: N/unit "
                   "(60/min, 10/s, 100/5min: N requests at once, refilled at N per period); 0 turns it off. "
                   "Deprecated: the old CAPACITY/REFILL_PER_SECOND form (60/1) still works")
@click.option("--rate-redirects", is_flag=True, help="also rate limit redirects")
@click.option("--api-key", "api_keys", multiple=True, help="an accepted X-API-Key (repeatable); limits are per key")
@click.option("--trust-forwarded", is_flag=True, help="take the client IP from the last X-Forwarded-For entry (only behind your own proxy)")
@click.option("--base-url", default=None, help="base of the short URLs returned [default: the request's]")
@click.option("--allowed-host", "allowed_hosts", multiple=True,
              help="a host name the service answers to (repeatable); other Host headers are 400")
@click.option("--threadpool/--inline", default=True, show_default=True,
              help="keep store waits off the event loop (worker threads; SQLite redirects inline with a busy "
                   "timeout of 0, in a thread while the database is locked) or run every store call inline")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="uvicorn log level")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="log every request (uvicorn)")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="worker processes sharing the socket and the store (SQLite with --rate 0, or Redis)")
@click.option("--http", "http_impl", type=click.Choice(["auto", "httptools", "h11"]), default="auto", show_default=True,
              help="uvicorn's HTTP parser (auto: httptools when installed, as the service extra does)")
@click.option("--loop", type=click.Choice(["auto", "uvloop", "asyncio"]), default="auto", show_default=True,
              help="uvicorn's event loop (auto: uvloop when installed)")
def shortener(host: str, port: int, store: str, strategy: str | None, secret: str | None, machine_id: int | None,
              redirect_status: str, rate: str, rate_redirects: bool, api_keys: tuple[str, ...],
              trust_forwarded: bool, base_url: str | None, allowed_hosts: tuple[str, ...], threadpool: bool, log_level: str,
              access_log: bool, workers: int, http_impl: str, loop: str) -> None:
    """Serve the URL shortener: POST /api/links, GET /{code}, GET /api/links/{code},
    GET /api/top?k=10, OpenAPI at /openapi.json."""
    from .._deps import require

    uvicorn = require("uvicorn")
    from ..errors import InvalidParameterError
    from ..service import create_app

    capacity, refill = _parse_rate(rate)
    spec = None if store == "memory" else store
    options: dict[str, Any] = dict(
        strategy=strategy,
        secret=secret,
        machine_id=machine_id,
        redirect_status=int(redirect_status),
        rate_capacity=capacity,
        rate_refill=refill,
        rate_redirects=rate_redirects,
        api_keys=frozenset(api_keys) if api_keys else None,
        trust_forwarded=trust_forwarded,
        base_url=base_url,
        allowed_hosts=frozenset(allowed_hosts) if allowed_hosts else None,
        threadpool=threadpool,
    )
    server = dict(host=host, port=port, log_level=log_level, access_log=access_log, proxy_headers=False,
                  server_header=False, http=http_impl, loop=loop)
    if workers > 1:
        import os

        from ..service.workers import ENV, check_workers, options_to_env

        try:
            check_workers(workers, spec, options)
        except InvalidParameterError as exc:
            raise click.UsageError(str(exc)) from None
        os.environ[ENV] = options_to_env(spec, options)  # what each worker builds its app from
        click.echo(f"sysprims shortener: store={store.split(':', 1)[0]} workers={workers} on http://{host}:{port}",
                   err=True)
        uvicorn.run("sysprims.service.workers:app_from_env", factory=True, workers=workers, **server)
        return
    app = create_app(spec, **options)
    svc = app.state.service
    click.echo(f"sysprims shortener: store={svc.kind} strategy={svc.strategy} machine_id={svc.machine_id} "
               f"on http://{host}:{port}", err=True)
    uvicorn.run(app, **server)


def _parse_rate(text: str) -> tuple[float, float]:
    """``--rate`` as (capacity, refill per second): ``N/unit`` as ``limit replay``
    reads it, or the deprecated ``CAPACITY/REFILL_PER_SECOND``."""
    from .cmd_limit import parse_rate

    if text.strip() == "0":
        return 0.0, 1.0
    try:
        cap, _, refill = text.partition("/")
        old = float(cap), float(refill or 1.0)
    except ValueError:
        count, period = parse_rate(text)  # names the expected forms when it is neither
        return count, count / period
    same = f"--rate {old[0]:g}/{old[0] / old[1]:g}s" if old[0] > 0 and old[1] > 0 else "--rate 60/min"
    click.echo(f"sysprims: --rate {text} (CAPACITY/REFILL_PER_SECOND) is deprecated; write it as N/unit: {same}",
               err=True)
    return old
