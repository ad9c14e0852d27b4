"""Shared fixtures: a real redis-server on a free loopback port, a real 3-master
Redis Cluster of redis-server processes, manual clocks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import NoReturn

import pytest

from sysprims.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at 1,700,000,000 s (2023-11-14)."""
    return ManualClock(1_700_000_000.0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process of our own on 127.0.0.1."""

    def __init__(self, binary: str, durable: bool = False):
        self.binary = binary
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="sysprims-redis-")
        self.proc: subprocess.Popen | None = None
        self.durable = durable  # append-only file, fsync on every write: survives SIGKILL

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *_persistence(self.durable), "--dir", self.dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL by pid (no shutdown: only a durable server keeps its data)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port (state is lost unless durable; scripts flushed)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None
        self.start()


def _missing(why: str, hint: str) -> NoReturn:
    """Skip (or fail under REQUIRE_REDIS=1) for a missing Redis tool or package."""
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(f"REQUIRE_REDIS=1 but {why} ({hint})")
    pytest.skip(f"{why} ({hint})")


def _persistence(durable: bool) -> list[str]:
    if durable:
        return ["--appendonly", "yes", "--appendfsync", "always"]
    return ["--appendonly", "no"]


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not on PATH", "apt-get install -y redis-server")
    try:
        import redis  # noqa: F401
    except ImportError:
        _missing("the redis Python package is not installed", 'pip install -e ".[redis]"')
    return binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole session."""
    server = RedisServer(_redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of the session's redis-server, flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def redis_client(redis_url: str):
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server a test may stop and restart (failure tests)."""
    server = RedisServer(_redis_binary())
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------- Redis Cluster


def _ping(port: int, command: bytes = b"PING\r\n", expect: bytes = b"+PONG") -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(command)
            return expect in s.recv(4096)
    except OSError:
        return False


class ClusterNode:
    """One cluster-enabled redis-server on a loopback port; its folder keeps
    ``nodes.conf`` across restarts (so a restarted node rejoins with its slots)."""

    def __init__(self, binary: str, folder: str, durable: bool = False):
        self.binary = binary
        self.durable = durable
        self.port = _free_port()
        self.bus_port = _free_port()
        self.dir = folder
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *_persistence(self.durable), "--dir", self.dir, "--protected-mode", "yes",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-port", str(self.bus_port), "--cluster-node-timeout", "5000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: _ping(self.port), f"redis-server (cluster node) on port {self.port}")

    def kill(self) -> None:
        """SIGKILL by pid (no shutdown, no goodbye to the other nodes)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def _wait_for(ready, what: str, seconds: float = 20.0) -> None:
    """Poll ``ready()`` until it holds, with a bounded deadline (readiness only)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready within {seconds:.0f} s")


class RedisClusterServers:
    """A real 3-master Redis Cluster (no replicas) on 127.0.0.1; slots assigned with
    ``redis-cli --cluster create``; every process stopped by its pid."""

    def __init__(self, binary: str, cli: str, masters: int = 3, durable: bool = False):
        self.binary, self.cli = binary, cli
        self.root = tempfile.mkdtemp(prefix="sysprims-cluster-")
        self.nodes = []
        for i in range(masters):
            folder = os.path.join(self.root, f"node{i}")
            os.mkdir(folder)
            self.nodes.append(ClusterNode(binary, folder, durable))

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [self.cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
            )
            self.wait_ok()
        except BaseException:
            self.stop()
            raise

    def ok(self) -> bool:
        """Every node answers and says cluster_state:ok."""
        return all(
            n.proc is not None and _ping(n.port, b"CLUSTER INFO\r\n", b"cluster_state:ok")
            for n in self.nodes
        )

    def wait_ok(self, seconds: float = 30.0) -> None:
        _wait_for(self.ok, "the Redis Cluster (cluster_state:ok)", seconds)

    def restart(self, node: ClusterNode) -> None:
        """Start a killed node again on its port and folder; wait for the cluster."""
        node.start()
        self.wait_ok()

    def client(self, **kwargs):
        from redis.cluster import ClusterNode as Seed
        from redis.cluster import RedisCluster

        return RedisCluster(startup_nodes=[Seed("127.0.0.1", p) for p in self.ports], **kwargs)

    def flush(self) -> None:
        import redis

        for p in self.ports:
            c = redis.Redis(host="127.0.0.1", port=p)
            c.flushall()
            c.script_flush()
            c.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _redis_cli() -> str:
    cli = shutil.which("redis-cli")
    if cli is None:
        _missing("redis-cli is not on PATH", "it comes with redis-server: apt-get install -y redis-server")
    return cli


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """One real 3-master Redis Cluster for the whole session."""
    cluster = RedisClusterServers(_redis_binary(), _redis_cli())
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_client(redis_cluster: RedisClusterServers):
    """A ``redis.cluster.RedisCluster`` client of the session's cluster, every node
    flushed (data and scripts) before the test."""
    redis_cluster.flush()
    client = redis_cluster.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def durable_cluster() -> Iterator[RedisClusterServers]:
    """A 3-master cluster of the module's own, with fsync'd append-only files, whose
    nodes a test may SIGKILL and restart with their data (fault tests: restart what
    you kill, and ``flush()`` first)."""
    cluster = RedisClusterServers(_redis_binary(), _redis_cli(), durable=True)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    """A private single redis-server with an fsync'd append-only file (it keeps its
    data across SIGKILL and restart)."""
    server = RedisServer(_redis_binary(), durable=True)
    server.start()
    yield server
    server.stop()
