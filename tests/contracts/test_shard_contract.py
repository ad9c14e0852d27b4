"""The shard-store contract (:class:`sysprims.sharding.database.ShardStore`) on every engine."""

from __future__ import annotations

import pytest

from sysprims.sharding.database import ShardStore

COMPONENT = "shard"
VALUES = {"s": "text", b"raw\x00": b"\x00\xff", 7: [1, 2.5, None, True], -(2**63): {"nested": {"k": [1]}},
          "t": ("a", 1), "d": {1: "int key"}}


def test_is_a_shard_store(store):
    assert isinstance(store, ShardStore)


def test_items_round_trip_with_their_types(store):
    for k, v in VALUES.items():
        store[k] = v
    assert len(store) == len(VALUES) and sorted(map(repr, store.keys())) == sorted(map(repr, VALUES))
    for k, v in VALUES.items():
        got = store[k]
        assert got == v and type(got) is type(v) and k in store
    store["s"] = "new"
    assert store.get("s") == "new" and len(store) == len(VALUES)
    del store["s"]
    assert "s" not in store and store.get("s", "default") == "default"
    with pytest.raises(KeyError):
        store["s"]
