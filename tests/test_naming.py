"""One name per concept, the older one kept as an alias (#23 item 8)."""

from __future__ import annotations

import pytest

from sysprims.clock import ManualClock
from sysprims.errors import InvalidParameterError
from sysprims.feed import FanoutService, FeedStore
from sysprims.idempotency import IdempotencyManager
from sysprims.shortener import URLShortener


def test_purge_expired_is_the_one_name_and_cleanup_expired_its_alias():
    clock = ManualClock(1_000.0)
    m = IdempotencyManager(ttl_hours=1, clock=clock)
    m.execute("a", lambda: 1)
    m.execute("b", lambda: 2)
    clock.advance(3_601)
    assert m.purge_expired() == 2 and len(m) == 0
    m.execute("c", lambda: 3)
    clock.advance(3_601)
    assert m.cleanup_expired() == 1 and len(m) == 0  # the 0.1 name still works
    assert callable(URLShortener.purge_expired)  # the name the shortener has always used


def test_feedstore_takes_timeline_capacity_as_fanoutservice_does():
    store = FeedStore(3, timeline_capacity=2)
    assert store.timeline_capacity == store.capacity == 2
    store.follow(1, 0)
    store.post(0)
    store.post(0)
    store.post(0)
    assert len(store.timeline(1, 10)) == 2  # the ring holds timeline_capacity posts
    assert FeedStore(1, capacity=7).timeline_capacity == 7  # the old name is an alias
    assert FeedStore(1).timeline_capacity == 800
    svc = FanoutService(timeline_capacity=5)
    assert svc.store.timeline_capacity == 5
    with pytest.raises(InvalidParameterError, match="old name of timeline_capacity"):
        FeedStore(1, timeline_capacity=4, capacity=4)
    with pytest.raises(InvalidParameterError, match="timeline_capacity must be >= 1"):
        FeedStore(1, timeline_capacity=0)
