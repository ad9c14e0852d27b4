"""``sysprims limit replay``: replay a request log through a rate limiter."""

from __future__ import annotations

import re
from collections import Counter

import click

from ._common import FORMATS, Timer, check_output, stream_tables, write_parquet

ORDER = 30

ALGORITHMS = {
    "token-bucket": "token_bucket",
    "leaky-bucket": "leaky_bucket",
    "fixed-window": "fixed_window",
    "sliding-window-log": "sliding_window_log",
    "sliding-window-counter": "sliding_window_counter",
}
_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


def parse_rate(text: str) -> tuple[float, float]:
    """``"100/s"``, ``"6000/min"``, ``"10/5s"`` -> (requests, period in seconds)."""
    m = _RATE.match(text.lower())
    if not m or m.group(3) not in _UNITS:
        raise click.BadParameter(f"rate must look like 100/s, 6000/min or 10/5s, got {text!r}", param_hint="--rate")
    count = float(m.group(1))
    period = float(m.group(2) or 1.0) * _UNITS[m.group(3)]
    if count <= 0 or period <= 0:
        raise click.BadParameter(f"rate must be positive, got {text!r}", param_hint="--rate")
    return count, period


TIME_UNITS = ("auto", "s", "ms", "us", "ns")
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def infer_time_unit(values) -> str:
    """The unit of numeric epoch times from their magnitude: below 1e11 seconds (up to
    the year 5138; small offsets too), below 1e14 ms, below 1e17 us, else ns."""
    import numpy as np

    if values.size == 0:
        return "s"
    top = float(np.max(np.abs(values.astype(np.float64))))
    for unit, bound in (("s", 1e11), ("ms", 1e14), ("us", 1e17)):
        if top < bound:
            return unit
    return "ns"


def limiter_params(algorithm: str, rate: str, burst: float | None) -> dict[str, float]:
    count, period = parse_rate(rate)
    if algorithm in ("token_bucket", "leaky_bucket"):
        capacity = burst if burst is not None else count
        key = "refill_rate" if algorithm == "token_bucket" else "leak_rate"
        return {"capacity": capacity, key: count / period}
    if burst is not None:
        raise click.BadParameter("--burst applies to token-bucket and leaky-bucket only", param_hint="--burst")
    if count != int(count):
        raise click.BadParameter(f"a window algorithm needs a whole number of requests, got {count}", param_hint="--rate")
    return {"max_requests": int(count), "window_seconds": period}


@click.group("limit")
def COMMAND() -> None:
    """Rate limiting over request logs."""


@COMMAND.command("replay")
@click.argument("log_path", metavar="LOG")
@click.option("--key-column", required=True, help="column holding the client key (user, API key, IP)")
@click.option("--time-column", required=True, help="column holding the request time (numbers or timestamps)")
@click.option("--time-unit", type=click.Choice(TIME_UNITS), default="auto", show_default=True,
              help="unit of a numeric time column; auto infers it from the magnitude and says so "
                   "(timestamp columns carry their own)")
@click.option("--algorithm", type=click.Choice(list(ALGORITHMS)), default="token-bucket", show_default=True, help="rate limiting algorithm")
@click.option("--rate", required=True, help="allowed rate, e.g. 100/s, 6000/min, 10/5s")
@click.option("--burst", type=float, default=None, help="bucket capacity (default: the rate's count)")
@click.option("--sort", is_flag=True, help="sort each batch by time instead of rejecting out-of-order rows")
@click.option("--top", "top_n", type=click.IntRange(min=0), default=10, show_default=True, help="show the most limited keys")
@click.option("--format", "fmt", type=FORMATS, default="auto", show_default=True, help="input format (auto: by extension; csv, tsv or parquet)")
@click.option("--batch-rows", type=click.IntRange(min=1), default=1 << 20, show_default=True, help="rows per batch (memory stays bounded by this)")
@click.option("-o", "--output", default=None, help="write key,time,allowed rows to this Parquet file")
def replay(log_path, key_column, time_column, time_unit, algorithm, rate, burst, sort, top_n, fmt,
           batch_rows, output):
    """Replay LOG through a rate limiter in time order; print allowed/denied totals."""
    check_output(output)
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..ratelimit import RateLimiter

    algo = ALGORITHMS[algorithm]
    limiter = RateLimiter(algo, **limiter_params(algo, rate, burst))
    totals = {"rows": 0, "allowed": 0}
    denied_by_key: Counter = Counter()
    timer = Timer()
    unit = {"value": None if time_unit == "auto" else time_unit}

    def unit_of(ts):
        if ts.dtype.kind == "M":
            if time_unit != "auto":
                raise click.ClickException(
                    f"--time-unit {time_unit} applies to a numeric time column; {time_column!r} holds "
                    f"timestamps ({ts.dtype}), which carry their own unit")
            return None
        if ts.dtype.kind not in "iuf":
            return None  # the limiter names what it cannot read
        if unit["value"] is None:  # decided once, from the first batch, and said
            unit["value"] = infer_time_unit(ts)
            click.echo(f"time column {time_column!r}: numbers up to {float(abs(ts).max(initial=0)):.6g}, "
                       f"read as {_UNIT_NAMES[unit['value']]} (inferred from the magnitude; "
                       "--time-unit chooses)", err=True)
        return unit["value"]

    def decisions():
        for table in stream_tables(log_path, [key_column, time_column], fmt, batch_rows, "limit replay",
                                   as_string=[key_column]):
            keys = table.column(0).combine_chunks()
            times = table.column(1).combine_chunks()
            if times.null_count:
                raise click.ClickException(f"column {time_column!r} has empty values")
            ts = times.to_numpy(zero_copy_only=False)
            allowed = limiter.allow_many(keys, ts, sort=sort, time_unit=unit_of(ts))
            totals["rows"] += len(keys)
            totals["allowed"] += int(allowed.sum())
            if top_n and not allowed.all():
                counts = pc.value_counts(keys.filter(pa.array(~allowed)))
                denied_by_key.update(dict(zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True)))
            yield pa.table({"key": keys, "time": times, "allowed": pa.array(allowed)})

    if output:
        write_parquet(output, decisions())
    else:
        for _ in decisions():
            pass
    n, ok = totals["rows"], totals["allowed"]
    click.echo(f"{algorithm} at {rate}{f' burst {burst:g}' if burst is not None else ''}: "
               f"{n:,} requests, {ok:,} allowed, {n - ok:,} denied ({(n - ok) / max(n, 1):.2%}); {timer.rate(n)}")
    if top_n and denied_by_key:
        click.echo("most limited keys:")
        width = max(len(str(k)) for k, _ in denied_by_key.most_common(top_n))
        for key, count in denied_by_key.most_common(top_n):
            click.echo(f"  {str(key).ljust(width)}  {count:,} denied")
    if output:
        click.echo(f"wrote {output}")
