"""tflite-runtime, for real: its reference path is an oracle, its XNNPACK path a close neighbour.

These run in the tflite-runtime test environment (`.venv-tflite-runtime`: tflite-runtime
2.14, numpy < 2, no TensorFlow or LiteRT) that `scripts/test` makes beside the main one.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from edge_service.backends import select_backend
from edge_service.errors import EdgeError
from edge_service.manifest import default_model_dir, load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.oracles import LiteRTOracle, sample_inputs
from edge_service.verify import readable_int8
from unseen.cli import main

SHIPPED = sorted(p.name for p in default_model_dir().parent.iterdir() if (p / "manifest.json").exists())
# backend -> (import name, distribution)
RUNTIMES = {"litert": ("ai_edge_litert", "ai-edge-litert"),
            "tflite-runtime": ("tflite_runtime", "tflite-runtime")}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _artefact(name: str):
    return load_artefact(default_model_dir().parent / name)


@pytest.mark.parametrize("name", SHIPPED)
def test_reference_kernels_are_bit_exact_with_the_numpy_kernels_on_every_tensor(name):
    """BUILTIN_REF of tflite-runtime 2.14 requantizes FULLY_CONNECTED in fixed point: mode tflm."""
    pytest.importorskip("tflite_runtime")
    model = _artefact(name).model_bytes
    ours, oracle = NumpyInterpreter(model, "tflm"), LiteRTOracle(model, True, "tflite_runtime")
    written = [op.outputs[0] for op in ours.graph.operators]
    for x in sample_inputs(ours.input.shape, ours.input.dtype, 100):
        got = ours.run(x, intermediate=True).by_index
        expected = oracle.run(x, written)
        for index in written:
            np.testing.assert_array_equal(got[index], expected[index].reshape(got[index].shape),
                                          err_msg=f"{name}: tensor {ours.names[index]}")


@pytest.mark.parametrize("name", SHIPPED)
def test_the_backend_is_within_one_quantum_of_the_numpy_kernels_op_by_op(name):
    """The backend runs XNNPACK, which rounds once in fp32; each op is fed the backend's own inputs."""
    pytest.importorskip("tflite_runtime")
    artefact = _artefact(name)
    backend, _ = select_backend(artefact, "tflite-runtime")
    assert backend.name == "tflite-runtime"
    ours = NumpyInterpreter(artefact.model_bytes)
    graph = ours.graph
    checked, worst = set(), 0
    for x in sample_inputs(ours.input.shape, ours.input.dtype, 30):
        inference = backend.infer(x)
        outputs = dict(zip(graph.outputs, (inference.outputs[n] for n in backend.layer_names)))
        theirs = readable_int8(graph, outputs, x)
        for kernel in ours.kernels:
            op, out = kernel.op, kernel.op.outputs[0]
            inputs = [i for i in op.inputs if i >= 0]
            if out not in theirs or not all(i in theirs or graph.tensors[i].data is not None for i in inputs):
                continue
            got = kernel.run(*[theirs[i] if i in theirs else graph.tensors[i].data for i in inputs])
            diff = int(np.abs(got.astype(int) - theirs[out].reshape(got.shape).astype(int)).max())
            tolerance = 2 if op.op == "ADD" else 1
            assert diff <= tolerance, f"{name}: {ours.names[out]} ({op.op}) differs by {diff}"
            checked.add(out)
            worst = max(worst, diff)
    assert len(checked) >= len(graph.outputs) - 2, "too few layers could be compared"
    # A difference somewhere shows the backend really runs XNNPACK, not the reference kernels.
    assert worst == 1, "XNNPACK and the integer kernels should differ somewhere by exactly one quantum"
    backend.close()


def test_auto_picks_tflite_runtime_when_it_is_the_only_runtime_and_says_so_in_the_status(tmp_path):
    pytest.importorskip("tflite_runtime")
    if _installed("ai_edge_litert"):
        pytest.skip("LiteRT is installed too, and auto prefers it")
    status = tmp_path / "status.json"
    result = CliRunner().invoke(main, ["serve", "--source", "samples", "--frames", "2", "--backend", "auto",
                                       "--status-file", str(status)])
    assert result.exit_code == 0, result.output
    final = json.loads(status.read_text())
    assert final["backend"] == "tflite-runtime"
    notes = final["backend_notes"]
    assert any(n.startswith("edgetpu: ") for n in notes), notes
    assert any(n.startswith("litert: ai-edge-litert is not installed") for n in notes), notes
    assert any(n.startswith("tflite-runtime 2.") and n.endswith(": chosen") for n in notes), notes


def test_serve_with_the_tflite_runtime_backend_runs_five_frames(tmp_path):
    pytest.importorskip("tflite_runtime")
    results, status = tmp_path / "results.jsonl", tmp_path / "status.json"
    run = subprocess.run([sys.executable, "-m", "unseen.cli", "serve", "--backend", "tflite-runtime",
                          "--source", "samples", "--frames", "5", "--jsonl", str(results),
                          "--status-file", str(status)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert {"conversion", "predictions"} <= set(lines[0]["layers"])
    final = json.loads(status.read_text())
    assert final["backend"] == "tflite-runtime" and final["counters"]["processed"] == 5


def test_verify_holds_tflite_runtime_to_the_numpy_kernels():
    pytest.importorskip("tflite_runtime")
    result = CliRunner().invoke(main, ["verify", "--samples", "10"])
    assert result.exit_code == 0, result.output
    assert "tflite-runtime-ref: bit-exact on every layer output with mode tflm" in result.output
    assert "tflite-runtime-xnnpack: not an oracle (rounds in fp32); within one quantum" in result.output


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_explicit_backend_that_is_not_installed_fails_with_the_reason(runtime):
    module, distribution = RUNTIMES[runtime]
    if _installed(module):
        pytest.skip(f"{distribution} is installed here")
    with pytest.raises(EdgeError, match=f"backend {runtime} is unavailable: {distribution} is not installed"):
        select_backend(load_artefact(default_model_dir()), runtime)
    result = CliRunner().invoke(main, ["serve", "--source", "samples", "--frames", "1", "--backend", runtime])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert f"pip install 'unseen[{runtime}]'" in lines[0]
