"""`unseen serve --http` in a real headless Chromium: what a person checks on the live page."""

from __future__ import annotations

import time

import pytest

from fleet.broker import free_port
from tests.edge_service.live_helpers import (TOKEN, click_channel, get, get_json, loaded_layers, metrics,
                                             needs_browser, picture, screenshot, settled, start_browser, stop, stop_browser,
                                             text_of, unseen, wait_healthy, wait_until)

pytest.importorskip("selenium", reason="the browser tests need selenium (the test extra)")
pytest.importorskip("aiohttp", reason="the live page needs the http extra")

# The model's layers, then its conversion layers at the frame's own resolution.
LAYERS = ["conversion", "conv1", "pool1", "conv2", "pool2", "flatten", "dense1", "predictions",
          "conversion_full_resolution"]
pytestmark = needs_browser


@pytest.fixture(scope="module")
def device():
    """The shipped model on the bundled frames, looping, numpy backend (it times every layer)."""
    port = free_port()
    process = unseen("serve", "--source", "samples", "--loop", "--backend", "numpy", "--max-fps", "8",
                     "--device-id", "page-test", "--status-every", "0.5", "--log-level", "warning",
                     "--http", str(port), "--http-token", TOKEN)
    base = f"http://127.0.0.1:{port}/"
    wait_healthy(base, process)
    yield base
    err = stop(process)
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def browser(device):
    driver = start_browser()
    driver.get(device + f"?token={TOKEN}")  # sets the cookie, then drops the token from the address
    yield driver
    stop_browser(driver)


@pytest.fixture
def page(browser, device):
    """The page on every layer, with each test starting unpaused and without the large view."""
    browser.get(device)
    wait_until(lambda: loaded_layers(browser) == LAYERS, 30, what="every layer's picture")
    yield browser
    get(device + "api/command/resume", TOKEN, method="POST", data=b"")


def seq(driver) -> int:
    return int(text_of(driver, "seq").lstrip("#") or 0)


def test_the_page_shows_every_layer_and_they_change_from_frame_to_frame(page, tmp_path):
    assert page.current_url.endswith("/") and "token" not in page.current_url
    first = {"seq": seq(page), "top": text_of(page, "topk"), "conv1": picture(page, "figure[data-layer=conv1] canvas"),
             "input": picture(page, "#input")}
    assert first["conv1"] and first["top"]
    wait_until(lambda: picture(page, "figure[data-layer=conv1] canvas") != first["conv1"], what="conv1 to change")
    wait_until(lambda: text_of(page, "topk") != first["top"], what="the top-k to change")
    wait_until(lambda: picture(page, "#input") != first["input"], what="the model input to change")
    assert seq(page) > first["seq"]
    assert "numpy" in text_of(page, "summary") and "fps" in text_of(page, "summary")
    assert "chosen by configuration" in text_of(page, "notes")
    counters = text_of(page, "counters")
    assert "processed" in counters and "dropped" in counters
    caption = page.find_element("css selector", "figure[data-layer=conv1] figcaption").text
    assert "conv1 [26×26×64]" in caption and " ms" in caption  # per-layer time from the numpy backend
    latency = text_of(page, "latency")
    assert "inference" in latency and "total" in latency
    screenshot(page, tmp_path, "live-page.png")


def test_pause_stops_the_updates_and_resume_restarts_them(page, device):
    page.find_element("id", "pause").click()
    wait_until(lambda: "pause ok" in text_of(page, "reply"), what="the pause reply")
    wait_until(lambda: text_of(page, "state") == "paused", what="the paused badge")
    # A frame already in the model may still arrive, however long it takes to draw: wait for the
    # device's last result to be on the page; after that nothing may change.
    last = settled(lambda: get_json(device + "api/status", TOKEN)["counters"]["processed"])
    wait_until(lambda: seq(page) == last, 30, what="the last result before the pause")
    frozen = settled(lambda: (seq(page), text_of(page, "topk"), picture(page, "figure[data-layer=conv2] canvas")))
    time.sleep(2.5)
    assert (seq(page), text_of(page, "topk"), picture(page, "figure[data-layer=conv2] canvas")) == frozen
    page.find_element("id", "resume").click()
    wait_until(lambda: "resume ok" in text_of(page, "reply"), what="the resume reply")
    wait_until(lambda: seq(page) > frozen[0], what="updates after resume")
    wait_until(lambda: picture(page, "figure[data-layer=conv2] canvas") != frozen[2], what="conv2 to change again")


def test_a_channel_click_opens_the_large_view_with_its_value_scale(page):
    click_channel(page, "conv1", 5)
    wait_until(lambda: page.find_element("id", "zoom").is_displayed(), what="the large view")
    wait_until(lambda: picture(page, "#zoom-image"), what="the channel's picture")
    assert text_of(page, "zoom-title").startswith("conv1, channel 5")
    assert page.execute_script("return document.getElementById('zoom-image').naturalWidth") == 26
    lo, hi = float(text_of(page, "scale-lo")), float(text_of(page, "scale-hi"))
    assert lo <= hi
    assert "percentile" in text_of(page, "zoom-info") and "min" in text_of(page, "zoom-info")
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(page).move_to_element(page.find_element("id", "zoom-image")).perform()
    wait_until(lambda: ":" in text_of(page, "zoom-value"), what="the value under the pointer")
    page.find_element("id", "zoom-close").click()
    wait_until(lambda: not page.find_element("id", "zoom").is_displayed(), what="the large view to close")
    click_channel(page, "conversion", 2)  # the conversion layer's channels have the matrix's names
    wait_until(lambda: "(pca2)" in text_of(page, "zoom-title"), what="the named conversion channel")


