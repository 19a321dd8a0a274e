"""One device as the fleet page knows it from MQTT, the large view's scale, and the fleet's metrics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from edge_service.http.metrics import status_families

SEEN_IDS = 10_000  # result ids remembered per device for dropping duplicates


@dataclass
class Device:
    id: str
    status: dict = field(default_factory=dict)
    result: dict | None = None
    layers: dict[str, bytes] = field(default_factory=dict)
    version: int = 0
    seen: float = 0.0
    results: int = 0
    duplicates: int = 0
    ids: deque = field(default_factory=lambda: deque(maxlen=SEEN_IDS))
    id_set: set = field(default_factory=set)

    def shape(self, layer: str) -> list[int] | None:
        return ((self.result or {}).get("layers") or {}).get(layer, {}).get("shape")

    def duplicate(self, result_id) -> bool:
        """True for a result already seen (at-least-once delivery); remembers the newest SEEN_IDS."""
        if result_id in self.id_set:
            self.duplicates += 1
            return True
        if len(self.ids) == self.ids.maxlen:
            self.id_set.discard(self.ids[0])
        self.ids.append(result_id)
        self.id_set.add(result_id)
        return False


def focus_scale(stats: dict, layout: dict, channel: int) -> dict:
    """The large view's numbers for a published picture: the channel's range from the result's statistics."""
    if layout["kind"] != "grid":
        return {"kind": "chart", "channel": channel, "value": "", "min": stats.get("min"), "max": stats.get("max")}
    per = stats.get("channels") or {}
    pick = {k: per[k][channel] for k in ("min", "max", "mean") if channel < len(per.get(k) or [])}
    return {"kind": "map", "channel": channel, **({"min": stats.get("min"), "max": stats.get("max")} | pick),
            "note": "colours span this channel's 1st to 99th percentile, within"}


def fleet_families(devices: list[Device], malformed: int, connected: bool) -> list[Metric]:
    """Every device's status as metrics (labelled by device), and what the watcher itself counted."""
    families = status_families([({"device": d.id}, d.status) for d in devices if d.status])
    results = CounterMetricFamily("unseen_watch_results", "Unique results received", labels=["device"])
    duplicates = CounterMetricFamily("unseen_watch_duplicates", "Duplicate results dropped", labels=["device"])
    for d in devices:
        results.add_metric([d.id], d.results)
        duplicates.add_metric([d.id], d.duplicates)
    return families + [results, duplicates,
                       CounterMetricFamily("unseen_watch_malformed", "Unreadable messages skipped", value=malformed),
                       GaugeMetricFamily("unseen_watch_connected", "1 while connected to the broker",
                                         value=int(connected))]
