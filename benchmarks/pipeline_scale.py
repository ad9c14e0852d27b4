"""Scale run of the dataset pipeline: ``sysprims bloom build`` on a large Parquet file.

A plain script (pytest does not collect it):

    python benchmarks/pipeline_scale.py                  # 10M rows (the issue's size)
    python benchmarks/pipeline_scale.py --rows 2000000   # quicker
    python benchmarks/pipeline_scale.py --skip-dask      # no LocalCluster

It writes Parquet files of user ids (20-byte strings ``user:000123456789012``,
row groups of 1Mi rows) to a temporary folder and measures, each in a fresh
subprocess so nothing is shared between runs:

(a) speed: ``sysprims bloom build`` end to end (the CLI's own timer: read the
    column batch by batch, hash, set bits, save the filter) against reading the
    same column with pyarrow alone (``ParquetFile.iter_batches``, the I/O
    floor), alternated ``--repeat`` times; the best of each is reported
    (the machine is shared, the best run is the least disturbed one);
(b) memory: peak RSS (``/usr/bin/time -v``, else ``getrusage(RUSAGE_CHILDREN)``)
    of the CLI at each size of ``--memory-sizes`` and each ``--batch-rows`` of
    ``--memory-batches``, next to the peak RSS of the bare imports and of the
    pyarrow floor, so the part that depends on the batch (and not on the file)
    is visible;
(c) Dask: ``--scheduler processes`` (a LocalCluster with one worker per core)
    against the one-process CLI, plus a breakdown (cluster start, build on a
    warm cluster) measured in this process.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

KEY_PREFIX = b"user:"
KEY_DIGITS = 15
KEY_BYTES = len(KEY_PREFIX) + KEY_DIGITS  # 20
ROW_GROUP = 1 << 20


def user_ids(n: int, rng: np.random.Generator):
    """``n`` 20-byte ASCII ids as a pyarrow string array, built without Python objects."""
    import pyarrow as pa

    values = rng.integers(0, 10**KEY_DIGITS, size=n, dtype=np.int64)
    buf = np.empty((n, KEY_BYTES), dtype=np.uint8)
    buf[:, : len(KEY_PREFIX)] = np.frombuffer(KEY_PREFIX, dtype=np.uint8)
    for pos in range(KEY_BYTES - 1, len(KEY_PREFIX) - 1, -1):
        buf[:, pos] = 48 + (values % 10).astype(np.uint8)
        values //= 10
    offsets = np.arange(0, (n + 1) * KEY_BYTES, KEY_BYTES, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1))])


def write_user_parquet(path: str | os.PathLike[str], rows: int, seed: int = 0, chunk: int = ROW_GROUP) -> None:
    """A Parquet file with one string column ``user`` of ``rows`` random ids,
    written chunk by chunk (the generator's memory is bounded too)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    schema = pa.schema([("user", pa.string())])
    with pq.ParquetWriter(str(path), schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            writer.write_table(pa.table({"user": user_ids(n, rng)}), row_group_size=chunk)


# --------------------------------------------------------------- subprocesses

FLOOR_CODE = """
import sys, time
import pyarrow.parquet as pq
path, batch = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
rows = 0
for b in pq.ParquetFile(path).iter_batches(batch_size=batch, columns=["user"]):
    rows += len(b)
s = time.perf_counter() - t
print(f"{rows} rows in {s:.3f} s")
"""

IMPORTS_CODE = (
    "import numpy, pyarrow.parquet, click, tqdm, sysprims.cli, sysprims.io\n"
    "from sysprims.bloom import BloomFilter\n"
    "BloomFilter.for_capacity(10, 0.01).add_many([b'a', b'b'])"  # loads the kernels (numba + LLVM)
)

# The CLI with the Parquet reader's read-ahead off (the fix proposed for sysprims.io.readers):
# pyarrow's ParquetFile pre-buffers the column chunks of every row group it is asked for, so
# iter_batches over a whole file holds the file's compressed column in memory.
PATCHED_CLI = (
    "import functools, sys\n"
    "import pyarrow.parquet as pq\n"
    "pq.ParquetFile = functools.partial(pq.ParquetFile, pre_buffer=False, buffer_size=1 << 20)\n"
    "from sysprims.cli import main\n"
    "sys.exit(main(sys.argv[1:]))"
)

FLOOR_NO_PREBUFFER = FLOOR_CODE.replace("pq.ParquetFile(path)", "pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)")

_GNU_TIME = "/usr/bin/time"


def run_measured(args: list[str]) -> tuple[str, float, float]:
    """Run ``args``; return (stdout, wall seconds, peak RSS in MiB)."""
    use_time = os.path.exists(_GNU_TIME)
    cmd = [_GNU_TIME, "-v", *args] if use_time else args
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if use_time:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss_kib = int(m.group(1)) if m else float("nan")
    else:  # ru_maxrss of children is a running maximum: only valid while it grows
        rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if rss_kib <= before:
            rss_kib = float("nan")
    return proc.stdout, wall, rss_kib / 1024


def cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "sysprims.cli", *map(str, args)]


def cli_rate(stdout: str) -> tuple[int, float]:
    """(rows, seconds) from the CLI's ``N rows in S s`` line."""
    m = re.search(r"([\d,]+) rows in ([\d.]+) s", stdout)
    if not m:
        raise RuntimeError(f"no rate in CLI output:\n{stdout}")
    return int(m.group(1).replace(",", "")), float(m.group(2))


def dask_seconds(stdout: str) -> float:
    m = re.search(r"in ([\d.]+) s on Dask", stdout)
    if not m:
        raise RuntimeError(f"no Dask time in CLI output:\n{stdout}")
    return float(m.group(1))


def floor_run(path: Path, batch: int, code: str = FLOOR_CODE) -> tuple[int, float, float, float]:
    out, wall, rss = run_measured([sys.executable, "-c", code, str(path), str(batch)])
    m = re.search(r"(\d+) rows in ([\d.]+) s", out)
    return int(m.group(1)), float(m.group(2)), wall, rss


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:6.2f} M rows/s"


