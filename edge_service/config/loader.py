"""Defaults, then the TOML file, then flags: one Config, every value checked, keys named in errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from edge_service.config.options import ConfigError, Option, options_of
from edge_service.config.sections import SECTIONS, Config, default_device_id


def all_options() -> list[tuple[str, Option]]:
    """("section.name" or "name", Option) for every key, in the order of the example config."""
    keys = []
    for table, (_, section_type) in SECTIONS.items():
        for name, opt in options_of(section_type):
            keys.append((f"{table}.{name}" if table else name, opt))
    return keys


def _locate(key: str) -> tuple[str, str]:
    """"mqtt.host" -> ("mqtt", "host"); "device_id" -> ("device", "device_id")."""
    table, _, name = key.rpartition(".")
    if table not in SECTIONS:
        raise KeyError(key)
    return SECTIONS[table][0], name


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return _flatten(tomllib.loads(Path(path).read_text(encoding="utf-8")))
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def cross_checks(config: Config) -> None:
    """Settings that are each valid but make no sense together."""
    m = config.mqtt
    if not m.tls and (m.ca_file or m.cert_file or m.key_file):
        raise ConfigError("mqtt.ca_file / cert_file / key_file are given but mqtt.tls is off (add --mqtt-tls)")
    if bool(m.cert_file) != bool(m.key_file):
        raise ConfigError("mqtt.cert_file and mqtt.key_file go together: give both or neither")
    if m.password and not m.username:
        raise ConfigError("mqtt.password is given without mqtt.username")
    for key, value in (("mqtt.ca_file", m.ca_file), ("mqtt.cert_file", m.cert_file), ("mqtt.key_file", m.key_file)):
        if value and not Path(value).is_file():
            raise ConfigError(f"{key}: {value} is not a readable file")


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Overrides are keyed "section.name"; None means "not given"."""
    config = Config()
    keyed = dict(all_options())
    values = _read_toml(path) if path else {}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for key, value in values.items():
        if key not in keyed:
            raise ConfigError(f"{path}: unknown key {key!r}" if path else f"unknown key {key!r}")
        attribute, name = _locate(key)
        setattr(getattr(config, attribute), name, keyed[key].validate(key, value))
    if not config.device.device_id:
        config.device.device_id = default_device_id()
    cross_checks(config)
    return config


def as_flat_dict(config: Config) -> dict[str, Any]:
    """{"section.name": value}, e.g. for a status message or a test."""
    flat = {}
    for table, (attribute, _) in SECTIONS.items():
        for name, value in dataclasses.asdict(getattr(config, attribute)).items():
            flat[f"{table}.{name}" if table else name] = value
    return flat
