"""The paho client a device or a watcher uses (credentials, TLS, will), and connecting it to the
first broker of a list that takes the connection."""

from __future__ import annotations

import ssl

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_service.errors import EdgeError
from edge_service.mqtt.brokers import Broker, format_address
from edge_service.mqtt.settings import MqttSettings

# CONNACK reasons that retrying will not cure: the user has to change something.
REFUSALS = {"Not authorized", "Bad user name or password", "Client identifier not valid",
            "Unsupported protocol version", "Banned", "Bad authentication method"}


class MqttRefused(EdgeError):
    """The broker refused the connection (credentials, TLS, protocol): fix the configuration."""


def make_client(settings: MqttSettings, client_id: str, will: tuple[str, bytes] | None) -> paho.Client:
    """A paho client with the credentials, TLS and will of `settings`."""
    protocol = paho.MQTTv5 if settings.v5 else paho.MQTTv311
    kwargs = {} if settings.v5 else {"clean_session": True}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs)
    if settings.username:
        client.username_pw_set(settings.username, settings.password or None)
    if settings.tls:
        try:
            client.tls_set(ca_certs=settings.ca_file or None, certfile=settings.cert_file or None,
                           keyfile=settings.key_file or None, cert_reqs=ssl.CERT_REQUIRED)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise MqttRefused(f"MQTT TLS set-up failed: {exc}") from None
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.max_inflight_messages_set(settings.inflight)
    return client


def connect_first(client: paho.Client, brokers: list[Broker], keepalive: int) -> str:
    """Connects `client` to the first of `brokers` that takes the connection and returns its address;
    OSError naming why each failed when none does."""
    reasons = []
    for host, port in brokers:
        try:
            client.connect(host, port, keepalive)
            return format_address(host, port)
        except (OSError, UnicodeError) as exc:
            reasons.append(f"{format_address(host, port)}: {exc.strerror or exc}" if len(brokers) > 1
                           else str(exc.strerror or exc))
    raise OSError("; ".join(reasons))
