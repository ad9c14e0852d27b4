"""The shortener in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) against `sysprims serve shortener` on loopback.
Nothing is downloaded at test time; without the browser the test skips and says how
to install it."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

INSTALL = "apt-get install -y chromium chromium-driver && pip install selenium"


def _browser() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip(f"no headless Chromium here (chromium, chromedriver); install with: {INSTALL}")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip(f"selenium is not installed; install with: {INSTALL}")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Landing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<!doctype html><title>landed</title><h1 id=landed>you arrived</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def landing():
    """The page the short link leads to, on another loopback host name (localhost), so
    the service does not take it for a link to itself."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/landing"
    server.shutdown()
    server.server_close()


@pytest.fixture
def service(tmp_path):
    port = _free_port()
    cmd = [sys.executable, "-c", "from sysprims.cli import main; raise SystemExit(main())", "serve", "shortener",
           "--port", str(port), "--store", f"sqlite:///{tmp_path / 'links.db'}", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the service did not start: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


@pytest.fixture
def browser():
    chromium, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sysprims-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow
def test_create_follow_and_see_the_click(service, landing, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(service + "/")
    assert "URL shortener" in browser.title
    browser.find_element(By.ID, "url").send_keys(landing)
    browser.find_element(By.ID, "shorten").click()
    short = wait.until(ec.presence_of_element_located((By.ID, "short-url")))
    short_url = short.get_attribute("href")
    code = short_url.rsplit("/", 1)[1]
    assert short_url == f"{service}/{code}"
    row = browser.find_element(By.CSS_SELECTOR, f"td.clicks[data-code='{code}']")
    assert row.text == "0"

    browser.get(short_url)  # the redirect, followed by the browser
    wait.until(ec.presence_of_element_located((By.ID, "landed")))
    assert browser.current_url == landing

    browser.get(service + "/")
    cell = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"td.clicks[data-code='{code}']")))
    assert cell.text == "1"
    browser.find_element(By.LINK_TEXT, code).click()
    clicks = wait.until(ec.presence_of_element_located((By.ID, "clicks")))
    assert clicks.text == "1" and browser.find_elements(By.TAG_NAME, "svg")
