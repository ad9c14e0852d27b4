"""The classic primer's strategies, kept under their names and fixed.

* :class:`HashBasedSharding` hashes with MurmurHash3_x64_128 (the library's
  hashing contract) instead of ``hashlib.md5``: ``shard = h1 % num_shards``.
* :class:`RangeBasedSharding` rejects unsorted or overlapping ranges and keys
  outside every range raise :class:`NoShardError` unless ``fallback`` is given.
* :class:`GeoBasedSharding` raises for unknown or missing regions unless
  ``fallback`` (or ``default_region``) is given.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._html import html_table
from .._validate import check_int
from ..errors import InvalidParameterError, KeyTypeError
from ..hashing import check_seed, check_threads
from ._common import NoShardError, ShardingStrategy, _HashedStrategy, key_values

__all__ = ["GeoBasedSharding", "HashBasedSharding", "RangeBasedSharding"]

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


def _check_fallback(fallback: Any) -> int | None:
    if fallback is None:
        return None
    return check_int("fallback", fallback, min=0)


class HashBasedSharding(_HashedStrategy):
    """Hash-based sharding: ``murmur3_x64_128(key, seed).h1 % num_shards``.

    Even distribution; changing ``num_shards`` moves about ``n/(n+1)`` of the
    keys (see :func:`movement_report`); use jump hash or a ring to resize.
    """

    def __init__(self, num_shards: int, seed: int = 0):
        self.num_shards = check_int("num_shards", num_shards, min=1)
        self.seed = check_seed(seed)

    def get_shard(self, key: Any) -> int:
        return self._h1(key) % self.num_shards

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Shard of every key (int64); ``threads`` > 1 routes chunks in parallel
        (the same result; see docs/sharding.md for when it pays)."""
        from .._kernels.sharding import hash_mod

        return self._shards(keys, threads, hash_mod, np.uint64(self.num_shards))

    def shard_ids(self) -> list[int]:
        return list(range(self.num_shards))

    def __repr__(self) -> str:
        return f"HashBasedSharding(num_shards={self.num_shards}, seed={self.seed})"

    def _repr_html_(self) -> str:
        return html_table("HashBasedSharding", [("num_shards", self.num_shards), ("hash", "murmur3_x64_128 h1 % n"), ("seed", self.seed)])


def _int_key(key: Any) -> int:
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer, str, bytes, bytearray)):
        raise KeyTypeError(f"RangeBasedSharding needs integer keys (int or numeric str), got {type(key).__name__}: {key!r}")
    try:
        return int(key)
    except ValueError:
        raise KeyTypeError(f"RangeBasedSharding needs integer keys, got {key!r}") from None


