"""The threaded read paths (issue #24, item 5): ``contains_many``, ``query_many``,
``get_shards`` and ``murmur3_128`` with ``threads=T`` against their own serial
call, at 1M and 10M keys, in one process.

    PYTHONPATH=src python benchmarks/threads_scale.py --n 1000000 10000000
    PYTHONPATH=src python benchmarks/threads_scale.py --n 10000000 --only countmin --rounds 7

Keys: 21-byte ASCII strings in a pyarrow string array (a Zipf stream for
Count-Min), the same number of int64 keys, and (where a path takes them)
``HashedKeys``. Every contender makes one untimed warm-up call (kernels
compiled or loaded, the read pool's and numba's threads started), whose result
is checked: the threaded answer must equal the serial one, or the run stops.
Then rounds interleave the contenders; each call returns a fresh output, as a
caller gets it. The goal is wall time (best round of each); beside it:

* ``cpu``: process CPU per key (the sum over threads; ``sys`` the kernel's part
  of it, mostly the page faults of the fresh output, in 10 ms ticks). Threaded
  CPU equal to the serial CPU means the threads add no work and do not serialise;
* ``busy``: CPU of the busiest thread of the call (the calling thread, which
  also reads the batch and allocates the output, or a worker), and ``if free``
  the speedup the call would have on idle cores (serial CPU / busiest thread's CPU);
* ``cores``: CPU granted during the call (CPU / wall), and ``wait``: time the
  call's threads were runnable but queued for a core (``/proc/.../schedstat``),
  both per key. On a shared machine ``cores`` below T is the scheduler's
  share, not the code: Linux's ``sched_autogroup`` shares CPU between sessions,
  so a second thread of a busy session often splits the same share.

A floor row times first-touching a fresh output of the path's size on one
thread and on T threads (the page faults every call pays).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bloom_countmin_scale import arrow_keys, zipf_arrow  # noqa: E402
from sysprims import BloomFilter, CountMinSketch  # noqa: E402
from sysprims.hashing import hash_keys, murmur3_128  # noqa: E402
from sysprims.sharding import ConsistentHashRing, HashBasedSharding, JumpHashSharding  # noqa: E402


def thread_stats() -> dict[str, tuple[int, int]]:
    """{thread id: (ns on a CPU, ns runnable but waiting)} of every thread of
    this process (empty where /proc has no schedstat)."""
    out = {}
    for path in glob.glob("/proc/self/task/*/schedstat"):
        try:
            with open(path) as f:
                run, wait, _ = f.read().split()
        except (OSError, ValueError):
            continue
        out[path.split("/")[4]] = (int(run), int(wait))
    return out


class Timing:
    """One timed call: wall, process CPU, the busiest thread's CPU and the queue wait (seconds)."""

    def __init__(self, call: Callable[[], object]):
        me = str(threading.get_native_id())
        before = thread_stats()
        w, c, own, t0 = time.perf_counter(), time.process_time(), time.thread_time(), os.times()
        call()
        own = time.thread_time() - own
        self.sys = os.times().system - t0.system  # kernel time: page faults of the fresh output, mostly
        self.wall, self.cpu = time.perf_counter() - w, time.process_time() - c
        after = thread_stats()
        runs = [(after[t][0] - before.get(t, (0, 0))[0], after[t][1] - before.get(t, (0, 0))[1]) for t in after]
        # the calling thread's own CPU from its clock: a running thread's schedstat
        # lags by up to a scheduler tick (the workers' are current once they sleep)
        others = [r for t, (r, _) in zip(after, runs, strict=True) if t != me]
        self.busy = max([own, *(r / 1e9 for r in others)])
        self.wait = sum(q for _, q in runs) / 1e9


class Case:
    """A read path on one key form: the serial call and its threaded twins."""

    def __init__(self, name: str, n: int, call: Callable[[int], np.ndarray], threads: list[int]):
        self.name, self.n, self.call, self.threads = name, n, call, [1, *threads]
        self.best: dict[int, Timing] = {}
        self.min_cpu: dict[int, float] = {}
        self.min_busy: dict[int, float] = {}
        self.min_sys: dict[int, float] = {}

    def warm_and_check(self) -> None:
        serial = self.call(1)
        for t in self.threads[1:]:
            got = self.call(t)
            if not np.array_equal(got, serial) or got.dtype != serial.dtype:
                raise SystemExit(f"{self.name}: threads={t} differs from the serial answer")

    def round(self) -> None:
        for t in self.threads:
            tm = Timing(lambda t=t: self.call(t))
            if t not in self.best or tm.wall < self.best[t].wall:
                self.best[t] = tm
            self.min_cpu[t] = min(self.min_cpu.get(t, tm.cpu), tm.cpu)
            self.min_busy[t] = min(self.min_busy.get(t, tm.busy), tm.busy)
            self.min_sys[t] = min(self.min_sys.get(t, tm.sys), tm.sys)

    def report(self) -> None:
        k = 1e9 / self.n
        s = self.best[1]
        print(f"  {self.name:44s} serial  wall {s.wall * k:6.1f}  cpu {self.min_cpu[1] * k:6.1f}  "
              f"(sys {self.min_sys[1] * k:4.1f}) ns/key")
        for t in self.threads[1:]:
            b = self.best[t]
            print(f"  {'':44s} threads={t} wall {b.wall * k:6.1f}  cpu {self.min_cpu[t] * k:6.1f}  "
                  f"(sys {self.min_sys[t] * k:4.1f})  busy {self.min_busy[t] * k:6.1f}  cores {b.cpu / b.wall:4.2f}  wait {b.wait * k:5.1f} ns/key"
                  f"  -> wall {s.wall / b.wall:4.2f}x serial, cpu {self.min_cpu[t] / self.min_cpu[1]:4.2f}x, "
                  f"if free {self.min_cpu[1] / self.min_busy[t]:4.2f}x")