def test_snapshot_goes_through_the_control_surface_and_links_the_picture(page, device):
    page.find_element("id", "snapshot").click()
    wait_until(lambda: "snapshot ok" in text_of(page, "reply"), what="the snapshot reply")
    link = page.find_element("id", "snapshot-link")
    assert link.is_displayed()
    href = link.get_attribute("href")
    assert "/snapshot.jpg?device=page-test&layers=all" in href
    status, headers, body = get(href, TOKEN)
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"


def test_choosing_layers_and_the_update_rate(page):
    page.find_element("css selector", "#picker summary").click()
    page.find_element("id", "no-layers").click()
    page.find_element("css selector", "#layer-list input[value=conv2]").click()
    wait_until(lambda: loaded_layers(page) == ["conv2"], what="only conv2 on the page")
    from selenium.webdriver.support.select import Select
    Select(page.find_element("id", "rate")).select_by_visible_text("1")
    time.sleep(1.2)
    updates = lambda: int(page.find_element("id", "seq").get_attribute("data-updates"))  # noqa: E731
    start, first = updates(), seq(page)
    time.sleep(4.2)
    assert 2 <= updates() - start <= 6  # about one a second, while the device runs at 8 fps
    assert seq(page) - first >= 8  # each update is the newest frame: the ones between are skipped


def test_without_the_token_everything_but_healthz_is_401(device, browser):
    for path in ("", "static/app.js", "ws", "api/status", "metrics", "stream.mjpeg", "snapshot.jpg"):
        status, headers, _ = get(device + path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Bearer")
    assert get(device + "metrics", "wrong-token-123456")[0] == 401
    assert get(device + "healthz")[0] == 200
    status, headers, _ = get(device + f"?token={TOKEN}")
    assert status == 302 and headers["Location"] == "/" and "HttpOnly" in headers["Set-Cookie"]
    driver = start_browser()
    try:
        driver.get(device)
        assert "401 Unauthorized" in driver.find_element("tag name", "body").text
    finally:
        stop_browser(driver)


def test_another_site_cannot_drive_the_page(device):
    evil = {"Origin": "http://evil.example"}
    assert get(device + "ws", TOKEN, headers=evil)[0] == 403
    assert get(device + "api/command/pause", TOKEN, method="POST", data=b"", headers=evil)[0] == 403
    assert not get_json(device + "api/status", TOKEN)["paused"]
    _, headers, _ = get(device, TOKEN)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_metrics_parse_and_agree_with_the_status(device):
    assert get(device + "api/command/pause", TOKEN, method="POST", data=b"")[0] == 200
    try:
        time.sleep(1.0)
        status = get_json(device + "api/status", TOKEN)
        samples = metrics(device, TOKEN)
    finally:
        get(device + "api/command/resume", TOKEN, method="POST", data=b"")
    counters = status["counters"]
    assert status["paused"] and samples[("unseen_paused", ())] == 1
    assert samples[("unseen_frames_processed_total", ())] == counters["processed"] > 0
    assert samples[("unseen_frames_captured_total", ())] == counters["captured"]
    assert samples[("unseen_bad_frames_total", ())] == counters["bad_frames"]
    assert samples[("unseen_frames_dropped_total", (("cause", "queue_full"),))] == counters["dropped"]["queue_full"]
    assert samples[("unseen_inference_seconds_count", (("backend", "numpy"),))] == counters["processed"]
    assert samples[("unseen_inference_seconds_bucket", (("backend", "numpy"), ("le", "+Inf")))] == counters["processed"]
    assert samples[("unseen_layer_seconds_count", (("layer", "conv1"),))] == counters["processed"]
    info = [labels for (name, labels) in samples if name == "unseen_model_info"]
    assert dict(info[0])["model_sha256"] == status["model_sha256"] and dict(info[0])["backend"] == "numpy"


def test_commands_are_validated_by_the_control_surface(device):
    status, _, body = get(device + "api/command/set", TOKEN, method="POST", data=b'{"fps": "fast"}')
    assert status == 400 and b"fps must be a number" in body
    assert get(device + "api/command/explode", TOKEN, method="POST", data=b"")[0] == 400


def test_mjpeg_stream_and_snapshot(device):
    import urllib.request
    from PIL import Image
    import io
    request = urllib.request.Request(device + "stream.mjpeg?fps=4&layers=conversion,conv1")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        data = b""
        while data.count(b"\xff\xd9") < 2:
            data += response.read1(65536)
    parts = [p for p in data.split(b"--unseenframe") if b"\xff\xd8" in p]
    frames = [p[p.index(b"\xff\xd8"):p.rindex(b"\xff\xd9") + 2] for p in parts[:2]]
    assert frames[0] != frames[1]
    assert Image.open(io.BytesIO(frames[0])).format == "JPEG"
    status, headers, body = get(device + "snapshot.jpg?layers=all", TOKEN)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).width >= 600
