"""The live page open on every layer against closed."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np



def bench_live_page(quick: bool) -> dict:
    """Loop fps with the live page open on every layer vs closed, alternating in one run (LiteRT).

    A person's browser runs on their own computer, not on the device; here it shares the
    machine, so it runs at the lowest priority (nice 19), like the WebSocket viewer row.
    """
    import subprocess

    from edge_service.backends import select_backend
    from edge_service.http.live import LiveSink
    from edge_service.http.options import HttpOptions
    from edge_service.http.server import HttpServer
    from edge_service.manifest import default_model_dir, load_artefact
    from edge_service.mqtt.embedded_broker import free_port
    from edge_service.pipeline import Pipeline, RunSettings
    from edge_service.sources import open_source
    from tests.edge_service.live_helpers import loaded_layers, start_browser, stop_browser

    artefact = load_artefact(default_model_dir())
    manifest = artefact.manifest
    frames = 200 if quick else 300
    backend, _ = select_backend(artefact, "litert")
    sink = LiveSink("bench", manifest.labels, manifest.map_names())
    server = HttpServer(sink, HttpOptions("127.0.0.1", free_port())).start()
    base = f"http://127.0.0.1:{server.port}/"
    browser = start_browser(niceness=19)

    def service_cpu() -> float:
        """CPU seconds of this process (the service's threads) and of its picture-drawing worker."""
        worker, seconds = sink.drawer.worker, time.process_time()
        if worker is not None and worker.poll() is None:
            fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return seconds

    def fps() -> tuple[float, float]:
        """Frames per wall-clock second, and per CPU second of the service."""
        pipeline = Pipeline(artefact, open_source("samples", loop=True), backend, [sink], RunSettings(frames=frames))
        sink.status_fn = pipeline.status
        start, cpu = time.perf_counter(), service_cpu()
        pipeline.run()
        return frames / (time.perf_counter() - start), frames / (service_cpu() - cpu)

    def page(rate: int):
        def open_page():
            browser.get(base)
            browser.execute_script(f"document.getElementById('rate').value = '{rate}';"
                                   "document.getElementById('rate').dispatchEvent(new Event('change'));")
            deadline = time.time() + 30
            while len(loaded_layers(browser)) < len(manifest.layers) and time.time() < deadline:
                time.sleep(0.1)
        return open_page, lambda: browser.get("about:blank")

    client = ("import asyncio, aiohttp, os, sys\n"
              "os.nice(19)\n"
              "async def main():\n"
              "    async with aiohttp.ClientSession() as s, s.ws_connect(sys.argv[1]) as ws:\n"
              "        await ws.send_json({'t': 'view', 'layers': 'all', 'rate': 15})\n"
              "        async for _ in ws: pass\n"
              "asyncio.run(main())\n")
    process = {}

    def start_client():
        process["p"] = subprocess.Popen([sys.executable, "-c", client, base.replace("http", "ws") + "ws"])
        time.sleep(1.0)

    def stop_client():
        process["p"].terminate()
        process["p"].wait()
    viewers = {"page open in Chromium, every layer, 4 updates/s (the default)": page(4),
               "page open in Chromium, every layer, 15 updates/s (the most)": page(15),
               "a WebSocket viewer process, every layer, 15 updates/s": (start_client, stop_client)}
    closed, opened = [], {name: [] for name in viewers}
    fps()  # warm-up
    settle = 0.5 if quick else 1.5  # a page loading or a browser tab closing is not what is measured
    for _ in range(8 if quick else 20):  # pairs of runs side by side: the machine's load drifts slowly
        for name, (start, stop) in viewers.items():
            closed.append(fps())
            start()
            time.sleep(settle)
            opened[name].append((*fps(), closed[-1]))
            stop()
            time.sleep(settle)
    stop_browser(browser)
    server.close()
    sink.close()
    backend.close()
    wall, cpu = (statistics.median(v[i] for v in closed) for i in (0, 1))
    rows = {"page closed (reference)": {"fps": wall, "fps per CPU s": cpu, "ratio": 1.0, "CPU ratio": 1.0}}
    for i, (name, values) in enumerate(opened.items()):
        # each ratio is the median over pairs (open run / the closed run just before it)
        rows[name] = {"fps": statistics.median(v[0] for v in values),
                      "fps per CPU s": statistics.median(v[1] for v in values),
                      "ratio": statistics.median(v[0] / v[2][0] for v in values),
                      "spread": "{:.2f} to {:.2f}".format(*np.percentile([v[0] / v[2][0] for v in values], [25, 75])),
                      "CPU ratio": statistics.median(v[1] / v[2][1] for v in values),
                      "goal": "ratio >= 0.9" if i == 0 else ""}
    return {"title": f"Live page open on every layer vs closed (LiteRT, bundled frames, {frames} frames a run, "
                     f"ratios are medians over {len(closed) // len(viewers)} pairs of runs side by side, spread the middle half; "
                     f"the viewers at nice 19)", "unit": "fps", "rows": rows}
