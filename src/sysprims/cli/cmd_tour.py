"""``sysprims tour``: run every implemented component on generated data."""

from __future__ import annotations

import click

ORDER = 0


@click.command("tour")
@click.option("--size", type=int, default=2_000_000, show_default=True, help="keys per step")
@click.option("--only", default=None, help="comma-separated step names to run")
@click.option("--seed", type=int, default=42, show_default=True, help="random seed for the generated data")
def COMMAND(size: int, only: str | None, seed: int) -> None:
    """Run every component on generated data and print what it did and how fast,
    next to a peer library or the plain-Python way, with the call shape of each
    row (batch or one call at a time). The figures come from the same benchmark
    cases as `sysprims bench`, measured at --size; the first call of each row
    (kernel loading, first touch) is shown apart."""
    from ..tour import run_tour

    steps = [s.strip() for s in only.split(",")] if only else None
    run_tour(size=size, only=steps, seed=seed)
