"""Simulated devices for load tests: real unseen publishers (MqttSink + durable outbox), synthetic frames.

    python -m fleet.simulate --port 1883 --devices 10 --rate 20 --seconds 60 --folder /tmp/sim --out sim.jsonl

Each device has its own client id and outbox, and publishes results only (no layer images)
at `rate` per second, with a periodic status. Every result made is written to `--out`
(id and capture time) before it is handed to the outbox, so a run can be checked for losses.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from pathlib import Path

import numpy as np

from edge_service.layer_policy import LayerImagePolicy
from edge_service.mqtt.link import MqttSettings
from edge_service.mqtt.outbox import Outbox
from edge_service.mqtt.sink import MqttSink
from edge_service.results import FrameResult

LAYERS = ("conversion", "conv1", "pool1", "conv2", "pool2", "dense1", "predictions")
BLANK = np.zeros((1, 1, 3), np.uint8)


def synthetic_result(seq: int, rng: np.random.Generator) -> FrameResult:
    """A result shaped like the shipped model's (top-3, per-layer statistics, latencies)."""
    scores = rng.dirichlet(np.ones(10))
    order = np.argsort(scores)[::-1][:3]
    top = [{"label": str(int(i)), "score": round(float(scores[i]), 4)} for i in order]
    layers = {name: {"min": round(float(rng.normal()), 4), "max": round(float(rng.normal() + 3), 4),
                     "mean": round(float(rng.normal()), 4), "std": round(float(rng.random()), 4),
                     "zero_fraction": round(float(rng.random()), 4)} for name in LAYERS}
    latency = {"preprocess": 0.2, "inference": round(float(rng.uniform(1, 3)), 3), "stats": 0.3, "total": 3.0}
    return FrameResult(seq, time.time(), "synthetic", "none", top, layers, latency, BLANK, BLANK[..., 0], {}, {},
                       "0" * 64)


class SimulatedDevice:
    def __init__(self, name: str, host: str, port: int, folder: Path, prefix: str = "unseen") -> None:
        self.name = name
        settings = MqttSettings(host, port, client_id=name, prefix=prefix, backoff_max=2.0, inflight=64,
                                connect_timeout=30.0, drain_seconds=60.0)
        self.sink = MqttSink(settings, Outbox(folder / name, max_messages=10**6, max_bytes=1 << 31), name,
                             LayerImagePolicy([], 0))
        self.seq = 0
        self.rng = np.random.default_rng(abs(hash(name)) % 2**32)

    def step(self) -> FrameResult:
        self.seq += 1
        result = synthetic_result(self.seq, self.rng)
        self.sink.publish(result)
        return result

    def status(self) -> None:
        self.sink.status({"state": "running", "device": self.name, "backend": "none", "fps": 0.0,
                          "time": time.time()})


def run(host: str, port: int, names: list[str], rate: float, seconds: float, folder: Path, out: Path,
        stop: threading.Event | None = None) -> int:
    """Publishes from every device at `rate`/s for `seconds`, then drains; returns results made."""
    stop = stop or threading.Event()
    devices = [SimulatedDevice(name, host, port, folder) for name in names]
    for device in devices:
        device.sink.start(wait=False)
        device.status()
    made = 0
    start = time.monotonic()
    next_status = start + 5
    with open(out, "a", encoding="utf-8") as log:
        tick = 0
        while not stop.is_set() and time.monotonic() - start < seconds:
            tick += 1
            due = start + tick / rate
            for device in devices:
                result = device.step()
                log.write(json.dumps({"device": device.name, "id": result.id, "seq": result.seq,
                                      "captured": result.captured_at}) + "\n")
                made += 1
            log.flush()
            if time.monotonic() > next_status:
                next_status += 5
                for device in devices:
                    device.status()
            stop.wait(max(0.0, due - time.monotonic()))  # late ticks catch up: the rate is kept on average
    for device in devices:
        device.sink.status({"state": "offline", "device": device.name, "time": time.time()})
    threads = [threading.Thread(target=d.sink.close) for d in devices]  # drain all at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="broker host, or host[:port],... tried in turn")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="number of the first device (sim-<n>)")
    parser.add_argument("--rate", type=float, default=20.0, help="results per second per device")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--folder", type=Path, required=True, help="outboxes go here")
    parser.add_argument("--out", type=Path, required=True, help="one JSON line per result made")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    names = [f"sim-{i:03d}" for i in range(args.first, args.first + args.devices)]
    made = run(args.host, args.port, names, args.rate, args.seconds, args.folder, args.out, stop)
    print(json.dumps({"made": made, "devices": len(names)}))


if __name__ == "__main__":
    main()
