"""``sysprims shard route | plan``."""

from __future__ import annotations

import click
import numpy as np

from ._common import Timer, check_output, input_options, stream_keys, write_parquet

ORDER = 40

STRATEGIES = click.Choice(["jump", "hash", "ring", "rendezvous"])


def make_strategy(name: str, shards: int, vnodes: int = 160, seed: int = 0):
    from ..sharding import (
        ConsistentHashRing,
        HashBasedSharding,
        JumpHashSharding,
        RendezvousSharding,
    )

    if name == "jump":
        return JumpHashSharding(shards, seed=seed)
    if name == "hash":
        return HashBasedSharding(shards, seed=seed)
    if name == "ring":
        return ConsistentHashRing(list(range(shards)), vnodes=vnodes, seed=seed)
    return RendezvousSharding(list(range(shards)), seed=seed)


def _strategy_options(func):
    func = click.option("--seed", type=int, default=0, show_default=True, help="hash seed (the same keys map alike only with an equal seed)")(func)
    func = click.option("--vnodes", type=click.IntRange(min=1), default=160, show_default=True, help="virtual nodes per shard (ring)")(func)
    func = click.option("--strategy", type=STRATEGIES, default="jump", show_default=True, help="sharding strategy")(func)
    return func


@click.group("shard")
def COMMAND() -> None:
    """Route keys to shards; plan a resize."""


@COMMAND.command("route")
@input_options
@click.option("--shards", type=click.IntRange(min=1), required=True, help="number of shards")
@_strategy_options
@click.option("-o", "--output", default=None, help="write key,shard rows to this Parquet file")
def route(input_path, column, fmt, batch_rows, shards, strategy, vnodes, seed, output):
    """Route every key of INPUT and print how many keys each shard gets."""
    check_output(output)
    import pyarrow as pa

    router = make_strategy(strategy, shards, vnodes, seed)
    counts = np.zeros(shards, dtype=np.int64)
    timer = Timer()

    def routed():
        for arr in stream_keys(input_path, column, fmt, batch_rows, "shard route"):
            ids = router.get_shards(arr)
            counts[:] += np.bincount(ids, minlength=shards)[:shards]
            yield pa.table({"key": arr, "shard": pa.array(ids)})

    if output:
        write_parquet(output, routed())
    else:
        for _ in routed():
            pass
    n = int(counts.sum())
    mean = n / shards if shards else 0
    click.echo(f"{'shard':>5}  {'keys':>12}  share")
    for i, c in enumerate(counts.tolist()):
        click.echo(f"{i:>5}  {c:>12,}  {c / max(n, 1):.2%}")
    click.echo(f"{strategy}: {timer.rate(n)}; max/mean load {counts.max() / mean if mean else 0:.3f}")
    if output:
        click.echo(f"wrote {output}")


@COMMAND.command("plan")
@click.option("--from", "from_shards", type=click.IntRange(min=1), required=True, help="shards now")
@click.option("--to", "to_shards", type=click.IntRange(min=1), required=True, help="shards after the resize")
@click.option("--keys", "n_keys", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="generated keys to measure on")
@click.option("--input", "input_path", default=None, help="measure on the keys of this file instead")
@click.option("--column", "-c", default=None, help="column holding the keys of --input (CSV/Parquet)")
@_strategy_options
def plan(from_shards, to_shards, n_keys, input_path, column, strategy, vnodes, seed):
    """Report what changing from --from to --to shards moves, for every strategy
    (or the one given with --strategy when reading --input)."""
    from ..sharding import movement_report

    if input_path:
        keys = np.concatenate([np.asarray(a.to_numpy(zero_copy_only=False), dtype=object)
                               for a in stream_keys(input_path, column, "auto", 1 << 20, "reading keys")])
        names = [strategy]
    else:
        keys = np.random.default_rng(seed).integers(0, 2**63 - 1, size=n_keys, dtype=np.int64)
        names = ["hash", "jump", "ring", "rendezvous"]
    ideal = abs(to_shards - from_shards) / max(from_shards, to_shards)
    click.echo(f"{len(keys):,} keys, {from_shards} -> {to_shards} shards (ideal move {ideal:.2%})")
    click.echo(f"{'strategy':<11} {'moved':>14} {'share':>8} {'max/mean before':>16} {'after':>7}")
    for name in names:
        rep = movement_report(make_strategy(name, from_shards, vnodes, seed), make_strategy(name, to_shards, vnodes, seed), keys)
        click.echo(f"{name:<11} {rep.moved:>14,} {rep.moved_fraction:>8.2%} "
                   f"{rep.max_over_mean_before:>16.3f} {rep.max_over_mean_after:>7.3f}")
