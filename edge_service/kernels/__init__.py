"""Pure-numpy int8 kernels, bit-exact with TFLite Micro: one op per module and a registry.

Each op module defines a `Kernel` subclass and registers it under its TFLite builtin
name with `@register("CONV_2D")`. `prepare` runs once per model and precomputes
everything (weight layouts, multipliers, shifts, zero-point corrections); `run` then
does only the arithmetic of one frame.
"""

from edge_service.kernels.registry import KERNELS, Kernel, register, supported_ops

# Importing the op modules fills the registry.
from edge_service.kernels import (  # noqa: F401,E402  (imported for their @register)
    activations, add, average_pool_2d, concatenation, conv_2d, depthwise_conv_2d, dequantize,
    fully_connected, logistic, max_pool_2d, mean, mul, pad, quantize, reshape, softmax,
)

__all__ = ["KERNELS", "Kernel", "register", "supported_ops"]
