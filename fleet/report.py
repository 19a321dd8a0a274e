"""`unseen collect report`: per device, results stored, gaps in seq, duplicates dropped, last seen.

A gap is a run of missing seq numbers inside one run of a device. A device numbers its
results from 1 each time it starts, so a seq that goes back down starts a new run; a run
that does not start at 1 (other than the first one stored) is missing its first results.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field

from fleet.store import Store

GAPS = ("SELECT device, seq, prev FROM (SELECT device, seq, LAG(seq) OVER (PARTITION BY device ORDER BY time, seq)"
        " AS prev FROM results) AS ordered WHERE prev IS NOT NULL AND seq <> prev + 1 ORDER BY device")


@dataclass
class DeviceReport:
    device: str
    stored: int
    missing: int
    gaps: list[tuple[int, int]] = field(default_factory=list)   # (first missing, last missing)
    restarts: int = 0
    duplicates: int = 0
    malformed: int = 0
    images: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_seen: float | None = None
    state: str = "unknown"
    state_reason: str = ""


def build(store: Store) -> list[DeviceReport]:
    stored = {row[0]: row[1:] for row in store.query(
        "SELECT device, COUNT(*), MIN(seq), MAX(seq) FROM results GROUP BY device")}
    reports = {}
    for device, duplicates, malformed, images, last_seen, state, reason in store.query(
            "SELECT device, duplicates, malformed, images, last_seen, state, state_reason FROM devices"):
        count, first, last = stored.get(device, (0, None, None))
        reports[device] = DeviceReport(device, int(count), 0, [], 0, int(duplicates), int(malformed), int(images),
                                       first, last, last_seen, state, reason)
    for device, seq, prev in store.query(GAPS):
        report = reports.get(device)
        if report is None:
            continue
        if seq > prev + 1:
            report.missing += seq - prev - 1
            report.gaps.append((prev + 1, seq - 1))
        else:  # seq went back: the device restarted
            report.restarts += 1
            if seq > 1:
                report.missing += seq - 1
                report.gaps.append((1, seq - 1))
    return [reports[d] for d in sorted(reports)]


def as_json(reports: list[DeviceReport]) -> list[dict]:
    return [asdict(r) for r in reports]


def _ago(then: float | None, now: float) -> str:
    if then is None:
        return "never"
    stamp = dt.datetime.fromtimestamp(then).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} ({max(0.0, now - then):.0f} s ago)"


def _ranges(gaps: list[tuple[int, int]], limit: int = 3) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in gaps[:limit])
    return text + (f" and {len(gaps) - limit} more" if len(gaps) > limit else "")


def as_text(reports: list[DeviceReport], now: float | None = None) -> str:
    now = time.time() if now is None else now
    if not reports:
        return "no devices yet"
    rows = [("device", "stored", "missing", "duplicates", "malformed", "state", "last seen")]
    for r in reports:
        state = r.state + (f" ({r.state_reason})" if r.state_reason else "")
        rows.append((r.device, str(r.stored), str(r.missing) + (f" [{_ranges(r.gaps)}]" if r.gaps else ""),
                     str(r.duplicates), str(r.malformed), state, _ago(r.last_seen, now)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    total = sum(r.stored for r in reports)
    lines.append(f"{len(reports)} devices, {total} results stored, {sum(r.missing for r in reports)} missing, "
                 f"{sum(r.duplicates for r in reports)} duplicates dropped")
    return "\n".join(lines)
