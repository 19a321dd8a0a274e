"""Every command of `unseen`, walked automatically, against a table of bad inputs.

A new command is covered without editing this file. For each parameter whose type says what it
accepts (a path, a range, a choice) or whose name does (a model, a source, a topic level), each
bad value is given alone; the command must answer with one `error:` line and exit 2, never a
traceback, an internal error or a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from edge_service.sources.files import SAMPLES_DIR
from unseen.cli import main
from edge_service import paths
from unseen.params import CheckedPath

SAMPLE = str(sorted(SAMPLES_DIR.glob("*.png"))[0])
SECONDS = 60  # far more than any refusal needs: a command still running then has accepted a bad value


def walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from walk(command, path + (name,))
        else:
            yield path + (name,), command


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    (root / "folder").mkdir()
    (root / "empty").write_bytes(b"")
    (root / "random.bin").write_bytes(os.urandom(4096))
    (root / "a_file").write_text("x")
    from edge_service.conversion import fixed_matrix
    fixed_matrix("luma", 3).save(root / "matrix.json")
    from edge_service.manifest import default_model_dir
    from firmware_export.bundle import make_bundle
    make_bundle(default_model_dir(), root / "model.unseen.tar.gz")
    return {"root": str(root), "missing": str(root / "missing" / "thing.png"), "folder": str(root / "folder"),
            "empty": str(root / "empty"), "random": str(root / "random.bin"),
            "under_a_file": str(root / "a_file" / "x"), "unwritable": "/proc/unseen-nope/k",
            "matrix": str(root / "matrix.json"), "bundle": str(root / "model.unseen.tar.gz")}


# Valid values for required arguments, and extras that keep a run that wrongly succeeds short.
def valid_arguments(places) -> dict[str, str]:
    return {"images": SAMPLE, "image": SAMPLE, "matrix": places["matrix"], "bundle": places["bundle"],
            "name": "digits-seed"}


SHORT_RUN = {"serve": ["--frames", "1", "--backend", "numpy", "--source", SAMPLE],
             "watch": ["--timeout", "0.5", "--mqtt-port", "9"], "flush": ["--timeout", "1"],
             "verify": ["--samples", "1"]}
SKIP_WITHOUT_TENSORFLOW = {"train"}


def bad_values(param: click.Parameter, places) -> list[tuple[str, str]]:
    """(description, value) pairs that this parameter must refuse."""
    kind, name = param.type, param.name or ""
    check = kind.check if isinstance(kind, CheckedPath) else None
    if check is paths.input_file:
        return [("missing", places["missing"]), ("a folder", places["folder"])]
    if check is paths.input_path:
        return [("missing", places["missing"]), ("random bytes", places["random"]), ("empty", places["empty"])]
    if check is paths.input_dir:
        return [("missing", places["missing"]), ("a file", places["random"])]
    if check in (paths.output_file, paths.output_dir):
        wrong = ("a folder", places["folder"]) if check is paths.output_file else ("a file", places["random"])
        return [wrong, ("under a file", places["under_a_file"]), ("unwritable", places["unwritable"])]
    if name == "model":
        return [("missing", places["missing"]), ("random bytes", places["random"]), ("empty", places["empty"]),
                ("a folder without a model", places["folder"])]
    if isinstance(kind, click.Choice):
        return [("not a choice", "nonsense")]
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        values = [("not a number", "abc")]
        if kind.min is not None:
            values.append(("below the range", str(kind.min - 1)))
        if kind.max is not None:
            values.append(("above the range", str(kind.max + 1)))
        if isinstance(kind, click.FloatRange):  # nan passes every bound
            values.append(("not finite", "nan"))
        return values
    if kind in (click.INT, click.FLOAT) and name.startswith(("mqtt__", "run__", "outbox__", "source__", "model__")):
        return ([("not a number", "abc"), ("negative", "-5")] + ([("not a port", "99999")] if name == "mqtt__port" else [])
                + ([("not finite", "nan")] if kind is click.FLOAT else []))
    if name in ("device__device_id", "device", "mqtt__prefix"):
        return [("an MQTT wildcard", "x/#")]
    if name == "source__uri":
        return [("a missing file", places["missing"]), ("an empty folder", places["folder"]),
                ("a negative camera", "camera:-1"), ("nonsense", "not-a-source")]
    if name == "mqtt__layers":
        return [("an unknown layer", "nosuchlayer")]
    return []


def cases(places):
    for path, command in walk(main):
        for param in command.params:
            for description, value in bad_values(param, places):
                yield path, command, param, description, value


def _invocation(path, command, param, value, places) -> list[str]:
    args = list(path)
    arguments = valid_arguments(places)
    positional = []
    for p in command.params:
        if isinstance(p, click.Argument):
            given = value if p is param else arguments.get(p.name, SAMPLE)
            if p.required or p is param:
                positional.append(given)
    options = [] if isinstance(param, click.Argument) else [param.opts[0], value]
    extras = SHORT_RUN.get(path[-1], [])
    if not isinstance(param, click.Argument) and param.opts[0] in extras:  # the bad value replaces the extra
        i = extras.index(param.opts[0])
        extras = extras[:i] + extras[i + 2:]
    return args + positional + options + extras


class Hung(Exception):
    pass


def test_every_command_refuses_every_bad_input_in_one_line(places, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing a command writes by default lands in the checkout
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    tensorflow = True
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        tensorflow = False

    def hang(signum, frame):
        raise Hung()

    previous = signal.signal(signal.SIGALRM, hang)
    failures, walked = [], 0
    try:
        for path, command, param, description, value in cases(places):
            if path[-1] in SKIP_WITHOUT_TENSORFLOW and not tensorflow:
                continue
            args = _invocation(path, command, param, value, places)
            signal.alarm(SECONDS)
            result = CliRunner().invoke(main, args)
            signal.alarm(0)
            walked += 1
            output = result.output
            lines = [line for line in output.strip().splitlines() if line.startswith(("error:", "internal error"))]
            problem = ""
            if isinstance(result.exception, Hung):
                problem = "still running: the bad value was accepted"
            elif "Traceback" in output or result.exit_code not in (0, 2) or "internal error" in output:
                problem = f"exit {result.exit_code}: {output.strip()[-300:]!r} {result.exception!r}"
            elif result.exit_code != 2 or len(lines) != 1:
                problem = f"accepted (exit {result.exit_code}): {output.strip()[-200:]!r}"
            if problem:
                failures.append(f"unseen {' '.join(path)} {param.name}={description}: {problem}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert walked > 100, f"only {walked} cases walked"
    assert not failures, f"{len(failures)} of {walked} cases:\n" + "\n".join(failures)


def test_a_camera_index_that_crashes_opencv_never_reaches_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "unseen.cli", "serve", "--source", "camera:-1", "--frames", "1"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "index from 0 to 63" in result.stderr and "Traceback" not in result.stderr


def test_an_unexpected_failure_is_one_line_with_exit_70_and_the_traceback_only_under_debug(monkeypatch):
    import edge_service.inspect_model as inspect_model

    def broken(model):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inspect_model, "describe", broken)  # a fault no user input can produce
    result = CliRunner().invoke(main, ["inspect"])
    assert result.exit_code == 70 and result.output.strip().splitlines() == [
        "internal error: RuntimeError: a bug (run with --debug for the traceback)"]
    debug = CliRunner().invoke(main, ["--debug", "inspect"])
    assert debug.exit_code == 70 and "Traceback" in debug.output


def test_walked_commands_include_every_registered_one():
    names = {" ".join(path) for path, _ in walk(main)}
    assert {"serve", "layers", "filters", "watch", "outbox status", "export keygen", "install"} <= names
