"""DEPTHWISE_CONV_2D with a depth multiplier, int8 per-channel.

Fast paths, timed against each other at load: one float32 einsum per phase plane over
rows made contiguous (stride 1 reads shifted slices of the padded input; stride s first
splits it into s x s phase planes), per-channel weights tiled along the row so the inner
loop runs over OW*C values; or one float32 einsum over the strided windows. Then
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
        """Strided views for both variants; the phase planes for the row variant."""
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
        variants = {"windows einsum": self.run_windows}
        if (dh, dw) == (1, 1) or (sh, sw) == (1, 1):
            self.prepare_rows()
            variants["rows einsum"] = self.run_rows
        sample = random_int8((*self.input_shape[:3], oc // self.depth_multiplier))
        self.variant = fastest(variants, sample)
        self.fast_run = variants.get(self.variant)
        if self.variant is None:
            self.fast = None

    def prepare_rows(self) -> None:
        """Per phase plane, a (N, OH, taps down, taps across, OW*C) view with contiguous rows.

        Stride s splits the padded input into s x s planes, so that every tap of a plane
        reads OW*C consecutive values; per-channel weights are tiled along that row.
        """
        n, oh, ow, oc = self.output.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        strided = (sh, sw) != (1, 1)   # then dilation is 1 (the caller checked)
        hp, wp = self.padded.buffer.shape[1:3]
        self.plane_sources, self.row_views = [], []
        for a in range(sh):
            for b in range(sw):
                rows, cols = range(a, self.kh, sh), range(b, self.kw, sw)
                if not rows or not cols:
                    continue
                if strided:
                    plane = np.zeros((n, -(-(hp - a) // sh), -(-(wp - b) // sw), oc), np.float32)
                    self.plane_sources.append((plane, (slice(None), slice(a, None, sh), slice(b, None, sw))))
                else:
                    plane = self.padded.buffer
                st = plane.strides
                view = np.lib.stride_tricks.as_strided(
                    plane, shape=(n, oh, len(rows), len(cols), ow * oc),
                    strides=(st[0], st[1], st[1] * dh, st[2] * dw, st[3]), writeable=False)
                weights = np.stack([np.stack([np.tile(self.single[i, j], ow) for j in cols]) for i in rows])
                self.row_views.append((view, weights))

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.fast is None:
            return self.run_integer(x)
        if self.depth_multiplier > 1:
            x = np.repeat(x, self.depth_multiplier, axis=3)
        np.copyto(self.padded.interior, x, casting="unsafe")
        acc = self.fast_run()  # (N, OH, OW*C) or (N, OH, OW, C): C is innermost either way
        return self.fast.apply(acc.reshape(-1, self.output.shape[3]), self.tile).reshape(self.output.shape)

    def run_windows(self, x: np.ndarray | None = None) -> np.ndarray:
        if x is not None:
            return self._sample(x, self.run_windows)
        return np.einsum("nhwijc,ijc->nhwc", self.windows6, self.single)

    def run_rows(self, x: np.ndarray | None = None) -> np.ndarray:
        if x is not None:
            return self._sample(x, self.run_rows)
        for plane, source in self.plane_sources:
            np.copyto(plane, self.padded.buffer[source])
        acc = None
        for view, weights in self.row_views:
            part = np.einsum("nhijx,ijx->nhx", view, weights)
            acc = part if acc is None else np.add(acc, part, out=acc)
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
