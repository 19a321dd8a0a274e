"""How a device reaches its broker: address, protocol, credentials, TLS, topics and timings."""

from __future__ import annotations

from dataclasses import dataclass


def parse_brokers(hosts: str, default_port: int) -> list[tuple[str, int]]:
    """`a, b:1884, [::1]:1885` -> [(a, default_port), (b, 1884), (::1, 1885)]; ValueError says what is wrong."""
    brokers = []
    for entry in (part.strip() for part in hosts.split(",")):
        if not entry:
            raise ValueError("an empty broker address between commas")
        host, port = entry, default_port
        if any(c.isspace() or c in "/@" for c in entry):
            raise ValueError(f"{entry!r} is not a broker address (host or host:port)")
        if entry.startswith("["):  # [IPv6]:port
            host, _, rest = entry[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), entry) if rest.startswith(":") else _port("", entry)
        elif entry.count(":") == 1:
            host, text = entry.split(":")
            port = _port(text, entry)
        if not host:
            raise ValueError(f"{entry!r} is not a broker address (host or host:port)")
        brokers.append((host, port))
    return brokers


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


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
    def brokers(self) -> list[tuple[str, int]]:
        return parse_brokers(self.host, self.port)

    @property
    def address(self) -> str:
        """Every broker, for messages about all of them."""
        return ", ".join(format_address(host, port) for host, port in self.brokers)
