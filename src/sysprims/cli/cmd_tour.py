"""``sysprims tour``: run every implemented component on generated data."""

from __future__ import annotations

import argparse

ORDER = 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tour",
        help="run every component on generated data and print what it did and how fast",
        description="Run every implemented component on generated data and print a short "
        "table of what it did and how fast, next to the plain-Python way.",
    )
    p.add_argument("--size", type=int, default=2_000_000, help="keys per step (default 2,000,000)")
    p.add_argument("--only", default=None, help="comma-separated step names to run")
    p.add_argument("--seed", type=int, default=42, help="random seed for the generated data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..tour import run_tour

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    run_tour(size=args.size, only=only, seed=args.seed)
    return 0
