"""A real headless Chromium (Debian's chromium + chromium-driver), and HTTP helpers for the live pages."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000"]
TOKEN = "test-token-0123456789"
DOCS = Path(__file__).resolve().parents[2] / "docs"

needs_browser = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                   reason="chromium and chromium-driver are not installed")


def start_browser(niceness: int = 0):
    """A fresh Chromium profile each time; the driver is Debian's, never a downloaded one.

    `niceness` lowers the browser's priority (the benchmark's stand-in for a viewer elsewhere).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="unseen-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    popen = {"preexec_fn": lambda: os.nice(niceness)} if niceness else {}
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, popen_kw=popen), options=options)
    driver.set_page_load_timeout(30)
    driver.profile_dir = profile
    return driver


def stop_browser(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


def wait_until(condition, timeout: float = 20.0, every: float = 0.1, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def settled(probe, quiet: float = 1.5, timeout: float = 20.0):
    """The value of `probe()` once it has not changed for `quiet` seconds (messages in flight have landed)."""
    deadline = time.time() + timeout
    value, since = probe(), time.time()
    while time.time() < deadline:
        time.sleep(0.1)
        now = probe()
        if now != value:
            value, since = now, time.time()
        elif time.time() - since >= quiet:
            return value
    raise AssertionError(f"still changing after {timeout} s")


def get(url: str, token: str | None = None, context: ssl.SSLContext | None = None, method: str = "GET",
        data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    handlers = [NoRedirect()] + ([urllib.request.HTTPSHandler(context=context)] if context else [])
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str, token: str | None = None, **kwargs) -> dict:
    status, _, body = get(url, token, **kwargs)
    assert status == 200, (status, body)
    return json.loads(body)


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    def up():
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.communicate()[1]}")
        try:
            return get(base + "healthz")[0] == 200
        except OSError:
            return False
    wait_until(up, timeout, 0.2, f"{base}healthz")


def unseen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "unseen.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> str:
    """SIGTERM, then the stderr; a clean stop has no traceback."""
    if process.poll() is None:
        process.terminate()
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def metrics(base: str, token: str | None) -> dict[tuple[str, tuple], float]:
    """/metrics parsed by prometheus_client's own parser: {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    status, headers, body = get(base + "metrics", token)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


# -- what a person looks at on the page ------------------------------------------------------------
def text_of(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def picture(driver, css: str) -> str:
    """The pixels of a canvas or an <img> as a data URL (to see whether the picture changed)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "if (!e) return '';"
        "if (e.tagName === 'CANVAS') return e.dataset.painted ? e.toDataURL() : '';"
        "if (!e.complete || !e.naturalWidth) return '';"
        "const c = document.createElement('canvas'); c.width = e.naturalWidth; c.height = e.naturalHeight;"
        "c.getContext('2d').drawImage(e, 0, 0); return c.toDataURL();", css)


def loaded_layers(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#layers figure')]"
        ".filter(f => f.canvas && f.canvas.dataset.painted).map(f => f.dataset.layer);")


def click_channel(driver, layer: str, channel: int) -> None:
    """Clicks the middle of `channel`'s cell in `layer`'s picture, found from the layout the page got."""
    from selenium.webdriver.common.action_chains import ActionChains
    dx, dy = driver.execute_script(
        "const f = document.querySelector(`figure[data-layer='${arguments[0]}']`), L = f.layout, c = f.canvas;"
        "const r = c.getBoundingClientRect(), k = r.width / c.natural.w;"
        "const row = Math.floor(arguments[1] / L.cols), col = arguments[1] % L.cols;"
        "const x = (L.x0 + col * L.step_x + L.cell_w / 2) * k, y = (L.y0 + row * L.step_y + L.cell_h / 2) * k;"
        "return [x - r.width / 2, y - r.height / 2];", layer, channel)
    image = driver.find_element("css selector", f"figure[data-layer='{layer}'] canvas")
    ActionChains(driver).move_to_element_with_offset(image, int(dx), int(dy)).click().perform()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    """Into the test's folder; with UNSEEN_DOCS_SCREENSHOTS=1 also into docs/ for the README."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if os.environ.get("UNSEEN_DOCS_SCREENSHOTS"):
        from PIL import Image
        Image.open(path).convert("RGB").save(DOCS / name.replace(".png", ".jpg"), quality=85)
    return path
