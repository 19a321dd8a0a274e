"""A device's brokers: the `host[:port],...` list it is given, and which one to try next."""

from __future__ import annotations

import ipaddress

Broker = tuple[str, int]


def parse_brokers(hosts: str, default_port: int) -> list[Broker]:
    """`a, b:1884, [::1]:1885` -> [(a, default_port), (b, 1884), (::1, 1885)]; ValueError says what is wrong."""
    brokers = [_parse(entry.strip(), default_port) for entry in hosts.split(",")]
    for i, broker in enumerate(brokers):
        if broker in brokers[:i]:
            raise ValueError(f"{format_address(*broker)} is listed twice")
    return brokers


def _parse(entry: str, default_port: int) -> Broker:
    if not entry:
        raise ValueError("an empty broker address between commas")
    if any(c.isspace() or c in "/@" for c in entry) or not entry.isprintable():
        raise ValueError(f"{entry!r} is not a broker address (host or host:port)")
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not a broker address ([IPv6]:port)")
        return _ipv6(host, entry), _port(rest[1:], entry) if rest else default_port
    if entry.count(":") > 1:  # a bare IPv6 address, which cannot carry a port
        return _ipv6(entry, entry), default_port
    host, colon, port = entry.partition(":")
    if not host:
        raise ValueError(f"{entry!r} is not a broker address (host or host:port)")
    try:
        host.encode("idna")  # what the resolver will do with it: empty or over-long labels fail here
    except UnicodeError:
        raise ValueError(f"{entry!r}: {host!r} is not a host name") from None
    return host, _port(port, entry) if colon else default_port


def _ipv6(text: str, entry: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError(f"{entry!r} is not a broker address (an IPv6 address goes in brackets: [::1]:1883)") \
            from None


def _port(text: str, entry: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class BrokerRotation:
    """The broker tried now, and what every broker of the current round answered: the link stays on
    the one it reached, and after a failure moves to the next, one round of the list at a time."""

    def __init__(self, brokers: list[Broker]) -> None:
        self.brokers = brokers
        self.current = 0
        self.failures = 0                    # failed attempts since the last session
        self.refusals: dict[int, str] = {}   # broker index -> its refusal, in this round
        self.round_refused = False           # every broker of the last whole round refused

    @property
    def broker(self) -> Broker:
        return self.brokers[self.current]

    @property
    def address(self) -> str:
        return format_address(*self.broker)

    def connected(self) -> None:
        self.failures = 0
        self.refusals.clear()
        self.round_refused = False

    def refused(self, message: str) -> bool:
        """Notes the current broker's refusal; True once every broker of the round has refused."""
        self.refusals[self.current] = message
        return len(self.refusals) == len(self.brokers)

    def failed(self) -> bool:
        """Moves to the next broker; True when that ends a round (time to back off)."""
        self.failures += 1
        self.current = (self.current + 1) % len(self.brokers)
        if self.failures % len(self.brokers):
            return False
        self.round_refused = len(self.refusals) == len(self.brokers)
        self.refusals.clear()
        return True
