"""Click parameter types that check a path when the command line is parsed, before any work."""

from __future__ import annotations

from pathlib import Path

import click

from edge_service import paths
from edge_service.errors import UnseenError


class _Checked(click.ParamType):
    check = staticmethod(paths.output_file)

    def __init__(self, what: str | None = None) -> None:
        self.what = what

    def convert(self, value, param, ctx) -> Path:
        what = self.what or (f"{param.human_readable_name}" if param else "path")
        try:
            return self.check(Path(value), what)
        except UnseenError as exc:
            self.fail(str(exc), param, ctx)


class OutputFile(_Checked):
    name = "file"
    check = staticmethod(paths.output_file)


class OutputDir(_Checked):
    name = "folder"
    check = staticmethod(paths.output_dir)


class InputFile(_Checked):
    name = "file"
    check = staticmethod(paths.input_file)


class InputDir(_Checked):
    name = "folder"
    check = staticmethod(paths.input_dir)


def model_option(command):
    """MODEL, given the same way to every command: --model FOLDER (or its model.tflite)."""
    return click.option("-m", "--model", type=click.Path(path_type=Path),
                        help="model folder or its model.tflite (default: the shipped model)")(command)
