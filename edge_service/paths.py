"""Checks of the paths a user gives, made before any long work starts: one clear error, nothing lost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edge_service.errors import EdgeError


class PathError(EdgeError):
    """A path that cannot be read or written as asked."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _nearest_existing(path: Path) -> Path:
    """`path`, or its nearest parent that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def file_in_the_way(path: Path, folder: bool = False) -> str | None:
    """"X is a file, not a folder" when a file sits where `path` needs a folder (the path itself
    too when it should be a folder), else None. The OS says only "File exists" or "Not a directory"."""
    path = Path(path)
    existing = _nearest_existing(path if folder else path.parent)
    return None if existing.is_dir() else f"{existing} is a file, not a folder"


def _probe_folder(folder: Path, what: str) -> None:
    """Writes a file in `folder`, or in its nearest existing parent when it does not exist yet (as
    root, permission bits alone prove nothing); creates nothing, so a refused input leaves no trace."""
    in_the_way = file_in_the_way(folder, folder=True)
    if in_the_way:
        raise PathError(f"{what} {folder}: {in_the_way}")
    try:
        with tempfile.NamedTemporaryFile(dir=_nearest_existing(folder), prefix=".unseen-probe-"):
            pass
    except OSError as exc:
        raise PathError(f"cannot write {what} {folder}: {_reason(exc)}") from None


def output_dir(path: Path | str, what: str = "output folder") -> Path:
    path = Path(path)
    _probe_folder(path, what)
    return path


def output_file(path: Path | str, what: str = "output file") -> Path:
    path = Path(path)
    if path.is_dir():
        raise PathError(f"{what} {path} is a folder; give a file name")
    _probe_folder(path.parent if str(path.parent) else Path("."), f"the folder of {what}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PathError(f"cannot write {what} {path}: permission denied")
    return path


def input_file(path: Path | str, what: str = "input file") -> Path:
    path = Path(path)
    if path.is_dir():
        raise PathError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise PathError(f"{what} {path} does not exist")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise PathError(f"cannot read {what} {path}: {_reason(exc)}") from None
    return path


def input_dir(path: Path | str, what: str = "input folder") -> Path:
    path = Path(path)
    if path.is_file():
        raise PathError(f"{what} {path} is a file, not a folder")
    if not path.is_dir():
        raise PathError(f"{what} {path} does not exist")
    return path


def input_path(path: Path | str, what: str = "input") -> Path:
    """A file or a folder that must exist (a model file, or the folder it was exposed to)."""
    path = Path(path)
    if not path.exists():
        raise PathError(f"{what} {path} does not exist")
    return path
