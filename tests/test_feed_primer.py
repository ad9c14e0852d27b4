"""The classic primer API of the news feed: ``FanoutService`` with ``follow``,
``post_fan_out_on_write`` and the push, pull and hybrid feed readers, checked
through the behaviour the primer documents (newest first, every followed author)."""

from __future__ import annotations

from sysprims.clock import ManualClock
from sysprims.feed import FanoutService, Post

ALICE, BOB, CHARLIE = 1, 2, 3


def _three_users(service: FanoutService) -> FanoutService:
    """Alice follows Bob and Charlie, Charlie follows Bob; Bob posts twice, Charlie once.
    Pass a service on a ManualClock that does not move: the three posts share
    one timestamp, so their order comes from the posting order alone, never
    from the machine clock's resolution."""
    service.follow(ALICE, BOB)
    service.follow(ALICE, CHARLIE)
    service.follow(CHARLIE, BOB)
    service.post_fan_out_on_write(BOB, "first post by 2", post_id=101)
    service.post_fan_out_on_write(CHARLIE, "a post by 3", post_id=102)
    service.post_fan_out_on_write(BOB, "second post by 2", post_id=103)
    return service


def _lines(posts: list[Post]) -> list[str]:
    return [f"@user{p.author_id}: {p.content}" for p in posts]


NEWEST_FIRST = ["@user2: second post by 2", "@user3: a post by 3", "@user2: first post by 2"]


def test_every_model_lists_the_followed_posts_newest_first():
    svc = _three_users(FanoutService(clock=ManualClock(1_000.0)))
    assert _lines(svc.get_feed_push_model(ALICE, limit=5)) == NEWEST_FIRST
    assert _lines(svc.get_feed_pull_model(ALICE, limit=5)) == NEWEST_FIRST
    assert [p.post_id for p in svc.get_feed_hybrid(ALICE, limit=5)] == [103, 102, 101]
    # a user's own posts are in their feed too: Charlie follows only Bob,
    # Bob follows nobody
    assert [p.post_id for p in svc.get_feed_push_model(CHARLIE, limit=5)] == [103, 102, 101]
    assert [p.post_id for p in svc.get_feed_pull_model(CHARLIE, limit=5)] == [103, 102, 101]
    assert [p.post_id for p in svc.get_feed_push_model(BOB, limit=5)] == [103, 101]
    assert [p.post_id for p in svc.get_feed_pull_model(BOB, limit=5)] == [103, 101]
    assert all(isinstance(p, Post) for p in svc.get_feed_push_model(ALICE))


def test_limit_keeps_the_newest():
    svc = _three_users(FanoutService(clock=ManualClock(1_000.0)))
    assert [p.post_id for p in svc.get_feed_push_model(ALICE, limit=2)] == [103, 102]
    assert [p.post_id for p in svc.get_feed_pull_model(ALICE, limit=1)] == [103]


def test_posts_at_one_instant_keep_their_posting_order():
    # all three posts at the same instant: order is still post order (newest first)
    clock = ManualClock(1_000.0)
    svc = _three_users(FanoutService(clock=clock))
    assert _lines(svc.get_feed_push_model(ALICE, limit=5)) == NEWEST_FIRST
    assert _lines(svc.get_feed_pull_model(ALICE, limit=5)) == NEWEST_FIRST


def test_celebrity_posts_are_not_duplicated_in_hybrid():
    # the textbook version pushes every post AND pulls celebrities in hybrid: duplicates.
    clock = ManualClock(0.0)
    svc = FanoutService(celebrity_threshold=1, clock=clock)
    svc.follow("a", "star")
    svc.follow("b", "star")  # star has 2 followers > 1: a celebrity
    svc.follow("a", "joe")
    for i, author in enumerate(["star", "joe", "star"]):
        clock.advance(1.0)
        svc.post_fan_out_on_write(author, f"p{i}", post_id=i)
    hybrid = [p.post_id for p in svc.get_feed_hybrid("a", limit=10)]
    assert hybrid == [2, 1, 0]
    assert len(set(hybrid)) == len(hybrid)
    # the celebrity's posts were not pushed: the push timeline has only joe's
    assert [p.post_id for p in svc.get_feed_push_model("a", limit=10)] == [1]
    assert [p.post_id for p in svc.get_feed_pull_model("a", limit=10)] == [2, 1, 0]
    assert [p.timestamp.timestamp() for p in svc.get_feed_hybrid("a")] == [3.0, 2.0, 1.0]


def test_feeds_are_bounded():
    clock = ManualClock(0.0)
    svc = FanoutService(timeline_capacity=5, clock=clock)
    svc.follow("r", "w")
    for i in range(12):
        clock.advance(1.0)
        svc.post_fan_out_on_write("w", str(i), post_id=i)
    assert [p.post_id for p in svc.get_feed_push_model("r", limit=100)] == [11, 10, 9, 8, 7]
    assert [p.post_id for p in svc.get_feed_pull_model("r", limit=100)] == [11, 10, 9, 8, 7]
    assert svc.store._tl.shape[1] == 5


def test_threshold_is_a_parameter():
    assert FanoutService().celebrity_threshold == 1_000_000
    assert FanoutService(celebrity_threshold=7).celebrity_threshold == 7
    assert FanoutService(celebrity_threshold=None).celebrity_threshold is None
