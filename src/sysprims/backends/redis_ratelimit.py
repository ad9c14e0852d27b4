"""Rate limiting on Redis: the five algorithms as atomic Lua scripts.

:class:`RedisRateLimitBackend` is the backend behind
``RateLimiter(..., backend="redis://...")`` (the seam is described in
``docs/ratelimit.md``). Each algorithm is one script,
``lua/ratelimit_common.lua`` with ``lua/ratelimit_<algorithm>.lua`` inserted,
loaded once and run with ``EVALSHA`` (``NOSCRIPT`` falls back to loading it).
A script call decides a whole chunk of requests in order, so ``allow_many``
costs one round trip per chunk; the per-key state is one hash with an expiry,
under ``<namespace>:v2:rl:{<128-bit key hash>}:<algorithm>``, the layout of
:func:`sysprims.backends.redis.key` (the braces are the Redis Cluster hash tag:
every algorithm's state of one key is in one slot). sysprims 0.1 wrote
``<namespace>:rl:<algorithm>:{<hash>}``; those keys are not read (rate-limit
state is short-lived: they expire by themselves, see ``docs/ratelimit_redis.md``).

Time is the caller's ``now`` when one is given, else the Redis server's
``TIME`` (pass a NaN time to the scripts). The failure policy
(``on_error``) decides what a Redis error means: raise
:class:`~sysprims.errors.BackendError` (default), allow, or deny.
"""

from __future__ import annotations

import struct
import threading
import time as _time
from typing import Any

import numpy as np

from .._validate import check_choice, check_int, check_number
from ..errors import BackendError
from ..ratelimit import algorithms as A
from . import redis as layer

__all__ = ["RedisRateLimitBackend", "ON_ERROR", "script_for"]

ON_ERROR = ("raise", "allow", "deny")
_NAN = float("nan")
_PAIR = struct.Struct("<dd")
_SCRIPTS: dict[str, layer.LuaScript] = {}
_SCRIPTS_LOCK = threading.Lock()


def script_for(algorithm: str) -> layer.LuaScript:
    """The Lua script of ``algorithm`` (shared driver + algorithm body), built once."""
    with _SCRIPTS_LOCK:
        script = _SCRIPTS.get(algorithm)
        if script is None:
            from importlib import resources

            lua = resources.files("sysprims.backends").joinpath("lua")
            common = lua.joinpath("ratelimit_common.lua").read_text("utf-8")
            body = lua.joinpath(f"ratelimit_{algorithm}.lua").read_text("utf-8")
            source = common.replace("--@ALGORITHM@", body)
            script = _SCRIPTS[algorithm] = layer.LuaScript(f"ratelimit_{algorithm}.lua", source)
        return script


def _pack(ts: Any, costs: Any, n: int) -> bytes:
    """16 bytes per request: float64 time (NaN = server time), float64 cost."""
    arr = np.empty((n, 2), dtype="<f8")
    arr[:, 0] = _NAN if ts is None else ts
    arr[:, 1] = costs
    return arr.tobytes()


class _PartialChunk(Exception):
    """A chunk some of whose requests were decided before a Cluster node failed:
    ``bits`` holds 0/1 per decided request and 2 per undecided one."""

    def __init__(self, bits: bytes, error: BaseException):
        super().__init__(str(error))
        self.bits, self.error = bits, error


