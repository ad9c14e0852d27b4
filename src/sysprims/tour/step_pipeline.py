"""Tour step: the dataset pipeline through the CLI's code paths.

Writes a Parquet request log of ``size`` rows to a temporary folder, then runs
``bloom build``, ``bloom query``, ``cms top``, ``shard route`` and ``limit
replay`` on it exactly as a shell user would (progress bars on a terminal).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

from . import Row, timed

NAME = "pipeline"
ORDER = 90


def run(size: int, rng: np.random.Generator) -> list[Row]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..cli import main
    except ImportError as exc:  # pragma: no cover - the cli extra is missing
        return [Row(NAME, "dataset pipeline", 0, 0.0, f"skipped: {exc}")]

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sysprims-tour-") as tmp:
        d = Path(tmp)
        users = [f"user-{i}" for i in (rng.zipf(1.3, size=size) % 1_000_000).tolist()]
        ts = np.sort(rng.uniform(0, size / 50_000, size=size))
        log = d / "requests.parquet"
        t, _ = timed(lambda: pq.write_table(pa.table({"user": pa.array(users, pa.large_string()), "ts": ts}), log))
        rows.append(Row(NAME, "write Parquet log", size, t, f"{log.stat().st_size / 1e6:.1f} MB"))

        def cli(line: int, *args: object) -> str:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main([str(a) for a in args])
            if code != 0:
                raise RuntimeError(f"sysprims {' '.join(map(str, args))} exited with {code}")
            return out.getvalue().strip().splitlines()[line]

        steps = [  # (what, which output line to show, arguments)
            ("bloom build", 1, ("bloom", "build", log, "-c", "user", "--capacity", size, "-o", d / "users.bloom")),
            ("bloom query", 0, ("bloom", "query", d / "users.bloom", log, "-c", "user")),
            ("cms top", 1, ("cms", "top", log, "-c", "user", "--k", 5)),
            ("shard route", -1, ("shard", "route", log, "-c", "user", "--shards", 16)),
            ("limit replay", 0, ("limit", "replay", log, "--key-column", "user", "--time-column", "ts", "--rate", "10/s", "--burst", 20)),
        ]
        for what, line, args in steps:
            t, shown = timed(lambda line=line, args=args: cli(line, *args))  # type: ignore[misc]
            rows.append(Row(NAME, f"sysprims {what}", size, t, " ".join(shown.split())[:70]))
    return rows
