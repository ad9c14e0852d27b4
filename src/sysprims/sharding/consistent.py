"""Resizable strategies: consistent-hash ring, jump consistent hash, rendezvous.

All three route on MurmurHash3_x64_128 ``h1`` of the key under ``seed`` (so
they accept :class:`~sysprims.hashing.HashedKeys`) and return stable int64
*node ids*: a node named by an int ``>= 0`` has that id; nodes named by str
get ids ``0, 1, 2, ...`` in the order they are added (never reused).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import get_array, get_float, get_int, refusing, require
from .._validate import check_int, check_number
from ..errors import InvalidParameterError, NotFoundError
from ..hashing import INTS, HashedKeys, check_seed, hash128, kernel_keys, murmur3_128
from ..keys import key_to_bytes
from ._common import _HashedStrategy

__all__ = [
    "ConsistentHashRing",
    "JumpHashSharding",
    "RendezvousSharding",
    "jump_consistent_hash",
]

_M64 = (1 << 64) - 1
#: Most points a ConsistentHashRing holds (about 100 bytes and 1 microsecond of build each).
MAX_RING_POINTS = 1 << 20


# ------------------------------------------------------------------ nodes


class _Nodes:
    """Ordered node names with stable int ids and optional weights."""

    def __init__(self, nodes: Any, weights: Any, what: str):
        if isinstance(nodes, (int, np.integer)) and not isinstance(nodes, bool):
            n = check_int(what, nodes, min=1)
            nodes = list(range(n))
        elif isinstance(nodes, (str, bytes)) or not hasattr(nodes, "__iter__"):
            raise InvalidParameterError(f"{what} must be a node count or a list of node names, got {nodes!r}")
        nodes = list(nodes)
        if not nodes:
            raise InvalidParameterError(f"{what} must hold at least one node")
        self.names: list[Any] = []
        self.ids: list[int] = []
        self.weights: list[float] = []
        self.kind: type | None = None
        self.next_id = 0
        if weights is not None:
            if isinstance(weights, dict):
                missing = [nd for nd in nodes if nd not in weights]
                if missing:
                    raise InvalidParameterError(f"weights has no entry for node(s) {missing!r}")
                weights = [weights[nd] for nd in nodes]
            weights = list(weights)
            if len(weights) != len(nodes):
                raise InvalidParameterError(f"weights must have one entry per node ({len(nodes)}), got {len(weights)}")
        for i, name in enumerate(nodes):
            self.add(name, 1.0 if weights is None else weights[i])

    def add(self, name: Any, weight: float = 1.0) -> int:
        if isinstance(name, (int, np.integer)) and not isinstance(name, (bool, np.bool_)):
            name = check_int("node", name, min=0, max=(1 << 62))
            kind: type = int
        elif isinstance(name, str):
            kind = str
        else:
            raise InvalidParameterError(f"node names must be str or int >= 0, got {type(name).__name__}: {name!r}")
        if self.kind is not None and kind is not self.kind:
            raise InvalidParameterError(f"node names must all be str or all be int; got {name!r} among {self.kind.__name__} names")
        if name in self.names:
            raise InvalidParameterError(f"node {name!r} is already present")
        weight = check_number(f"weight of node {name!r}", weight, min=0.0, min_inclusive=False)
        self.kind = kind
        node_id = name if kind is int else self.next_id
        self.next_id = max(self.next_id, node_id + 1)
        self.names.append(name)
        self.ids.append(node_id)
        self.weights.append(weight)
        return node_id

    def remove(self, name: Any) -> int:
        try:
            i = self.names.index(name)
        except ValueError:
            raise NotFoundError(f"node {name!r} is not present; nodes are {self.names!r}") from None
        if len(self.names) == 1:
            raise InvalidParameterError("cannot remove the last node")
        node_id = self.ids[i]
        del self.names[i], self.ids[i], self.weights[i]
        return node_id

    def id_of(self, name: Any) -> int:
        try:
            return self.ids[self.names.index(name)]
        except ValueError:
            raise NotFoundError(f"node {name!r} is not present") from None

    def name_of(self, node_id: int) -> Any:
        return self.names[self.ids.index(int(node_id))]

    def state(self) -> dict[str, Any]:
        return {"names": self.names, "ids": self.ids, "weights": self.weights, "next_id": self.next_id}

    @classmethod
    def from_state(cls, st: Any, what: str) -> _Nodes:
        """Nodes from a container's ``nodes`` parameter, checked as strictly as
        :meth:`add` checks them (names, weights, stable ids, next id)."""
        require(isinstance(st, dict), f"{what} must be a JSON object")
        names, ids, weights = st.get("names"), st.get("ids"), st.get("weights")
        require(
            isinstance(names, list) and isinstance(ids, list) and isinstance(weights, list)
            and 0 < len(names) == len(ids) == len(weights),
            f"{what}: names, ids and weights must be lists of one entry per node",
        )
        kinds = {int if type(n) is int else str if type(n) is str else None for n in names}
        require(len(kinds) == 1 and None not in kinds, f"{what}: node names must all be str or all be int")
        require(len(set(names)) == len(names), f"{what}: node names are not unique")
        require(all(type(i) is int and 0 <= i <= (1 << 62) for i in ids), f"{what}: node ids must be ints in [0, 2**62]")
        require(len(set(ids)) == len(ids), f"{what}: node ids are not unique")
        kind = kinds.pop()
        require(kind is str or ids == names, f"{what}: an int-named node's id must be its name")
        next_id = get_int(st, "next_id", min=max(ids) + 1, max=(1 << 62) + 1)
        obj = cls.__new__(cls)
        obj.names = list(names)
        obj.ids = list(ids)
        obj.weights = [get_float({"weight": w}, "weight", min=0.0, min_inclusive=False) for w in weights]
        obj.kind = kind
        obj.next_id = next_id
        return obj


def _node_bytes(name: Any) -> bytes:
    return key_to_bytes(name)


class _NodeStrategy(_HashedStrategy, Persistable):
    _nodes: _Nodes

    @property
    def nodes(self) -> list[Any]:
        """Node names, in the order they were added."""
        return list(self._nodes.names)

    def shard_ids(self) -> list[int]:
        return sorted(self._nodes.ids)

    def node_id(self, name: Any) -> int:
        """The shard id :meth:`get_shard` returns for node ``name``."""
        return self._nodes.id_of(name)

    def get_node(self, key: Any) -> Any:
        """The name of the node that owns ``key``."""
        return self._nodes.name_of(self.get_shard(key))

    @classmethod
    def _from_state(cls, container: Container) -> Any:
        with refusing(f"{cls.__name__} state"):
            return cls._restore(container.params, container.seed)  # type: ignore[attr-defined]  # each subclass has one


# ------------------------------------------------------------------ ring


class ConsistentHashRing(_NodeStrategy):
    """Consistent hashing (Karger et al.) with virtual nodes.

    Node ``name`` owns ``max(1, round(vnodes * weight))`` points
    ``murmur3(node_bytes + b"#" + i as 4 LE bytes, seed).h1``; a key belongs to
    the owner of the first point clockwise from its ``h1`` (the ring wraps).
    Adding a node moves only the keys it takes over (about ``1/(n+1)``).
    Equal points are ordered by node id, so the ring does not depend on the
    order nodes were added in.
    """

    _KIND = "shard_ring"

    def __init__(self, nodes: Any, vnodes: int = 160, weights: Any = None, seed: int = 0):
        self.vnodes = check_int("vnodes", vnodes, min=1, max=1 << 16)
        self.seed = check_seed(seed)
        self._nodes = _Nodes(nodes, weights, "nodes")
        self._build()

    def _vnode_count(self, weight: float) -> int:
        return max(1, int(round(self.vnodes * weight)))

    def _build(self) -> None:
        self._check_points()
        pts, own = [], []
        for name, nid, w in zip(self._nodes.names, self._nodes.ids, self._nodes.weights, strict=True):
            k = self._vnode_count(w)
            base = _node_bytes(name) + b"#"
            labels = [base + i.to_bytes(4, "little") for i in range(k)]
            pts.append(murmur3_128(labels, self.seed)[:, 0])
            own.append(np.full(k, nid, dtype=np.int64))
        points = np.concatenate(pts)
        owners = np.concatenate(own)
        order = np.lexsort((owners, points))
        self._points = np.ascontiguousarray(points[order])
        self._owners = np.ascontiguousarray(owners[order])
        self._node_ids, inv = np.unique(self._owners, return_inverse=True)
        self._owner_idx = np.ascontiguousarray(inv.reshape(-1), dtype=np.int32)
        m = self._points.shape[0]
        # about 4 points per bucket: a short search inside one or two cache lines
        bits = max(1, min(24, int(math.ceil(math.log2(max(m, 2)))) - 2))
        self._shift = np.uint64(64 - bits)
        edges = np.arange(1 << bits, dtype=np.uint64) << self._shift
        starts = np.searchsorted(self._points, edges, side="left")
        self._buckets = np.append(starts, m).astype(np.int32)

    def _check_points(self) -> None:
        total = 0
        for name, w in zip(self._nodes.names, self._nodes.weights, strict=True):
            x = self.vnodes * w
            total += max(1, int(round(x))) if x <= MAX_RING_POINTS else MAX_RING_POINTS + 1
            if total > MAX_RING_POINTS:
                raise InvalidParameterError(
                    f"a ring holds at most {MAX_RING_POINTS:,} points (vnodes x weight summed over the nodes); "
                    f"vnodes={self.vnodes} with weight {w} for node {name!r:.40} goes past it"
                )

    @property
    def num_points(self) -> int:
        return int(self._points.shape[0])

    def add_node(self, node: Any, weight: float = 1.0) -> int:
        """Add a node; returns its shard id."""
        nid = self._nodes.add(node, weight)
        self._build()
        return nid

    def remove_node(self, node: Any) -> int:
        """Remove a node (its keys move to the next points clockwise); returns its id."""
        nid = self._nodes.remove(node)
        self._build()
        return nid

    def get_shard(self, key: Any) -> int:
        h = np.uint64(self._h1(key))
        i = int(np.searchsorted(self._points, h, side="left"))
        if i == self._points.shape[0]:
            i = 0
        return int(self._owners[i])

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Node id of every key (int64); ``threads`` as in :meth:`HashBasedSharding.get_shards`."""
        from .._kernels.sharding import ring_lookup

        return self._shards(keys, threads, ring_lookup, self._points, self._owner_idx, self._buckets,
                            self._node_ids, self._shift)

    def ownership(self) -> dict[int, float]:
        """Fraction of the hash space each node id owns (its expected load)."""
        pts = self._points.astype(np.float64) / 2.0**64
        arc = np.diff(np.concatenate([[pts[-1] - 1.0], pts]))
        uniq, inv = np.unique(self._owners, return_inverse=True)
        share = np.bincount(inv, weights=arc, minlength=uniq.shape[0])
        return {int(u): float(f) for u, f in zip(uniq, share, strict=True)}

    def _to_state(self):
        return ({"vnodes": self.vnodes, "nodes": self._nodes.state()}, {}, self.seed)

    @classmethod
    def _restore(cls, params: dict[str, Any], seed: int) -> ConsistentHashRing:
        obj = cls.__new__(cls)
        obj.vnodes = get_int(params, "vnodes", min=1, max=1 << 16)
        obj.seed = check_seed(seed)
        obj._nodes = _Nodes.from_state(params["nodes"], "nodes")
        obj._build()
        return obj

    def __repr__(self) -> str:
        return f"ConsistentHashRing(nodes={self._nodes.names!r}, vnodes={self.vnodes}, seed={self.seed})"

    def _repr_html_(self) -> str:
        return html_table("ConsistentHashRing", [("nodes", len(self._nodes.names)), ("vnodes", self.vnodes), ("points", self.num_points), ("seed", self.seed)])


