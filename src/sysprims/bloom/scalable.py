"""A scalable Bloom filter (Almeida et al. 2007, as RedisBloom's scaling filters):
a chain of Bloom filters of growing capacity and tightening error rates."""

from __future__ import annotations

import math
from typing import Any

import mmh3
import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import get_bool, get_float, get_int, refusing, require
from .._validate import check_int, check_number, check_probability
from ..errors import InvalidParameterError
from ..hashing import check_seed
from ..keys import key_to_bytes
from ._common import ReadOnlyFilterError, hashes_for_batch
from .filter import BloomFilter

__all__ = ["ScalableBloomFilter"]

#: Stages are sized for this fraction of their share of the target, so that the
#: measured compound rate (not only its expectation) stays under the target.
STAGE_MARGIN = 0.9


class ScalableBloomFilter(Persistable):
    """A Bloom filter that grows: when the current stage holds its capacity, a
    new stage with ``growth`` times the capacity and ``tightening`` times the
    error rate is added. Stage ``i`` is sized for ``0.9 p (1 - r) r^i``, so the
    compound false-positive rate stays under ``p`` however many stages exist.

    ``add`` skips keys the filter already reports present (as RedisBloom does),
    so ``count`` is the number of keys that were actually inserted.
    """

    _KIND = "bloom_scalable"

    def __init__(
        self,
        initial_capacity: int,
        false_positive_rate: float,
        growth: float = 2,
        tightening: float = 0.5,
        *,
        seed: int = 0,
        blocked: bool = False,
    ):
        self.initial_capacity = check_int("initial_capacity", initial_capacity, min=1)
        self.false_positive_rate = check_probability("false_positive_rate", false_positive_rate)
        self.growth = check_number("growth", growth, min=1)
        self.tightening = check_probability("tightening", tightening)
        self.seed = check_seed(seed)
        self.blocked = bool(blocked)
        self._stages: list[BloomFilter] = []
        self._counts: list[int] = []
        self._new_stage()

    # ------------------------------------------------------------ stages

    def _stage_params(self, i: int) -> tuple[int, float]:
        try:
            cap = max(1, int(round(self.initial_capacity * self.growth**i)))
        except OverflowError:
            raise InvalidParameterError(
                f"stage {i} of this filter would hold initial_capacity * growth**{i} = "
                f"{self.initial_capacity} * {self.growth}**{i} keys, which cannot fit"
            ) from None
        p = STAGE_MARGIN * self.false_positive_rate * (1 - self.tightening) * self.tightening**i
        return cap, max(p, 1e-300)

    def _new_stage(self) -> None:
        cap, p = self._stage_params(len(self._stages))
        self._stages.append(BloomFilter.for_capacity(cap, p, seed=self.seed, blocked=self.blocked))
        self._counts.append(0)

    @property
    def stages(self) -> tuple[BloomFilter, ...]:
        return tuple(self._stages)

    @property
    def count(self) -> int:
        """Number of keys inserted (adds of keys already reported present are not counted)."""
        return sum(self._counts)

    @property
    def capacity(self) -> int:
        """Total capacity of the stages created so far."""
        return sum(s.capacity for s in self._stages)  # type: ignore[misc]

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._stages)

    # ------------------------------------------------------------ scalar API

    def add(self, item: Any) -> bool:
        """Insert ``item``; returns False if the filter already reported it present."""
        h1, h2 = mmh3.hash64(key_to_bytes(item), self.seed)
        for s in self._stages:
            if s._probe_contains(h1, h2):
                return False
        if not self._stages[-1]._bits.flags.writeable:
            raise ReadOnlyFilterError("this filter views read-only memory (mmap); load it without mmap to add")
        if self._counts[-1] >= self._stages[-1].capacity:  # type: ignore[operator]
            self._new_stage()
        self._stages[-1]._probe_add(h1, h2)
        self._counts[-1] += 1
        return True

    def __bool__(self) -> bool:
        """False for an empty filter (no bit set in any stage)."""
        return any(bool(s) for s in self._stages)

    def contains(self, item: Any) -> bool:
        h1, h2 = mmh3.hash64(key_to_bytes(item), self.seed)
        return any(s._probe_contains(h1, h2) for s in self._stages)

    __contains__ = contains

    # ------------------------------------------------------------ batch API

    def _hashes(self, keys: Any) -> np.ndarray:
        return hashes_for_batch(keys, self.seed, "ScalableBloomFilter")

    def add_many(self, keys: Any) -> np.ndarray:
        """Insert every key in order; returns what each :meth:`add` would return."""
        from .._kernels.bloom import bloom_add_new_hashes

        hashes = self._hashes(keys)
        n = hashes.shape[0]
        added = np.zeros(n, dtype=np.bool_)
        if n == 0:
            return added
        if not self._stages[-1]._bits.flags.writeable:
            raise ReadOnlyFilterError("this filter views read-only memory (mmap); load it without mmap to add")
        seen = np.zeros(n, dtype=np.bool_)
        for s in self._stages[:-1]:
            seen |= s._contains_hashes(hashes)
        idx = np.flatnonzero(~seen)
        while idx.size:
            last = self._stages[-1]
            room = last.capacity - self._counts[-1]  # type: ignore[operator]
            if room <= 0:
                # the full stage is static from now on; a new stage is created
                # only for a key that none of the existing stages reports
                idx = idx[~last._contains_hashes(hashes[idx])]
                if idx.size:
                    self._new_stage()
                continue
            sub = np.ascontiguousarray(hashes[idx])
            flags = np.zeros(idx.size, dtype=np.bool_)
            used = int(
                bloom_add_new_hashes(
                    sub, np.int64(last.num_hash_functions), np.uint64(last._marg),
                    np.int64(last.blocked), last._bits, np.int64(room), flags,
                )
            )
            added[idx[:used]] = flags[:used]
            self._counts[-1] += int(flags[:used].sum())
            idx = idx[used:]
        return added

    def contains_many(self, keys: Any) -> np.ndarray:
        hashes = self._hashes(keys)
        out = np.zeros(hashes.shape[0], dtype=np.bool_)
        for s in self._stages:
            out |= s._contains_hashes(hashes)
        return out

    # ------------------------------------------------------------ introspection

    def false_positive_rate_bound(self) -> float:
        """The compound bound ``1 - prod(1 - p_i)`` over the stages' target rates."""
        return 1.0 - math.prod(1.0 - s.target_false_positive_rate for s in self._stages)  # type: ignore[misc,operator]

    def estimated_false_positive_rate(self) -> float:
        """From the bits: ``1 - prod(1 - fpr_i)`` over the stages."""
        return 1.0 - math.prod(1.0 - s.estimated_false_positive_rate() for s in self._stages)

    def approx_count(self) -> float:
        return sum((s.approx_count() for s in self._stages), 0.0)

    def copy(self) -> ScalableBloomFilter:
        out = ScalableBloomFilter.__new__(ScalableBloomFilter)
        out.__dict__.update(self.__dict__)
        out._stages = [s.copy() for s in self._stages]
        out._counts = list(self._counts)
        return out

    def clear(self) -> None:
        """Back to one empty stage."""
        self._stages = []
        self._counts = []
        self._new_stage()

    def __repr__(self) -> str:
        return (
            f"ScalableBloomFilter(initial_capacity={self.initial_capacity}, "
            f"false_positive_rate={self.false_positive_rate}, growth={self.growth}, "
            f"tightening={self.tightening}, seed={self.seed}, stages={len(self._stages)}, count={self.count})"
        )

    def _repr_html_(self) -> str:
        return html_table(
            "ScalableBloomFilter",
            [
                ("target false-positive rate", self.false_positive_rate),
                ("growth / tightening", f"{self.growth} / {self.tightening}"),
                ("stages", len(self._stages)),
                ("count", f"{self.count:,}"),
                ("capacity so far", f"{self.capacity:,}"),
                ("memory", f"{self.nbytes:,} bytes"),
                ("est. false-positive rate", f"{self.estimated_false_positive_rate():.3g}"),
            ],
        )

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        stages = []
        arrays = {}
        for i, s in enumerate(self._stages):
            p, a, _ = s._to_state()
            stages.append(p)
            arrays[f"bits_{i}"] = a["bits"]
        params = {
            "initial_capacity": self.initial_capacity,
            "false_positive_rate": self.false_positive_rate,
            "growth": self.growth,
            "tightening": self.tightening,
            "blocked": self.blocked,
            "counts": list(self._counts),
            "stages": stages,
        }
        return params, arrays, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> ScalableBloomFilter:
        p = container.params
        obj = cls.__new__(cls)
        obj.initial_capacity = get_int(p, "initial_capacity", min=1)
        obj.false_positive_rate = get_float(p, "false_positive_rate", min=0.0, max=1.0, min_inclusive=False, max_inclusive=False)
        obj.growth = get_float(p, "growth", min=1.0)
        obj.tightening = get_float(p, "tightening", min=0.0, max=1.0, min_inclusive=False, max_inclusive=False)
        obj.seed = container.seed
        obj.blocked = get_bool(p, "blocked")
        counts: Any = p.get("counts")
        stages: Any = p.get("stages")
        require(
            isinstance(counts, list) and isinstance(stages, list) and 0 < len(stages) == len(counts)
            and all(type(c) is int and c >= 0 for c in counts),
            "the scalable filter's stages and counts are inconsistent",
        )
        obj._stages = [
            BloomFilter._from_parts(sp, container.arrays, container.seed, f"bits_{i}") for i, sp in enumerate(stages)
        ]
        for i, (s, c) in enumerate(zip(obj._stages, counts, strict=True)):
            with refusing("scalable Bloom filter"):
                want = obj._stage_params(i)
            require(
                (s.capacity, s.target_false_positive_rate) == want and s.blocked == obj.blocked and c <= s.capacity,
                f"stage {i} of the scalable filter is inconsistent (capacity, rate, layout or count)",
            )
        obj._counts = counts
        return obj
