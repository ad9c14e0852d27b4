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
    port = _free_port()
    db = tmp_path / "links.db"
    cmd = [sys.executable, "-c", "from sysprims.cli import main; raise SystemExit(main())",
           "serve", "shortener", "--port", str(port), "--store", f"sqlite:///{db}", "--rate", "100/10",
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.poll() is not None else ""
                    pytest.fail(f"server did not start: {out}")
                time.sleep(0.1)
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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
    assert db.exists()  # the embedded store was created with no setup
