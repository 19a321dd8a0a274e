"""Hand-built graphs for the op options no Keras layer reaches (masks, corners, broadcasts, batches)."""

from __future__ import annotations

import numpy as np

from tests.edge_service.graph_builder import GraphBuilder

SHAPE = (1, 6, 8, 4)


def _start(scale: float = 0.05, zero_point: int = -3):
    g = GraphBuilder()
    return g, g.tensor("image", SHAPE, scale=scale, zero_point=zero_point)


def elementwise() -> bytes:
    """SUB (broadcast, RELU), MAXIMUM/MINIMUM (broadcast), PRELU (per-channel and broadcast alpha)."""
    g, x = _start()
    rng = np.random.default_rng(1)
    row = g.tensor("row", (1, 1, 8, 1), scale=0.03, zero_point=5, data=rng.integers(-128, 128, (1, 1, 8, 1)))
    sub = g.tensor("sub_relu", SHAPE, scale=0.06, zero_point=-60)
    g.op("SUB", [x, row], [sub], "SubOptions", version=2, fusedActivationFunction=1)
    sub2 = g.tensor("sub_swapped", SHAPE, scale=0.09, zero_point=4)
    g.op("SUB", [row, x], [sub2], "SubOptions", version=2)
    mx = g.tensor("maximum", SHAPE, scale=0.05, zero_point=-3)
    g.op("MAXIMUM", [x, row], [mx], version=2)
    mn = g.tensor("minimum", SHAPE, scale=0.05, zero_point=-3)
    g.op("MINIMUM", [sub2, x], [mn], version=2)
    alpha = g.tensor("alpha_channels", (1, 1, 4), scale=0.01, zero_point=-20, data=[[[-128, 0, 50, 127]]])
    p1 = g.tensor("prelu_channels", SHAPE, scale=0.04, zero_point=10)
    g.op("PRELU", [x, alpha], [p1])
    alpha_full = g.tensor("alpha_full", SHAPE[1:], scale=0.02, zero_point=3,
                          data=rng.integers(-128, 128, SHAPE[1:]))
    p2 = g.tensor("prelu_full", SHAPE, scale=0.03, zero_point=-1)
    g.op("PRELU", [mn, alpha_full], [p2])
    return g.build([x], [sub, sub2, mx, mn, p1, p2])


def activations() -> bytes:
    """LEAKY_RELU (alpha 0.1, 1.5, negative), HARD_SWISH (two output scales), TANH."""
    g, x = _start(0.08, 7)
    outs = []
    for i, (alpha, scale, zp) in enumerate(((0.1, 0.05, -90), (1.5, 0.1, 5), (-0.3, 0.04, -20))):
        t = g.tensor(f"leaky_{i}", SHAPE, scale=scale, zero_point=zp)
        g.op("LEAKY_RELU", [x], [t], "LeakyReluOptions", version=2, alpha=alpha)
        outs.append(t)
    for i, (scale, zp) in enumerate(((0.04, -100), (0.2, -10))):
        t = g.tensor(f"hard_swish_{i}", SHAPE, scale=scale, zero_point=zp)
        g.op("HARD_SWISH", [outs[1]], [t])
        outs.append(t)
    t = g.tensor("tanh", SHAPE, scale=1 / 128, zero_point=0)
    g.op("TANH", [x], [t], version=2)
    return g.build([x], outs + [t])


def resizes() -> bytes:
    """Both resizes in every mode, up and down, odd sizes."""
    g, x = _start()
    outs = []
    modes = ((False, False), (True, False), (False, True))
    for kind, options in (("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions"),
                          ("RESIZE_BILINEAR", "ResizeBilinearOptions")):
        for align, half in modes:
            for size in ((11, 13), (4, 3), (1, 1)):
                name = f"{kind.lower()}_{'align' if align else 'half' if half else 'plain'}_{size[0]}x{size[1]}"
                t = g.tensor(name, (1, *size, 4), scale=0.05, zero_point=-3)
                g.op(kind, [x, g.constant(name + "/size", size)], [t], options, version=3,
                     alignCorners=align, halfPixelCenters=half)
                outs.append(t)
    return g.build([x], outs)


