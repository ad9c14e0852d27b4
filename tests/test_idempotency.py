"""Idempotency manager: the classic primer API, validation, TTLs, fingerprints (memory store)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims.errors import (
    IdempotencyError,
    IdempotencyKeyMismatch,
    InvalidParameterError,
    RequestInProgress,
    SerializationError,
)
from sysprims.idempotency import (
    CachedOperationError,
    IdempotencyManager,
    IdempotentResult,
    InvalidIdempotencyKey,
    JSONSerializer,
    PickleSerializer,
    check_idempotency_key,
    fingerprint_of,
)

# ------------------------------------------------------ the classic primer API


def test_a_retried_charge_runs_once_with_the_classic_primer_api():
    """A payment retried with the same idempotency key charges once; both calls get one receipt."""
    manager = IdempotencyManager()
    charges: list[str] = []

    def charge(amount: float, customer: str) -> dict[str, Any]:
        charge_id = f"ch_{uuid.uuid4().hex[:16]}"
        charges.append(charge_id)
        return {"charge_id": charge_id, "amount": amount, "customer": customer, "status": "succeeded"}

    key = str(uuid.uuid4())
    first = manager.execute(key, lambda: charge(100.0, "customer_123"))
    retry = manager.execute(key, lambda: charge(100.0, "customer_123"))
    assert re.fullmatch(r"ch_[0-9a-f]{16}", first["charge_id"])
    assert retry == first and charges == [first["charge_id"]]
    other = manager.execute(str(uuid.uuid4()), lambda: charge(5.0, "customer_9"))
    assert other["charge_id"] != first["charge_id"] and len(charges) == 2


def test_classic_primer_signatures_and_fields(clock):
    m = IdempotencyManager(24, clock=clock)
    assert m.ttl == timedelta(hours=24)
    r = IdempotentResult(request_id="k", result=1, timestamp=None)  # the classic primer API's three fields
    assert (r.request_id, r.result, r.replayed) == ("k", 1, False)
    m.execute("k", lambda: 5)
    assert isinstance(m.cache["k"], IdempotentResult) and m.cache["k"].result == 5
    assert m.cleanup_expired() == 0


# ---------------------------------------------------------------- core semantics


def counter_op(value: Any = "r"):
    calls = []

    def op():
        calls.append(1)
        return value if not callable(value) else value(len(calls))

    return op, calls


def test_runs_once_and_replays(clock):
    m = IdempotencyManager(clock=clock)
    op, calls = counter_op(lambda n: {"n": n})
    first = m.execute_result("k", op)
    again = m.execute_result("k", op)
    assert len(calls) == 1
    assert (first.replayed, again.replayed) == (False, True)
    assert first.result == again.result == {"n": 1}
    assert m.execute("other", op) == {"n": 2}


def test_ttl_expiry_and_cleanup(clock):
    m = IdempotencyManager(ttl_hours=1, clock=clock)
    op, calls = counter_op(lambda n: n)
    assert m.execute("k", op) == 1
    clock.advance(3599.0)
    assert m.execute("k", op) == 1
    clock.advance(1.0)  # exactly ttl: expired (the seed used `< ttl` for a hit)
    assert m.execute("k", op) == 2
    m.execute("short", op, ttl=10)
    m.execute("td", op, ttl=timedelta(seconds=20))
    assert len(m) == 3
    clock.advance(10)
    assert m.cleanup_expired() == 1 and m.get("short") is None
    clock.advance(10)
    assert m.cleanup_expired() == 1
    clock.advance(3600)
    assert m.cleanup_expired() == 1 and len(m) == 0


def test_ttl_seconds_overrides_hours(clock):
    m = IdempotencyManager(ttl=5, clock=clock)
    assert m.ttl_seconds == 5.0
    op, calls = counter_op()
    m.execute("k", op)
    clock.advance(5)
    m.execute("k", op)
    assert len(calls) == 2


def test_fingerprint_mismatch_runs_nothing(clock):
    m = IdempotencyManager(clock=clock)
    op, calls = counter_op()
    m.execute("k", op, fingerprint={"amount": 100, "customer": "c1"})
    # same parameters in another order: same request
    assert m.execute("k", op, fingerprint={"customer": "c1", "amount": 100}) == "r"
    with pytest.raises(IdempotencyKeyMismatch):
        m.execute("k", op, fingerprint={"amount": 200, "customer": "c1"})
    with pytest.raises(IdempotencyKeyMismatch):
        m.execute("k", op)  # no fingerprint vs a stored one
    assert len(calls) == 1
    m.execute("plain", op)
    with pytest.raises(IdempotencyKeyMismatch):
        m.execute("plain", op, fingerprint=b"body")
    assert issubclass(IdempotencyKeyMismatch, IdempotencyError)


def test_fingerprint_of_is_sha256():
    import hashlib
    import json

    assert fingerprint_of(b"abc") == hashlib.sha256(b"abc").hexdigest() == fingerprint_of("abc")
    req = {"b": [1, 2], "a": "x"}
    assert fingerprint_of(req) == hashlib.sha256(json.dumps(req, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert fingerprint_of(("POST", "/charges", b"\x00")) != fingerprint_of(("POST", "/charges", b"\x01"))
    with pytest.raises(SerializationError):
        fingerprint_of(object())


def test_in_progress_raises_or_waits(clock):
    m = IdempotencyManager(clock=clock, lock_ttl=60)
    seen = []

    def outer():
        with pytest.raises(RequestInProgress):
            m.execute("k", lambda: "inner")  # wait=0: at once
        with pytest.raises(RequestInProgress, match="after waiting 5 s"):
            m.execute("k", lambda: "inner", wait=5)  # ManualClock.sleep advances, nobody finishes
        seen.append(clock.time())
        return "outer"

    t0 = clock.time()
    assert m.execute("k", outer) == "outer"
    assert seen[0] - t0 >= 5  # the bounded wait spent its 5 s (of manual time)
    assert m.execute("k", lambda: "inner") == "outer"


def test_wait_gets_result_of_running_request(clock):
    """A waiter sees the result as soon as the running request completes."""
    m = IdempotencyManager(clock=clock)
    claim = m.claim("k")

    class FinishingClock:  # finishes the first request after the waiter's 3rd pause
        def __init__(self):
            self.pauses = 0

        def time(self):
            return clock.time()

        def monotonic(self):
            return clock.monotonic()

        def sleep(self, s):
            self.pauses += 1
            clock.sleep(s)
            if self.pauses == 3:
                claim.complete({"ok": True})

    m.clock = FinishingClock()
    res = m.execute_result("k", lambda: pytest.fail("must not run"), wait=10)
    assert res.replayed and res.result == {"ok": True} and m.clock.pauses == 3


def test_exception_releases_key(clock):
    m = IdempotencyManager(clock=clock)

    def boom():
        raise ValueError("card declined")

    with pytest.raises(ValueError):
        m.execute("k", boom)
    assert m.status("k") is None
    assert m.execute("k", lambda: "ok") == "ok"
    with pytest.raises(KeyboardInterrupt):
        m.execute("kb", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert m.execute("kb", lambda: 1) == 1


def test_cached_errors(clock):
    class Declined(Exception):
        pass

    m = IdempotencyManager(clock=clock, cache_errors=(Declined,))
    calls = []

    def declined():
        calls.append(1)
        raise Declined("insufficient funds")

    with pytest.raises(Declined):
        m.execute("k", declined)
    with pytest.raises(CachedOperationError, match="insufficient funds") as info:
        m.execute("k", declined)
    assert info.value.error_type.endswith("Declined") and isinstance(info.value.original, Declined)
    assert len(calls) == 1
    with pytest.raises(RuntimeError):  # not in the tuple: released
        m.execute("r", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    assert m.status("r") is None
    with pytest.raises(RuntimeError):
        m.execute("r", lambda: (_ for _ in ()).throw(RuntimeError("x")), cache_errors=True)
    assert m.status("r") == "error"


@pytest.mark.parametrize("bad", ["", "x" * 256, "a\nb", "tab\t", 5, None, b"bytes"])
def test_bad_keys(bad, clock):
    m = IdempotencyManager(clock=clock)
    with pytest.raises(InvalidIdempotencyKey):
        m.execute(bad, lambda: pytest.fail("must not run"))
    with pytest.raises(InvalidParameterError):  # also a ValueError for generic handlers
        check_idempotency_key(bad)


def test_key_limits():
    assert check_idempotency_key("x" * 255) == "x" * 255
    assert check_idempotency_key("é-🙂") == "é-🙂"


@pytest.mark.parametrize("kwargs", [{"ttl_hours": 0}, {"ttl_hours": -1}, {"ttl": 0}, {"lock_ttl": 0},
                                    {"wait": -1}, {"poll_interval": 0}, {"cache_errors": "yes"},
                                    {"serializer": object()}, {"store": 42}, {"clock": object()}])
def test_bad_parameters(kwargs):
    with pytest.raises(InvalidParameterError):
        IdempotencyManager(**kwargs)


@pytest.mark.parametrize("kwargs", [{"ttl": -1}, {"wait": -0.5}, {"cache_errors": "yes"}, {"ttl": float("nan")}])
def test_bad_call_parameters_run_nothing(kwargs, clock):
    m = IdempotencyManager(clock=clock)
    with pytest.raises(InvalidParameterError):
        m.execute("k", lambda: pytest.fail("must not run"), **kwargs)
    assert m.status("k") is None


def test_claim_api(clock):
    m = IdempotencyManager(clock=clock)
    c = m.claim("k", fingerprint="body")
    assert not c.replayed and m.status("k") == "running"
    out = c.complete([1, 2])
    assert out.result == [1, 2] and not out.replayed
    with pytest.raises(IdempotencyError):
        c.release()  # settled already
    c2 = m.claim("k", fingerprint="body")
    assert c2.replayed and c2.outcome.result == [1, 2]
    c3 = m.claim("k2")
    c3.release()
    assert m.status("k2") is None
    assert m.forget("k") and m.get("k") is None


def test_claim_as_context_manager(clock):
    m = IdempotencyManager(clock=clock)
    with pytest.raises(RuntimeError):
        with m.claim("k") as c:
            assert m.status("k") == "running"
            raise RuntimeError("handler crashed")
    assert m.status("k") is None
    with m.claim("k") as c:
        c.complete({"status": 201})
    with m.claim("k") as c:
        assert c.replayed and c.outcome.result == {"status": 201}
    assert m.status("k") == "done" and "replayed" in repr(c)


def test_expired_claim_is_taken_over_and_late_result_not_stored(clock, caplog):
    m = IdempotencyManager(clock=clock, lock_ttl=30)
    slow = m.claim("k")
    clock.advance(30)
    assert m.execute("k", lambda: "second") == "second"
    with caplog.at_level("WARNING", logger="sysprims.idempotency"):
        slow.complete("first")
    assert "not stored" in caplog.text
    assert m.execute("k", lambda: "third") == "second"


def test_repr_and_html(clock):
    m = IdempotencyManager(clock=clock)
    assert "IdempotencyManager(ttl_hours=24" in repr(m)
    assert "<table>" in m._repr_html_() and "MemoryStore" in m._repr_html_()


# ---------------------------------------------------------------- serializers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_json_serializer_round_trip(value):
    s = JSONSerializer()
    assert s.loads(s.dumps(value)) == value


def test_serializer_errors():
    s = JSONSerializer()
    with pytest.raises(SerializationError, match="PickleSerializer"):
        s.dumps({1, 2})
    with pytest.raises(SerializationError):
        s.loads(b"\xff\x00not json")
    p = PickleSerializer()
    assert p.loads(p.dumps({1, 2})) == {1, 2}
    with pytest.raises(SerializationError):
        p.loads(b"garbage")
