"""The seed's News Feed example, run unchanged against sysprims."""

from __future__ import annotations

import contextlib
import io

from sysprims.clock import ManualClock
from sysprims.feed import FanoutService, Post

SEED_EXAMPLE = '''
# Example: Twitter-like feed
print("\\n=== News Feed Example ===")
feed_service = FanoutService()

# Users
alice_id = 1
bob_id = 2
charlie_id = 3

# Follow relationships
feed_service.follow(alice_id, bob_id)    # Alice follows Bob
feed_service.follow(alice_id, charlie_id)  # Alice follows Charlie
feed_service.follow(charlie_id, bob_id)  # Charlie follows Bob

# Posts (fan-out on write)
feed_service.post_fan_out_on_write(bob_id, "Hello from Bob!", post_id=101)
feed_service.post_fan_out_on_write(charlie_id, "Charlie's update", post_id=102)
feed_service.post_fan_out_on_write(bob_id, "Bob again!", post_id=103)

# Alice's feed
print("Alice's feed (push model):")
alice_feed = feed_service.get_feed_push_model(alice_id, limit=5)
for post in alice_feed:
    print(f"  @user{post.author_id}: {post.content}")

print("\\nAlice's feed (pull model):")
alice_feed_pull = feed_service.get_feed_pull_model(alice_id, limit=5)
for post in alice_feed_pull:
    print(f"  @user{post.author_id}: {post.content}")
'''

# What the seed prints (its posts are created in this order, newest first).
EXPECTED = """
=== News Feed Example ===
Alice's feed (push model):
  @user2: Bob again!
  @user3: Charlie's update
  @user2: Hello from Bob!

Alice's feed (pull model):
  @user2: Bob again!
  @user3: Charlie's update
  @user2: Hello from Bob!
"""


def _run(namespace):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(SEED_EXAMPLE, namespace)
    return buf.getvalue(), namespace


def test_seed_example_prints_the_same_feeds():
    out, ns = _run({"FanoutService": FanoutService, "Post": Post})
    assert out == EXPECTED
    assert [p.post_id for p in ns["feed_service"].get_feed_hybrid(1, limit=5)] == [103, 102, 101]


def test_seed_example_with_manual_clock_and_equal_timestamps():
    # all three posts at the same instant: order is still post order (newest first)
    clock = ManualClock(1_000.0)
    out, _ = _run({"FanoutService": lambda: FanoutService(clock=clock), "Post": Post})
    assert out == EXPECTED


def test_seed_flaw_celebrity_posts_not_duplicated_in_hybrid():
    # the seed pushes every post AND pulls celebrities in hybrid: duplicates.
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


def test_seed_flaw_feeds_are_bounded():
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
