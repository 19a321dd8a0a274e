"""`unseen expose` changes what a model shows, never what it computes: the original outputs are
bit-identical on every runtime, and every added output is the tensor the reference run holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_service.expose.core import expose_model
from edge_service.oracles import sample_inputs
from tests.edge_service.zoo_store import load_model, stored_names

# Every stored zoo model (the architectures keep only their real outputs, so exposing them adds
# every layer), and a MobileNetV2 converted by the plain converter where TensorFlow is at hand.
def _image_input(name: str) -> bool:
    from edge_service.tflite_graph import read_graph
    graph = read_graph(load_model(name))
    shape = graph.tensors[graph.inputs[0]].shape
    return len(shape) == 4 and shape[-1] in (1, 3)


MODELS = [n for n in stored_names() if _image_input(n)] + ["mobilenet_v2"]  # expose opens image models
INPUTS = 6


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> dict[str, tuple[bytes, bytes, Path]]:
    """name -> (the model as shipped, the exposed model, its folder)."""
    import importlib.util
    pytest.importorskip("ai_edge_litert")  # expose's schema module, and every oracle here
    out = {}
    root = tmp_path_factory.mktemp("exposed")
    for name in MODELS:
        if name == "mobilenet_v2":
            if importlib.util.find_spec("tensorflow") is None:
                continue
            from tests.edge_service import third_party
            original = third_party.mobilenet_v2()
        else:
            original = load_model(name)
        (root / f"{name}.tflite").write_bytes(original)
        expose_model(root / f"{name}.tflite", root / name)
        out[name] = (original, (root / name / "model.tflite").read_bytes(), root / name)
    return out


def _get(exposed, name: str) -> tuple[bytes, bytes, Path]:
    if name not in exposed:
        pytest.skip(f"{name} needs tensorflow to be built")
    return exposed[name]


def _litert(model: bytes, reference: bool, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    if preserve:
        kwargs["experimental_preserve_all_tensors"] = True
    interpreter = Interpreter(model_content=model, **kwargs)
    interpreter.allocate_tensors()
    return interpreter


def _inputs(interpreter):
    d = interpreter.get_input_details()[0]
    return sample_inputs(tuple(d["shape"]), d["dtype"], INPUTS)


def _run(interpreter, x) -> list[np.ndarray]:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


@pytest.mark.parametrize("reference", [False, True], ids=["litert-default", "builtin-ref"])
@pytest.mark.parametrize("name", MODELS)
def test_original_outputs_are_bit_identical_on_litert(exposed, name, reference):
    pytest.importorskip("ai_edge_litert")
    original, new, _ = _get(exposed, name)
    before, after = _litert(original, reference), _litert(new, reference)
    count = len(before.get_output_details())
    assert [d["index"] for d in after.get_output_details()[:count]] == \
        [d["index"] for d in before.get_output_details()]
    for x in _inputs(before):
        for a, b in zip(_run(before, x), _run(after, x)[:count]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_original_outputs_are_bit_identical_on_tflite_micro(exposed, name):
    pytest.importorskip("ai_edge_litert")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    original, new, _ = _get(exposed, name)
    before, after = runtime.Interpreter.from_bytes(original), runtime.Interpreter.from_bytes(new)
    count = len(_litert(original, True).get_output_details())
    for x in _inputs(_litert(original, True)):
        for interpreter in (before, after):
            interpreter.set_input(x, 0)
            interpreter.invoke()
        for i in range(count):
            np.testing.assert_array_equal(before.get_output(i), after.get_output(i))


@pytest.mark.parametrize("name", MODELS)
def test_one_output_per_operator_each_equal_to_the_preserved_tensor(exposed, name):
    pytest.importorskip("ai_edge_litert")
    from edge_service.tflite_graph import read_graph
    original, new, _ = _get(exposed, name)
    graph = read_graph(new)
    assert len(graph.outputs) == len({t for op in graph.operators for t in op.outputs})
    assert graph.outputs[0] == read_graph(original).outputs[0]
    preserved, after = _litert(original, True, preserve=True), _litert(new, True)
    for x in _inputs(after):
        values = _run(after, x)
        _run(preserved, x)
        for d, value in zip(after.get_output_details(), values):
            np.testing.assert_array_equal(preserved.get_tensor(d["index"]), value, err_msg=f"{name}: {d['name']}")


@pytest.mark.parametrize("name", MODELS)
def test_verify_is_exact_on_every_tensor_in_both_modes(exposed, name):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    from edge_service.verify import report, verify
    _, new, _ = _get(exposed, name)
    interpreter, comparisons = verify(new, samples=4)
    text, ok = report(interpreter, comparisons, 4)
    assert ok, text
    assert {c.oracle for c in comparisons if c.tolerance == 0 and not c.outputs_only and not c.unavailable} == {"tflite-micro", "litert-ref"}


def test_buffers_stay_aligned_for_microcontrollers(exposed):
    from edge_service.expose.flatbuf import BUFFER_ALIGNMENT, read_model
    _, new, _ = _get(exposed, "mobilenet_v2")
    model = read_model(new)
    import tflite
    raw = tflite.Model.GetRootAsModel(new, 0)
    for i in range(raw.BuffersLength()):
        buffer = raw.Buffers(i)
        if buffer.DataLength():
            offset = buffer._tab.Vector(buffer._tab.Offset(4))
            assert offset % BUFFER_ALIGNMENT == 0, i
    assert len(model.buffers) == raw.BuffersLength()


def test_a_reshape_by_a_computed_shape_is_a_layer_and_the_shape_arithmetic_is_not():
    """The stored dynamic-batch Flatten graph: its RESHAPE reads the image and a size worked out
    by SHAPE, STRIDED_SLICE and PACK; only the RESHAPE is a feature map."""
    pytest.importorskip("ai_edge_litert")  # expose's schema module
    from edge_service.expose.flatbuf import read_model
    from edge_service.expose.rewrite import expose_outputs
    exposure = expose_outputs(read_model(load_model("graph_dynamic_flatten")), original=[])
    assert [exposure.ops[t] for t in exposure.outputs] == ["RESHAPE"]
    assert [line.split(" (")[1].split(")")[0] for line in exposure.skipped] == ["SHAPE", "STRIDED_SLICE", "PACK"]
