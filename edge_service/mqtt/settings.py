"""How a device reaches its broker: address, protocol, credentials, TLS, topics and timings."""

from __future__ import annotations

from dataclasses import dataclass

from edge_service.mqtt.brokers import Broker, format_address, parse_brokers


@dataclass
class MqttSettings:
    host: str                      # one broker, or several "host[:port]" separated by commas (failover)
    port: int = 1883
    protocol: str = "3.1.1"
    client_id: str = ""
    keepalive: int = 30
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    prefix: str = "unseen"
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    inflight: int = 64
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    connect_timeout: float = 10.0
    drain_seconds: float = 5.0     # on a clean stop, how long to wait for the outbox to empty

    @property
    def v5(self) -> bool:
        return self.protocol == "5"

    @property
    def brokers(self) -> list[Broker]:
        return parse_brokers(self.host, self.port)

    @property
    def address(self) -> str:
        """Every broker, for messages about all of them."""
        return ", ".join(format_address(host, port) for host, port in self.brokers)
