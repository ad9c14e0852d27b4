"""Tour step: ranked prefix completion (the bench's autocomplete case)."""

from __future__ import annotations

from . import Show

NAME = "autocomplete"
ORDER = 60
COMPONENT = "autocomplete"
CASE = "suggest (prefix 1-4 chars)"


def _exact(r, _b) -> str:
    agree = r.accuracy.get("agree_with_exact")
    if agree is None:
        return ""
    return "exact" if agree == 1.0 else f"MISMATCH: {agree:.0%} agree with the exact answer"


SHOW = [
    Show(CASE, "sysprims suggest", "sorted list + bisect", "suggest(prefix, 10)", _exact),
    Show(CASE, "sysprims suggest_many", "sorted list + bisect", "suggest_many(prefixes, 10)"),
    Show(CASE, "sysprims suggest", "naive trie suggest", "suggest(prefix, 10) vs a naive trie", _exact),
]
