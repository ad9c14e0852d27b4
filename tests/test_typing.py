"""Types reach users: mypy sees the real types of the top-level names.

``sysprims/__init__.py`` imports its public names lazily (PEP 562), which would
make every one of them ``Any`` to a type checker; a ``TYPE_CHECKING`` block of
real imports and ``py.typed`` give users the real types. mypy checks a small user
script here, against this source tree.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import sysprims

SRC = Path(sysprims.__file__).resolve().parent

USER_SCRIPT = '''
from __future__ import annotations

import numpy as np
from typing_extensions import assert_type

import sysprims
from sysprims import BloomFilter, CountMinSketch, KeysLike

bf = sysprims.BloomFilter(1000, 3)
assert_type(bf, BloomFilter)
assert_type(bf.contains_many(["a", "b"]), np.ndarray)
assert_type(bf.contains("a"), bool)
assert_type(sysprims.BloomFilter.for_capacity(1000, 0.01), BloomFilter)
assert_type(sysprims.BloomFilter.load("users.bloom", mmap=True), BloomFilter)
assert_type(sysprims.BloomFilter.from_bytes(b""), BloomFilter)

cms = sysprims.CountMinSketch.load("counts.cms")
assert_type(cms, CountMinSketch)
assert_type(cms.query("a"), int)
assert_type(cms.query_many(["a"]), np.ndarray)
assert_type(sysprims.TopK.from_bytes(b""), sysprims.TopK)
assert_type(sysprims.ScalableBloomFilter.load("x"), sysprims.ScalableBloomFilter)
assert_type(sysprims.hash_keys(["a"]), sysprims.HashedKeys)
assert_type(sysprims.murmur3_128(["a"]), np.ndarray)
assert_type(sysprims.SnowflakeID(1).generate_many(10), np.ndarray)
assert_type(sysprims.JumpHashSharding(8).get_shards(np.arange(3)), np.ndarray)

def first_shard(keys: KeysLike) -> int:
    return int(sysprims.JumpHashSharding(8).get_shards(keys)[0])

first_shard(["a", "b"])
first_shard(np.arange(3))
first_shard(sysprims.hash_keys([1, 2]))

reveal_type(sysprims.warmup)
reveal_type(sysprims.decode_snowflake)
'''

# Each line must be a type error: with every name typed Any, none of them would be.
WRONG_SCRIPT = '''
import sysprims

a: str = sysprims.BloomFilter(1000, 3)
b: str = sysprims.CountMinSketch.load("counts.cms")
c: str = sysprims.BloomFilter(1000, 3).contains_many(["a"])
d: int = sysprims.BloomFilter.from_bytes(b"")
sysprims.BloomFilter(1000, 3).no_such_method()
'''


def _mypy(tmp_path: Path, name: str, code: str) -> tuple[int, str]:
    pytest.importorskip("mypy")
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    config = tmp_path / "mypy.ini"
    # follow_imports=silent: sysprims' own modules are analysed for their types,
    # and only the user script's errors are reported
    config.write_text("[mypy]\npython_version = 3.10\nignore_missing_imports = True\nfollow_imports = silent\n")
    env = dict(os.environ, MYPYPATH=str(SRC.parent))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes", str(script)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_sees_the_real_types_in_a_user_script(tmp_path):
    rc, out = _mypy(tmp_path, "user.py", USER_SCRIPT)
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not errors, out
    notes = [line for line in out.splitlines() if "Revealed type" in line]
    assert len(notes) == 2, out
    assert "def () -> dict[str, float]" in notes[0].replace("builtins.", ""), notes[0]
    assert "SnowflakeParts" in notes[1] or "sysprims.ids" in notes[1], notes[1]
    assert rc == 0, out

    rc, out = _mypy(tmp_path, "wrong.py", WRONG_SCRIPT)
    wrong_lines = {int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line}
    expected = {i + 1 for i, line in enumerate(WRONG_SCRIPT.splitlines()) if line.startswith(("a", "b", "c", "d", "sysprims."))}
    assert wrong_lines == expected, out
    assert rc == 1


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """{public name: (module, attribute)} imported under ``if TYPE_CHECKING:`` in __init__."""
    tree = ast.parse((SRC / "__init__.py").read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]
    found: dict[str, tuple[str, str]] = {}
    aliases: dict[str, tuple[str, str]] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                (found if a.asname == a.name else aliases)[a.asname or a.name] = (node.module or "", a.name)
        elif isinstance(node, ast.Assign):
            (target,) = node.targets
            found[target.id] = aliases[node.value.id]
    return found


def test_type_checking_block_matches_the_lazy_exports():
    """Every public name is typed exactly as it resolves at run time (no drift)."""
    typed = _type_checking_imports()
    lazy = {name: (module, name) for name, module in sysprims._EXPORTS.items()}
    lazy.update(sysprims._ALIASES)
    assert typed == lazy
    assert set(typed) | {"__version__"} == set(sysprims.__all__)


def test_package_ships_py_typed_and_keys_like():
    assert (SRC / "py.typed").is_file()
    from collections.abc import Iterable

    import numpy as np

    import sysprims._typing as t

    assert sysprims.KeysLike is t.KeysLike
    args = t.KeysLike.__args__
    assert Iterable[str] in args and Iterable[int] in args and np.ndarray[Any, Any] in args