# ---------------------------------------------------------------------- parts


def in_process_rates(path: Path, rows: int, batch: int, repeat: int) -> tuple[float, float]:
    """Best seconds of (pyarrow floor, iter_column + add_many) in this warm process."""
    import pyarrow.parquet as pq

    from sysprims.bloom import BloomFilter
    from sysprims.io import iter_column

    warm = BloomFilter.for_capacity(10, 0.01)
    for arr in iter_column(path, "user", batch_rows=10):  # load the kernels before timing
        warm.add_many(arr)
        break
    floors, ours = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        n = sum(len(b) for b in pq.ParquetFile(path).iter_batches(batch_size=batch, columns=["user"]))
        floors.append(time.perf_counter() - t)
        t = time.perf_counter()
        bf = BloomFilter.for_capacity(rows, 0.01)
        for arr in iter_column(path, "user", batch_rows=batch):
            bf.add_many(arr)
        ours.append(time.perf_counter() - t)
        assert n == rows
    return min(floors), min(ours)


def part_speed(path: Path, tiny: Path, rows: int, batch: int, repeat: int, out_dir: Path) -> float:
    print(f"\n(a) speed on {rows:,} rows, batch {batch:,} (best of {repeat}, alternated)")
    fixed = min(cli_rate(run_measured(cli("bloom", "build", tiny, "-c", "user", "-o", out_dir / "t.bloom"))[0])[1]
                for _ in range(2))
    floors, ours, ours_blocked, walls = [], [], [], []
    for _ in range(repeat):
        _, s, _, _ = floor_run(path, batch)
        floors.append(s)
        out, wall, _ = run_measured(cli("bloom", "build", path, "-c", "user", "--batch-rows", batch, "-o", out_dir / "u.bloom"))
        ours.append(cli_rate(out)[1])
        walls.append(wall)
        out, _, _ = run_measured(cli("bloom", "build", path, "-c", "user", "--batch-rows", batch, "--blocked",
                                     "-o", out_dir / "ub.bloom"))
        ours_blocked.append(cli_rate(out)[1])
    f, o, ob = min(floors), min(ours), min(ours_blocked)
    print("  separate processes (what a shell user sees):")
    print(f"    pyarrow read (I/O floor)        {fmt_rate(rows, f)}  ({f:.2f} s; runs {_runs(floors)})")
    print(f"    sysprims bloom build            {fmt_rate(rows, o)}  ({o:.2f} s; runs {_runs(ours)}) "
          f"= {f / o:.2f} x the floor's speed")
    print(f"    sysprims bloom build --blocked  {fmt_rate(rows, ob)}  ({ob:.2f} s; runs {_runs(ours_blocked)}) "
          f"= {f / ob:.2f} x the floor's speed")
    print(f"    fixed cost inside the CLI timer (same command on a 1,000-row file: numba loads its cached\n"
          f"    kernels, the filter is allocated and saved): {fixed:.2f} s; without it the build runs at "
          f"{fmt_rate(rows, max(o - fixed, 1e-9)).strip()} = {f / max(o - fixed, 1e-9):.2f} x the floor")
    print(f"    (wall time of the whole CLI process incl. interpreter start and imports: best {min(walls):.2f} s)")
    fw, ow = in_process_rates(path, rows, batch, repeat)
    print("  one warm process (iter_column + BloomFilter.add_many, the CLI's code path, vs ParquetFile.iter_batches):")
    print(f"    pyarrow floor {fmt_rate(rows, fw).strip()}, sysprims {fmt_rate(rows, ow).strip()} "
          f"= {fw / ow:.2f} x the floor's speed")
    from sysprims.bloom import BloomFilter

    bf = BloomFilter.load(out_dir / "u.bloom")
    print(f"  filter: {bf.size:,} bits ({bf.nbytes / 2**20:.1f} MiB), k={bf.num_hash_functions}")
    return ow


