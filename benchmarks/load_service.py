"""Bounded load run of the URL-shortener service on loopback.

Starts ``sysprims serve shortener`` as a real uvicorn process (SQLite, then Redis:
a private redis-server on a free port unless ``--redis-url`` is given), creates
``--links`` links, then ``--clients`` client processes (keep-alive HTTP/1.1
connections, one each; ``--new-connections``: a new connection per request, as
``ab`` without ``-k`` or a browser following a link) send ``--requests`` redirect
requests in total to random codes and stop by themselves. Reports redirects per
second, p50/p99/max latency, the server process's CPU per redirect, and checks
that the store counted every click exactly once.

    python benchmarks/load_service.py                       # 20,000 requests, 4 clients
    python benchmarks/load_service.py --smoke               # a few hundred, seconds
    python benchmarks/load_service.py --stores sqlite --requests 50000 --json out.json
    # this tree against an older checkout, interleaved in one run, both client methods:
    python benchmarks/load_service.py --tree new=src --tree old=/tmp/old/src --methods keepalive,new

``--floor`` adds a peer: a bare ASGI app on the same uvicorn that answers the same
requests from a dict (no framework, no store), so the run shows what uvicorn, the
loop, the sockets and the clients cost by themselves. ``--stores sqlite,redis,redis-unix``
also reaches our redis-server over its Unix socket; ``--tree-args NAME="--workers 2"`` passes serve
options to one tree. Besides the server's CPU per redirect the rows give the
clients' and redis-server's: on a machine the clients share, their sum is what
bounds redirects/s.

``--plain-uvicorn`` serves with uvicorn's pure-Python parts (h11 and the asyncio
loop), as a ``pip install uvicorn`` without ``[standard]`` does.

Latency is measured by the clients (send to full response); the clients and the
server share the machine's cores, so the figures are a floor for the service.
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(unix_socket: str | None = None):
    """A private redis-server on a free loopback port; yields its URL (``unix://`` on
    ``unix_socket`` when given: the server listens on both)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    port = free_port()
    unix = ["--unixsocket", unix_socket, "--unixsocketperm", "700"] if unix_socket else []
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             *unix], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis_server.pid = proc.pid  # type: ignore[attr-defined]  # for its CPU per redirect
    redis_server.port = port  # type: ignore[attr-defined]
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
        yield f"unix://{unix_socket}?db=0" if unix_socket else f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


# uvicorn.run with h11 and the asyncio loop, whatever is installed: works on any tree's CLI
_PLAIN = ("import functools, uvicorn; "
          "uvicorn.run = functools.partial(uvicorn.run, http='h11', loop='asyncio'); ")

# The floor (a peer, not sysprims): a bare ASGI app on the same uvicorn that answers
# the benchmark's routes from a dict, with no framework, middleware or store. Its CPU
# per redirect is what uvicorn, the loop and the sockets cost by themselves.
_FLOOR = '''
import json, sys, uvicorn
links, clicks = {}, {}
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    status, headers, body = 200, [(b"content-type", b"application/json")], b"{}"
    if method == "POST":
        while True:
            msg = await receive()
            if not msg.get("more_body"):
                break
        code = f"f{len(links)}"
        links[code] = f"https://example.com/{code}"
        status, body = 201, json.dumps({"code": code}).encode()
    elif path == "/api/top":
        body = json.dumps({"links": [{"code": c, "clicks": n} for c, n in clicks.items()]}).encode()
    elif path[1:] in links:
        clicks[path[1:]] = clicks.get(path[1:], 0) + 1
        status, headers, body = 302, [(b"location", links[path[1:]].encode())], b""
    elif path not in ("/healthz", "/api/stats"):
        status = 404
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
port = int(sys.argv[sys.argv.index("--port") + 1])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False)
'''


