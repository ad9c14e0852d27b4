"""Tour step: jitted push fan-out and feed reads (the bench's feed case)."""

from __future__ import annotations

from . import Show

NAME = "feed"
ORDER = 90
COMPONENT = "feed"

SHOW = [
    Show("push fan-out (per timeline write)", "sysprims FeedStore.post_many", "naive feed post loop",
         "post_many push fan-out (per timeline write)"),
    Show("read newest 20 (push model)", "sysprims FeedStore.get_feeds (batch)", "naive push_feed loop",
         "get_feeds push, newest 20 (per user)"),
    Show("read newest 20 (push model)", "sysprims FeedStore.timeline loop", "naive push_feed loop",
         "timeline(user, 20) loop"),
]
