"""Models that nobody here wrote: every .tflite file shipped inside an installed package.

int8 models the kernels support are held to both oracles on every tensor; anything else
(float, float16, complex or stateful models, missing ops) must be refused with a ModelError
that names the reason, never a crash. None of these files is stored in the zoo: they are
tested at run time, where their packages are installed.
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_service.errors import ModelError
from edge_service.numpy_interpreter import NumpyInterpreter, written_tensors
from edge_service.oracles import sample_inputs

MAX_BYTES = 20 << 20


def packaged_models() -> list[Path]:
    roots = {Path(p) for p in site.getsitepackages() + [site.getusersitepackages()] + sys.path
             if p and p.endswith("site-packages") and Path(p).is_dir()}
    found = {f.resolve() for root in roots for f in root.rglob("*.tflite") if f.stat().st_size < MAX_BYTES}
    return sorted(found)


MODELS = packaged_models()


@pytest.mark.parametrize("path", MODELS, ids=[f"{p.parent.name}/{p.name}" for p in MODELS])
def test_a_packaged_model_runs_exactly_or_is_refused_by_name(path):
    data = path.read_bytes()
    try:
        ours = {mode: NumpyInterpreter(data, mode) for mode in ("tflm", "litert-ref")}
    except ModelError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    pytest.importorskip("tflite_micro")
    pytest.importorskip("ai_edge_litert")
    from edge_service.oracles import LiteRTOracle, TflmOracle
    tensors = written_tensors(ours["tflm"].graph)
    for mode, oracle in (("tflm", TflmOracle(data)), ("litert-ref", LiteRTOracle(data))):
        for x in sample_inputs(ours[mode].input.shape, ours[mode].input.dtype, 5):
            got, expected = ours[mode].run(x, intermediate=True).by_index, oracle.run(x, tensors)
            for i in tensors:
                np.testing.assert_array_equal(got[i], np.asarray(expected[i]).reshape(got[i].shape),
                                              err_msg=f"{path.name} ({mode}): {ours[mode].names[i]}")
