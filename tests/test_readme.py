"""Every code block of the README runs as written.

Python blocks run one by one in a fresh namespace inside an empty folder (they
write files such as ``users.bloom``); blocks that talk to Redis run against the
test redis-server, their ``redis://127.0.0.1:6379/0`` swapped for its URL.
Shell blocks: the dataset commands run on small files made here; the others
(installing, the full tour, the benchmarks, a server) are listed with the reason
they are not run, and a new shell block fails until it is listed or run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_REDIS = "redis://127.0.0.1:6379/0"

# first line of a shell block -> why this test does not run it
NOT_RUN = {
    'pip install -e ".[dev]"': "installs packages",
    "sysprims bench --quick -o report/": "the benchmark suite takes minutes (CI runs it as a smoke test)",
    "sysprims serve shortener": "starts a server that runs until stopped (tests/test_service_uvicorn.py runs one)",
    'pytest -m "not slow"': "runs the test suite itself",
    "pip wheel --no-deps -w dist .": "builds and installs a wheel (.ci/wheel_smoke.sh does it in CI)",
}
CLI_BLOCK = "sysprims bloom build"


def _blocks(language: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block in ``language``."""
    text = README.read_text(encoding="utf-8")
    found = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S):
        if m.group(1) == language:
            found.append((text.count("\n", 0, m.start()) + 1, m.group(2)))
    return found


PYTHON_BLOCKS = _blocks("python")
SHELL_BLOCKS = _blocks("bash")


def test_the_readme_has_the_blocks_this_test_knows():
    assert len(PYTHON_BLOCKS) >= 10
    firsts = [code.splitlines()[0].split("#")[0].strip() for _, code in SHELL_BLOCKS]
    unknown = [f for f in firsts if f not in NOT_RUN and not f.startswith(CLI_BLOCK)]
    assert not unknown, f"shell blocks neither run nor listed in NOT_RUN: {unknown}"
    assert sum(f.startswith(CLI_BLOCK) for f in firsts) == 1


def test_the_wheel_named_in_the_install_instructions_is_this_version():
    import sysprims

    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"sysprims-([0-9][^-]*)-py3-none-any\.whl", text))
    assert named == {sysprims.__version__}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_python(code: str, line: int) -> dict:
    namespace: dict = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


@pytest.mark.parametrize(
    ("line", "code"),
    [pytest.param(line, code, id=f"line{line}") for line, code in PYTHON_BLOCKS if README_REDIS not in code],
)
def test_python_block_runs(line, code, in_tmp):
    _run_python(code, line)


@pytest.mark.redis
@pytest.mark.parametrize(
    ("line", "code"),
    [pytest.param(line, code, id=f"line{line}") for line, code in PYTHON_BLOCKS if README_REDIS in code],
)
def test_python_block_runs_on_redis(line, code, in_tmp, redis_url):
    _run_python(code.replace(README_REDIS, redis_url), line)


def _block_starting(prefix: str) -> str:
    (code,) = [code for _, code in PYTHON_BLOCKS if code.startswith(prefix)]
    return code


def test_what_the_comments_promise(in_tmp):
    """The values the README's comments show are the values the code gives."""
    ns = _run_python(_block_starting("from sysprims import BloomFilter"), 0)
    assert ns["maybe"].tolist() == [True, False]
    ns = _run_python(_block_starting("from sysprims import CountMinSketch"), 0)
    assert ns["cms"].query("#python") >= 700
    assert ns["top"].top(2) == [("#python", 700), ("#rust", 300)]
    ns = _run_python(_block_starting("import numpy as np\nfrom sysprims import ManualClock"), 0)
    assert int(ns["ok"].sum()) == 199
    ns = _run_python(_block_starting("from sysprims import IdempotencyManager"), 0)
    assert ns["retry"] == ns["receipt"] and ns["charges"] == [100]
    ns = _run_python(_block_starting("from sysprims import Autocomplete"), 0)
    assert ns["ac"].suggest("p", limit=2) == ["python", "pandas"]


def _make_cli_inputs(folder: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    users = [f"user{i}" for i in range(2_000)]
    pq.write_table(pa.table({"user": users}), folder / "users.parquet")
    (folder / "users.txt").write_text("\n".join(users) + "\n")
    (folder / "signups.csv").write_text("name\n" + "\n".join(["user5", "newcomer", "user1999"]) + "\n")
    urls = [f"https://example.com/{int(k)}" for k in rng.zipf(1.5, 5_000) % 500]
    pq.write_table(pa.table({"url": urls}), folder / "clicks.parquet")
    n = 5_000
    pq.write_table(
        pa.table({"user": [f"user{int(k)}" for k in rng.integers(0, 50, n)], "ts": np.sort(rng.uniform(0, 60, n))}),
        folder / "requests.parquet",
    )
    (folder / "words.csv").write_text("word,f\npython,90\npytest,40\npandas,70\npyth,5\n")


@pytest.mark.slow
def test_dataset_commands_run(in_tmp):
    (code,) = [code for _, code in SHELL_BLOCKS if code.startswith(CLI_BLOCK)]
    _make_cli_inputs(in_tmp)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cli = f"{shlex.quote(sys.executable)} -m sysprims.cli"
    for line in code.splitlines():
        command = line.split("   #")[0].strip()
        if not command:
            continue
        command = re.sub(r"(^|&& )sysprims ", lambda m: f"{m.group(1)}{cli} ", command)
        done = subprocess.run(command, shell=True, cwd=in_tmp, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
    assert (in_tmp / "users.bloom").exists() and (in_tmp / "result.parquet").exists()
    assert (in_tmp / "words.ac").exists()