@contextlib.contextmanager
def service(store: str, extra: list[str] | None = None, src: str | None = None, plain: bool = False):
    """A ``sysprims serve shortener`` process; ``src``: the ``src`` folder of the tree
    to serve (first on its PYTHONPATH; several folders joined by ``os.pathsep``), else
    whatever ``import sysprims`` finds; ``src="floor"``: the bare ASGI app above."""
    port = free_port()
    boot = (_PLAIN if plain else "") + "from sysprims.cli import main; raise SystemExit(main())"
    if src == "floor":
        cmd = [sys.executable, "-c", (_PLAIN if plain else "") + _FLOOR, "--port", str(port)]
    else:
        cmd = [sys.executable, "-c", boot, "serve", "shortener",
               "--port", str(port), "--store", store, "--rate", "0", "--log-level", "warning", *(extra or [])]
    env = dict(os.environ)
    if src is not None and src != "floor":
        paths = [os.path.abspath(x) for x in src.split(os.pathsep)]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 300  # a fresh tree compiles its kernels first
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
                raise RuntimeError("service did not start in 300 s")
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
    """CPU seconds (user + system) a process and its live descendants (uvicorn's
    workers) have used so far (Linux), else None."""
    try:
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{name}/stat") as f:
                    stats[int(name)] = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        total, todo, seen = 0.0, [pid], set()
        while todo:
            p = todo.pop()
            seen.add(p)
            total += (int(stats[p][11]) + int(stats[p][12])) / tick
            todo += [q for q, f in stats.items() if int(f[1]) == p and q not in seen]
        return total
    except (OSError, ValueError, IndexError, AttributeError, KeyError):
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


def _client(args: tuple[int, list[str], int, int, bool]) -> tuple[np.ndarray, int, float]:
    """``n`` redirects to random codes; with ``new_conn`` each on its own connection
    (connect, request, close: the connect is part of its latency). Returns the
    latencies, the errors and the client's own CPU seconds."""
    port, codes, n, seed, new_conn = args
    cpu0 = time.process_time()
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = np.empty(n, dtype=np.float64)
    errors = 0
    perf = time.perf_counter
    for i in range(n):
        path = "/" + codes[rng.randrange(len(codes))]
        t0 = perf()
        if new_conn:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers={"Connection": "close"})
        else:
            conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if new_conn:
            conn.close()
        lat[i] = perf() - t0
        if resp.status != 302:
            errors += 1
    conn.close()
    return lat, errors, time.process_time() - cpu0