def slicing() -> bytes:
    """STRIDED_SLICE masks and negative strides, SLICE, TRANSPOSE, GATHER, SQUEEZE, EXPAND_DIMS."""
    g, x = _start()
    outs = []

    def strided(name, begin, end, strides, shape, **masks):
        t = g.tensor(name, shape, scale=0.05, zero_point=-3)
        g.op("STRIDED_SLICE", [x, g.constant(name + "/b", begin), g.constant(name + "/e", end),
                               g.constant(name + "/s", strides)], [t], "StridedSliceOptions", version=4, **masks)
        outs.append(t)
        return t

    strided("ss_masks", [0, 1, 0, 1], [0, -1, 0, 3], [1, 2, 1, 1], (1, 2, 8, 2), beginMask=0b0101, endMask=0b0101)
    strided("ss_reverse", [0, -1, 7, 0], [1, -7, 0, 4], [1, -1, -3, 2], (1, 6, 3, 2))
    strided("ss_shrink", [0, 2, 0, 1], [1, 3, 8, 2], [1, 1, 1, 1], (1, 8), shrinkAxisMask=0b1010)
    strided("ss_clamped", [0, -100, 3, 0], [1, 100, 100, 4], [1, 4, 2, 3], (1, 2, 3, 2))
    t = g.tensor("slice", (1, 3, 5, 2), scale=0.05, zero_point=-3)
    g.op("SLICE", [x, g.constant("slice/b", [0, 2, 3, 1]), g.constant("slice/s", [-1, 3, -1, 2])], [t], version=4)
    outs.append(t)
    t = g.tensor("transpose", (4, 1, 8, 6), scale=0.05, zero_point=-3)
    g.op("TRANSPOSE", [x, g.constant("perm", [3, 0, 2, 1])], [t], version=4)
    outs.append(t)
    for name, axis, batch_dims, indices, shape in (
            ("gather_channels", 3, 0, [[3, 0], [1, 1]], (1, 6, 8, 2, 2)),
            ("gather_rows", -3, 0, [5, 0, 2], (1, 3, 8, 4)),
            ("gather_batch", 2, 1, [[7, 0, 3]], (1, 6, 3, 4))):
        t = g.tensor(name, shape, scale=0.05, zero_point=-3)
        g.op("GATHER", [x, g.constant(name + "/i", indices)], [t], "GatherOptions", version=2,
             axis=axis, batchDims=batch_dims)
        outs.append(t)
    row = outs[2]
    t = g.tensor("expand_dims", (1, 8, 1), scale=0.05, zero_point=-3)
    g.op("EXPAND_DIMS", [row, g.constant("expand/axis", [-1])], [t])
    squeezed = g.tensor("squeeze", (8,), scale=0.05, zero_point=-3)
    g.op("SQUEEZE", [t], [squeezed], "SqueezeOptions", squeezeDims=[0, 2])
    all_ones = g.tensor("squeeze_all", (8,), scale=0.05, zero_point=-3)
    g.op("SQUEEZE", [t], [all_ones], "SqueezeOptions")
    return g.build([x], outs + [t, squeezed, all_ones])


def splitting() -> bytes:
    """SPLIT (negative axis), SPLIT_V (a -1 size), PACK and UNPACK on several axes."""
    g, x = _start()
    q = dict(scale=0.05, zero_point=-3)
    halves = [g.tensor(f"split_{i}", (1, 6, 4, 4), **q) for i in range(2)]
    g.op("SPLIT", [g.constant("split/axis", [-2]), x], halves, "SplitOptions", version=3, numSplits=2)
    parts = [g.tensor(f"split_v_{i}", (1, 6, 8, n), **q) for i, n in enumerate((1, 2, 1))]
    g.op("SPLIT_V", [x, g.constant("split_v/sizes", [1, -1, 1]), g.constant("split_v/axis", [3])], parts,
         "SplitVOptions", version=2, numSplits=3)
    packed = g.tensor("pack_axis1", (1, 2, 6, 4, 4), **q)
    g.op("PACK", halves, [packed], "PackOptions", version=2, valuesCount=2, axis=1)
    packed_last = g.tensor("pack_last", (1, 6, 8, 1, 2), **q)
    g.op("PACK", [parts[0], parts[2]], [packed_last], "PackOptions", version=2, valuesCount=2, axis=-1)
    rows = [g.tensor(f"unpack_{i}", (1, 4, 4), **q) for i in range(6)]
    g.op("UNPACK", [halves[1]], rows, "UnpackOptions", version=2, num=6, axis=1)
    channels = [g.tensor(f"unpack_last_{i}", (1, 6, 8), **q) for i in range(2)]
    g.op("UNPACK", [parts[1]], channels, "UnpackOptions", version=2, num=2, axis=-1)
    return g.build([x], halves + parts + [packed, packed_last] + rows + channels)


