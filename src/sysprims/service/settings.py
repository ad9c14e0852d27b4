"""Settings of the URL-shortener service (one frozen dataclass, validated once)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from .._validate import check_choice, check_int, check_number
from ..errors import InvalidParameterError

__all__ = ["ServiceSettings", "store_kind"]

STRATEGIES = ("counter", "permuted", "hash", "snowflake")


def store_kind(store: Any) -> str:
    """``"memory"``, ``"sqlite"`` or ``"redis"`` for a store spec (docs/stores.md)."""
    from ..backends.registry import spec_kind

    kind = spec_kind(store)
    if kind == "object":
        raise InvalidParameterError(
            f"store must be None, 'memory', a sqlite:/// URL or path, or a redis:// URL or client, got {store!r}"
        )
    return "redis" if kind == "redis_cluster" else kind


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the service can be tuned by (``create_app(**overrides)`` takes the same names).

    * ``strategy``: how codes are made; ``None`` picks ``"permuted"`` (7 characters,
      not enumerable) for memory/SQLite and ``"snowflake"`` for Redis (several
      instances need no coordination beyond distinct machine ids).
    * ``secret``: key of the permuted strategy (random per start if not given:
      codes stay unique because the store refuses a taken code, but keep one fixed
      so that a restarted service keeps the same code sequence).
    * ``machine_id``: Snowflake machine id; ``None`` leases a free one from Redis
      (``machine_lease_seconds``, renewed in the background) or uses 0 without Redis.
    * ``redirect_status``: 302 (default; every click reaches the service) or 301.
    * ``rate_capacity`` / ``rate_refill``: token bucket per client (burst, tokens per
      second) for the ``/api`` routes; ``rate_redirects`` also limits redirects.
      ``rate_capacity=0`` turns rate limiting off.
    * ``api_keys``: if given, ``X-API-Key`` must be one of them (401 otherwise) and
      requests carrying one are limited per key; requests without a key are limited per
      IP address. Without ``api_keys`` the header is ignored (a client could dodge its
      limit by inventing keys). ``trust_forwarded``: take the IP from the last
      ``X-Forwarded-For`` entry, the one your proxy added (only behind a proxy you run;
      every header line is read, as one comma-joined list).
    * ``base_url``: the base of ``short_url`` (set it in production). Without it the
      request's ``Host`` header is used, if it is a valid host[:port] (400 otherwise);
      ``allowed_hosts`` (lower-case names) restricts it further, like Django's
      ``ALLOWED_HOSTS``. Links to any of these hosts are refused (a redirect loop).
    * ``idempotency_ttl``: seconds a POST's response is replayed for its key;
      ``idempotency_lock_ttl``: how long a claim holds while the request runs.
    * ``trending_k`` / ``trending_width`` / ``trending_depth``: the Count-Min top-K
      tracker of this instance; ``trending_window``: seconds after which the current
      window becomes the previous one (trending = last two windows).
    * ``alias_capacity`` / ``alias_false_positive_rate``: the scalable Bloom filter of
      taken aliases.
    * ``namespace``: prefix of every Redis key and name of the SQLite tables' owner.
    * ``threadpool``: run SQLite and Redis calls in a worker thread (default), so that a
      slow or hung store never stalls the event loop (``/healthz`` keeps answering; the
      memory store always runs inline);
      ``False`` runs them inline on the loop (a little faster on an idle loopback
      store, but one hung Redis call then stalls every request).
    """

    strategy: str | None = None
    secret: str | bytes | None = None
    code_length: int = 7
    machine_id: int | None = None
    machine_lease_seconds: float = 60.0
    redirect_status: int = 302
    base_url: str | None = None
    max_url_length: int = 2048
    max_ttl_seconds: float = 10 * 365 * 86400.0
    max_body_bytes: int = 16384
    rate_capacity: float = 60.0
    rate_refill: float = 1.0
    rate_redirects: bool = False
    api_keys: frozenset[str] | None = None
    trust_forwarded: bool = False
    allowed_hosts: frozenset[str] | None = None
    idempotency_ttl: float = 86400.0
    idempotency_lock_ttl: float = 30.0
    trending_k: int = 100
    trending_width: int = 8192
    trending_depth: int = 4
    trending_window: float = 3600.0
    trending_flush: int = 512
    alias_capacity: int = 10000
    alias_false_positive_rate: float = 0.001
    namespace: str = "sysprims"
    service_name: str = "shortener"
    threadpool: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.strategy is not None:
            check_choice("strategy", self.strategy, STRATEGIES)
        check_int("code_length", self.code_length, min=4, max=10)
        if self.machine_id is not None:
            check_int("machine_id", self.machine_id, min=0, max=1023)
        check_number("machine_lease_seconds", self.machine_lease_seconds, min=1.0)
        if self.redirect_status not in (301, 302, 307, 308):
            raise InvalidParameterError(f"redirect_status must be 301, 302, 307 or 308, got {self.redirect_status!r}")
        if self.base_url is not None and not (
            isinstance(self.base_url, str) and self.base_url.startswith(("http://", "https://"))
        ):
            raise InvalidParameterError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        check_int("max_url_length", self.max_url_length, min=16, max=1 << 20)
        check_number("max_ttl_seconds", self.max_ttl_seconds, min=0, min_inclusive=False)
        check_int("max_body_bytes", self.max_body_bytes, min=256)
        check_number("rate_capacity", self.rate_capacity, min=0)
        check_number("rate_refill", self.rate_refill, min=0, min_inclusive=False)
        if self.api_keys is not None:
            keys = frozenset(self.api_keys)
            bad = [k for k in keys if not (isinstance(k, str) and k and k.isprintable())]
            if bad:
                raise InvalidParameterError(f"api_keys must be non-empty printable str, got {bad[0]!r}")
            object.__setattr__(self, "api_keys", keys)
        if self.allowed_hosts is not None:
            if isinstance(self.allowed_hosts, str):
                raise InvalidParameterError(f"allowed_hosts must be a collection of host names, got the str {self.allowed_hosts!r}")
            hosts = frozenset(h.rstrip(".").lower() for h in self.allowed_hosts if isinstance(h, str))
            if len(hosts) != len(frozenset(self.allowed_hosts)) or not all(hosts):
                raise InvalidParameterError(f"allowed_hosts must be non-empty host names, got {sorted(map(repr, self.allowed_hosts))}")
            object.__setattr__(self, "allowed_hosts", hosts)
        check_number("idempotency_ttl", self.idempotency_ttl, min=0, min_inclusive=False)
        check_number("idempotency_lock_ttl", self.idempotency_lock_ttl, min=0, min_inclusive=False)
        check_int("trending_k", self.trending_k, min=1, max=100000)
        check_int("trending_width", self.trending_width, min=16)
        check_int("trending_depth", self.trending_depth, min=1, max=64)
        check_number("trending_window", self.trending_window, min=0, min_inclusive=False)
        check_int("trending_flush", self.trending_flush, min=1, max=1 << 20)
        check_int("alias_capacity", self.alias_capacity, min=1)
        check_number("alias_false_positive_rate", self.alias_false_positive_rate, min=0, max=1, min_inclusive=False,
                     max_inclusive=False)
        for name in ("namespace", "service_name"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value and value.replace("_", "").replace("-", "").isalnum()):
                raise InvalidParameterError(f"{name} must be a non-empty str of letters, digits, _ and -, got {value!r}")

    def with_overrides(self, **overrides: Any) -> ServiceSettings:
        """A copy with some fields changed (unknown names raise)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise InvalidParameterError(f"unknown service setting(s) {unknown}; known: {sorted(names - {'extra'})}")
        return replace(self, **overrides)

    def strategy_for(self, kind: str) -> str:
        if self.strategy is not None:
            return self.strategy
        return "snowflake" if kind == "redis" else "permuted"
