"""The example device.toml, written from the field declarations so it can never drift from them."""

from __future__ import annotations

from pathlib import Path

from edge_service.config.options import options_of
from edge_service.config.sections import SECTIONS

HEADER = """# unseen edge service configuration. Every key can also be given as a flag:
# `unseen serve --help` lists them (e.g. source.uri is --source).
# Generated from edge_service/config/sections.py by `python -m edge_service.config.example`.
"""


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_example() -> str:
    lines = [HEADER]
    for table, (_, section_type) in SECTIONS.items():
        if table:
            lines.append(f"\n[{table}]")
        for name, opt in options_of(section_type):
            value = opt.example if opt.example is not None else opt.default
            allowed = opt.allowed()
            note = (opt.comment or opt.help) + (f" ({' | '.join(map(str, allowed))})" if allowed else "")
            lines.append(f"# {note}; flag {opt.flag}")
            commented = "# " if table == "" else ""  # the device id defaults to the host name
            lines.append(f"{commented}{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def example_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "device.toml"


if __name__ == "__main__":
    example_config_path().write_text(render_example(), encoding="utf-8")