# ------------------------------------------------------------------ jump


def _jump_reference(key: int, num_buckets: int) -> int:
    """The paper's loop on one uint64 key, in Python (64-bit wraparound)."""
    b, j = -1, 0
    while j < num_buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _M64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def jump_consistent_hash(keys: Any, num_buckets: int) -> Any:
    """Jump consistent hash (Lamping & Veach 2014) of one key or a batch.

    Integer keys are used as uint64 as they are (negative ints as their
    two's complement), exactly as the paper's ``JumpConsistentHash(uint64_t
    key, int32_t num_buckets)``; str/bytes keys are hashed first with
    MurmurHash3_x64_128 (seed 0) and their ``h1`` is used. A single key returns
    an int, a batch an int64 array.
    """
    from .._kernels.sharding import jump_u64

    n = check_int("num_buckets", num_buckets, min=1, max=(1 << 31) - 1)
    if isinstance(keys, (str, bytes, bytearray, memoryview, int, np.integer)) and not isinstance(keys, (bool, np.bool_)):
        if isinstance(keys, (int, np.integer)):
            k = int(keys)
            if not -(1 << 63) <= k < 1 << 64:
                raise InvalidParameterError(f"key must be an int in [-2**63, 2**64), got {k}")
            return _jump_reference(k & _M64, n)
        return _jump_reference(hash128(keys, 0)[0], n)
    kk = kernel_keys(keys, keys.seed if isinstance(keys, HashedKeys) else 0, "jump_hash")
    u = kk.ints if kk.kind == INTS else kk.h1()
    out = np.empty(u.shape[0], dtype=np.int64)
    jump_u64(u, n, out)
    return out