def matmuls() -> bytes:
    """BATCH_MATMUL with adj_x / adj_y, broadcast batches and a constant right-hand side."""
    g, x = _start()
    rng = np.random.default_rng(2)
    flat = g.tensor("rows", (1, 6, 32), scale=0.05, zero_point=-3)
    g.op("RESHAPE", [x, g.constant("rows/shape", [1, 6, 32])], [flat])
    outs = []
    for name, lhs, rhs, adj_x, adj_y, shape in (("gram", flat, flat, False, True, (1, 6, 6)),
                                                ("gram_t", flat, flat, True, False, (1, 32, 32))):
        t = g.tensor(name, shape, scale=0.5, zero_point=-10)
        g.op("BATCH_MATMUL", [lhs, rhs], [t], "BatchMatMulOptions", version=1, adjX=adj_x, adjY=adj_y)
        outs.append(t)
    weights = g.tensor("weights", (2, 32, 5), scale=0.02, zero_point=0, data=rng.integers(-127, 128, (2, 32, 5)))
    t = g.tensor("broadcast_const", (2, 6, 5), scale=0.3, zero_point=2)
    g.op("BATCH_MATMUL", [flat, weights], [t], "BatchMatMulOptions", version=1)
    outs.append(t)
    return g.build([x], [flat] + outs)


def transpose_convs() -> bytes:
    """TRANSPOSE_CONV: SAME stride 2 with bias and RELU, VALID stride (1, 2) without bias, per tensor."""
    g, x = _start()
    rng = np.random.default_rng(3)
    outs = []
    for name, padding, stride, kernel, oc, out_hw, per_channel, bias, act in (
            ("tconv_same_s2", 0, (2, 2), (3, 3), 5, (12, 16), True, True, 1),
            ("tconv_valid_s12", 1, (1, 2), (2, 3), 3, (7, 17), True, False, 0),
            ("tconv_per_tensor", 0, (3, 3), (2, 2), 2, (18, 24), False, True, 3)):
        scales = rng.uniform(0.002, 0.02, oc) if per_channel else 0.01
        w = g.tensor(name + "/w", (oc, *kernel, 4), scale=scales, zero_point=np.zeros(np.size(scales), int),
                     data=rng.integers(-127, 128, (oc, *kernel, 4)))
        inputs = [g.constant(name + "/shape", [1, *out_hw, oc]), w, x]
        if bias:
            inputs.append(g.tensor(name + "/b", (oc,), "int32", scale=0.05 * np.atleast_1d(scales),
                                   zero_point=np.zeros(np.size(scales), int), data=rng.integers(-3000, 3000, oc)))
        t = g.tensor(name, (1, *out_hw, oc), scale=0.1, zero_point=-5)
        g.op("TRANSPOSE_CONV", inputs, [t], "TransposeConvOptions", version=4, padding=padding,
             strideH=stride[0], strideW=stride[1], fusedActivationFunction=act)
        outs.append(t)
    return g.build([x], outs)


def dynamic_flatten() -> bytes:
    """What a Keras Flatten saved with batch None computes: SHAPE, STRIDED_SLICE (shrink) and PACK
    on int32 make [batch, -1], which RESHAPE takes as its (non-constant) new shape."""
    g, x = _start()
    shape = g.tensor("flatten/Shape", (4,), "int32")
    g.op("SHAPE", [x], [shape], "ShapeOptions", outType=_INT32)
    batch = g.tensor("flatten/strided_slice", (), "int32")
    g.op("STRIDED_SLICE", [shape, g.constant("flatten/begin", [0]), g.constant("flatten/end", [1]),
                           g.constant("flatten/strides", [1])], [batch], "StridedSliceOptions", shrinkAxisMask=1)
    size = g.tensor("flatten/Reshape/shape", (2,), "int32")
    g.op("PACK", [batch, g.constant("flatten/rest", -1)], [size], "PackOptions", valuesCount=2, axis=0)
    flat = g.tensor("flatten", (1, 192), scale=0.05, zero_point=-3)
    g.op("RESHAPE", [x, size], [flat])
    return g.build([x], [shape, batch, size, flat])


_INT32 = 2  # TensorType.INT32

GRAPHS = {"graph_elementwise": elementwise, "graph_activations": activations, "graph_resizes": resizes,
          "graph_slicing": slicing, "graph_splitting": splitting, "graph_matmuls": matmuls,
          "graph_transpose_convs": transpose_convs, "graph_dynamic_flatten": dynamic_flatten}
