"""Type aliases for users' annotations (``sysprims.KeysLike``).

Light to import: NumPy only, and :class:`~sysprims.hashing.HashedKeys` as a
forward reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np

if TYPE_CHECKING:
    from .hashing import HashedKeys

__all__ = ["KeysLike"]

#: What a keyed batch method (``add_many``, ``update_many``, ``get_shards``, ...)
#: accepts: an iterable of str, of bytes-like objects or of ints, a NumPy array,
#: pre-hashed :class:`~sysprims.hashing.HashedKeys`, or (untyped here, since
#: they are optional dependencies) a pyarrow Array/ChunkedArray or a pandas
#: Series, which are iterables too. See :mod:`sysprims.keys` for the rules.
KeysLike: TypeAlias = Union[
    Iterable[str],
    Iterable[bytes],
    Iterable[bytearray],
    Iterable[memoryview],
    Iterable[int],
    np.ndarray[Any, Any],
    "HashedKeys",
]