class JumpHashSharding(_NodeStrategy):
    """Jump consistent hash over ``num_shards`` buckets with a bucket -> node table.

    ``shard = table[jump(murmur3(key, seed).h1, len(table))]``; the table starts
    as the identity (``num_shards`` int nodes ``0..n-1``), or maps bucket ``i``
    to ``nodes[i]``. :meth:`add_node` appends a bucket (moves ``~1/(n+1)`` of
    the keys). Jump hash can only drop its *last* bucket, so
    :meth:`remove_node` retires any node by giving its bucket to the last
    bucket's node and dropping the last bucket: the retired node's keys and
    the last node's keys move (about ``2/n`` of all keys, not ``1/n``).
    """

    _KIND = "shard_jump"

    def __init__(self, num_shards: int | None = None, seed: int = 0, nodes: Any = None):
        self.seed = check_seed(seed)
        if nodes is None:
            if num_shards is None:
                raise InvalidParameterError("give num_shards or nodes")
            nodes = check_int("num_shards", num_shards, min=1, max=(1 << 31) - 1)
        elif num_shards is not None and check_int("num_shards", num_shards, min=1) != len(list(nodes)):
            raise InvalidParameterError(f"num_shards ({num_shards}) must equal len(nodes) ({len(list(nodes))})")
        self._nodes = _Nodes(nodes, None, "nodes")
        self._table = np.array(self._nodes.ids, dtype=np.int64)

    @property
    def num_shards(self) -> int:
        return int(self._table.shape[0])

    @property
    def table(self) -> np.ndarray:
        """Bucket -> node id (read-only copy)."""
        return self._table.copy()

    def add_node(self, node: Any = None) -> int:
        """Append a bucket owned by ``node`` (default: the next int id); returns its id."""
        if node is None:
            if self._nodes.kind is str:
                raise InvalidParameterError("nodes are named by str; give the new node's name")
            node = self._nodes.next_id
        nid = self._nodes.add(node)
        self._table = np.append(self._table, np.int64(nid))
        return nid

    def remove_node(self, node: Any) -> int:
        """Retire ``node``: the last bucket's node takes over its bucket."""
        nid = self._nodes.id_of(node)
        if self._table.shape[0] == 1:
            raise InvalidParameterError("cannot remove the last node")
        self._nodes.remove(node)
        table = self._table.copy()
        b = int(np.flatnonzero(table == nid)[0])
        table[b] = table[-1]
        self._table = np.ascontiguousarray(table[:-1])
        return nid

    def get_shard(self, key: Any) -> int:
        return int(self._table[_jump_reference(self._h1(key), self.num_shards)])

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Node id of every key (int64); ``threads`` as in :meth:`HashBasedSharding.get_shards`."""
        from .._kernels.sharding import jump_table

        return self._shards(keys, threads, jump_table, self._table)

    def _to_state(self):
        return ({"nodes": self._nodes.state()}, {"table": self._table}, self.seed)

    @classmethod
    def _from_state(cls, container: Container) -> JumpHashSharding:
        with refusing("JumpHashSharding state"):
            obj = cls.__new__(cls)
            obj.seed = check_seed(container.seed)
            obj._nodes = _Nodes.from_state(container.params["nodes"], "nodes")
            table = get_array(container.arrays, "table", np.int64, (len(obj._nodes.ids),))
            require(sorted(table.tolist()) == sorted(obj._nodes.ids), "the bucket table does not match the nodes")
            require(len(obj._nodes.ids) <= (1 << 31) - 1, "too many buckets for jump hash")
            obj._table = np.ascontiguousarray(table)
            return obj

    def __repr__(self) -> str:
        return f"JumpHashSharding(num_shards={self.num_shards}, seed={self.seed}, nodes={self._nodes.names!r})"

    def _repr_html_(self) -> str:
        return html_table("JumpHashSharding", [("num_shards", self.num_shards), ("table", self._table.tolist()[:16]), ("seed", self.seed)])


# ------------------------------------------------------------------ rendezvous


class RendezvousSharding(_NodeStrategy):
    """Rendezvous (highest-random-weight) hashing.

    Each (key, node) pair gets the score ``fmix64(h1(key) ^ h1(node))``; the
    key goes to the node with the highest score. With ``weights``, the score is
    ``-w / ln(u)`` for ``u`` the score mapped into (0, 1) (Schindelhauer &
    Schomaker's weighted HRW), so node ``i`` gets a ``w_i / sum(w)`` share.
    Removing a node moves only its keys; adding one moves only the keys it
    wins. Cost is O(nodes) per key.
    """

    _KIND = "shard_hrw"

    def __init__(self, nodes: Any, weights: Any = None, seed: int = 0):
        self.seed = check_seed(seed)
        self._nodes = _Nodes(nodes, weights, "nodes")
        self._build()

    def _build(self) -> None:
        labels = [_node_bytes(n) for n in self._nodes.names]
        self._node_hashes = np.ascontiguousarray(murmur3_128(labels, self.seed)[:, 0])
        self._ids = np.array(self._nodes.ids, dtype=np.int64)
        w = np.array(self._nodes.weights, dtype=np.float64)
        self._weights = w if np.any(w != w[0]) else None

    def add_node(self, node: Any, weight: float = 1.0) -> int:
        nid = self._nodes.add(node, weight)
        self._build()
        return nid

    def remove_node(self, node: Any) -> int:
        nid = self._nodes.remove(node)
        self._build()
        return nid

    def get_shard(self, key: Any) -> int:
        # One key through the same kernel: the weighted score uses log(), and
        # the batch and the scalar path must agree to the last bit.
        return int(self._route(self._one_key_args(self._h1(key)))[0])

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Node id of every key (int64); ``threads`` as in :meth:`HashBasedSharding.get_shards`."""
        from .._kernels.sharding import rendezvous, rendezvous_weighted

        if self._weights is None:
            return self._shards(keys, threads, rendezvous, self._node_hashes, self._ids)
        return self._shards(keys, threads, rendezvous_weighted, self._node_hashes, self._weights, self._ids)

    def _route(self, args: tuple) -> np.ndarray:
        from .._kernels.sharding import rendezvous, rendezvous_weighted

        out = self._out(args)
        if self._weights is None:
            rendezvous(*args, self._node_hashes, self._ids, out)
        else:
            rendezvous_weighted(*args, self._node_hashes, self._weights, self._ids, out)
        return out

    def _to_state(self):
        return ({"nodes": self._nodes.state()}, {}, self.seed)

    @classmethod
    def _restore(cls, params: dict[str, Any], seed: int) -> RendezvousSharding:
        obj = cls.__new__(cls)
        obj.seed = check_seed(seed)
        obj._nodes = _Nodes.from_state(params["nodes"], "nodes")
        obj._build()
        return obj

    def __repr__(self) -> str:
        return f"RendezvousSharding(nodes={self._nodes.names!r}, seed={self.seed})"

    def _repr_html_(self) -> str:
        return html_table("RendezvousSharding", [("nodes", len(self._nodes.names)), ("weighted", self._weights is not None), ("seed", self.seed)])

