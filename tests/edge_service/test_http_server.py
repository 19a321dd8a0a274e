"""The HTTP options, their one-line errors, TLS, and the pictures' layouts (no browser needed)."""

from __future__ import annotations

import socket
import ssl

import numpy as np
import pytest

from click.testing import CliRunner

from edge_service.http import HttpError
from edge_service.http.options import http_options, parse_listen
from edge_service.http.render import GUTTER_INDEX, layer_mosaic, percentiles, stretch
from fleet.broker import free_port
from tests.edge_service.live_helpers import TOKEN, get, metrics, stop, unseen, wait_healthy, wait_until
from unseen.cli import main

pytest.importorskip("aiohttp", reason="the live page needs the http extra (pip install 'unseen[http]')")


@pytest.mark.parametrize("text, expected", [
    ("8080", ("127.0.0.1", 8080)), (":8080", ("127.0.0.1", 8080)), ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("[::1]:9000", ("::1", 9000)), ("localhost:1", ("localhost", 1)), ("cam.local:8080", ("cam.local", 8080)),
])
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "'nonsense' is not [HOST:]PORT"),
    (["8080x"], "is not [HOST:]PORT"),
    (["70000"], "port from 0 to 65535"),
    (["::1:8080"], "IPv6 address in brackets"),
    (["bad host!:80"], "is not a host name or address"),
    (["0.0.0.0:8080"], "needs --http-token or --http-token-file"),
    (["192.168.1.5:8080"], "needs --http-token"),
    (["8080", "short"], "at least 12 characters"),
    (["8080", TOKEN, "", "", "key.pem"], "--http-key needs --http-cert"),
    (["8080", "", "", "/nonexistent/cert.pem"], "no such file"),
])
def test_unsafe_or_wrong_options_are_refused(args, message):
    with pytest.raises(HttpError, match=message.replace("[", r"\[").replace("]", r"\]")):
        http_options(*args)


