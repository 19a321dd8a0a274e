"""What unseen cannot run gets one line naming the op or feature and the layer, and still runs on
LiteRT; a bad input to `expose` is one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_service.errors import ModelError
from edge_service.expose.core import expose_model
from edge_service.manifest import load_artefact
from unseen.cli import main

pytest.importorskip("tensorflow")
DIGIT = Path(__file__).parents[2] / "edge_service" / "samples" / "fashion_3_dress.png"

REFUSED = {
    "log_softmax": "layer 'log_softmax' (LOG_SOFTMAX): the numpy kernels do not support LOG_SOFTMAX; "
                   "run it with --backend litert",
    "float": "layer 'features' (CONV_2D) computes in float32: the numpy kernels run int8-quantized layers only; "
             "run it with --backend litert",
    "while_loop": "layer 'while' (WHILE) runs another subgraph: the numpy kernels run models of one subgraph, "
                  "this one has 3; run it with --backend litert",
    "variable": "layer 'Variable' (VAR_HANDLE) keeps state in a resource variable: the numpy kernels are stateless; "
                "run it with --backend litert",
}


def _invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict[str, Path]:
    from tests.edge_service import third_party
    root = tmp_path_factory.mktemp("refused")
    builders = {"log_softmax": third_party.log_softmax_model, "float": third_party.float_model,
                "while_loop": third_party.while_loop_model, "variable": third_party.variable_model}
    folders = {}
    for name, build in builders.items():
        (root / f"{name}.tflite").write_bytes(build())
        folders[name] = root / name
    return folders


@pytest.mark.parametrize("name", list(REFUSED))
def test_expose_names_the_refusal_and_litert_still_runs_it(refused, name, tmp_path):
    pytest.importorskip("ai_edge_litert")
    source = refused[name].with_suffix(".tflite")
    result = _invoke("expose", source, "-o", refused[name])
    assert result.exit_code == 0, result.output
    assert f"numpy: refused: {REFUSED[name]}" in result.output and "litert: runs it" in result.output
    assert load_artefact(refused[name]).manifest.exposed["numpy"] == f"refused: {REFUSED[name]}"
    numpy = _invoke("layers", DIGIT, "--model", refused[name], "--backend", "numpy", "-o", tmp_path / "n")
    assert numpy.exit_code == 2 and numpy.output.strip().splitlines()[-1] == f"error: {REFUSED[name]}"
    verify = _invoke("verify", "--model", refused[name])
    assert verify.exit_code == 2 and verify.output.strip() == f"error: {REFUSED[name]}"
    litert = _invoke("layers", DIGIT, "--model", refused[name], "--backend", "litert", "-o", tmp_path / "l")
    assert litert.exit_code == 0, litert.output
    assert (tmp_path / "l" / "index.html").exists()


def test_the_litert_outputs_of_a_refused_model_are_every_layer(refused):
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter
    folder = refused["log_softmax"]
    if not (folder / "model.tflite").exists():
        expose_model(folder.with_suffix(".tflite"), folder)
    interpreter = Interpreter(model_path=str(folder / "model.tflite"))
    names = [d["name"] for d in interpreter.get_output_details()]
    assert names[0] == "log_softmax" and len(names) == 4 and "features" in names and "logits" in names


def _error(*args) -> str:
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_bad_inputs_are_one_clear_line(refused, tmp_path):
    good = refused["log_softmax"].with_suffix(".tflite")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "cut.tflite").write_bytes(good.read_bytes()[:600])
    (tmp_path / "junk.tflite").write_bytes(b"\x10\x00\x00\x00TFL3" + bytes(range(256)) * 4)
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    out = tmp_path / "out"
    assert "not a TFLite model" in _error("expose", tmp_path / "notes.txt", "-o", out)
    assert "corrupt" in _error("expose", tmp_path / "cut.tflite", "-o", out)
    assert "error:" in _error("expose", tmp_path / "junk.tflite", "-o", out)
    assert "missing.tflite does not exist" in _error("expose", tmp_path / "missing.tflite", "-o", out)
    assert "labels file" in _error("expose", good, "--labels", tmp_path / "none.txt", "-o", out)
    assert "3 labels, but the output 'log_softmax' has 5 classes" in _error(
        "expose", good, "--labels", tmp_path / "three.txt", "-o", out)
    assert "is a file, not a folder" in _error("expose", good, "-o", tmp_path / "notes.txt")
    assert "--mean: give one value or one per channel" in _error("expose", good, "--mean", "1,2", "-o", out)
    assert not out.exists(), "nothing is written for a refused input"


def test_the_output_folder_is_checked_before_the_work(refused, tmp_path):
    good = refused["log_softmax"].with_suffix(".tflite")
    (tmp_path / "model.tflite").write_bytes(good.read_bytes())
    with pytest.raises(ModelError, match="overwrite the model it is made from"):
        expose_model(tmp_path / "model.tflite", tmp_path)
    (tmp_path / "a-file").write_text("")
    assert "is a file, not a folder" in _error("expose", good, "-o", tmp_path / "a-file" / "m")


def test_mutated_and_truncated_models_are_refused_or_exposed_never_crash(refused, tmp_path):
    import numpy as np
    from edge_service.errors import UnseenError
    data = refused["log_softmax"].with_suffix(".tflite").read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"exposed": 0, "refused": 0}
    for i in range(120):
        mutated = bytearray(data)
        for _ in range(rng.integers(1, 8)):
            mutated[rng.integers(8, len(mutated))] = rng.integers(0, 256)
        if i % 10 == 0:
            mutated = mutated[:rng.integers(8, len(mutated))]
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(bytes(mutated))
        try:
            expose_model(path, tmp_path / f"out{i}")
            outcomes["exposed"] += 1
        except UnseenError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 120
