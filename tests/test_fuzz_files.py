"""Structure-aware fuzzing of every persisted kind, in child processes (see
``tests/fuzz_files.py``): a mutated file with valid CRCs is refused with a
SerializationError or loads into a structure that answers consistently, and
never crashes the interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sysprims as sp

from .golden_examples import EXAMPLES

ROOT = Path(__file__).parent.parent
SRC = str(Path(sp.__file__).resolve().parents[1])


def run_fuzz(seed: int, cases: int, stems: list[str], timeout: int) -> tuple[int, int]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, str(ROOT)]))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_files", str(seed), str(cases), *stems],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    last_case = next((ln for ln in reversed(lines) if ln.startswith("CASE")), "no case started")
    if proc.returncode != 0:
        fail = [ln for ln in lines if ln.startswith("FAIL")]
        where = fail[0] if fail else f"the interpreter died (rc {proc.returncode}) during {last_case}"
        pytest.fail(f"fuzz seed {seed}: {where}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    assert lines[-1].startswith("DONE"), lines[-3:]
    loaded, refused = map(int, lines[-1].split()[1:])
    return loaded, refused


def test_every_persisted_kind_is_fuzzed():
    kinds = {type(build())._KIND for build, _answers in EXAMPLES.values()}
    assert kinds == {
        "autocomplete", "bloom", "bloom_counting", "bloom_scalable", "count_min", "feed_store",
        "rate_limiter", "shard_hrw", "shard_jump", "shard_ring", "top_k", "trie",
    }


def test_fuzzed_files_are_refused_or_answer_consistently():
    loaded, refused = run_fuzz(seed=20261201, cases=150, stems=sorted(EXAMPLES), timeout=300)
    n = 150 * len(EXAMPLES)
    # both outcomes occur: the mutations reach the loaders' checks and the kernels behind them
    assert refused > n // 10 and loaded > n // 10, (loaded, refused)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_fuzzed_files_many_cases(seed):
    loaded, refused = run_fuzz(seed=seed, cases=1500, stems=sorted(EXAMPLES), timeout=900)
    assert loaded + refused > 0
