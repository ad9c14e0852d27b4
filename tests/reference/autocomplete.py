"""Plain-Python twins of the autocomplete kernels, and the brute-force answer."""

from __future__ import annotations

from collections.abc import Iterable


def words_of(data: bytes, offsets: list[int]) -> list[bytes]:
    return [data[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def prefix_range(words: list[bytes], prefix: bytes) -> tuple[int, int]:
    """Linear scan: the first and one-past-last index of words starting with prefix."""
    hits = [i for i, w in enumerate(words) if w.startswith(prefix)]
    if not hits:
        lo = sum(1 for w in words if w < prefix)
        return lo, lo
    return hits[0], hits[-1] + 1


def find_exact(words: list[bytes], key: bytes) -> int:
    return words.index(key) if key in words else -1


def range_topk(freq: list[float], lo: int, hi: int, k: int) -> list[int]:
    """Indices of [lo, hi) sorted by (frequency desc, index asc), first k."""
    return sorted(range(lo, hi), key=lambda i: (-freq[i], i))[:k]


def merge_sorted(
    a: list[tuple[bytes, float]], b: list[tuple[bytes, float]]
) -> list[tuple[bytes, float]]:
    return sorted(a + b)


def strictly_sorted(words: list[bytes]) -> bool:
    return all(words[i - 1] < words[i] for i in range(1, len(words)))


def brute_suggest(
    items: Iterable[tuple[str, float]], prefix: str, limit: int
) -> list[tuple[str, float]]:
    """The definition: filter by prefix, sort by (-frequency, word), cut."""
    hits = [(w, f) for w, f in items if w.startswith(prefix)]
    hits.sort(key=lambda x: (-x[1], x[0]))
    return hits[:limit]