class RangeBasedSharding(ShardingStrategy):
    """Range-based sharding: ``[(min, max, shard_id), ...]``, ``min <= key < max``.

    Ranges must be given in ascending order and must not overlap (gaps are
    allowed); bounds lie in the int64 range. A key outside every range raises
    :class:`NoShardError`, or goes to ``fallback`` when one is given. Keys are
    ints or strings that ``int()`` parses (the classic primer API's ``int(key)``).
    """

    def __init__(self, ranges: list[tuple], fallback: int | None = None):
        checked: list[tuple[Any, Any, int]] = []
        for i, r in enumerate(ranges):
            if not isinstance(r, (tuple, list)) or len(r) != 3:
                raise InvalidParameterError(f"ranges[{i}] must be a (min, max, shard_id) tuple, got {r!r}")
            lo = check_int(f"ranges[{i}] min", r[0], min=_I64_MIN, max=_I64_MAX)
            hi = check_int(f"ranges[{i}] max", r[1], min=_I64_MIN, max=_I64_MAX)
            sid = check_int(f"ranges[{i}] shard_id", r[2], min=0)
            if lo >= hi:
                raise InvalidParameterError(f"ranges[{i}] must have min < max, got {r!r}")
            if checked:
                plo, phi, _ = checked[-1]
                if lo < plo:
                    raise InvalidParameterError(
                        f"ranges must be sorted by min: ranges[{i}] {r!r} starts before ranges[{i - 1}] {tuple(checked[-1])!r}"
                    )
                if lo < phi:
                    raise InvalidParameterError(
                        f"ranges must not overlap: ranges[{i}] {r!r} overlaps ranges[{i - 1}] {tuple(checked[-1])!r}"
                    )
            checked.append((lo, hi, sid))
        if not checked:
            raise InvalidParameterError("ranges must hold at least one (min, max, shard_id) range")
        self.ranges = checked
        self.fallback = _check_fallback(fallback)
        self._mins = [r[0] for r in checked]
        self._lo = np.array(self._mins, dtype=np.int64)
        self._hi = np.array([r[1] for r in checked], dtype=np.int64)
        self._sid = np.array([r[2] for r in checked], dtype=np.int64)

    def get_shard(self, key: Any) -> int:
        v = _int_key(key)
        i = bisect.bisect_right(self._mins, v) - 1
        if i >= 0 and v < self.ranges[i][1]:
            return self.ranges[i][2]
        if self.fallback is not None:
            return self.fallback
        raise NoShardError(f"key {key!r} lies outside every range and RangeBasedSharding has no fallback")

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Shard of every key (int64); ``threads`` is checked but unused (the
        lookup is one vectorised NumPy search)."""
        check_threads(threads)
        if isinstance(keys, np.ndarray) and keys.ndim == 1 and keys.dtype.kind in "iu":
            if keys.dtype.kind == "u":
                valid = keys <= np.uint64(_I64_MAX)
                v = np.where(valid, keys, 0).astype(np.int64)
            else:
                v = keys.astype(np.int64, copy=False)
                valid = np.ones(v.shape[0], dtype=bool)
            return self._lookup(v, valid, keys)
        values = key_values(keys, "RangeBasedSharding")
        ints = [_int_key(k) for k in values]
        try:
            v = np.array(ints, dtype=np.int64)
            valid = np.ones(v.shape[0], dtype=bool)
        except OverflowError:
            valid = np.array([_I64_MIN <= x <= _I64_MAX for x in ints], dtype=bool)
            v = np.array([x if ok else 0 for x, ok in zip(ints, valid, strict=True)], dtype=np.int64)
        return self._lookup(v, valid, values)

    def _lookup(self, v: np.ndarray, valid: np.ndarray, keys: Any) -> np.ndarray:
        idx = np.searchsorted(self._lo, v, side="right") - 1
        safe = np.maximum(idx, 0)
        hit = valid & (idx >= 0) & (v < self._hi[safe])
        out = self._sid[safe]
        if not hit.all():
            if self.fallback is None:
                first = int(np.flatnonzero(~hit)[0])
                raise NoShardError(
                    f"keys[{first}] = {keys[first]!r} lies outside every range and RangeBasedSharding has no fallback"
                )
            out = np.where(hit, out, self.fallback)
        return out.astype(np.int64, copy=False)

    def shard_ids(self) -> list[int]:
        ids = {r[2] for r in self.ranges}
        if self.fallback is not None:
            ids.add(self.fallback)
        return sorted(ids)

    def __repr__(self) -> str:
        return f"RangeBasedSharding(ranges={self.ranges!r}, fallback={self.fallback!r})"

    def _repr_html_(self) -> str:
        return html_table("RangeBasedSharding", [("ranges", len(self.ranges)), ("shards", self.shard_ids()), ("fallback", self.fallback)])


class GeoBasedSharding(ShardingStrategy):
    """Geography-based sharding: the region is field ``field`` of the key split
    on ``separator`` (``"user_US_12345"`` -> ``"US"``), looked up in ``geo_mapping``.

    A key without a region uses ``default_region`` if given (the textbook implementation assumed
    ``"US"``); an unknown region goes to ``fallback`` if given; otherwise both
    raise :class:`NoShardError` (the textbook implementation silently used shard 0).
    """

    def __init__(
        self,
        geo_mapping: Mapping[str, int],
        fallback: int | None = None,
        default_region: str | None = None,
        separator: str = "_",
        field: int = 1,
    ):
        if not isinstance(geo_mapping, Mapping) or not geo_mapping:
            raise InvalidParameterError(f"geo_mapping must be a non-empty mapping of region -> shard id, got {geo_mapping!r}")
        mapping = {}
        for region, sid in geo_mapping.items():
            if not isinstance(region, str):
                raise InvalidParameterError(f"geo_mapping keys must be str regions, got {region!r}")
            mapping[region] = check_int(f"geo_mapping[{region!r}]", sid, min=0)
        if not isinstance(separator, str) or not separator:
            raise InvalidParameterError(f"separator must be a non-empty str, got {separator!r}")
        if default_region is not None and not isinstance(default_region, str):
            raise InvalidParameterError(f"default_region must be a str or None, got {default_region!r}")
        self.geo_mapping = mapping
        self.fallback = _check_fallback(fallback)
        self.default_region = default_region
        self.separator = separator
        self.field = check_int("field", field, min=0)

    def region_of(self, key: Any) -> str | None:
        """The region a key names, or ``default_region`` (``None`` if none)."""
        if isinstance(key, (bytes, bytearray)):
            try:
                key = bytes(key).decode("utf-8")
            except UnicodeDecodeError:
                raise KeyTypeError(f"GeoBasedSharding needs UTF-8 keys, got {key!r}") from None
        elif not isinstance(key, str):
            raise KeyTypeError(f"GeoBasedSharding needs str keys, got {type(key).__name__}: {key!r}")
        parts = key.split(self.separator)
        return parts[self.field] if len(parts) > self.field else self.default_region

    def get_shard(self, key: Any) -> int:
        region = self.region_of(key)
        sid = self.geo_mapping.get(region) if region is not None else None
        if sid is not None:
            return sid
        if self.fallback is not None:
            return self.fallback
        what = f"unknown region {region!r}" if region is not None else "no region"
        raise NoShardError(f"key {key!r} has {what} and GeoBasedSharding has no fallback")

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Shard of every key (int64); ``threads`` is checked but unused (a
        Python loop over the regions)."""
        check_threads(threads)
        values = key_values(keys, "GeoBasedSharding")
        out = np.empty(len(values), dtype=np.int64)
        get = self.get_shard
        for i, k in enumerate(values):
            try:
                out[i] = get(k)
            except NoShardError as exc:
                raise NoShardError(f"keys[{i}]: {exc}") from None
        return out

    def shard_ids(self) -> list[int]:
        ids = set(self.geo_mapping.values())
        if self.fallback is not None:
            ids.add(self.fallback)
        return sorted(ids)

    def __repr__(self) -> str:
        return f"GeoBasedSharding(geo_mapping={self.geo_mapping!r}, fallback={self.fallback!r}, default_region={self.default_region!r})"

    def _repr_html_(self) -> str:
        return html_table("GeoBasedSharding", [("regions", self.geo_mapping), ("fallback", self.fallback), ("default_region", self.default_region)])
