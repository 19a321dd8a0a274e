"""`unseen export firmware`: check, measure, budget, then write the TFLite Micro sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_service.inspect_model import load_graph
from firmware_export.arena import measure_arena, with_margin
from firmware_export.c_sources import (FirmwareModel, c_identifier, main_functions_cc, model_data_cc, model_data_h,
                                       model_settings_h, op_resolver_h)
from firmware_export.errors import ExportError
from firmware_export.tflm_check import resolver_ops, tflm_problems


@dataclass
class FirmwareReport:
    name: str
    flash_bytes: int
    arena_measured: int
    arena_bytes: int
    ops: list[str]
    files: list[Path]

    def lines(self) -> list[str]:
        return [f"model {self.name}: {self.flash_bytes} bytes of flash for the model data",
                f"tensor arena: {self.arena_measured} bytes measured (host build), "
                f"{self.arena_bytes} with a 10% margin",
                f"ops ({len(self.ops)}): {', '.join(self.ops)}",
                *[f"wrote {p}" for p in self.files]]


def prepare(model: Path | None, name: str | None = None) -> FirmwareModel:
    loaded = load_graph(model)
    graph, data, artefact, path = loaded.graph, loaded.data, loaded.artefact, loaded.path
    problems = tflm_problems(graph)
    if problems:
        raise ExportError("the model does not fit TFLite Micro:\n  " + "\n  ".join(problems))
    inp = graph.tensors[graph.inputs[0]]
    measured = measure_arena(data, inp.shape, inp.dtype)
    manifest = artefact.manifest if artefact is not None else None
    ident = c_identifier(name or (manifest.name if manifest else path.stem))
    return FirmwareModel(ident, data, graph, manifest, with_margin(measured), measured, resolver_ops(graph))


def budget_problems(m: FirmwareModel, flash_kb: float | None, arena_kb: float | None) -> list[str]:
    problems = []
    if flash_kb is not None and len(m.model) > flash_kb * 1024:
        problems.append(f"model data {len(m.model)} bytes ({len(m.model) / 1024:.1f} KiB) exceeds the "
                        f"{flash_kb:g} KiB flash budget by {(len(m.model) - flash_kb * 1024) / 1024:.1f} KiB")
    if arena_kb is not None and m.arena_bytes > arena_kb * 1024:
        problems.append(f"tensor arena {m.arena_bytes} bytes ({m.arena_bytes / 1024:.1f} KiB, measured "
                        f"{m.arena_measured} + margin) exceeds the {arena_kb:g} KiB RAM budget")
    return problems


def export_firmware(model: Path | None, output: Path, name: str | None = None,
                    flash_kb: float | None = None, arena_kb: float | None = None) -> FirmwareReport:
    m = prepare(model, name)
    problems = budget_problems(m, flash_kb, arena_kb)
    if problems:
        raise ExportError("the model does not fit the budget:\n  " + "\n  ".join(problems)
                          + "\n  (the micro preset is designed for small boards: unseen train --preset micro)")
    output.mkdir(parents=True, exist_ok=True)
    files = {"model_data.h": model_data_h(m), "model_data.cc": model_data_cc(m),
             "model_settings.h": model_settings_h(m), "op_resolver.h": op_resolver_h(m),
             "main_functions.cc": main_functions_cc(m)}
    written = []
    for filename, text in files.items():
        (output / filename).write_text(text)
        written.append(output / filename)
    return FirmwareReport(m.name, len(m.model), m.arena_measured, m.arena_bytes, [op for op, _ in m.resolver],
                          written)
