"""Keeps the service running when an accelerator fails: the CPU takes over, and says so."""

from __future__ import annotations

import logging

import numpy as np

from edge_service.backends.base import Backend, Inference

log = logging.getLogger("unseen.backend")


class FallbackBackend(Backend):
    """Runs `primary`; a failed frame is re-run on `fallback`; N failures in a row switch for good."""

    def __init__(self, primary: Backend, fallback: Backend, max_failures: int = 3) -> None:
        super().__init__(primary.artefact)
        self.primary, self.fallback, self.max_failures = primary, fallback, max_failures
        self.failures_in_a_row = 0
        self.failed_over = False
        self.reason = ""

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.fallback.name if self.failed_over else self.primary.name

    def infer(self, x: np.ndarray) -> Inference:
        if not self.failed_over:
            try:
                result = self.primary.infer(x)
                self.failures_in_a_row = 0
                return result
            except Exception as exc:  # an accelerator can fail in any way; the frame must not be lost
                self.failures_in_a_row += 1
                log.warning("%s failed (%d in a row): %s", self.primary.name, self.failures_in_a_row, exc)
                if self.failures_in_a_row >= self.max_failures:
                    self.failed_over = True
                    self.reason = (f"{self.primary.name} failed {self.failures_in_a_row} times in a row "
                                   f"({exc}); running on {self.fallback.name}")
                    log.error(self.reason)
                    self._close_primary()
        return self.fallback.infer(x)

    def _close_primary(self) -> None:
        try:
            self.primary.close()
        except Exception as exc:
            log.warning("closing %s failed: %s", self.primary.name, exc)

    def close(self) -> None:
        self._close_primary()
        self.fallback.close()
