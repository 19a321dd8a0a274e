"""DEPTHWISE_CONV_2D with a depth multiplier, int8 per-channel.

Fast paths, timed against each other at load: each tap one float32 multiply-add over the
whole frame, on rows made contiguous (stride 1 reads shifted slices of the padded input;
stride s first splits it into s x s phase planes), per-channel weights tiled along the row;
or, quicker for small frames, one float32 einsum over the strided windows. Then
`FloatRequant`. The raw int8 input is exact in float32 here: |partial sums| <= 128 * sum |w|
< 2^24, checked at load.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.conv_2d import per_channel_multipliers
from edge_service.kernels.fixedpoint import activation_range, requantize
from edge_service.kernels.float_requant import for_weights, tile_width
from edge_service.kernels.registry import register
from edge_service.kernels.variants import fastest, random_int8
from edge_service.kernels.windows import WindowedKernel


@register("DEPTHWISE_CONV_2D")
class DepthwiseConv2D(WindowedKernel):
    max_version = 7

    def prepare(self) -> None:
        x, w, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, w, out)
        self.require(len(x.shape) == 4 and len(w.shape) == 4 and w.shape[0] == 1,
                     "input must be 4-D and filter (1, KH, KW, C*M)")
        _, kh, kw, oc = w.shape
        ic = x.shape[3]
        o = self.op.options
        multiplier = o.get("depth_multiplier", 1) or oc // max(ic, 1)
        self.require(ic * multiplier == oc, f"{ic} channels x multiplier {multiplier} != {oc} outputs")
        self.prepare_windows(x, oc, kh, kw, (o.get("stride_h", 1), o.get("stride_w", 1)),
                             (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)), o.get("padding"), oc)
        self.input_offset = -x.zero_point
        self.depth_multiplier = multiplier
        self.source_channel = np.arange(oc) // multiplier   # output channel -> input channel
        self.weights = self.constant(1)[0].astype(np.int32)            # (KH, KW, OC)
        self.bias_values = self.bias(2, oc)
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)
        self.fast = for_weights(self.weights.reshape(kh * kw, oc), x.zero_point, self.bias_values,
                                self.multiplier, self.shift, out.zero_point, self.lo, self.hi)
        if self.fast is not None:
            self.prepare_taps(x.zero_point)

    def prepare_taps(self, zero_point: int) -> None:
        """Where each tap reads, as (plane, row offset, column offset), with its tiled weights."""
        n, oh, ow, oc = self.output.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        self.input_shape = (*self.input_shape[:3], oc)  # after repeating channels for the multiplier
        self.padded = self.padded_input(zero_point)
        s = self.padded.buffer.strides
        self.windows6 = np.lib.stride_tricks.as_strided(
            self.padded.buffer, shape=(n, oh, ow, self.kh, self.kw, oc),
            strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]), writeable=False)
        self.single = self.weights.astype(np.float32)
        self.tile = tile_width(n * oh * ow, oc)
        variants = {"einsum": self.run_einsum}
        if (dh, dw) == (1, 1) or (sh, sw) == (1, 1):
            self.phases = (sh, sw) if (dh, dw) == (1, 1) else (1, 1)
            ph_, pw_ = self.phases
            hp, wp = self.padded.buffer.shape[1:3]
            self.planes = [[np.zeros((n, -(-(hp - a) // ph_), -(-(wp - b) // pw_), oc), np.float32)
                            for b in range(pw_)] for a in range(ph_)]
            self.taps = []
            for i in range(self.kh):
                for j in range(self.kw):
                    r, c = i * dh, j * dw
                    tiled = np.tile(self.single[i, j], ow)
                    self.taps.append((r % ph_, c % pw_, r // ph_, (c // pw_) * oc, tiled))
            variants["taps"] = self.run_taps
        sample = random_int8((*self.input_shape[:3], oc // self.depth_multiplier))
        self.variant = fastest(variants, sample)
        self.fast_run = variants.get(self.variant)
        if self.variant is None:
            self.fast = None

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.fast is None:
            return self.run_integer(x)
        if self.depth_multiplier > 1:
            x = np.repeat(x, self.depth_multiplier, axis=3)
        np.copyto(self.padded.interior, x, casting="unsafe")
        acc = self.fast_run()  # (N, OH, OW*C) or (N, OH, OW, C): C is innermost either way
        return self.fast.apply(acc.reshape(-1, self.output.shape[3]), self.tile).reshape(self.output.shape)

    def run_einsum(self, x: np.ndarray | None = None) -> np.ndarray:
        if x is not None:
            return self._sample(x, self.run_einsum)
        return np.einsum("nhwijc,ijc->nhwc", self.windows6, self.single)

    def run_taps(self, x: np.ndarray | None = None) -> np.ndarray:
        if x is not None:
            return self._sample(x, self.run_taps)
        n, oh, ow, oc = self.output.shape
        ph_, pw_ = self.phases
        if (ph_, pw_) == (1, 1):
            self.planes[0][0] = self.padded.buffer
        else:
            for a in range(ph_):
                for b in range(pw_):
                    np.copyto(self.planes[a][b], self.padded.buffer[:, a::ph_, b::pw_, :])
        flat = [[p.reshape(n, p.shape[1], -1) for p in row] for row in self.planes]
        width = ow * oc
        acc = np.empty((n, oh, width), np.float32)
        term = np.empty_like(acc)
        for k, (a, b, r, c, tiled) in enumerate(self.taps):
            view = flat[a][b][:, r:r + oh, c:c + width]
            if k == 0:
                np.multiply(view, tiled, out=acc)
            else:
                np.multiply(view, tiled, out=term)
                acc += term
        return acc

    def _sample(self, x: np.ndarray, variant) -> np.ndarray:
        """A whole frame through one variant, for choosing among them at load."""
        if self.depth_multiplier > 1:
            x = np.repeat(x, self.depth_multiplier, axis=3)
        np.copyto(self.padded.interior, x, casting="unsafe")
        acc = variant()
        return self.fast.apply(acc.reshape(-1, self.output.shape[3]), self.tile)

    def run_integer(self, x: np.ndarray) -> np.ndarray:
        shifted = x.astype(np.int32) + self.input_offset
        if len(self.source_channel) != shifted.shape[3]:
            shifted = shifted[..., self.source_channel]
        cols = self.windows(shifted, 0)
        # int32 is exact: |acc| <= KH*KW*255*128 for any kernel TFLite accepts.
        acc = np.einsum("nhwijc,ijc->nhwc", cols, self.weights, dtype=np.int64) + self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point, self.lo, self.hi)
