"""`unseen watch --http` in a real headless Chromium: two devices publishing to a real mosquitto."""

from __future__ import annotations

import os
import time

import pytest


from fleet.broker import free_port
from tests.edge_service.live_helpers import (TOKEN, click_channel, get, get_json, loaded_layers, metrics,
                                             needs_browser, picture, screenshot, settled, start_browser, stop, stop_browser,
                                             text_of, unseen, wait_healthy, wait_until)
from tests.edge_service.mqtt_helpers import MOSQUITTO, Mosquitto

pytest.importorskip("selenium", reason="the browser tests need selenium (the test extra)")
pytest.importorskip("aiohttp", reason="the live page needs the http extra")

pytestmark = [needs_browser, pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is not installed")]
DEVICES = ("cam-a", "cam-b")


def device(name: str, broker_port: int, folder) -> object:
    return unseen("serve", "--device-id", name, "--source", "samples", "--loop", "--backend", "numpy",
                  "--max-fps", "4", "--status-every", "0.5", "--log-level", "warning",
                  "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker_port), "--mqtt-backoff-max", "1",
                  "--outbox-dir", str(folder / f"outbox-{name}"), "--mqtt-layers", "all", "--mqtt-layers-every", "0.3")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fleet")
    broker = Mosquitto(folder / "broker").start()
    devices = {name: device(name, broker.port, folder) for name in DEVICES}
    port = free_port()
    watch = unseen("watch", "--mqtt-port", str(broker.port), "--http", f"127.0.0.1:{port}", "--http-token", TOKEN)
    base = f"http://127.0.0.1:{port}/"
    wait_healthy(base, watch)
    wait_until(lambda: all(d["online"] for d in get_json(base + "api/devices", TOKEN)["devices"])
               and len(get_json(base + "api/devices", TOKEN)["devices"]) == 2, 60, what="two devices online")
    yield {"base": base, "devices": devices, "broker": broker, "folder": folder}
    for process in devices.values():
        assert "Traceback" not in stop(process)
    err = stop(watch)
    assert "Traceback" not in err, err
    broker.stop()


@pytest.fixture(scope="module")
def browser(fleet):
    driver = start_browser()
    driver.get(fleet["base"] + f"?token={TOKEN}")
    yield driver
    stop_browser(driver)


def device_buttons(driver) -> dict[str, str]:
    return driver.execute_script("return Object.fromEntries([...document.querySelectorAll('#devices button')]"
                                 ".map(b => [b.dataset.device, b.innerText]));")


def open_device(driver, name: str) -> None:
    wait_until(lambda: name in device_buttons(driver), what=f"{name} in the list")
    driver.find_element("css selector", f"#devices button[data-device='{name}']").click()
    wait_until(lambda: len(loaded_layers(driver)) == 8, 30, what=f"{name}'s layer pictures")


def seq(driver) -> int:
    return int(text_of(driver, "seq").lstrip("#") or 0)


def test_the_fleet_page_lists_both_devices_and_opens_one_in_full(fleet, browser, tmp_path):
    wait_until(lambda: set(device_buttons(browser)) == set(DEVICES), what="both devices")
    wait_until(lambda: all("online" in t for t in device_buttons(browser).values()), what="both online")
    open_device(browser, "cam-b")
    assert "cam-b" in browser.find_element("css selector", "#devices button.selected").text
    first = (seq(browser), text_of(browser, "topk"), picture(browser, "figure[data-layer=conv1] canvas"))
    wait_until(lambda: picture(browser, "figure[data-layer=conv1] canvas") != first[2], what="conv1 to change")
    wait_until(lambda: text_of(browser, "topk") != first[1], what="the top-k to change")
    assert seq(browser) > first[0]
    assert "numpy" in text_of(browser, "summary") and "processed" in text_of(browser, "counters")
    assert "outbox waiting" in text_of(browser, "counters") and "connected" in text_of(browser, "counters")
    screenshot(browser, tmp_path, "fleet-page.png")


def test_pause_and_resume_go_to_the_device_over_mqtt(fleet, browser):
    open_device(browser, "cam-a")
    browser.find_element("id", "pause").click()
    wait_until(lambda: "cam-a: pause ok" in text_of(browser, "reply"), what="the device's reply")
    # the frame in progress and the outbox's last messages may still arrive; then nothing may
    frozen = settled(lambda: (seq(browser), picture(browser, "figure[data-layer=conv2] canvas")))
    time.sleep(2.5)
    assert (seq(browser), picture(browser, "figure[data-layer=conv2] canvas")) == frozen
    wait_until(lambda: text_of(browser, "state") == "paused", what="the paused badge from the status")
    other = get_json(fleet["base"] + "api/status?device=cam-b", TOKEN)
    assert not other["paused"]  # only the opened device was paused
    browser.find_element("id", "resume").click()
    wait_until(lambda: "cam-a: resume ok" in text_of(browser, "reply"), what="the resume reply")
    wait_until(lambda: seq(browser) > frozen[0], what="updates after resume")
    wait_until(lambda: picture(browser, "figure[data-layer=conv2] canvas") != frozen[1], what="conv2 to change again")


def test_a_refused_command_shows_the_device_reason(fleet, browser):
    open_device(browser, "cam-b")
    browser.find_element("id", "args").clear()
    browser.find_element("id", "args").send_keys('{"fps": "fast"}')
    browser.find_element("css selector", "#command-form button").click()
    wait_until(lambda: "refused" in text_of(browser, "reply"), what="the refusal")
    assert "fps must be a number" in text_of(browser, "reply")


def test_a_channel_click_opens_the_large_view(fleet, browser):
    open_device(browser, "cam-b")
    click_channel(browser, "conv1", 3)
    wait_until(lambda: browser.find_element("id", "zoom").is_displayed(), what="the large view")
    wait_until(lambda: picture(browser, "#zoom-image"), what="the channel's picture")
    assert text_of(browser, "zoom-title").startswith("conv1, channel 3")
    # the device draws 26x26 maps three times larger; the page crops the one channel out of that grid
    assert browser.execute_script("return document.getElementById('zoom-image').naturalWidth") == 78
    assert "min" in text_of(browser, "zoom-info") and "percentile" in text_of(browser, "zoom-info")
    float(text_of(browser, "scale-lo")), float(text_of(browser, "scale-hi"))
    browser.find_element("id", "zoom-close").click()


def test_without_the_token_it_is_401(fleet):
    for path in ("", "ws", "api/devices", "metrics", "snapshot.jpg"):
        assert get(fleet["base"] + path)[0] == 401, path
    assert get(fleet["base"] + "healthz")[0] == 200


def test_metrics_per_device_agree_with_their_status(fleet):
    base = fleet["base"]
    assert get(base + "api/command/pause?device=cam-a", TOKEN, method="POST", data=b"")[0] == 200
    try:
        def counted():
            status = get_json(base + "api/status?device=cam-a", TOKEN)
            return status["paused"], status["counters"], status["outbox"]["messages"]
        # The command reaches the device through the broker, and its next status says so: wait for
        # that first (under load it can take longer than the quiet period), then for the counters to rest.
        wait_until(lambda: get_json(base + "api/status?device=cam-a", TOKEN)["paused"], 30, what="cam-a paused")
        assert settled(counted)[0]  # still paused, and nothing counted any more
        status = get_json(base + "api/status?device=cam-a", TOKEN)
        samples = metrics(base, TOKEN)
    finally:
        get(base + "api/command/resume?device=cam-a", TOKEN, method="POST", data=b"")
    a = (("device", "cam-a"),)
    assert samples[("unseen_frames_processed_total", a)] == status["counters"]["processed"] > 0
    assert samples[("unseen_frames_captured_total", a)] == status["counters"]["captured"]
    assert samples[("unseen_outbox_messages", a)] == status["outbox"]["messages"]
    assert samples[("unseen_mqtt_connected", a)] == 1 and samples[("unseen_paused", a)] == 1
    assert samples[("unseen_watch_results_total", a)] > 0 and samples[("unseen_watch_connected", ())] == 1
    assert ("unseen_frames_processed_total", (("device", "cam-b"),)) in samples


def test_a_device_that_stops_shows_offline(fleet, browser):
    fleet["devices"]["cam-a"].terminate()
    wait_until(lambda: "offline" in device_buttons(browser).get("cam-a", ""), 30, what="cam-a offline")
    assert "online" in device_buttons(browser)["cam-b"]
    devices = {d["id"]: d for d in get_json(fleet["base"] + "api/devices", TOKEN)["devices"]}
    assert not devices["cam-a"]["online"] and devices["cam-b"]["online"]
