"""/metrics in the Prometheus text format (prometheus-client), named by its conventions.

Counters come from the service's own status at scrape time, so /metrics and the status
always agree; the inference histogram and per-layer times are summed per frame in plain
integers and floats (a few microseconds on the inference thread, no locks).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                    InfoMetricFamily, Metric, SummaryMetricFamily)

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# status counter -> (metric, help); dropped frames are one metric with a cause label
COUNTERS = {"captured": ("unseen_frames_captured_total", "Frames read from the source"),
            "processed": ("unseen_frames_processed_total", "Frames run through the model"),
            "bad_frames": ("unseen_bad_frames_total", "Frames the source could not decode"),
            "source_errors": ("unseen_source_errors_total", "Failures of the frame source"),
            "reconnects": ("unseen_source_reconnects_total", "Times the frame source was reopened"),
            "sink_errors": ("unseen_sink_errors_total", "Results a sink failed to take")}
DROP_CAUSES = {"dropped": "queue_full", "inference_errors": "inference_error"}


class FrameMetrics:
    """Inference latency per backend (histogram) and time per layer (sum and count)."""

    def __init__(self) -> None:
        self.hist: dict[str, list[int]] = {}      # backend -> count per bucket (+Inf last)
        self.sums: dict[str, float] = {}
        self.layer_sum: dict[str, float] = {}
        self.layer_count: dict[str, int] = {}

    def observe(self, backend: str, latency_ms: dict) -> None:
        seconds = float(latency_ms.get("inference", 0.0)) / 1000
        counts = self.hist.get(backend)
        if counts is None:
            counts = self.hist[backend] = [0] * (len(BUCKETS) + 1)
            self.sums[backend] = 0.0
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[backend] += seconds
        for layer, ms in (latency_ms.get("layers") or {}).items():
            self.layer_sum[layer] = self.layer_sum.get(layer, 0.0) + ms / 1000
            self.layer_count[layer] = self.layer_count.get(layer, 0) + 1

    def families(self, labels: dict[str, str] | None = None) -> list[Metric]:
        names, values = list(labels or {}), list((labels or {}).values())
        hist = HistogramMetricFamily("unseen_inference_seconds", "Model inference time per frame",
                                     labels=names + ["backend"])
        for backend, counts in list(self.hist.items()):
            running, buckets = 0, []
            for bound, count in zip(list(BUCKETS) + [float("inf")], list(counts)):
                running += count
                buckets.append((str(bound) if bound != float("inf") else "+Inf", running))
            hist.add_metric(values + [backend], buckets, self.sums[backend])
        layers = SummaryMetricFamily("unseen_layer_seconds", "Time per layer (backends that time layers)",
                                     labels=names + ["layer"])
        for layer, total in list(self.layer_sum.items()):
            layers.add_metric(values + [layer], self.layer_count[layer], total)
        return [hist, layers]


def status_families(items: Iterable[tuple[dict[str, str], dict]]) -> list[Metric]:
    """Counters and gauges from status messages, one sample per (labels, status)."""
    items = list(items)
    names = list(items[0][0]) if items else []
    fams: dict[str, Metric] = {}

    def add(kind, name: str, doc: str, values: list[str], value: float, extra: tuple = ()) -> None:
        if name not in fams:
            fams[name] = kind(name.removesuffix("_total") if kind is CounterMetricFamily else name, doc,
                              labels=names + list(extra))
        fams[name].add_metric(values, value)

    for labels, status in items:
        base = list(labels.values())
        counters = status.get("counters") or {}
        for key, (name, doc) in COUNTERS.items():
            if key in counters:
                add(CounterMetricFamily, name, doc, base, counters[key])
        causes = {cause: counters.get(key, 0) for key, cause in DROP_CAUSES.items()}
        causes.update(counters.get("dropped_by_cause") or {})
        for cause, value in causes.items():
            add(CounterMetricFamily, "unseen_frames_dropped_total", "Frames not processed, by cause",
                base + [cause], value, ("cause",))
        add(GaugeMetricFamily, "unseen_fps", "Frames processed per second (smoothed)", base, status.get("fps", 0))
        add(GaugeMetricFamily, "unseen_paused", "1 while paused by a command", base, int(bool(status.get("paused"))))
        add(GaugeMetricFamily, "unseen_online", "1 while the service runs", base,
            int(status.get("state") == "online"))
        outbox = status.get("outbox")
        if outbox:
            add(GaugeMetricFamily, "unseen_outbox_messages", "Messages waiting in the outbox", base,
                outbox.get("messages", 0))
            add(GaugeMetricFamily, "unseen_outbox_bytes", "Bytes waiting in the outbox", base, outbox.get("bytes", 0))
            add(GaugeMetricFamily, "unseen_outbox_oldest_age_seconds", "Age of the oldest waiting message", base,
                outbox.get("oldest_age_s", 0))
            for kind in ("layer", "result"):
                add(CounterMetricFamily, "unseen_outbox_dropped_total", "Messages dropped from a full outbox",
                    base + [kind], outbox.get(f"dropped_{kind}s", 0), ("kind",))
        mqtt = status.get("mqtt")
        if mqtt:
            add(GaugeMetricFamily, "unseen_mqtt_connected", "1 while connected to the MQTT broker", base,
                int(bool(mqtt.get("connected"))))
        if "model_sha256" in status:
            if "unseen_model" not in fams:
                fams["unseen_model"] = InfoMetricFamily("unseen_model", "The model and the backend running it",
                                                        labels=names)
            info = {key: str(status.get(key, "")) for key in ("model", "model_sha256", "backend", "device")}
            fams["unseen_model"].add_metric(base, {k: v for k, v in info.items() if k not in names})
    return list(fams.values())


class _Collector:
    def __init__(self, families: Callable[[], list[Metric]]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families()


def registry_for(families: Callable[[], list[Metric]]) -> CollectorRegistry:
    """A private registry (never the global one: two servers in one process must not collide)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(families))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
