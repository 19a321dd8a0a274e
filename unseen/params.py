"""Click parameter types that check a path when the command line is parsed, before any work."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import click

from edge_service import paths
from edge_service.errors import UnseenError


class CheckedPath(click.ParamType):
    """A path run through one of edge_service.paths' checks; its complaint is the usage error."""

    def __init__(self, check: Callable[[Path, str], Path], name: str, what: str | None = None) -> None:
        self.check, self.name, self.what = check, name, what

    def convert(self, value, param, ctx) -> Path:
        what = self.what or (param.human_readable_name if param else "path")
        try:
            return self.check(Path(value), what)
        except UnseenError as exc:
            self.fail(str(exc), param, ctx)


def OutputFile(what: str | None = None) -> CheckedPath:  # noqa: N802 - used like a type
    return CheckedPath(paths.output_file, "file", what)


def OutputDir(what: str | None = None) -> CheckedPath:  # noqa: N802
    return CheckedPath(paths.output_dir, "folder", what)


def InputFile(what: str | None = None) -> CheckedPath:  # noqa: N802
    return CheckedPath(paths.input_file, "file", what)


def InputDir(what: str | None = None) -> CheckedPath:  # noqa: N802
    return CheckedPath(paths.input_dir, "folder", what)


def model_option(command):
    """MODEL, given the same way to every command: --model FOLDER (or its model.tflite)."""
    return click.option("-m", "--model", type=click.Path(path_type=Path),
                        help="model folder or its model.tflite (default: the shipped model)")(command)


def InputPath(what: str | None = None) -> CheckedPath:  # noqa: N802
    return CheckedPath(paths.input_path, "path", what)


class FiniteFloat(click.FloatRange):
    """A float within bounds that is also finite: nan passes every comparison, inf every lower bound."""

    name = "finite float"

    def convert(self, value, param, ctx) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number
