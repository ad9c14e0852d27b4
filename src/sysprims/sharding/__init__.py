"""Sharding: the classic primer API's strategies (fixed) plus consistent hashing, jump hash
and rendezvous, batch routing with :meth:`get_shards`, movement reports and a
:class:`ShardedDatabase` that reshards safely.

Hash-routed strategies use MurmurHash3_x64_128 ``h1`` under ``seed`` (the
library's hashing contract; the textbook implementation used ``hashlib.md5``), so they
accept :class:`~sysprims.hashing.HashedKeys` in :meth:`get_shards`.
"""

from ._common import NoShardError, ShardingStrategy
from .classic import GeoBasedSharding, HashBasedSharding, RangeBasedSharding
from .consistent import (
    ConsistentHashRing,
    JumpHashSharding,
    RendezvousSharding,
    jump_consistent_hash,
)
from .database import MovementReport, ReshardReport, ShardedDatabase, SqliteShard, movement_report

__all__ = [
    "ConsistentHashRing",
    "GeoBasedSharding",
    "HashBasedSharding",
    "JumpHashSharding",
    "MovementReport",
    "NoShardError",
    "RangeBasedSharding",
    "RendezvousSharding",
    "ReshardReport",
    "ShardedDatabase",
    "ShardingStrategy",
    "SqliteShard",
    "jump_consistent_hash",
    "movement_report",
]
