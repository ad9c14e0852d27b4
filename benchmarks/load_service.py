"""Bounded load run of the URL-shortener service on loopback.

Starts ``sysprims serve shortener`` as a real uvicorn process (SQLite, then Redis:
a private redis-server on a free port unless ``--redis-url`` is given), creates
``--links`` links, then ``--clients`` client processes (keep-alive HTTP/1.1
connections, one each) send ``--requests`` redirect requests in total to random
codes and stop by themselves. Reports redirects per second, p50/p99/max latency,
the server process's CPU per redirect, and checks that the store counted every
click exactly once.

    python benchmarks/load_service.py                       # 20,000 requests, 4 clients
    python benchmarks/load_service.py --smoke               # a few hundred, seconds
    python benchmarks/load_service.py --stores sqlite --requests 50000 --json out.json

Latency is measured by the clients (send to full response); the clients and the
server share the machine's cores, so the figures are a floor for the service.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server():
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def service(store: str, extra: list[str] | None = None):
    port = free_port()
    cmd = [sys.executable, "-c", "from sysprims.cli import main; raise SystemExit(main())", "serve", "shortener",
           "--port", str(port), "--store", store, "--rate", "0", "--log-level", "warning", *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"service exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("service did not start in 60 s")
            time.sleep(0.1)
        service.pid = proc.pid  # type: ignore[attr-defined]  # the last server started, for process_cpu
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def create_links(port: int, n: int) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    codes = []
    for i in range(n):
        body = json.dumps({"url": f"https://example.com/load/{i}?ref=bench"})
        conn.request("POST", "/api/links", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create failed: {resp.status} {data[:200]!r}")
        codes.append(json.loads(data)["code"])
    conn.close()
    return codes


def _client(args: tuple[int, list[str], int, int]) -> tuple[np.ndarray, int]:
    port, codes, n, seed = args
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = np.empty(n, dtype=np.float64)
    errors = 0
    perf = time.perf_counter
    for i in range(n):
        path = "/" + codes[rng.randrange(len(codes))]
        t0 = perf()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        lat[i] = perf() - t0
        if resp.status != 302:
            errors += 1
    conn.close()
    return lat, errors


def run_load(store: str, *, requests: int = 20_000, clients: int = 4, links: int = 1000,
             extra: list[str] | None = None) -> dict[str, Any]:
    """One bounded run against a fresh service on ``store``; returns the figures."""
    with service(store, extra) as port:
        codes = create_links(port, links)
        _client((port, codes, min(200, requests), 0))  # warm-up (not measured, clicks counted)
        warm = min(200, requests)
        per = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
        ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
        with ctx.Pool(clients) as pool:
            cpu0 = process_cpu(service.pid)  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            results = pool.map(_client, [(port, codes, n, i + 1) for i, n in enumerate(per)])
            wall = time.perf_counter() - t0
            cpu1 = process_cpu(service.pid)  # type: ignore[attr-defined]
        lat = np.concatenate([r[0] for r in results])
        errors = sum(r[1] for r in results)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/api/top?k={min(links, 1000)}")
        top = json.loads(conn.getresponse().read())["links"]
        counted = sum(x["clicks"] for x in top)
        conn.close()
    return {
        "store": store.split(":", 1)[0],
        "requests": requests,
        "clients": clients,
        "links": links,
        "wall_s": wall,
        "redirects_per_s": requests / wall,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "max_ms": float(lat.max() * 1e3),
        "errors": errors,
        # the server process's own CPU per redirect: steadier than redirects/s on a shared machine
        "server_cpu_us": None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / requests * 1e6,
        "clicks_counted": counted,
        "clicks_expected": requests + warm if links <= 1000 else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--links", type=int, default=1000)
    ap.add_argument("--stores", default="sqlite,redis")
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--inline", action="store_true", help="serve with --inline (store calls on the event loop)")
    ap.add_argument("--smoke", action="store_true", help="a tiny run (300 requests, 2 clients, 50 links)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    a = ap.parse_args(argv)
    if a.smoke:
        a.requests, a.clients, a.links = 300, 2, 50
    extra = ["--inline"] if a.inline else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in a.stores.split(","):
            if store == "sqlite":
                rows.append(run_load(f"sqlite:///{tmp}/links.db", requests=a.requests, clients=a.clients,
                                     links=a.links, extra=extra))
            elif store == "redis":
                if a.redis_url:
                    rows.append(run_load(a.redis_url, requests=a.requests, clients=a.clients, links=a.links,
                                         extra=extra))
                else:
                    with redis_server() as url:
                        rows.append(run_load(url, requests=a.requests, clients=a.clients, links=a.links,
                                             extra=extra))
            else:
                raise SystemExit(f"unknown store {store!r}: sqlite or redis")
    print(f"{'store':8} {'requests':>9} {'clients':>7} {'redirects/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'errors':>6} {'clicks ok':>9} {'server CPU us':>13}")
    for r in rows:
        ok = r["clicks_counted"] == r["clicks_expected"]
        print(f"{r['store']:8} {r['requests']:>9,} {r['clients']:>7} {r['redirects_per_s']:>12,.0f} "
              f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.1f} {r['errors']:>6} {str(ok):>9} "
              f"{r['server_cpu_us'] or float('nan'):>13.0f}")
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, "
          f"load average before: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "cpus": os.cpu_count()}, f, indent=2)
    return 0 if all(r["errors"] == 0 and r["clicks_counted"] == r["clicks_expected"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