def run_load(store: str, *, requests: int = 20_000, clients: int = 4, links: int = 1000,
             extra: list[str] | None = None, src: str | None = None, plain: bool = False,
             new_conn: bool = False, redis_pid: int | None = None) -> dict[str, Any]:
    """One bounded run against a fresh service on ``store``; returns the figures."""
    with service(store, extra, src, plain) as port:
        codes = create_links(port, links)
        _client((port, codes, min(200, requests), 0, new_conn))  # warm-up (not measured, clicks counted)
        warm = min(200, requests)
        per = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
        ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
        with ctx.Pool(clients) as pool:
            cpu0 = process_cpu(service.pid)  # type: ignore[attr-defined]
            rcpu0 = process_cpu(redis_pid) if redis_pid else None
            t0 = time.perf_counter()
            results = pool.map(_client, [(port, codes, n, i + 1, new_conn) for i, n in enumerate(per)])
            wall = time.perf_counter() - t0
            cpu1 = process_cpu(service.pid)  # type: ignore[attr-defined]
            rcpu1 = process_cpu(redis_pid) if redis_pid else None
        lat = np.concatenate([r[0] for r in results])
        errors = sum(r[1] for r in results)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/api/top?k={min(links, 1000)}")
        top = json.loads(conn.getresponse().read())["links"]
        counted = sum(x["clicks"] for x in top)
        conn.request("GET", "/api/stats")
        path = json.loads(conn.getresponse().read()).get("redirect_store")  # how redirects reached the store
        conn.close()
    return {
        "store": store.split(":", 1)[0],
        "method": "new" if new_conn else "keepalive",
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
        # the clients' and redis-server's CPU per redirect: with the server's, what the machine spends
        "client_cpu_us": sum(r[2] for r in results) / requests * 1e6,
        "redis_cpu_us": None if rcpu0 is None or rcpu1 is None else (rcpu1 - rcpu0) / requests * 1e6,
        "clicks_counted": counted,
        "redirect_store": path,
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
    ap.add_argument("--new-connections", action="store_true", help="a new connection per request (no keep-alive)")
    ap.add_argument("--methods", default=None,
                    help="client methods to run, comma separated: keepalive, new (overrides --new-connections)")
    ap.add_argument("--plain-uvicorn", action="store_true", help="serve with h11 and the asyncio loop")
    ap.add_argument("--tree", action="append", default=None, metavar="NAME=SRC",
                    help="serve the tree whose src folder is SRC (repeatable: the trees run interleaved)")
    ap.add_argument("--tree-args", action="append", default=[], metavar="NAME=ARGS",
                    help="extra serve options for one tree (e.g. 'new2=--workers 2'; repeatable)")
    ap.add_argument("--floor", action="store_true",
                    help="also run a bare ASGI app on the same uvicorn (no framework, no store): the floor")
    ap.add_argument("--redis-unix", action="store_true",
                    help="our redis-server over its Unix socket, not TCP (or name redis-unix in --stores: both)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every combination this many times, interleaved")
    ap.add_argument("--smoke", action="store_true", help="a tiny run (300 requests, 2 clients, 50 links)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    a = ap.parse_args(argv)
    if a.smoke:
        a.requests, a.clients, a.links = 300, 2, 50
    extra = ["--inline"] if a.inline else []
    methods = a.methods.split(",") if a.methods else ["new" if a.new_connections else "keepalive"]
    if set(methods) - {"keepalive", "new"}:
        raise SystemExit(f"unknown client method in {a.methods!r}: keepalive or new")
    trees = [(t.split("=", 1)[0], t.split("=", 1)[1]) if "=" in t else (t, t) for t in a.tree] if a.tree else [("", None)]
    if a.floor:
        trees.append(("floor", "floor"))
    tree_args = {t.split("=", 1)[0]: t.split("=", 1)[1].split() for t in a.tree_args}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        redis_url = a.redis_url
        stores = a.stores.split(",")
        if a.redis_unix:
            stores = ["redis-unix" if x == "redis" else x for x in stores]
        unix_url = None
        if {"redis", "redis-unix"} & set(stores) and redis_url is None:
            sock = os.path.join(tmp, "redis.sock")
            unix_url = stack.enter_context(redis_server(sock))  # one server, on TCP and on a Unix socket
            redis_url = f"redis://127.0.0.1:{redis_server.port}/0"  # type: ignore[attr-defined]
        n = 0
        for _ in range(a.rounds):
            for store in stores:
                for method in methods:
                    for name, src in trees:
                        if src == "floor" and store != stores[0]:
                            continue  # the floor has no store: once per method is enough
                        n += 1
                        if store == "sqlite":
                            url = f"sqlite:///{tmp}/links{n}.db"
                        elif store.startswith("redis") and a.redis_url:
                            url = a.redis_url  # yours: never flushed (clicks are checked on fresh keys only)
                        elif store in ("redis", "redis-unix") and redis_url is not None:
                            db = n % 16  # our server: a fresh db each run
                            url = (f"{unix_url.split('?')[0]}?db={db}" if store == "redis-unix" and unix_url
                                   else redis_url.rsplit("/", 1)[0] + f"/{db}")
                            _flush(url)
                        else:
                            raise SystemExit(f"unknown store {store!r}: sqlite, redis or redis-unix")
                        r = run_load(url, requests=a.requests, clients=a.clients, links=a.links,
                                     extra=extra + tree_args.get(name, []), src=src, plain=a.plain_uvicorn,
                                     new_conn=method == "new",
                                     redis_pid=getattr(redis_server, "pid", None) if store.startswith("redis") else None)
                        r["store"] = "none" if src == "floor" else store
                        r["tree"] = name
                        rows.append(r)
                        print(_row(r), flush=True)
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, load average before: {load:.1f}, "
          f"after: {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.1f}"
          + (", uvicorn: h11 + asyncio" if a.plain_uvicorn else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "cpus": os.cpu_count(), "load_before": load}, f, indent=2)
    return 0 if all(r["errors"] == 0 and r["clicks_counted"] == r["clicks_expected"] for r in rows) else 1


_HEAD = (f"{'tree':6} {'store':10} {'method':9} {'requests':>9} {'clients':>7} {'redirects/s':>12} {'p50 ms':>8} "
         f"{'p99 ms':>8} {'max ms':>8} {'errors':>6} {'clicks ok':>9} {'server CPU us':>13} {'client us':>9} "
         f"{'redis us':>8}")


def _row(r: dict[str, Any]) -> str:
    if not getattr(_row, "headed", False):
        print(_HEAD)
        _row.headed = True  # type: ignore[attr-defined]
    ok = r["clicks_counted"] == r["clicks_expected"]
    return (f"{r['tree'] or '-':6} {r['store']:10} {r['method']:9} {r['requests']:>9,} {r['clients']:>7} "
            f"{r['redirects_per_s']:>12,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.1f} "
            f"{r['errors']:>6} {str(ok):>9} {r['server_cpu_us'] or float('nan'):>13.0f} {r['client_cpu_us']:>9.0f} "
            f"{r['redis_cpu_us'] or float('nan'):>8.0f}")


def _flush(url: str) -> None:
    """Empty one Redis database (each run starts on fresh keys)."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


if __name__ == "__main__":
    sys.exit(main())
