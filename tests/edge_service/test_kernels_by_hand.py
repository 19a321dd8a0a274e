"""Each new op on tiny tensors whose int8 outputs are worked out here from TFLite's formulas.

Scales are chosen so the fixed-point arithmetic is exact (powers of two), or the real
result lies far from a rounding boundary; the comments give the real-valued working.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.errors import ModelError
from tests.edge_service.op_graphs import T, const, op_graph, run_op

MODES = ("tflm", "litert-ref")


@pytest.mark.parametrize("mode", MODES)
def test_sub_is_the_difference_clamped_and_relu_fused(mode):
    x, b = [10, -5, 100, -100], [3, -5, -60, 60]
    q = dict(scale=0.5)
    (out,) = run_op("SUB", x, [T((4,), **q), T((4,), **q, data=b)], [T((4,), **q)], mode)
    assert out.tolist() == [7, 0, 127, -128]  # 160 and -160 saturate
    (out,) = run_op("SUB", x, [T((4,), **q), T((4,), **q, data=b)], [T((4,), **q)], mode,
                    fused_activation_function="RELU")
    assert out.tolist() == [7, 0, 127, 0]
    (out,) = run_op("SUB", x, [T((4,), **q), T((1,), **q, data=[10])], [T((4,), scale=1.0)], mode)
    assert out.tolist() == [0, -8, 45, -55]  # (x - 10) * 0.5 / 1.0; -7.5 and 22.5 avoided


@pytest.mark.parametrize("kind,expected", [("MAXIMUM", [0, 5, 0, 127]), ("MINIMUM", [-3, 0, 0, 0])])
def test_maximum_minimum_compare_raw_values_with_broadcast(kind, expected):
    (out,) = run_op(kind, [-3, 5, 0, 127], [T((4,)), T((1,), data=[0])], [T((4,))])
    assert out.tolist() == expected


@pytest.mark.parametrize("mode", MODES)
def test_leaky_relu(mode):
    # input scale 1, output 0.5: x >= 0 doubles; below, x * 0.25 / 0.5 halves.
    (out,) = run_op("LEAKY_RELU", [-4, -2, 0, 3, 60, 100], [T((6,))], [T((6,), scale=0.5)], mode, alpha=0.25)
    assert out.tolist() == [-2, -1, 0, 6, 120, 127]


@pytest.mark.parametrize("mode", MODES)
def test_prelu_with_per_channel_alpha(mode):
    # alpha 16/64 = 0.25 and -32/64 = -0.5; input and output scale 0.5: below zero x * alpha.
    alpha = T((2,), scale=1 / 64, data=[16, -32])
    (out,) = run_op("PRELU", [[-8, -8], [4, 4], [-100, -100]], [T((3, 2), scale=0.5), alpha],
                    [T((3, 2), scale=0.5)], mode)
    assert out.tolist() == [[-2, 4], [4, 4], [-25, 50]]


@pytest.mark.parametrize("mode", MODES)
def test_hard_swish(mode):
    # scale 1/8 both sides; x * relu6(x + 3) / 6: -4 -> 0, -1 -> -1/3 (-2.67), 1 -> 2/3 (5.33), 3 -> 3, 4 -> 4.
    x = [-32, -24, -8, 0, 8, 24, 32, 127]
    (out,) = run_op("HARD_SWISH", x, [T((8,), scale=0.125)], [T((8,), scale=0.125)], mode)
    assert out.tolist() == [0, 0, -3, 0, 5, 24, 32, 127]


@pytest.mark.parametrize("mode", MODES)
def test_tanh(mode):
    # input scale 1/32: tanh(1) = 0.7616 (97.5 * 1/128 -> 97), tanh(0.5) = 0.4621 (59.2), tanh(-2) = -0.9640.
    (out,) = run_op("TANH", [32, 16, -64, 0, 127], [T((5,), scale=1 / 32)], [T((5,), scale=1 / 128)], mode)
    assert out.tolist() == [97, 59, -123, 0, 127]


def test_resize_nearest_neighbor_in_each_mode():
    image, size = [[1, 2], [3, 4]], lambda h, w: const([h, w])
    run = lambda h, w, **o: run_op("RESIZE_NEAREST_NEIGHBOR", image, [T((1, 2, 2, 1)), size(h, w)],
                                   [T((1, h, w, 1))], **o)[0][0, :, :, 0].tolist()
    # half pixel: source floor((i + 0.5) * 2/4) = 0, 0, 1, 1
    assert run(4, 4, half_pixel_centers=True) == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    # align corners: round(i * 1/2) = 0, 1 (0.5 rounds away), 1
    assert run(3, 3, align_corners=True) == [[1, 2, 2], [3, 4, 4], [3, 4, 4]]
    # neither: floor(i * 2/3) = 0, 0, 1
    assert run(3, 3) == [[1, 1, 2], [1, 1, 2], [3, 3, 4]]


def test_resize_bilinear_in_each_mode():
    run = lambda w, **o: run_op("RESIZE_BILINEAR", [0, 100], [T((1, 1, 2, 1)), const([1, w])],
                                [T((1, 1, w, 1))], **o)[0].ravel().tolist()
    # half pixel: positions -0.25, 0.25, 0.75, 1.25, clamped at the borders
    assert run(4, half_pixel_centers=True) == [0, 25, 75, 100]
    assert run(3, align_corners=True) == [0, 50, 100]  # positions 0, 0.5, 1
    assert run(4) == [0, 50, 100, 100]                 # positions 0, 0.5, 1, 1.5


@pytest.mark.parametrize("mode", MODES)
def test_transpose_conv_scatters_each_pixel(mode):
    image = [[1, 2], [3, 4]]
    ones = T((1, 2, 2, 1), data=np.ones((1, 2, 2, 1)))
    (out,) = run_op("TRANSPOSE_CONV", image, [const([1, 4, 4, 1]), ones, T((1, 2, 2, 1)),
                                              T((1,), dtype="int32", data=[5])],
                    [T((1, 4, 4, 1))], mode, padding="VALID", stride_h=2, stride_w=2)
    assert out[0, :, :, 0].tolist() == [[6, 6, 7, 7], [6, 6, 7, 7], [8, 8, 9, 9], [8, 8, 9, 9]]
    # SAME, stride 1, a 3x3 filter of ones: every output sees all four pixels.
    (out,) = run_op("TRANSPOSE_CONV", image, [const([1, 2, 2, 1]), T((1, 3, 3, 1), data=np.ones(9)),
                                              T((1, 2, 2, 1))], [T((1, 2, 2, 1))], mode,
                    padding="SAME", stride_h=1, stride_w=1)
    assert out.ravel().tolist() == [10, 10, 10, 10]


@pytest.mark.parametrize("mode", MODES)
def test_batch_matmul_with_adjoints(mode):
    a = [[1, 2, 3], [-1, 0, 4]]
    b = np.array([[1, 0], [2, 1], [-1, 3]])
    (out,) = run_op("BATCH_MATMUL", a, [T((1, 2, 3)), T((1, 3, 2), data=b)], [T((1, 2, 2))], mode)
    assert out[0].tolist() == [[2, 11], [-5, 12]]
    (out,) = run_op("BATCH_MATMUL", a, [T((1, 2, 3)), T((1, 2, 3), data=b.T)], [T((1, 2, 2))], mode, adj_y=True)
    assert out[0].tolist() == [[2, 11], [-5, 12]]


X = np.arange(24).reshape(2, 3, 4) - 12


def _moved(kind, inputs, outputs, **options):
    return run_op(kind, X, [T(X.shape)] + inputs, outputs, **options)


def test_transpose_slice_and_strided_slice():
    assert np.array_equal(_moved("TRANSPOSE", [const([2, 0, 1])], [T((4, 2, 3))])[0], X.transpose(2, 0, 1))
    assert np.array_equal(_moved("SLICE", [const([1, 1, 0]), const([-1, 2, 3])], [T((1, 2, 3))])[0], X[1:, 1:3, :3])
    strided = _moved("STRIDED_SLICE", [const([0, 2, 1]), const([2, -4, 4]), const([1, -1, 2])], [T((2, 3, 2))])
    assert np.array_equal(strided[0], X[0:2, 2::-1, 1:4:2])
    masked = _moved("STRIDED_SLICE", [const([1, 9, -1]), const([0, 9, 0]), const([1, 1, 1])], [T((2, 3))],
                    begin_mask=0b011, end_mask=0b011, shrink_axis_mask=0b100)
    assert np.array_equal(masked[0], X[:, :, -1])


def test_split_split_v_pack_unpack():
    halves = run_op("SPLIT", X, [const([-1]), T(X.shape)], [T((2, 3, 2)), T((2, 3, 2))], num_splits=2)
    assert [h.tolist() for h in halves] == [X[..., :2].tolist(), X[..., 2:].tolist()]
    parts = _moved("SPLIT_V", [const([1, -1]), const([1])], [T((2, 1, 4)), T((2, 2, 4))], num_splits=2)
    assert np.array_equal(parts[0], X[:, :1]) and np.array_equal(parts[1], X[:, 1:])
    rows = _moved("UNPACK", [], [T((2, 4))] * 3, num=3, axis=1)
    assert all(np.array_equal(r, X[:, i]) for i, r in enumerate(rows))
    (packed,) = run_op("PACK", X[0], [T((3, 4)), T((3, 4), data=X[1])], [T((3, 2, 4))], values_count=2, axis=1)
    assert np.array_equal(packed, np.stack([X[0], X[1]], axis=1))


def test_shape_then_strided_slice_and_pack_give_a_dynamic_batch_flatten_its_size():
    """What a Keras Flatten under batch None computes: [batch, -1] from the input's shape."""
    def ints(shape, data=None) -> T:
        return T(shape, None, 0, "int32", data)
    (shape,) = _moved("SHAPE", [], [ints((3,))])
    assert shape.dtype == np.int32 and shape.tolist() == [2, 3, 4]
    (batch,) = run_op("STRIDED_SLICE", shape, [ints((3,)), const([0]), const([1]), const([1])], [ints(())],
                      shrink_axis_mask=1)
    (size,) = run_op("PACK", batch, [ints(()), const(-1)], [ints((2,))], values_count=2)
    assert size.tolist() == [2, -1]
    with pytest.raises(ModelError, match=r"output shape \[2\] is not \[3\]"):
        _moved("SHAPE", [], [ints((2,))])