def _runs(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def part_memory(paths: dict[int, Path], batches: list[int], out_dir: Path) -> None:
    print("\n(b) peak RSS (MiB) of `sysprims bloom build` by input size and --batch-rows")
    _, _, base = run_measured([sys.executable, "-c", IMPORTS_CODE])
    print(f"  imports + kernels loaded, no data (python, numpy, pyarrow, numba/LLVM, sysprims): {base:.0f} MiB")
    from sysprims.bloom import BloomFilter

    header = f"  {'rows':>12} {'file MiB':>9} {'column MiB':>11} {'filter MiB':>11} {'floor RSS':>10}"
    header += "".join(f" {'batch ' + _short(b):>13}" for b in batches)
    header += f" {'floor, no read-ahead':>21} {'CLI 1Mi, no read-ahead':>23}"
    print(header)
    for rows, path in sorted(paths.items()):
        filt = BloomFilter.for_capacity(rows, 0.01).nbytes / 2**20
        column = rows * (KEY_BYTES + 4) / 2**20  # Arrow string: data + int32 offsets
        _, _, _, floor_rss = floor_run(path, 1 << 20)
        cells = []
        for b in batches:
            _, _, rss = run_measured(cli("bloom", "build", path, "-c", "user", "--batch-rows", b, "-o", out_dir / "m.bloom"))
            cells.append(rss)
        _, _, _, floor_fixed = floor_run(path, 1 << 20, FLOOR_NO_PREBUFFER)
        _, _, cli_fixed = run_measured([sys.executable, "-c", PATCHED_CLI, "bloom", "build", str(path), "-c", "user",
                                        "-o", str(out_dir / "m.bloom")])
        line = f"  {rows:>12,} {path.stat().st_size / 2**20:>9.0f} {column:>11.0f} {filt:>11.1f} {floor_rss:>10.0f}"
        print(line + "".join(f" {c:>13.0f}" for c in cells) + f" {floor_fixed:>21.0f} {cli_fixed:>23.0f}")
    print("  RSS = imports and kernels + the filter + one batch of keys + what the Parquet reader holds.\n"
          "  pyarrow's ParquetFile pre-buffers (pre_buffer=True) the column chunks of every row group that\n"
          "  iter_batches will read, i.e. the whole compressed column: that part grows with the file. With\n"
          "  pre_buffer=False (last two columns) the reader holds about one row group at a time and the growth\n"
          "  shrinks to the filter and the allocator's slack.")


def _short(n: int) -> str:
    return f"{n >> 20}Mi" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10}Ki"


