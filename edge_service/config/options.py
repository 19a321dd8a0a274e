"""How a configuration field is declared: once, with its flag, help, default, bounds and choices."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_service.errors import EdgeError


class ConfigError(EdgeError):
    """A configuration key that is unknown or has a bad value."""


@dataclass(frozen=True)
class Option:
    """Everything the flags, the TOML loader and the example config need to know about one key."""

    flag: str
    help: str
    type: type
    default: Any
    choices: tuple | Callable[[], tuple] = ()
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], str] | None = None   # returns a complaint, or "" when the value is fine
    example: Any = None                          # a value worth showing in the example config
    comment: str = ""                            # a note for the example config (defaults to help)
    secret: bool = False                         # never echoed in an error (a password)

    def allowed(self) -> tuple:
        return self.choices() if callable(self.choices) else self.choices

    def validate(self, key: str, value: Any) -> Any:
        """The value, converted where lossless (int -> float); ConfigError naming the key otherwise."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (self.type is int and isinstance(value, bool)) or not isinstance(value, self.type):
            raise ConfigError(f"{key}: expected {self.type.__name__}, got {value!r}")
        if self.type is float and not math.isfinite(value):  # nan passes every bound check below
            raise ConfigError(f"{key}: {value!r} is not a finite number")
        allowed = self.allowed()
        if allowed and value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{key}: {value!r} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{key}: {value!r} is above the maximum {self.maximum}")
        complaint = self.check(value) if self.check else ""
        if complaint:
            shown = repr(value) if len(repr(value)) <= 60 and not self.secret else "the value"
            raise ConfigError(f"{key}: {shown} {complaint}")
        return value


def option(default: Any, flag: str, help: str, **details: Any) -> Any:
    """A dataclass field carrying its Option; the field's type is the default's type."""
    kind = details.pop("type", type(default))
    return dataclasses.field(default=default, metadata={"option": Option(flag, help, kind, default, **details)})


def options_of(section_type: type) -> list[tuple[str, Option]]:
    """(field name, Option) for each declared field of a section, in declaration order."""
    return [(f.name, f.metadata["option"]) for f in dataclasses.fields(section_type) if "option" in f.metadata]


TOPIC_PART_BYTES = 1024   # a device id, prefix or client id: a topic made of them stays far below MQTT's limit
MQTT_STRING_BYTES = 65535  # MQTT's limit on any string (user name, password)


def mqtt_string(value: str) -> str:
    return f"is longer than MQTT's {MQTT_STRING_BYTES} bytes" if len(value.encode()) > MQTT_STRING_BYTES else ""


def no_topic_wildcards(value: str) -> str:
    """MQTT topic levels may not hold the wildcards + and #: a broker refuses such a topic."""
    if len(value.encode()) > TOPIC_PART_BYTES:
        return f"is longer than {TOPIC_PART_BYTES} bytes"
    return "must not contain the MQTT wildcards + or #" if any(c in value for c in "+#") else ""


def broker_list(value: str) -> str:
    """Empty (no MQTT), or host[:port] entries separated by commas."""
    from edge_service.mqtt.brokers import parse_brokers
    try:
        parse_brokers(value, 1883) if value else None
    except ValueError as exc:
        return f"is not a list of brokers ({exc})"
    return ""


def topic_level(value: str) -> str:
    """One topic level: no wildcards and no '/'."""
    return no_topic_wildcards(value) or ("must not contain '/'" if "/" in value else "")
