"""``Autocomplete``: an array-backed prefix index with exact ranked top-k.

Layout: a *static* index (sorted unique UTF-8 words in one buffer with
offsets, their frequencies, and a segment tree of best-ranked indices) plus a
small *delta* of words added since the last rebuild, kept both as a dict (the
truth) and, lazily, as a second small array index. Frequency changes of known
words update either index in place in ``O(log n)``; new words go to the delta,
which is merged into the static arrays once it passes ``sqrt(n)`` words (at
least 256). Every query ranks both indexes together, so answers are exact at
all times.
"""

from __future__ import annotations

import gc
import itertools
import math
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._jit import fast_entry
from .._kernels import autocomplete as _k
from .._kernels import autocomplete_table as _t
from .._loadcheck import get_bool, get_choice, get_int, refusing
from .._memory import check_fits
from .._validate import check_choice, check_int, check_number
from ..errors import InvalidParameterError, KeyTypeError, WordTooLongError
from ._arrays import _Arrays, _u8

__all__ = ["Autocomplete", "WordTooLongError"]

_NORMS = ("NFC", "NFKC", "NFD", "NFKD")
_MIN_DELTA = 256


class Autocomplete(Persistable):
    """Ranked prefix completion over a vocabulary of words with frequencies.

    ``suggest(prefix, limit)`` returns the ``limit`` most frequent words that
    start with ``prefix``, ties broken by the word (code-point order): exactly
    ``sorted(w for w in words if w.startswith(prefix), key=lambda w: (-freq[w], w))[:limit]``.
    Words and prefixes are lower-cased when ``casefold`` is true (as the classic primer API's
    ``AutocompleteSystem`` does) and then Unicode-normalised with ``normalize``
    (``"NFC"`` by default, ``None`` to keep them as given).
    """

    _KIND = "autocomplete"

    def __init__(
        self, *, casefold: bool = True, normalize: str | None = "NFC", max_length: int | None = 256
    ) -> None:
        if not isinstance(casefold, bool):
            raise InvalidParameterError(
                f"casefold must be a bool, got {type(casefold).__name__}: {casefold!r}"
            )
        if normalize is not None:
            check_choice("normalize", normalize, _NORMS)
        if max_length is not None:
            max_length = check_int("max_length", max_length, min=1)
        self._casefold = casefold
        self._normalize = normalize
        self._max_length = max_length
        self._static = _Arrays.empty()
        self._delta = _Arrays.empty()
        self._pending: dict[str, float] = {}  # every word not in the static index -> frequency
        self._dirty = False  # _delta lags behind _pending
        self._out = np.empty(10, dtype=np.int64)  # reused output ids of suggest()
        # held by a query while it uses _out and by a delta rebuild: the kernels release the
        # GIL, so two threads' queries would otherwise rank into the same buffer
        self._lock = threading.RLock()
        self._version = 0  # bumped by every change of a frequency or word

    # ------------------------------------------------------------ construction

    @classmethod
    def from_words(
        cls,
        words: Iterable[str],
        frequencies: Any = None,
        *,
        casefold: bool = True,
        normalize: str | None = "NFC",
        max_length: int | None = 256,
    ) -> Autocomplete:
        """Build the index in one call. ``frequencies`` defaults to 1 per word;
        words that coincide (after case folding and normalisation) add up."""
        self = cls(casefold=casefold, normalize=normalize, max_length=max_length)
        if isinstance(words, (str, bytes)):
            raise KeyTypeError(
                f"words must be an iterable of str, got a single {type(words).__name__}"
            )
        words = list(words)
        n = len(words)
        if frequencies is None:
            freq = np.ones(n, dtype=np.float64)
        else:
            try:
                freq = np.asarray(frequencies, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InvalidParameterError(
                    f"frequencies must be an array of numbers: {exc}"
                ) from None
            if freq.ndim != 1 or freq.shape[0] != n:
                raise InvalidParameterError(
                    f"frequencies must be a 1-D array with one value per word ({n}), got shape {freq.shape}"
                )
            bad = np.flatnonzero(~np.isfinite(freq) | (freq < 0))
            if bad.size:
                i = int(bad[0])
                raise InvalidParameterError(
                    f"frequencies must be finite and >= 0, got {freq[i]} at position {i}"
                )
        acc: dict[str, float] = {}
        clean = self._clean_word
        get = acc.get
        for i, (w, f) in enumerate(zip(words, freq.tolist(), strict=True)):
            w = clean(w, i)
            acc[w] = get(w, 0.0) + f
        keys = sorted(acc)
        self._static = _Arrays.from_sorted(keys, map(acc.__getitem__, keys))
        return self

    # ------------------------------------------------------------ normalisation

    def _fold(self, s: str) -> str:
        if self._casefold:
            s = s.lower()
        if self._normalize is not None and not s.isascii():
            s = unicodedata.normalize(self._normalize, s)  # type: ignore[arg-type]  # checked in __init__
        return s

    def _clean_word(self, word: Any, position: int | None = None) -> str:
        if not isinstance(word, str):
            where = "" if position is None else f" at position {position}"
            raise KeyTypeError(
                f"word must be a str, got {type(word).__name__}{where}: {word!r:.60}"
            )
        w = self._fold(word)
        if self._max_length is not None and len(w) > self._max_length:
            where = "" if position is None else f" at position {position}"
            raise WordTooLongError(
                f"words must be at most max_length={self._max_length} characters, got {len(w)}{where}"
            )
        if not w.isascii():
            try:
                w.encode("utf-8")
            except UnicodeEncodeError:
                raise KeyTypeError(
                    f"word is not valid Unicode (lone surrogate){'' if position is None else f' at position {position}'}: {word!r:.60}"
                ) from None
        return w

    def _clean_prefix(self, prefix: Any) -> bytes:
        if not isinstance(prefix, str):
            raise KeyTypeError(f"prefix must be a str, got {type(prefix).__name__}: {prefix!r:.60}")
        try:
            return self._fold(prefix).encode("utf-8")
        except UnicodeEncodeError:
            raise KeyTypeError(
                f"prefix is not valid Unicode (lone surrogate): {prefix!r:.60}"
            ) from None

    # ------------------------------------------------------------ updates

    def increment(self, word: str, by: float = 1) -> float:
        """Add ``by`` to the frequency of ``word`` (inserting it if new); returns the new frequency.
        ``by`` may be negative as long as the frequency stays >= 0."""
        by = check_number("by", by)
        w = self._clean_word(word)
        return self._add(w, by)

    def add_search(self, query: str) -> None:
        """Record one search for ``query`` (its frequency grows by 1)."""
        self._add(self._clean_word(query), 1.0)

    def add_many(self, words: Iterable[str], by: Any = 1) -> None:
        """``increment`` for each word in order (``by``: one number or one per word)."""
        words = list(words)
        if np.ndim(by) == 0:
            check_number("by", by)
            bys = [float(by)] * len(words)
        else:
            bys = np.asarray(by, dtype=np.float64).tolist()
            if len(bys) != len(words):
                raise InvalidParameterError(
                    f"by must have one value per word ({len(words)}), got {len(bys)}"
                )
            for i, b in enumerate(bys):
                if not math.isfinite(b):
                    raise InvalidParameterError(f"by must be finite, got {b} at position {i}")
        cleaned = [self._clean_word(w, i) for i, w in enumerate(words)]
        for w, b in zip(cleaned, bys, strict=True):
            self._add(w, b)

    def _add(self, w: str, by: float) -> float:
        self._version += 1
        key = _u8(w.encode("utf-8"))
        st = self._static
        if st.freq.shape[0]:
            if by >= 0.0:
                i = int(_t.find_add(*st.args, key, np.int64(0), np.int64(key.shape[0]), by))
                if i >= 0:
                    return float(st.freq[i])
            else:
                i = st.find(key)
                if i >= 0:
                    new = float(st.freq[i]) + by
                    if new < 0:
                        raise InvalidParameterError(
                            f"by={by} would make the frequency of {w!r} negative ({new})"
                        )
                    st.set_frequency(i, new)
                    return new
        old = self._pending.get(w)
        new = (0.0 if old is None else old) + by
        if new < 0:
            raise InvalidParameterError(
                f"by={by} would make the frequency of {w!r} negative ({new})"
            )
        self._pending[w] = new
        if old is None:
            self._dirty = True
            if len(self._pending) > max(_MIN_DELTA, math.isqrt(len(st))):
                self.compact()
        elif not self._dirty:
            d = self._delta
            d.set_frequency(d.find(key), new)
        return new

    def _sync_delta(self) -> None:
        with self._lock:
            if self._dirty:
                keys = sorted(self._pending)
                self._delta = _Arrays.from_sorted(keys, map(self._pending.__getitem__, keys))
                self._dirty = False

    def compact(self) -> None:
        """Merge the words added since the last rebuild into the static arrays."""
        if not self._pending:
            return
        self._sync_delta()
        a, b = self._static, self._delta
        n = len(a) + len(b)
        data = np.empty(a.data.shape[0] + b.data.shape[0], dtype=np.uint8)
        offsets = np.empty(n + 1, dtype=np.int64)
        freq = np.empty(n, dtype=np.float64)
        _k.merge_sorted(a.data, a.offsets, a.freq, b.data, b.offsets, b.freq, data, offsets, freq)
        self._static = _Arrays(data, offsets, freq)
        self._delta = _Arrays.empty()
        self._pending = {}

    # ------------------------------------------------------------ queries

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """The ``limit`` best completions of ``prefix`` (frequency desc, then word)."""
        with self._lock:
            ids = self._suggest_ids(prefix, limit)
            if not self._pending:
                return self._static.words(ids)
            return self._words_of(ids, False)

    def suggest_with_scores(self, prefix: str, limit: int = 10) -> list[tuple[str, float]]:
        """Like :meth:`suggest`, with each word's frequency."""
        with self._lock:
            ids = self._suggest_ids(prefix, limit)
            s = self._static
            if not self._pending:
                return list(zip(s.words(ids), s.freq.take(ids).tolist(), strict=False))
            ns, sf, df = len(s), s.freq, self._delta.freq
            scores = [float(sf[i] if i < ns else df[i - ns]) for i in ids.tolist()]
            return list(zip(self._words_of(ids, False), scores, strict=True))

    def _words_of(self, ids: np.ndarray, many: bool) -> list[str]:
        """Words of ids of :meth:`_suggest_ids` (static ids, then ``n_static + delta id``)."""
        s = self._static
        ns = len(s)
        if not ids.shape[0] or int(ids.max()) < ns:
            return s.words_many(ids) if many else s.words(ids)
        d = self._delta
        return [s.word(i) if i < ns else d.word(i - ns) for i in ids.tolist()]

    def _suggest_ids(self, prefix: str, limit: int) -> np.ndarray:
        """The ids of the answer (a view of a reused buffer: call and read it holding ``_lock``)."""
        if type(limit) is not int or limit < 0:
            limit = check_int("limit", limit, min=0)
        p = _u8(self._clean_prefix(prefix))
        if self._dirty:
            self._sync_delta()
        out = self._out
        if out.shape[0] < limit:
            limit = min(limit, len(self))  # never more rows than words (limit may be 10**12)
            if out.shape[0] < limit:
                out = self._out = np.empty(limit, dtype=np.int64)
        if limit == 0:
            return out[:0]
        s = self._static
        # the compiled kernels are kept per static index (its arrays' types are fixed;
        # every delta is built the same way): no type dispatch per query
        if not self._pending:
            fn = s.entries.get("static")
            if fn is None:
                fn = s.entries["static"] = fast_entry(_t.suggest_static, *s.args, p, limit, out)
            c = fn(*s.args, p, limit, out)
        else:
            d = self._delta
            fn = s.entries.get("one")
            if fn is None:
                fn = s.entries["one"] = fast_entry(_t.suggest_one, *s.args, *d.args, p, limit, out)
            c = fn(*s.args, *d.args, p, limit, out)
        return out[:c]

    def suggest_many(self, prefixes: Iterable[str], limit: int = 10) -> np.ndarray:
        """:meth:`suggest` for each prefix: a 1-D object array of lists of str."""
        limit = check_int("limit", limit, min=0)
        if isinstance(prefixes, (str, bytes)):
            raise KeyTypeError(
                f"prefixes must be an iterable of str, got a single {type(prefixes).__name__}"
            )
        clean = self._clean_prefix
        encoded = list(
            map(clean, prefixes.tolist() if isinstance(prefixes, np.ndarray) else prefixes)
        )
        n = len(encoded)
        lens = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        ends = np.cumsum(lens)
        starts = ends - lens
        q = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self._sync_delta()
        limit = min(limit, len(self))  # never more rows than words
        check_fits(f"suggest_many of {n} prefixes with limit={limit}", 8 * n * limit)
        ids = np.empty(n * limit, dtype=np.int64)
        bounds = np.zeros(n + 1, dtype=np.int64)
        if n and limit:
            _t.suggest_batch(
                *self._static.args, *self._delta.args, q, starts, ends, np.int64(limit), ids, bounds
            )
        # one pass: every answer's words from one array of ids, then one list per query;
        # the collector paused meanwhile (the lists hold only str: no cycles to find),
        # else it would rescan the young lists every few hundred allocations
        flat = ids[: int(bounds[-1])]
        paused = gc.isenabled()
        gc.disable()
        try:
            words = self._words_of(flat, True)
            b = bounds.tolist()
            return np.fromiter(
                map(words.__getitem__, itertools.starmap(slice, zip(b, b[1:], strict=False))), dtype=object, count=n
            )
        finally:
            if paused:
                gc.enable()

    # ------------------------------------------------------------ lookups

    def frequency(self, word: str) -> float:
        """The frequency of ``word`` (0.0 when unknown)."""
        if not isinstance(word, str):
            raise KeyTypeError(f"word must be a str, got {type(word).__name__}: {word!r:.60}")
        w = self._fold(word)
        try:
            key = _u8(w.encode("utf-8"))
        except UnicodeEncodeError:
            return 0.0
        i = self._static.find(key)
        if i >= 0:
            return float(self._static.freq[i])
        return float(self._pending.get(w, 0.0))

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        w = self._fold(word)
        if w in self._pending:
            return True
        try:
            return self._static.find(_u8(w.encode("utf-8"))) >= 0
        except UnicodeEncodeError:
            return False

    def has_prefix(self, prefix: str) -> bool:
        """True when at least one word starts with ``prefix``."""
        p = _u8(self._clean_prefix(prefix))
        self._sync_delta()
        for ix in (self._static, self._delta):
            if len(ix):
                lo, hi = _k.prefix_range(ix.data, ix.offsets, p, np.int64(0), np.int64(p.shape[0]))
                if lo < hi:
                    return True
        return False

    def __len__(self) -> int:
        return len(self._static) + len(self._pending)

    def items(self) -> list[tuple[str, float]]:
        """Every (word, frequency), sorted by word."""
        s = self._static
        blob, offs = s.blob, s.offsets.tolist()
        out = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), f) for i, f in enumerate(s.freq.tolist())]
        if self._pending:
            out.extend(self._pending.items())
            out.sort()
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (static + delta)."""
        return self._static.nbytes() + self._delta.nbytes()

    @property
    def version(self) -> int:
        """A counter that every update (``increment``, ``add_search``, ``add_many``) bumps:
        answers cached at one version are still valid while it is unchanged."""
        return self._version

    @property
    def casefold(self) -> bool:
        return self._casefold

    @property
    def normalize(self) -> str | None:
        return self._normalize

    @property
    def max_length(self) -> int | None:
        return self._max_length

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        self.compact()
        s = self._static
        params = {
            "casefold": self._casefold,
            "normalize": self._normalize,
            "max_length": self._max_length,
        }
        return params, {"data": s.data, "offsets": s.offsets, "freq": s.freq}, 0

    @classmethod
    def _from_state(cls, container: Container) -> Autocomplete:
        p = container.params
        with refusing("autocomplete state"):
            self = cls(
                casefold=get_bool(p, "casefold"),
                normalize=get_choice(p, "normalize", (*_NORMS, None)),
                max_length=get_int(p, "max_length", min=1, optional=True),
            )
        self._static = _Arrays.from_container(container.arrays, self._max_length)
        return self

    # ------------------------------------------------------------ display

    def _summary(self) -> list[tuple[str, Any]]:
        return [
            ("words", f"{len(self):,}"),
            ("pending (delta)", f"{len(self._pending):,}"),
            ("casefold", self._casefold),
            ("normalize", self._normalize),
            ("max_length", self._max_length),
            ("memory", f"{self.nbytes / 1e6:.2f} MB"),
        ]

    def __repr__(self) -> str:
        return (
            f"Autocomplete(words={len(self)}, pending={len(self._pending)}, casefold={self._casefold}, "
            f"normalize={self._normalize!r}, max_length={self._max_length}, nbytes={self.nbytes})"
        )

    def _repr_html_(self) -> str:
        return html_table("Autocomplete", self._summary())
