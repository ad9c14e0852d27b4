"""Tour step: Snowflake IDs and batch URL shortening (the bench's ids case)."""

from __future__ import annotations

from . import Show

NAME = "ids"
ORDER = 50
COMPONENT = "ids"


def _unique(r, _b) -> str:
    return "unique" if r.accuracy.get("unique") == 1.0 else "MISMATCH: duplicate ids"


SHOW = [
    Show("generate n IDs", "sysprims SnowflakeID.generate_many", "naive Snowflake generate loop",
         "SnowflakeID.generate_many", lambda r, b: _unique(r, b) + "; ceiling 244 ns/ID (4096 per ms)"),
    Show("generate n IDs", "sysprims SnowflakeID.generate loop", "naive Snowflake generate loop",
         "SnowflakeID.generate() loop", _unique),
    Show("shorten n URLs (memory)", "sysprims URLShortener.shorten_many", "naive counter + two dicts loop",
         "URLShortener.shorten_many (memory)", _unique),
]
