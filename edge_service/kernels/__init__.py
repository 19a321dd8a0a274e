"""Pure-numpy int8 kernels, bit-exact with TFLite Micro: one op per module and a registry.

Each op module defines a `Kernel` subclass and registers it under its TFLite builtin
name with `@register("CONV_2D")`. `prepare` runs once per model and precomputes
everything (weight layouts, multipliers, shifts, zero-point corrections); `run` then
does only the arithmetic of one frame.
"""

from edge_service.kernels.registry import KERNELS, Kernel, register, supported_ops

# Importing the op modules fills the registry.
from edge_service.kernels import (  # noqa: F401,E402  (imported for their @register)
    activations, add, average_pool_2d, batch_matmul, concatenation, conv_2d, depthwise_conv_2d,
    dequantize, expand_dims, fully_connected, gather, hard_swish, leaky_relu, logistic, max_pool_2d,
    maximum, mean, minimum, mul, pack, pad, prelu, quantize, reshape, resize_bilinear,
    resize_nearest_neighbor, shape, slice, softmax, split, split_v, squeeze, strided_slice, sub, tanh,
    transpose, transpose_conv, unpack,
)

__all__ = ["KERNELS", "Kernel", "register", "supported_ops"]
