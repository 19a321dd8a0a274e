"""Home Assistant MQTT discovery: the top label, its confidence, fps and inference time as sensors."""

from __future__ import annotations

import json

from unseen import __version__


def discovery_messages(discovery_prefix: str, base: str, device_id: str) -> list[tuple[str, bytes]]:
    device = {"identifiers": [device_id], "name": f"unseen {device_id}", "manufacturer": "unseen",
              "model": "unseen edge service", "sw_version": __version__}
    availability = {"availability_topic": f"{base}/status", "availability_template": "{{ value_json.state }}",
                    "payload_available": "online", "payload_not_available": "offline"}
    sensors = {
        "top_label": {"name": "Top label", "state_topic": f"{base}/result",
                      "value_template": "{{ value_json.top[0].label }}", "icon": "mdi:eye"},
        "confidence": {"name": "Confidence", "state_topic": f"{base}/result", "unit_of_measurement": "%",
                       "value_template": "{{ (value_json.top[0].score * 100) | round(1) }}",
                       "state_class": "measurement"},
        "fps": {"name": "Frames per second", "state_topic": f"{base}/status",
                "value_template": "{{ value_json.fps }}", "state_class": "measurement"},
        "inference_time": {"name": "Inference time", "state_topic": f"{base}/result",
                           "unit_of_measurement": "ms", "device_class": "duration",
                           "value_template": "{{ value_json.latency_ms.inference }}",
                           "state_class": "measurement"},
    }
    messages = []
    for object_id, sensor in sensors.items():
        config = dict(sensor, unique_id=f"{device_id}_{object_id}", object_id=f"{device_id}_{object_id}",
                      device=device, **availability)
        messages.append((f"{discovery_prefix}/sensor/{device_id}/{object_id}/config", json.dumps(config).encode()))
    return messages
