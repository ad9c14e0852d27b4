"""Smoke test: `sysprims serve shortener` as a real uvicorn process on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_real_uvicorn_process(tmp_path):
    db = tmp_path / "links.db"
    proc, base = _serve(["--store", f"sqlite:///{db}", "--rate", "100/10"])
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
            assert json.load(r) == {"status": "ok"}
        req = urllib.request.Request(f"{base}/api/links", data=json.dumps({"url": "https://example.com/uv"}).encode(),
                                     headers={"Content-Type": "application/json", "Idempotency-Key": "smoke"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 201
            assert r.headers["RateLimit-Limit"] == "100"
            body = json.load(r)
        assert body["short_url"] == f"{base}/{body['code']}"
        with urllib.request.urlopen(req, timeout=5) as r:  # retry: replayed
            assert json.load(r) == body and r.headers["Idempotent-Replayed"] == "true"
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(f"{base}/{body['code']}", timeout=5)
        assert info.value.code == 302 and info.value.headers["Location"] == "https://example.com/uv"
        with urllib.request.urlopen(f"{base}/api/links/{body['code']}", timeout=5) as r:
            assert json.load(r)["clicks"] == 1
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(f"{base}/missing1", timeout=5)
        assert info.value.code == 404 and json.load(info.value)["code"] == "not_found"
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=5) as r:
            assert json.load(r)["openapi"].startswith("3.1")
    finally:
        _stop(proc)
    assert db.exists()  # the embedded store was created with no setup


def _serve(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-c", "from sysprims.cli import main; raise SystemExit(main())",
           "serve", "shortener", "--port", str(port), "--log-level", "warning", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return proc, base
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"server did not start: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        proc.wait()


def _create(base: str, url: str) -> str:
    req = urllib.request.Request(f"{base}/api/links", data=json.dumps({"url": url}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201
        return json.load(r)["code"]


def _redirects(base: str, code: str, n: int) -> None:
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(n):  # a new connection each: uvicorn's workers take them in turn from the shared socket
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(f"{base}/{code}", timeout=10)
        assert info.value.code == 302


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_workers_share_one_store_and_count_every_click_once(store, tmp_path, request):
    """Two uvicorn workers: links made by one redirect from the other, distinct codes,
    every click counted exactly once in the shared store."""
    url = f"sqlite:///{tmp_path / 'links.db'}" if store == "sqlite" else request.getfixturevalue("redis_url")
    proc, base = _serve(["--store", url, "--rate", "0" if store == "sqlite" else "1000/s", "--workers", "2"])
    try:
        if sys.platform.startswith("linux"):
            assert len(_children(proc.pid)) == 2  # the supervisor and its two workers
        codes = [_create(base, f"https://example.com/w/{i}") for i in range(12)]
        assert len(set(codes)) == 12
        for code in codes:
            _redirects(base, code, 3)
        for code in codes:
            with urllib.request.urlopen(f"{base}/api/links/{code}", timeout=10) as r:
                assert json.load(r)["clicks"] == 3
    finally:
        _stop(proc)


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (Linux /proc), not counting
    multiprocessing's resource tracker."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if ppid == pid and b"resource_tracker" not in cmd:
                out.append(int(name))
    return out


@pytest.mark.parametrize("args, words", [
    (["--store", "memory"], "shared store"),
    (["--store", "sqlite:///x.db", "--rate", "60/min"], "--rate 0"),
    (["--store", "sqlite:///x.db", "--rate", "0", "--strategy", "snowflake"], "machine id"),
    (["--store", "redis://127.0.0.1:1/0", "--machine-id", "3"], "machine id"),
])
def test_workers_refuse_what_would_change_the_service(args, words, tmp_path, monkeypatch, capsys):
    """Per-process state that N workers would split (links in memory, rate buckets in
    memory, one Snowflake machine id): refused before anything starts."""
    from sysprims.cli import main as cli_main

    monkeypatch.chdir(tmp_path)
    assert cli_main(["serve", "shortener", "--workers", "2", *args]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()  # refused before the store was opened


def test_worker_options_travel_whole(monkeypatch, tmp_path):
    """What each worker builds equals what one process would: the same settings,
    one secret shared by all (a permuted code sequence per start, not per worker)."""
    from sysprims.service.workers import ENV, app_from_env, options_to_env

    opts = dict(strategy=None, secret=None, machine_id=None, redirect_status=307, rate_capacity=0.0, rate_refill=1.0,
                rate_redirects=False, api_keys=frozenset({"k1", "k2"}), trust_forwarded=True,
                base_url="https://s.example", allowed_hosts=frozenset({"s.example"}), threadpool=False)
    monkeypatch.setenv(ENV, options_to_env(f"sqlite:///{tmp_path / 'l.db'}", opts))
    apps = [app_from_env(), app_from_env()]
    try:
        a, b = (app.state.service.settings for app in apps)
        assert a == b
        assert a.secret is not None and len(a.secret) == 32
        assert (a.redirect_status, a.api_keys, a.trust_forwarded, a.base_url, a.allowed_hosts, a.threadpool) == \
            (307, frozenset({"k1", "k2"}), True, "https://s.example", frozenset({"s.example"}), False)
        first = [app.state.service.shortener.shorten(f"https://e.com/{i}") for i, app in enumerate(apps)]
        assert first[0] != first[1] and len(first[0]) == len(first[1]) == 7  # one counter, one permutation
    finally:
        for app in apps:
            app.state.service.close()
    monkeypatch.delenv(ENV)
    with pytest.raises(Exception, match=ENV):
        app_from_env()