def touch_floor(nbytes: int, threads: int, rounds: int) -> tuple[float, float]:
    """Best seconds to first-touch a fresh ``nbytes`` array on one thread and on ``threads``."""

    def one() -> None:
        np.empty(nbytes, np.uint8).fill(1)

    def many() -> None:
        a = np.empty(nbytes, np.uint8)
        step = -(-nbytes // threads)
        th = [threading.Thread(target=a[i:i + step].fill, args=(1,)) for i in range(0, nbytes, step)]
        for x in th:
            x.start()
        for x in th:
            x.join()

    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, f in enumerate((one, many)):
            w = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - w)
    return best[0], best[1]


def cases(n: int, only: str | None, threads: list[int]) -> list[Case]:
    out: list[Case] = []
    keys = arrow_keys(n, 1)
    ints = np.arange(n, dtype=np.int64) * 7919
    forms = {"Arrow": keys, "int64": ints, "HashedKeys": hash_keys(keys, 0)}

    def add(name: str, f: Callable[[object, int], np.ndarray], form_names: tuple[str, ...], given: dict = forms) -> None:
        for fn in form_names:
            out.append(Case(f"{name} ({fn})", n, lambda t, b=given[fn]: f(b, t), threads))

    if only in (None, "countmin"):
        stream = zipf_arrow(n)
        cms = CountMinSketch(4096, 5)
        cms.update_many(stream)
        add("CountMin query_many", lambda b, t: cms.query_many(b, threads=t), ("Arrow", "int64", "HashedKeys"),
            {"Arrow": stream, "int64": ints, "HashedKeys": hash_keys(stream, 0)})
    if only in (None, "bloom"):
        for layout in ("split_block", "standard"):
            bf = BloomFilter.for_capacity(n, 0.01, layout=layout)
            bf.add_many(keys.slice(0, n // 2))
            bf.add_many(ints[: n // 2])
            add(f"Bloom {layout} contains_many", lambda b, t, bf=bf: bf.contains_many(b, threads=t),
                ("Arrow", "int64", "HashedKeys"))
    if only in (None, "sharding"):
        for s in (HashBasedSharding(16), JumpHashSharding(16), ConsistentHashRing([f"node-{i}" for i in range(16)])):
            add(f"{type(s).__name__} get_shards", lambda b, t, s=s: s.get_shards(b, threads=t),
                ("Arrow", "int64", "HashedKeys"))
    if only in (None, "hashing"):
        add("murmur3_128", lambda b, t: murmur3_128(b, threads=t), ("Arrow", "int64"))
    return out


def machine() -> str:
    auto = "?"
    if os.path.exists("/proc/sys/kernel/sched_autogroup_enabled"):
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            auto = f.read().strip()
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no prange kernel has run yet
        layer = "not started"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"cores {cores}, numba threading layer {layer} with {numba.get_num_threads()} threads, "
            f"sched_autogroup {auto}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--only", choices=["countmin", "bloom", "sharding", "hashing"], default=None)
    args = ap.parse_args()
    for n in args.n:
        cs = cases(n, args.only, args.threads)
        for c in cs:
            c.warm_and_check()
        print(f"== n = {n:,}: wall best of {args.rounds} interleaved rounds, threaded answers equal "
              f"the serial ones; {machine()}; load average {load()} at start")
        t = max(args.threads)
        one, many = touch_floor(8 * n, t, args.rounds)
        print(f"  floor: first touch of a fresh {8 * n >> 20} MiB output: 1 thread {one / n * 1e9:.2f} ns/key, "
              f"{t} threads {many / n * 1e9:.2f} ns/key ({one / many:.2f}x)")
        for _ in range(args.rounds):
            for c in cs:
                c.round()
        for c in cs:
            c.report()
        print(f"  load average {load()} at end")


if __name__ == "__main__":
    main()