def part_dask(path: Path, tiny: Path, rows: int, out_dir: Path, workers: int | None, warm_one: float) -> None:
    print(f"\n(c) Dask on {rows:,} rows: --scheduler processes vs one process ({os.cpu_count()} cores)")
    out, wall_one, _ = run_measured(cli("bloom", "build", path, "-c", "user", "-o", out_dir / "one.bloom"))
    one = cli_rate(out)[1]
    out, wall_dask, _ = run_measured(cli("bloom", "build", path, "-c", "user", "--scheduler", "processes", "--cluster-min-rows", 0,
                                         "-o", out_dir / "dask.bloom"))
    dsk = dask_seconds(out)
    same = (out_dir / "one.bloom").read_bytes() == (out_dir / "dask.bloom").read_bytes()
    print(f"  CLI, one process:            build {one:6.2f} s, whole process {wall_one:6.2f} s")
    print(f"  CLI, --scheduler processes:  build {dsk:6.2f} s (incl. cluster start), whole process {wall_dask:6.2f} s")
    print(f"  speed-up of the build: {one / dsk:.2f} x; files byte-identical: {same}")

    import dask.dataframe as dd
    import distributed

    from sysprims.dask import build_bloom

    t = time.perf_counter()
    kwargs = {"n_workers": workers} if workers else {}
    with distributed.LocalCluster(processes=True, dashboard_address=None, **kwargs) as cluster, \
            distributed.Client(cluster) as client:
        start = time.perf_counter() - t
        nworkers = len(client.scheduler_info()["workers"])
        t = time.perf_counter()
        build_bloom(dd.read_parquet(str(tiny))["user"], capacity=10, scheduler=client)
        warmup = time.perf_counter() - t
        results = {}
        for label, kw in (("dd.read_parquet(path) as the CLI does", {}),
                          ("dd.read_parquet(path, split_row_groups=True)", {"split_row_groups": True})):
            series = dd.read_parquet(str(path), **kw)["user"]
            times = []
            for _ in range(2):
                t = time.perf_counter()
                bf = build_bloom(series, capacity=rows, false_positive_rate=0.01, scheduler=client)
                times.append(time.perf_counter() - t)
            results[label] = (series.npartitions, min(times), bf.to_bytes() == (out_dir / "one.bloom").read_bytes())
        t = time.perf_counter()
        series = dd.read_parquet(str(path), split_row_groups=True)["user"]
        n_read = series.map_partitions(len).compute().sum()
        read_only = time.perf_counter() - t
        read_parts = series.npartitions
    print(f"  in-process: LocalCluster start {start:.2f} s ({nworkers} workers); workers' first task "
          f"(imports, kernel load) {warmup:.2f} s; then on the warm cluster (best of 2):")
    for label, (parts, best, same) in results.items():
        print(f"    {label:46} {parts:3} partitions: {best:6.2f} s = {warm_one / best:.2f} x one warm process "
              f"({warm_one:.2f} s); identical: {same}")
    print(f"    reading the column into pandas on the cluster alone ({n_read:,} rows, {read_parts} partitions): {read_only:.2f} s")
    print(f"  each partition ships a {bf.nbytes / 2**20:.1f} MiB filter to the merge tree")


# ------------------------------------------------------------- the main job

FLOOR_FILES_CODE = """
import sys, time
import pyarrow.parquet as pq
t = time.perf_counter()
rows = 0
for path in sys.argv[2:]:
    for b in pq.ParquetFile(path).iter_batches(batch_size=int(sys.argv[1]), columns=["user"]):
        rows += len(b)
print(f"{rows} rows in {time.perf_counter() - t:.3f} s")
"""