def test_squeeze_expand_dims_gather():
    (out,) = run_op("SQUEEZE", X[:1, :1], [T((1, 1, 4))], [T((4,))])
    assert out.tolist() == X[0, 0].tolist()
    (out,) = run_op("SQUEEZE", X[:1, :1], [T((1, 1, 4))], [T((1, 4))], squeeze_dims=[1])
    assert out.tolist() == [X[0, 0].tolist()]
    (out,) = _moved("EXPAND_DIMS", [const([-2])], [T((2, 3, 1, 4))])
    assert out.shape == (2, 3, 1, 4) and np.array_equal(out[:, :, 0], X)
    (out,) = _moved("GATHER", [const([3, 0])], [T((2, 3, 2))], axis=-1)
    assert np.array_equal(out, X[..., [3, 0]])
    (out,) = _moved("GATHER", [const([[2, 0], [1, 1]])], [T((2, 2, 4))], axis=1, batch_dims=1)
    assert np.array_equal(out, np.stack([X[0, [2, 0]], X[1, [1, 1]]]))


REFUSED = [
    ("STRIDED_SLICE", [T(X.shape), const([0, 0, 0]), const([1, 1, 1]), const([1, 0, 1])], [T((1, 1, 1))], {}),
    ("STRIDED_SLICE", [T(X.shape), const([0, 0, 0]), const([1, 1, 1]), const([1, 1, 1])], [T((1, 1, 1))],
     {"ellipsis_mask": 1}),
    ("STRIDED_SLICE", [T(X.shape), const([0, 0]), const([1, 1]), const([1, 1])], [T((1, 1, 4))], {}),
    ("SPLIT", [const([2]), T(X.shape)], [T((2, 3, 1))] * 3, {"num_splits": 3}),
    ("SPLIT_V", [T(X.shape), const([1, 1]), const([7])], [T((2, 1, 4))] * 2, {}),
    ("GATHER", [T(X.shape), const([3])], [T((2, 1, 4))], {"axis": 1}),
    ("GATHER", [T(X.shape), const([0])], [T((2, 1, 4))], {"axis": 5}),
    ("TRANSPOSE", [T(X.shape), const([0, 0, 1])], [T(X.shape)], {}),
    ("SQUEEZE", [T(X.shape)], [T((3, 4))], {"squeeze_dims": [0]}),
    ("EXPAND_DIMS", [T(X.shape), const([4])], [T((2, 3, 4, 1))], {}),
    ("PACK", [T((3, 4)), T((4, 3), data=np.zeros((4, 3)))], [T((2, 3, 4))], {"values_count": 2}),
    ("PACK", [T((3, 4)), T((3, 4), scale=0.5, data=np.zeros((3, 4)))], [T((2, 3, 4))], {"values_count": 2}),
    ("UNPACK", [T(X.shape)], [T((3, 4))] * 3, {"num": 3, "axis": 0}),
    ("SLICE", [T(X.shape), const([0, 2, 0]), const([1, 2, 4])], [T((1, 2, 4))], {}),
    ("RESIZE_BILINEAR", [T((1, 2, 2, 1)), const([3, 3])], [T((1, 3, 3, 1))],
     {"align_corners": True, "half_pixel_centers": True}),
    ("RESIZE_NEAREST_NEIGHBOR", [T((1, 2, 2, 1)), const([3, 3, 3])], [T((1, 3, 3, 1))], {}),
    ("BATCH_MATMUL", [T((1, 2, 3)), T((1, 2, 3), data=np.zeros((1, 2, 3)))], [T((1, 2, 2))], {}),
    ("TANH", [T((4,))], [T((4,), scale=0.01)], {}),
    ("HARD_SWISH", [T((4,), scale=1.0)], [T((4,), scale=1e-4)], {}),
    ("TRANSPOSE_CONV", [const([1, 4, 4, 2]), T((1, 2, 2, 1), data=np.ones(4)), T((1, 2, 2, 1))],
     [T((1, 4, 4, 2))], {"padding": "VALID", "stride_h": 2, "stride_w": 2}),
    ("PRELU", [T((3, 2)), T((3,), data=[1, 2, 3])], [T((3, 2))], {}),
    ("SUB", [T((3,)), T((2,), data=[1, 2])], [T((3,))], {}),
]


@pytest.mark.parametrize("kind,inputs,outputs,options", REFUSED,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)])
def test_invalid_options_and_shapes_are_model_errors(kind, inputs, outputs, options):
    from edge_service.numpy_interpreter import NumpyInterpreter
    with pytest.raises(ModelError, match=kind):
        NumpyInterpreter(op_graph(kind, inputs, outputs, **options))


def test_gather_refuses_an_index_computed_out_of_range():
    from edge_service.numpy_interpreter import NumpyInterpreter
    graph = op_graph("GATHER", [T((4,)), T((2,), None, dtype="int32")], [T((2,))])
    graph.inputs = [1]
    graph.tensors[0].data = np.arange(4, dtype=np.int8)
    with pytest.raises(ModelError, match="GATHER"):
        NumpyInterpreter(graph).run(np.array([1, 9], np.int32))
