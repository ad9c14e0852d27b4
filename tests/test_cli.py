"""The console script and the tour (the README's main command)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import sysprims
from sysprims.cli import main
from sysprims.tour import discover_steps, run_tour


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sysprims {sysprims.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) in (0, 2)
    assert "tour" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main(["tour", "--size", "many"]) == 2
    assert "many" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("sysprims")
    cmd = [exe] if exe else [sys.executable, "-m", "sysprims.cli"]
    out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("sysprims ")


def test_tour_hashing_step_is_bit_exact(capsys):
    assert main(["tour", "--size", "20000", "--only", "hashing"]) == 0
    out = capsys.readouterr().out
    assert "murmur3_128(list of str)" in out and "bit-exact" in out and "MISMATCH" not in out


def test_every_tour_step_runs_small():
    rows = run_tour(size=5000, out=open("/dev/null", "w"))
    names = {m.NAME for m in discover_steps()}
    assert {r.step for r in rows} == names
    assert all("MISMATCH" not in r.note for r in rows)


def test_tour_rejects_unknown_steps_and_bad_sizes(capsys):
    assert main(["tour", "--only", "nope"]) == 1
    assert "unknown tour steps ['nope']" in capsys.readouterr().err
    assert main(["tour", "--size", "0"]) == 1
    assert "size must be >= 1" in capsys.readouterr().err


def test_load_numba_skips_only_numbas_blas_probe_and_leaves_scipy_importable():
    # a fresh process, as the CLI runs: numba loads without scipy.linalg, a kernel
    # runs, and scipy.linalg (and numba's linear algebra) still work afterwards
    code = (
        "import sys\n"
        "from sysprims.cli._common import load_numba\n"
        "load_numba()\n"
        "assert 'numba' in sys.modules and 'scipy.linalg' not in sys.modules\n"
        "assert 'scipy.linalg.cython_blas' not in sys.modules\n"
        "import sysprims as sp\n"
        "bf = sp.BloomFilter(4096, 3); bf.add_many(['a', 'b'])\n"
        "assert bf.contains_many(['a', 'b', 'zz']).tolist()[:2] == [True, True]\n"
        "import numpy as np, numba, scipy.linalg\n"
        "a = np.arange(1.0, 10.0).reshape(3, 3) + np.eye(3)\n"
        "dot = numba.njit(lambda x, y: np.dot(x, y))\n"
        "inv = numba.njit(lambda x: np.linalg.inv(x))\n"
        "assert np.allclose(dot(a[0], a[1]), a[0] @ a[1]) and np.allclose(inv(a), scipy.linalg.inv(a))\n"
        "load_numba()  # a second call is a no-op\n"
        "print('ok')\n"
    )
    assert _run_python(code).strip() == "ok"


def test_main_raises_the_collector_thresholds_only_while_a_command_runs():
    import gc

    from sysprims import cli as cli_module

    seen = []
    before = gc.get_threshold()
    real = cli_module._main
    try:
        cli_module._main = lambda argv: seen.append(gc.get_threshold()) or 0
        assert cli_module.main(["--version"]) == 0
    finally:
        cli_module._main = real
    assert seen == [cli_module.GC_THRESHOLDS]
    assert gc.get_threshold() == before


def _run_python(code):
    import os

    src = os.path.dirname(os.path.dirname(sysprims.__file__))  # this tree's sysprims, not an installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_program_freezes_the_collector_at_exit_and_a_call_with_argv_does_not():
    """Run as the program (argv from sys.argv), the CLI freezes the collector when the
    interpreter exits, so the final collections skip the hundreds of thousands of
    objects numba and pyarrow created (0.2 s a process here); a call with its own
    argv, such as a test's, leaves the process's collector alone."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen'))\n"
        "from sysprims.cli import main\n"
        "sys.argv = ['sysprims', '--version']\n"
        "assert main({}) == 0\n"
        "print('ran')\n"
    )
    assert _run_python(code.format("")).splitlines() == ["sysprims " + sysprims.__version__, "ran", "frozen"]
    assert _run_python(code.format("['--version']")).splitlines()[-1] == "not frozen"