FLOOR_TABLE_CODE = """
import sys, time
import pyarrow.parquet as pq
t = time.perf_counter()
rows = 0
for path in sys.argv[1:]:
    rows += pq.read_table(path, columns=["user"]).num_rows
print(f"{rows} rows in {time.perf_counter() - t:.3f} s")
"""

FLOOR_COPY_CODE = """
import sys, time
import pyarrow as pa, pyarrow.parquet as pq
t = time.perf_counter()
rows = 0
out, paths = sys.argv[2], sys.argv[3:]
with pq.ParquetWriter(out, pa.schema([("user", pa.string())])) as w:
    for path in paths:
        for b in pq.ParquetFile(path).iter_batches(batch_size=int(sys.argv[1]), columns=["user"]):
            w.write_batch(b)
            rows += len(b)
print(f"{rows} rows in {time.perf_counter() - t:.3f} s")
"""


def run_cpu(args: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run ``args``; return (stdout, wall seconds, CPU seconds of the child: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, wall, cpu


def _timed(stdout: str) -> float:
    m = re.search(r"rows in ([\d.]+) s", stdout)
    if not m:
        raise RuntimeError(f"no timing in output:\n{stdout}")
    return float(m.group(1))


def part_main_job(files: list[Path], rows: int, batch: int, repeat: int, out_dir: Path, dask: bool,
                  build_only: bool = False, compare_src: str | None = None) -> None:
    """``sysprims bloom build 'part-*.parquet'`` and ``bloom dedup -o`` over several files,
    alternated with their pyarrow floors in fresh processes: reading the column
    (streamed with ``iter_batches``, as the CLI reads; and ``pq.read_table`` per file,
    pyarrow's fastest read) and reading it and writing it back (``build_only``: the
    standard build and its two read floors alone, for a quicker run). ``compare_src``: a
    second tree's ``src`` folder whose build runs in the same rounds (its filter compared
    byte for byte with this tree's)."""
    glob_arg = str(files[0].parent / "part-*.parquet")
    names = [str(f) for f in files]
    runs: dict[str, list[tuple[float, float, float]]] = {}

    def note(label: str, stdout: str, wall: float, cpu: float) -> None:
        runs.setdefault(label, []).append((_timed(stdout), wall, cpu))

    for _ in range(repeat):
        note("pyarrow read", *run_cpu([sys.executable, "-c", FLOOR_FILES_CODE, str(batch), *names]))
        note("pyarrow read_table", *run_cpu([sys.executable, "-c", FLOOR_TABLE_CODE, *names]))
        note("bloom build", *run_cpu(cli("bloom", "build", glob_arg, "-c", "user", "--batch-rows", batch,
                                          "-o", out_dir / "main.bloom")))
        if compare_src:
            env = {**os.environ, "PYTHONPATH": compare_src}
            note("bloom build (compared)", *run_cpu(cli("bloom", "build", glob_arg, "-c", "user", "--batch-rows", batch,
                                                      "-o", out_dir / "cmp.bloom"), env))
        if build_only:
            continue
        note("bloom build --blocked", *run_cpu(cli("bloom", "build", glob_arg, "-c", "user", "--batch-rows", batch,
                                                    "--blocked", "-o", out_dir / "mainb.bloom")))
        note("pyarrow read + write", *run_cpu([sys.executable, "-c", FLOOR_COPY_CODE, str(batch),
                                               str(out_dir / "copy.parquet"), *names]))
        note("bloom dedup -o", *run_cpu(cli("bloom", "dedup", glob_arg, "-c", "user", "--batch-rows", batch,
                                             "-o", out_dir / "dedup.parquet")))
    print(f"\n(d) the main job: {len(files)} files, {rows:,} rows in all (best of {repeat}, alternated;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  {'':24} {'timed s':>8} {'process s':>10} {'CPU s':>7}   speed vs its floor (timed; process; CPU)")
    reads = ("pyarrow read", "pyarrow read_table")
    for label, floors in (("pyarrow read", ()), ("pyarrow read_table", ()), ("bloom build", reads),
                          ("bloom build (compared)", reads),
                          ("bloom build --blocked", reads), ("pyarrow read + write", ()),
                          ("bloom dedup -o", ("pyarrow read + write",))):
        if label not in runs:
            continue
        best = [min(r[i] for r in runs[label]) for i in range(3)]
        line = f"  {label:24} {best[0]:8.2f} {best[1]:10.2f} {best[2]:7.2f}"
        for n, floor in enumerate(floors):
            fb = [min(r[i] for r in runs[floor]) for i in range(3)]
            line += "\n" + " " * 54 if n else ""
            line += f"   {fb[0] / best[0]:.2f} x; {fb[1] / best[1]:.2f} x; {fb[2] / best[2]:.2f} x vs {floor}"
        print(line)
    if compare_src:
        same = (out_dir / "cmp.bloom").read_bytes() == (out_dir / "main.bloom").read_bytes()
        print(f"  (compared: the build of {compare_src}; its filter is byte-identical: {same})")
    if dask:
        part_dask_crossover(files, rows // len(files), out_dir)


def part_dask_crossover(files: list[Path], per_file: int, out_dir: Path) -> None:
    """``--scheduler processes`` against one process on 1 file and on all of them; a line
    through each pair of points gives the size beyond which Dask would be faster."""
    points = {}
    for subset in (files[:1], files):
        names = [str(f) for f in subset]
        out, _, cpu_one = run_cpu(cli("bloom", "build", *names, "-c", "user", "-o", out_dir / "one.bloom"))
        one = _timed(out)
        out, _, _ = run_cpu(cli("bloom", "build", *names, "-c", "user", "--scheduler", "processes", "--cluster-min-rows", 0,
                                "-o", out_dir / "dask.bloom"))
        dsk = dask_seconds(out)
        same = (out_dir / "one.bloom").read_bytes() == (out_dir / "dask.bloom").read_bytes()
        n = len(subset) * per_file
        points[n] = (one, dsk)
        print(f"  {n:>12,} rows: one process {one:6.2f} s, --scheduler processes {dsk:6.2f} s "
              f"(cluster start and each worker's imports and kernel loading included) = "
              f"{one / dsk:.2f} x; byte-identical: {same}")
    worker_kernel_loading()
    from sysprims.cli._dask import default_cluster_min_rows

    print(f"  the CLI's default --cluster-min-rows here: {default_cluster_min_rows():,} keys "
          f"(below it --scheduler processes builds in one process)")
    (n0, (o0, d0)), (n1, (o1, d1)) = sorted(points.items())
    slope_one, slope_dask = (o1 - o0) / (n1 - n0), (d1 - d0) / (n1 - n0)
    fixed_one, fixed_dask = o0 - slope_one * n0, d0 - slope_dask * n0
    print(f"  per 1M rows: one process {slope_one * 1e6:.3f} s, Dask {slope_dask * 1e6:.3f} s; fixed: "
          f"one process {fixed_one:.2f} s, Dask {fixed_dask:.2f} s")
    if slope_dask < slope_one:
        print(f"  Dask starts to pay beyond about {(fixed_dask - fixed_one) / (slope_one - slope_dask):,.0f} rows")
    else:
        print("  Dask does not pay at any size on this machine: its per-row cost is not below one process's")


def _load_in_worker() -> tuple[float, float]:
    """(wall, CPU) seconds a worker takes to import and load the build's kernels (what
    is left of it when the preload already runs)."""
    c, w = time.process_time(), time.perf_counter()
    from sysprims.cli._dask_worker import _load_kernels

    _load_kernels()
    return time.perf_counter() - w, time.process_time() - c


def worker_kernel_loading() -> None:
    """Per-worker kernel loading on a fresh LocalCluster, without and with the CLI's preload."""
    import distributed

    for label, preload in (("no preload", []), ("CLI preload", ["sysprims.cli._dask_worker"])):
        t = time.perf_counter()
        with distributed.LocalCluster(processes=True, dashboard_address=None, preload=preload) as cluster, \
                distributed.Client(cluster) as client:
            start = time.perf_counter() - t
            t = time.perf_counter()
            got = client.run(_load_in_worker)
            first = time.perf_counter() - t
            t = time.perf_counter()
        close = time.perf_counter() - t
        per = ", ".join(f"{w:.2f} s wall / {c:.2f} s CPU" for w, c in got.values())
        print(f"  {label:12}: cluster start {start:.2f} s; kernel loading per worker {per}; "
              f"first call returned after {first:.2f} s; teardown {close:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the main file (default 10M)")
    ap.add_argument("--memory-sizes", type=str, default="1000000,ROWS",
                    help="comma-separated row counts for the memory table (ROWS = --rows)")
    ap.add_argument("--memory-batches", type=str, default=f"{1 << 16},{1 << 20}",
                    help="comma-separated --batch-rows values for the memory table")
    ap.add_argument("--batch-rows", type=int, default=1 << 20, help="batch size for the speed runs")
    ap.add_argument("--repeat", type=int, default=3, help="alternated repeats of the speed runs")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: Dask's choice)")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--tmp", default=None, help="folder for the files (default: a new temporary folder)")
    ap.add_argument("--main-job", type=str, default=None, metavar="FILESxROWS",
                    help="only the main job: e.g. 8x5000000 = 8 Parquet files of 5M rows (the issue's size)")
    ap.add_argument("--build-only", action="store_true",
                    help="with --main-job: only the standard build and its pyarrow floors")
    ap.add_argument("--compare-src", default=None, metavar="DIR",
                    help="with --main-job: also run the build of another tree's src folder in the same rounds")
    args = ap.parse_args(argv)
    if args.main_job:
        return main_job(args)

    tmp = Path(args.tmp) if args.tmp else Path(tempfile.mkdtemp(prefix="sysprims-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        import platform

        print(f"sysprims pipeline scale run: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        sizes = sorted({args.rows if s.strip() == "ROWS" else int(s) for s in args.memory_sizes.split(",")})
        paths: dict[int, Path] = {}
        for n in sorted(set(sizes) | {args.rows}):
            p = tmp / f"users_{n}.parquet"
            t = time.perf_counter()
            write_user_parquet(p, n)
            print(f"wrote {p.name}: {n:,} rows, {p.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t:.1f} s")
            paths[n] = p
        subprocess.run(cli("bloom", "build", paths[min(paths)], "-c", "user", "-o", tmp / "warm.bloom"),
                       check=True, capture_output=True)  # fill numba's cache before timing
        tiny = tmp / "users_tiny.parquet"
        write_user_parquet(tiny, 1_000)
        warm_one = part_speed(paths[args.rows], tiny, args.rows, args.batch_rows, args.repeat, tmp)
        if not args.skip_memory:
            part_memory({n: paths[n] for n in sizes}, [int(b) for b in args.memory_batches.split(",")], tmp)
        if not args.skip_dask:
            part_dask(paths[args.rows], tiny, args.rows, tmp, args.workers, warm_one)
    finally:
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main_job(args: argparse.Namespace) -> int:
    nfiles, per_file = (int(x) for x in args.main_job.lower().split("x"))
    tmp = Path(args.tmp) if args.tmp else Path(tempfile.mkdtemp(prefix="sysprims-main-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        files = []
        for i in range(nfiles):
            p = tmp / f"part-{i}.parquet"
            if not p.exists() or pq_rows(p) != per_file:
                write_user_parquet(p, per_file, seed=i)
            files.append(p)
        subprocess.run(cli("bloom", "build", files[0], "-c", "user", "-o", tmp / "warm.bloom"),
                       check=True, capture_output=True)  # fill numba's cache before timing
        part_main_job(files, nfiles * per_file, args.batch_rows, args.repeat, tmp, not args.skip_dask,
                      args.build_only, args.compare_src)
    finally:
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


if __name__ == "__main__":
    sys.exit(main())
