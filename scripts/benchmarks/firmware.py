"""The microcontroller footprint: flash and the measured TFLite Micro arena."""

from __future__ import annotations



from benchmarks.common import ROOT


def bench_firmware(quick: bool) -> dict:
    """Flash and measured TFLite Micro arena of the shipped seed and micro models, with accuracy."""
    from edge_service.manifest import load_artefact
    from firmware_export.firmware import prepare

    rows = {}
    models = ROOT / "edge_service" / "models"
    seed_flash = None
    for folder in ("digits", "digits-micro"):
        m = prepare(models / folder)
        t = load_artefact(models / folder).manifest.training
        seed_flash = seed_flash or len(m.model)
        rows[f"{t['preset']} preset ({m.name})"] = {
            "flash KiB": len(m.model) / 1024, "arena KiB": m.arena_measured / 1024,
            "arena+margin KiB": m.arena_bytes / 1024, "int8 accuracy": t["int8_accuracy"],
            "ratio": len(m.model) / seed_flash}
    return {"title": "Microcontroller footprint (TFLite Micro, host-build arena, every layer an output)",
            "unit": "KiB", "rows": rows}
