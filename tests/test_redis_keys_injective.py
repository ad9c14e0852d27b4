"""100,000 adversarial user keys map to 100,000 distinct Redis keys, for every
Redis store (rate limiter, idempotency, shortener), and each key's Cluster hash
tag is exactly one ``{...}``.

Keys are built offline (clients from URLs connect lazily). Distinctness is
checked directly, and each key is also parsed back by a decoder written here
(not the library's ``unescape``): a left inverse proves the layout injective
beyond the sample. The rate limiter's tag is checked against ``mmh3``."""

from __future__ import annotations

import re

import mmh3
import numpy as np
import pytest

pytest.importorskip("redis")

from sysprims.backends.redis_ratelimit import RedisRateLimitBackend  # noqa: E402
from sysprims.backends.shortener_redis import RedisLinkStore  # noqa: E402
from sysprims.idempotency import RedisStore  # noqa: E402
from sysprims.ratelimit import algorithms as A  # noqa: E402

OFFLINE = "redis://127.0.0.1:9/0"  # never contacted
N = 100_000
SPECIAL = ["{", "}", ":", "%", "\n", "\r", "\0", " ", "*", "?", "[", "]", "\\", "(", ")",
           "%7B", "%7D", "%3A", "%25", "%u", "%uD800", "é", "🙂", "\u2028", "\ufeff", "a", "b", "0"]


def adversarial_keys(n: int = N, seed: int = 18) -> list[str]:
    """``n`` distinct strings: hand-made confusables first, then random strings of
    the special pieces above (empty included)."""
    crafted = ["", "{}", "{", "}", ":", "::", "a{b}", "a(b)", "a%7Bb%7D", "a%b", "%", "%%",
               "%25", "%2525", "a:b", "a%3Ab", "{a}:b", "a}{b", "\n", "\r\n", "%0A",
               "%u00E9", "é", "e\u0301", "🙂", "%uD83D", "x" * 1000, "\ud800"]
    crafted += [chr(c) for c in range(0, 0x300)]
    out = dict.fromkeys(crafted)
    rng = np.random.default_rng(seed)
    while len(out) < n:
        lengths = rng.integers(0, 9, 4096)
        picks = rng.integers(0, len(SPECIAL), int(lengths.sum()))
        pos = 0
        for m in lengths.tolist():
            out["".join(SPECIAL[i] for i in picks[pos : pos + m].tolist())] = None
            pos += m
    return list(out)[:n]


_ESC = re.compile(r"%u([0-9A-F]{4})|%([0-9A-F]{2})")


def _unescape(s: str) -> str:
    return _ESC.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), s)


def parse(key: str) -> tuple[str, str, str, list[str], list[str]]:
    """``namespace:version:kind:{tag}:part...`` -> (namespace, version, kind, tag
    components, parts), unescaped. Fails unless the key has exactly one brace pair."""
    assert key.count("{") == 1 and key.count("}") == 1, key
    head, rest = key.split("{")
    tag, tail = rest.split("}")
    ns, version, kind, empty = head.rsplit(":", 3)
    assert empty == "" and (tail == "" or tail.startswith(":")), key
    parts = [_unescape(p) for p in tail.split(":")[1:]]
    return ns, version, kind, [_unescape(c) for c in tag.split(":")], parts


@pytest.fixture(scope="module")
def keys() -> list[str]:
    return adversarial_keys()


def test_the_sample_is_what_it_claims(keys):
    assert len(keys) == len(set(keys)) == N
    assert "" in keys and "{" in keys and "%7B" in keys and "\n" in keys and "\ud800" in keys
    assert sum(any(c in k for c in "{}:%\n") for k in keys) > 0.9 * N


def test_rate_limiter_keys_are_distinct_and_tagged_by_the_key_hash(keys):
    spec = A.SPECS["token_bucket"]
    backend = RedisRateLimitBackend(spec, A.check_params(spec, 5, 1.0), 7, OFFLINE)
    usable = [k for k in keys if not re.search("[\ud800-\udfff]", k)]  # str keys are UTF-8
    assert len(usable) > N - 10
    built = [backend.key_for(k) for k in usable]
    assert len(set(built)) == len(usable)
    for k, rk in zip(usable[:: 97], built[:: 97], strict=True):
        h1, h2 = mmh3.hash64(k.encode("utf-8"), 7, signed=False)
        assert parse(rk) == ("sysprims", "v2", "rl", [f"{h1:016x}{h2:016x}"], ["token_bucket"])
    # bytes and int keys land in the same layout; "a" and b"a" are one key by contract
    assert backend.key_for(b"a") == backend.key_for("a") != backend.key_for(b"a\0")
    assert backend.key_for(1) != backend.key_for("1")


@pytest.mark.slow
def test_idempotency_keys_are_distinct_over_scope_and_key(keys):
    scopes = ["default", "a", "a:b", "a%3Ab", "{", "%7B", "x}y"]
    stores = [RedisStore(OFFLINE, scope=s) for s in scopes]
    built = {}
    per_scope = N // len(scopes) + 1
    for j, store in enumerate(stores):
        for k in keys[j * per_scope : (j + 1) * per_scope] + keys[:200]:  # the crafted ones in every scope
            built[store._key(k)] = (store.scope, k)
    assert len(built) == N + 200 * len(scopes) - 200  # keys[:200] repeat only in scope 0
    for rk, (scope, k) in built.items():
        assert parse(rk) == ("sysprims", "v2", "idem", [scope, k], [])
    # the store lists its records by unescaping: a round trip for every key
    assert all(stores[0]._unkey(stores[0]._key(k)) == k for k in keys[::50])


@pytest.mark.slow
def test_shortener_keys_are_distinct_over_store_name_and_code(keys):
    names = ["links", "team{a}", "team(a)", "a:b", "%7B", ""]
    built: dict[str, tuple] = {}
    per_name = N // len(names) + 1
    for j, name in enumerate(names):
        store = RedisLinkStore(OFFLINE, name=name)
        fixed = [store._index, store._count, store._expz, store._top]
        for rk, what in zip(fixed, ["urls", "count", "expiry", "clicks"], strict=True):
            built[rk] = (name, what)
        for code in keys[j * per_name : (j + 1) * per_name]:
            built[store._link(code)] = (name, "l", code)
            built[store._k("counter", code)] = (name, "counter", code)
    assert len(built) == 2 * N + 4 * len(names)
    for rk, what in list(built.items())[::3]:
        ns, version, kind, tag, parts = parse(rk)
        assert (ns, version, kind, tag, tuple(parts)) == ("sysprims", "v2", "short", [what[0]], what[1:])


def test_the_three_stores_never_share_a_key(keys):
    spec = A.SPECS["fixed_window"]
    rl = RedisRateLimitBackend(spec, A.check_params(spec, 5, 1.0), 0, OFFLINE)
    idem, short = RedisStore(OFFLINE), RedisLinkStore(OFFLINE)
    sample = [k for k in keys[:5000] if not re.search("[\ud800-\udfff]", k)]
    every = [rl.key_for(k) for k in sample] + [idem._key(k) for k in sample] + [short._link(k) for k in sample]
    assert len(set(every)) == len(every)