def test_a_token_file_and_a_token_are_read(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    assert http_options("0.0.0.0:8080", token_file=str(tmp_path / "token")).token == TOKEN
    with pytest.raises(HttpError, match="cannot read"):
        http_options("8080", token_file=str(tmp_path / "missing"))
    with pytest.raises(HttpError, match="not both"):
        http_options("8080", TOKEN, str(tmp_path / "token"))


@pytest.mark.parametrize("args, message", [
    (["serve", "--http", "nonsense"], "error: --http: 'nonsense' is not [HOST:]PORT"),
    (["serve", "--http", "0.0.0.0:8080"], "error: --http 0.0.0.0:8080: listening beyond loopback needs"),
    (["watch", "--http", "0.0.0.0:8080"], "error: --http 0.0.0.0:8080: listening beyond loopback needs"),
    (["watch", "--http", "8080", "--count", "3"], "does not take --save, --count or --device"),
])
def test_cli_mistakes_are_one_line(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_port_in_use_is_one_line_before_the_model_loads():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--http", str(port), "--frames", "1", "--model", "/nonexistent"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: address already in use"]


def test_tls_with_a_certificate(tmp_path):
    from tests.edge_service.mqtt_helpers import make_certificates
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    process = unseen("serve", "--frames", "0", "--loop", "--max-fps", "2", "--backend", "numpy", "--log-level",
                     "warning", "--http", f"127.0.0.1:{port}", "--http-token", TOKEN,
                     "--http-cert", certs["cert"], "--http-key", certs["key"])
    try:
        context = ssl.create_default_context(cafile=certs["ca"])
        base = f"https://127.0.0.1:{port}/"
        import time
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if get(base + "healthz", context=context)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        status, headers, _ = get(base + f"?token={TOKEN}", context=context)
        assert status == 302 and "Secure" in headers["Set-Cookie"]
        assert get(base + "metrics", TOKEN, context=context)[0] == 200
        with pytest.raises(OSError):
            get(f"http://127.0.0.1:{port}/healthz")  # plain HTTP on the TLS port is not served
    finally:
        assert "Traceback" not in stop(process)


def test_a_bad_certificate_is_one_line(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate")
    result = CliRunner().invoke(main, ["serve", "--http", "8080", "--http-cert", str(tmp_path / "cert.pem")])
    assert result.exit_code == 2 and "error: --http-cert/--http-key: cannot load" in result.output


def test_the_mosaic_layout_finds_every_channel():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(6, 5, 7)).astype(np.float32)
    picture, layout = layer_mosaic(maps)
    scaled, _, _ = stretch(maps)
    assert (layout["rows"], layout["cols"], layout["count"]) == (3, 3, 7)
    for channel in range(7):
        r, c = divmod(channel, layout["cols"])
        x, y = layout["x0"] + c * layout["step_x"], layout["y0"] + r * layout["step_y"]
        cell = picture[y:y + layout["cell_h"], x:x + layout["cell_w"]]
        assert np.array_equal(cell, scaled[:, :, channel])
        assert (picture[y - 1, x:x + layout["cell_w"]] == GUTTER_INDEX).all()
    vector, vector_layout = layer_mosaic(np.arange(10, dtype=np.float32))
    assert vector_layout["kind"] == "vector" and vector_layout["count"] == 10 and vector.shape[:2] == (3, 4)


def test_percentiles_are_numpys():
    flat = np.random.default_rng(2).normal(size=(257, 5)).astype(np.float32)
    lo, hi = percentiles(flat)
    assert np.allclose(lo, np.percentile(flat, 1, axis=0), atol=1e-6)
    assert np.allclose(hi, np.percentile(flat, 99, axis=0), atol=1e-6)


@pytest.mark.parametrize("shape", [(16, 16, 8), (8, 8, 64), (4, 4, 64), (28, 28, 3), (5, 7, 1)])
def test_the_fleet_layout_matches_what_devices_publish(shape):
    from edge_service.pictures import LEVELS, layer_picture, normalise
    from fleet.layout import published_layout
    values = np.random.default_rng(1).normal(size=(1, *shape)).astype(np.float32)
    picture = np.asarray(layer_picture("layer", values))  # a palette image: each pixel a colour level
    layout = published_layout(list(shape))
    zoom = layout["cell_w"] // shape[1]
    for channel in range(shape[2]):
        r, c = divmod(channel, layout["cols"])
        x, y = layout["x0"] + c * layout["step_x"], layout["y0"] + r * layout["step_y"]
        cell = picture[y:y + layout["cell_h"], x:x + layout["cell_w"]]
        levels = (normalise(values[0, :, :, channel]) * (LEVELS - 1)).round().astype(np.uint8)
        assert np.array_equal(cell, levels.repeat(zoom, axis=0).repeat(zoom, axis=1)), channel


def test_healthz_is_503_until_the_model_runs_and_metrics_follow_prometheus_names():
    port = free_port()
    process = unseen("serve", "--loop", "--max-fps", "5", "--backend", "numpy", "--log-level", "warning",
                     "--http", str(port))
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(base, process)
        # healthy once the loop runs; the latency histogram has samples from the first result on
        wait_until(lambda: "unseen_inference_seconds_bucket" in {n for n, _ in metrics(base, None)}, 30,
                   what="the first result's latency")
        names = {name for name, _ in metrics(base, None)}
        for name in ("unseen_frames_captured_total", "unseen_frames_processed_total", "unseen_frames_dropped_total",
                     "unseen_bad_frames_total", "unseen_inference_seconds_bucket", "unseen_model_info", "unseen_fps"):
            assert name in names, name
        assert get(base + "metrics")[0] == 200  # loopback without a token: open
    finally:
        err = stop(process)
        assert "Traceback" not in err, err


def test_the_drawing_worker_draws_what_a_thread_draws_and_a_dead_one_is_replaced():
    from edge_service.http.draw import Drawer, draw, job_for
    from edge_service.results import FrameResult
    rng = np.random.default_rng(3)
    values = {"conversion": rng.normal(size=(16, 16, 3)).astype(np.float32),
              "predictions": rng.random(10).astype(np.float32)}
    result = FrameResult(1, 0.0, "test", "numpy", [{"label": "7", "index": 7, "score": 0.9}], {}, {},
                         (rng.random((20, 30, 3)) * 255).astype(np.uint8), np.zeros((16, 16), np.uint8), values,
                         dict.fromkeys(values, (0.0, 0)))  # float layers: scale 0, their values as they are
    keys = ["camera", "input", "layer:conversion", "layer:predictions", "focus:conversion:2", "focus:predictions:7",
            "sheet:all"]
    job = job_for(result, keys, {"conversion": ["a", "b", "c"]}, [str(i) for i in range(10)])
    drawer = Drawer()
    try:
        pictures = drawer(job)
        assert pictures == draw(job) and drawer.worker is not None
        assert [h["key"] for h, _ in pictures] == keys[:4] + ["focus", "focus", "sheet:all"]
        assert pictures[4][0]["scale"]["name"] == "c" and pictures[5][0]["scale"]["kind"] == "chart"
        drawer.worker.kill()
        drawer.worker.wait()
        assert drawer(job) == pictures and drawer.use_process  # started again
    finally:
        drawer.close()


def test_device_metrics_with_mqtt_show_the_outbox_and_the_connection(tmp_path):
    from tests.edge_service.mqtt_helpers import Mosquitto
    broker = Mosquitto(tmp_path / "broker").start()
    port = free_port()
    process = unseen("serve", "--loop", "--max-fps", "5", "--backend", "numpy", "--log-level", "warning",
                     "--http", str(port), "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port),
                     "--outbox-dir", str(tmp_path / "outbox"), "--status-every", "0.5")
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(base, process)
        from tests.edge_service.live_helpers import get_json, wait_until
        wait_until(lambda: metrics(base, None).get(("unseen_mqtt_connected", ())) == 1, what="connected")
        samples = metrics(base, None)
        assert ("unseen_outbox_messages", ()) in samples and ("unseen_outbox_bytes", ()) in samples
        assert ("unseen_outbox_dropped_total", (("kind", "layer"),)) in samples
        status = get_json(base + "api/status")
        assert status["mqtt"]["connected"] and "messages" in status["outbox"]
        assert get(base + "api/command/pause", method="POST", data=b"")[0] == 200  # the MQTT sink's own handler
        wait_until(lambda: get_json(base + "api/status")["paused"], what="paused")
    finally:
        err = stop(process)
        broker.stop()
    assert "Traceback" not in err, err


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_a_missing_certificate_or_key_is_named(tmp_path, missing):
    from edge_service.http.options import HttpOptions
    present = tmp_path / "present.pem"
    present.write_text("x")
    paths = {"cert": str(present), "key": str(present), missing: str(tmp_path / "nowhere.pem")}
    with pytest.raises(HttpError, match=f"--http-{missing}: no such file {tmp_path / 'nowhere.pem'}"):
        HttpOptions("127.0.0.1", 0, cert=paths["cert"], key=paths["key"]).ssl_context()