class RedisRateLimitBackend:
    """One algorithm's per-key state in Redis, decided by atomic Lua scripts.

    ``RedisRateLimitBackend(spec, params, seed, url, **options)`` is what
    ``RateLimiter(..., backend=url, backend_options=options)`` builds.

    Options:

    * ``namespace`` (``"sysprims"``): first part of every key; limiters of the
      same algorithm and namespace share the state of equal keys (so give two
      different limits on the same keys two namespaces).
    * ``on_error``: ``"raise"`` (a Redis error raises ``BackendError``),
      ``"allow"`` (fail open) or ``"deny"`` (fail closed).
    * ``timeout`` (1.0 s): socket and connect timeout of a client built from a URL.
    * ``retries`` (1): immediate reconnect-and-retry attempts on a connection
      error (a restarted server is picked up by the first call after it is back).
      A retry after a reply was lost may count a request twice (never zero times).
    * ``cooldown`` (0.0 s): after an error, apply ``on_error`` for this long
      without contacting Redis (spares the timeout on every call while it is down).
    * ``chunk_size`` (1000): requests per script call in ``allow_many``.
    * ``batch``: ``"script"`` (one script call decides a chunk; all keys of a
      chunk go to one server), ``"pipeline"`` (one script call per request,
      pipelined per chunk: each call touches one Cluster slot) or ``"auto"``
      (``"pipeline"`` for a ``RedisCluster`` client, else ``"script"``).
    * ``grace`` (10.0 s): added to every key's expiry, which is the time until its
      state equals a fresh key's (measured with the limiter's time; replays whose
      timestamps run much slower than the server clock should raise it).
    * ``time``: ``"server"`` (default: a limiter without a clock of its own asks
      for Redis ``TIME``) or ``"caller"`` (the limiter's clock).
    """

    name = "redis"

    def __init__(
        self,
        spec: A.AlgorithmSpec,
        params: tuple[float, float, float],
        seed: int,
        url: Any,
        *,
        namespace: str = layer.DEFAULT_NAMESPACE,
        on_error: str = "raise",
        timeout: float | None = 1.0,
        retries: int = 1,
        cooldown: float = 0.0,
        chunk_size: int = 1000,
        batch: str = "auto",
        grace: float = 10.0,
        time: str = "server",
    ):
        self.spec = spec
        self.params: tuple[float, float, float] = tuple(float(p) for p in params)  # type: ignore[assignment]
        self.seed = seed
        # layer.key validates the namespace; keys are '<pre><32 hex digits><post>'
        pre, _, post = layer.key(namespace, "rl", "@", spec.name).partition("@")
        self._pre, self._post = pre, post
        self.namespace = namespace
        self.on_error = check_choice("on_error", on_error, ON_ERROR)
        if timeout is not None:
            timeout = check_number("timeout", timeout, min=0.0, min_inclusive=False)
        self.timeout = timeout
        self.retries = check_int("retries", retries, min=0, max=100)
        self.cooldown = check_number("cooldown", cooldown, min=0.0)
        self.chunk_size = check_int("chunk_size", chunk_size, min=1, max=100_000)
        self.grace = check_number("grace", grace, min=0.0)
        self.time = check_choice("time", time, ("server", "caller"))
        self.server_time = self.time == "server"
        batch = check_choice("batch", batch, ("auto", "script", "pipeline"))
        self.client = self._client(url)
        self.cluster = layer.is_cluster_client(self.client)
        if batch == "auto" or self.cluster:  # one script call cannot span Cluster slots
            batch = "pipeline" if self.cluster else "script"
        self.batch = batch
        self._script = script_for(spec.name)
        limit, rate, window = self.params
        self._fixed_args = [repr(limit), repr(rate if rate else window), repr(self.grace)]
        self._args0 = (*self._fixed_args, "0")
        self._fixed_args_no_details = list(self._args0)
        from redis.exceptions import NoScriptError

        self._noscript = NoScriptError
        self._down_until = 0.0
        self._redis_errors = layer.redis_errors()

    # -- connection --------------------------------------------------------
    def _client(self, url: Any) -> Any:
        if isinstance(url, str):
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError as RConnectionError
            from redis.retry import Retry

            return layer.connect(
                url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), self.retries, supported_errors=(RConnectionError,)),
            )
        return layer.connect(url)

    def close(self) -> None:
        """Close the client's connections (a client passed in is closed too)."""
        try:
            self.client.close()
        except self._redis_errors:  # pragma: no cover - closing a dead socket
            pass

    def key_of(self, hk: tuple[int, int]) -> str:
        """The Redis key holding the state of hash ``(h1, h2)``:
        ``layer.key(namespace, "rl", f"{h1:016x}{h2:016x}", algorithm)``."""
        return f"{self._pre}{hk[0]:016x}{hk[1]:016x}{self._post}"

    def key_for(self, key: Any) -> str:
        """The Redis key holding the state of user key ``key`` (str, bytes or int,
        hashed under the limiter's seed as every ``allow`` call hashes it)."""
        from ..hashing import hash128

        return self.key_of(hash128(key, self.seed))

    def _keys(self, hashes: np.ndarray) -> list[str]:
        hexes = hashes.astype(">u8").tobytes().hex()
        pre, post = self._pre, self._post
        return [f"{pre}{hexes[i : i + 32]}{post}" for i in range(0, len(hexes), 32)]

    # -- failure policy ----------------------------------------------------
    def _failed(self, exc: BaseException) -> bool:
        """Apply ``on_error`` to ``exc``: raise, or return the policy's decision."""
        if self.cooldown:
            self._down_until = _time.monotonic() + self.cooldown
        if self.on_error == "raise":
            if isinstance(exc, BackendError):
                raise exc
            raise BackendError(f"Redis rate limiter failed: {exc}") from exc
        return self.on_error == "allow"

    def _cooling(self) -> bool:
        return self._down_until > 0.0 and _time.monotonic() < self._down_until

    def _run(self, keys: list[str], blob: bytes, details: bool = False) -> Any:
        return self._script(self.client, keys, [*self._fixed_args, "1" if details else "0", blob])

    # -- decisions ---------------------------------------------------------
    def allow_one(self, hk: tuple[int, int], now: float | None, cost: float) -> bool:
        if self._down_until and self._cooling():
            return self._failed(BackendError("Redis is cooling down after an error"))
        blob = _PAIR.pack(_NAN if now is None else now, cost)
        key = f"{self._pre}{hk[0]:016x}{hk[1]:016x}{self._post}"
        try:
            try:  # the common case inlined: EVALSHA of a loaded script
                return self.client.evalsha(self._script.sha, 1, key, *self._args0, blob) == b"1"
            except self._noscript:
                return self._run([key], blob) == b"1"  # loads the script, runs it
        except (BackendError, *self._redis_errors) as exc:  # type: ignore[misc]  # mypy: no star in except
            return self._failed(exc)

    def step_row(self, hk: tuple[int, int], now: float | None, cost: float):
        """Decide one request; ``(allowed, time used, state row after it)``. Raises
        ``BackendError`` on a Redis error whatever the policy."""
        if self._cooling():
            raise BackendError("Redis is cooling down after an error")
        blob = _PAIR.pack(_NAN if now is None else now, cost)
        res = self._run([self.key_of(hk)], blob, details=True)
        return res[0] == b"1", float(res[1]), [float(v) for v in res[2:]]

    def decide(self, hk: tuple[int, int], now: float | None, cost: float):
        """``(allowed, remaining, retry_after, reset_after)``; with a failure policy of
        allow/deny, a failed call gives ``(policy, limit or 0, 0 or max(cooldown, 1), 0)``."""
        try:
            allowed, used_now, row = self.step_row(hk, now, cost)
        except (BackendError, *self._redis_errors) as exc:  # type: ignore[misc]  # mypy: no star in except
            ok = self._failed(exc)
            limit = self.params[0]
            return (ok, int(limit) if ok else 0, 0.0 if ok else max(self.cooldown, 1.0), 0.0)
        return (allowed, *A.details(row, self.spec.code, self.params, used_now, cost, allowed))

    def allow_many(
        self, hashes: np.ndarray, ts: np.ndarray | None, costs: np.ndarray
    ) -> np.ndarray:
        """Decide ``n`` requests in order, ``chunk_size`` per round trip. ``ts`` None
        means the server's time. After a Redis error the undecided requests get the
        failure policy's answer (decided chunks keep theirs) or ``BackendError`` is raised."""
        n = hashes.shape[0]
        out = np.zeros(n, dtype=np.bool_)
        step = self.chunk_size
        for start in range(0, n, step):
            stop = min(n, start + step)
            try:
                if self._cooling():
                    raise BackendError("Redis is cooling down after an error")
                keys = self._keys(hashes[start:stop])
                blob = _pack(
                    None if ts is None else ts[start:stop], costs[start:stop], stop - start
                )
                if self.batch == "script":
                    res = self._run(keys, blob)
                else:
                    res = self._pipelined(keys, blob)
            except _PartialChunk as part:  # a Cluster node failed: the others' answers stand
                decided = np.frombuffer(part.bits, dtype=np.uint8)
                out[start:] = self._failed(part.error)
                out[start:stop] = np.where(decided == 2, out[start:stop], decided == 1)
                return out
            except (BackendError, *self._redis_errors) as exc:  # type: ignore[misc]  # mypy: no star in except
                out[start:] = self._failed(exc)
                return out
            out[start:stop] = np.frombuffer(res, dtype=np.uint8) == 49  # b"1"
        return out

    def _pipelined(self, keys: list[str], blob: bytes) -> bytes:
        """One script call per request, or on a Cluster one per hash slot (its
        requests in order), pipelined: each call touches one slot. A key's requests
        share a slot, and different keys' states are independent, so the answers
        are the serial loop's. On a Cluster, when a node fails, the requests of the
        nodes that answered keep their decisions (:class:`_PartialChunk`)."""
        fixed = self._fixed_args_no_details
        if not self.cluster:
            calls = [([k], [*fixed, blob[16 * i : 16 * i + 16]]) for i, k in enumerate(keys)]
            return b"".join(self._script.run_many(self.client, calls))
        from redis.crc import key_slot

        groups: dict[int, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(key_slot(k.encode()), []).append(i)
        members = list(groups.values())
        calls = [
            ([keys[i] for i in idx], [*fixed, b"".join(blob[16 * i : 16 * i + 16] for i in idx)])
            for idx in members
        ]
        results = self._script.run_many(self.client, calls, partial=True)
        bits = bytearray(len(keys))
        failure = None
        for idx, res in zip(members, results, strict=True):
            if isinstance(res, BaseException):
                failure = failure or res
                for i in idx:
                    bits[i] = 2  # undecided
            else:
                for i, b in zip(idx, res, strict=True):
                    bits[i] = b - 48  # b"0" / b"1"
        if failure is not None:
            raise _PartialChunk(bytes(bits), failure)
        return bytes(bytearray(b + 48 for b in bits))

    # -- state -------------------------------------------------------------
    def get_row(self, hk: tuple[int, int]) -> list[float] | None:
        """The key's state row as in :mod:`sysprims.ratelimit.algorithms`, or None."""
        try:
            raw = self.client.hgetall(self.key_of(hk))
        except self._redis_errors as exc:
            raise BackendError(f"Redis is unavailable: {exc}") from exc
        if not raw:
            return None
        fields = self.decode_fields(raw)
        code = self.spec.code
        if code in (A.TOKEN_BUCKET, A.LEAKY_BUCKET):
            return [fields["a"], fields["t"]]
        if code == A.FIXED_WINDOW:
            return [fields["a"], fields["b"]]
        if code == A.SLIDING_COUNTER:
            return [fields["a"], fields["b"], fields["c"]]
        L = int(self.params[0])
        return [fields["n"], fields["h"], *(fields.get(f"r{i}", 0.0) for i in range(L))]

    #: names of the float64 numbers packed in field ``s``, per algorithm
    STATE_FIELDS = {
        A.TOKEN_BUCKET: ("a", "t", "x"),
        A.LEAKY_BUCKET: ("a", "t", "x"),
        A.FIXED_WINDOW: ("a", "b", "t", "x"),
        A.SLIDING_COUNTER: ("a", "b", "c", "t", "x"),
        A.SLIDING_LOG: ("n", "h", "w", "L", "t", "x"),
    }

    def decode_fields(self, raw: dict) -> dict[str, float]:
        """The numbers of a state hash (as ``HGETALL`` returns it) by name: the packed
        field ``s`` (see ``lua/ratelimit_<algorithm>.lua``) and ring slots ``r<i>``."""
        names = self.STATE_FIELDS[self.spec.code]
        out: dict[str, float] = {}
        for k, v in raw.items():
            name = k.decode() if isinstance(k, bytes) else k
            if name == "s":
                out.update(zip(names, struct.unpack(f"<{len(names)}d", v), strict=True))
            elif name.startswith("r"):
                out[name] = struct.unpack("<d", v)[0]
        return out

    def ttl_of(self, hk: tuple[int, int]) -> float | None:
        """Seconds until the key's state expires in Redis (None if absent or no expiry)."""
        try:
            ms = self.client.pttl(self.key_of(hk))
        except self._redis_errors as exc:
            raise BackendError(f"Redis is unavailable: {exc}") from exc
        return None if ms < 0 else ms / 1000.0

    def reset(self, hk: tuple[int, int], now: float | None = None) -> None:
        try:
            self.client.delete(self.key_of(hk))
        except self._redis_errors as exc:
            if self.on_error == "raise":
                raise BackendError(f"Redis is unavailable: {exc}") from exc

    def reclaim(self, now: float | None = None) -> int:
        """Redis expires idle keys itself; nothing to do (returns 0)."""
        return 0

    def __len__(self) -> int:
        """Keys of this algorithm and namespace currently in Redis (a SCAN)."""
        try:
            pattern = layer.scan_pattern(self._pre) + self._post  # '<pre>*}:<algorithm>'
            return sum(1 for _ in self.client.scan_iter(match=pattern, count=1000))
        except self._redis_errors as exc:
            raise BackendError(f"Redis is unavailable: {exc}") from exc

    def __repr__(self) -> str:
        return (
            f"RedisRateLimitBackend({self.spec.name!r}, namespace={self.namespace!r}, "
            f"on_error={self.on_error!r}, batch={self.batch!r}, time={self.time!r})"
        )
