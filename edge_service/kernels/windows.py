"""Padding and sliding windows shared by convolution and pooling kernels."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel
from edge_service.tflite_graph import Tensor


def output_size_and_padding(size: int, kernel: int, stride: int, dilation: int,
                            padding: str) -> tuple[int, int]:
    """(output size, padding before) as TFLite computes them for SAME and VALID."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        out = (size + stride - 1) // stride
    else:
        out = (size - effective + stride) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return max(out, 0), total // 2


def padded_elements(shape: tuple[int, ...], kh: int, kw: int, stride: tuple[int, int],
                    dilation: tuple[int, int], pad: tuple[int, int], out_hw: tuple[int, int]) -> int:
    """How many values the padded copy of the input made by `windows` holds."""
    n, h, w, c = shape
    need_h = (out_hw[0] - 1) * stride[0] + (kh - 1) * dilation[0] + 1
    need_w = (out_hw[1] - 1) * stride[1] + (kw - 1) * dilation[1] + 1
    return n * max(need_h, pad[0] + h) * max(need_w, pad[1] + w) * c


def windows(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int], dilation: tuple[int, int],
            pad: tuple[int, int], out_hw: tuple[int, int], fill) -> np.ndarray:
    """(N, OH, OW, KH, KW, C) views of x (N, H, W, C), padded with `fill`."""
    n, h, w, c = x.shape
    (sh, sw), (dh, dw), (ph, pw), (oh, ow) = stride, dilation, pad, out_hw
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    padded = np.full((n, max(need_h, ph + h), max(need_w, pw + w), c), fill, dtype=x.dtype)
    padded[:, ph:ph + h, pw:pw + w, :] = x
    s = padded.strides
    return np.lib.stride_tricks.as_strided(
        padded, shape=(n, oh, ow, kh, kw, c),
        strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]), writeable=False)


class PaddedInput:
    """A padded copy of the input kept between frames: the border is filled once, at load."""

    def __init__(self, shape: tuple[int, ...], kh: int, kw: int, stride: tuple[int, int],
                 dilation: tuple[int, int], pad: tuple[int, int], out_hw: tuple[int, int], fill,
                 dtype=np.float32) -> None:
        n, h, w, c = shape
        (sh, sw), (dh, dw), (ph, pw), (oh, ow) = stride, dilation, pad, out_hw
        need_h = max((oh - 1) * sh + (kh - 1) * dh + 1, ph + h)
        need_w = max((ow - 1) * sw + (kw - 1) * dw + 1, pw + w)
        self.buffer = np.full((n, need_h, need_w, c), fill, dtype)
        self.interior = self.buffer[:, ph:ph + h, pw:pw + w, :]
        s = self.buffer.strides
        self.width_taps = (kw, dw)
        if dw == 1:  # a window's row is kw*c contiguous values: copy them as one run
            shape, strides = (n, oh, ow, kh, kw * c), (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[3])
        else:
            shape, strides = (n, oh, ow, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3])
        self.view = np.lib.stride_tricks.as_strided(self.buffer, shape=shape, strides=strides, writeable=False)

    def tap_major(self) -> tuple[np.ndarray, np.ndarray]:
        """(columns (KH*KW*C, N*OH*OW), a (KH, KW, C, N, OH, OW) view of the buffer to copy into them).

        Transposed im2col: with few channels a window's row is a short run, and copying runs
        of OW values per tap is much quicker; BLAS reads the columns transposed at no cost.
        """
        n, oh, ow, kh = self.view.shape[:4]
        kw, dw, c = *self.width_taps, self.buffer.shape[3]
        s, v = self.buffer.strides, self.view.strides
        taps = np.lib.stride_tricks.as_strided(
            self.buffer, shape=(kh, kw, c, n, oh, ow),
            strides=(v[3], dw * s[2], s[3], s[0], v[1], v[2]), writeable=False)
        columns = np.empty((kh * kw * c, n * oh * ow), self.buffer.dtype)
        return columns, taps

    def windows(self, x: np.ndarray) -> np.ndarray:
        """(N, OH, OW, KH, KW*C) (or KH, KW, C) views of this frame's x, in the buffer's type."""
        np.copyto(self.interior, x, casting="unsafe")
        return self.view


class WindowedKernel(Kernel):
    """Ops that slide a KH x KW window (convolutions, pooling): one place for their geometry."""

    def prepare_windows(self, x: Tensor, out_channels: int, kh: int, kw: int, stride: tuple[int, int],
                        dilation: tuple[int, int], padding: str, scratch_channels: int) -> None:
        """Checks the output shape and the per-frame scratch; sets kh, kw, stride, dilation, pad, out_hw.

        `scratch_channels` is how many channels each window copies (input channels for a
        convolution, output channels for a depthwise one).
        """
        self.require(len(x.shape) == 4, "input must be 4-D")
        self.require(min(kh, kw, *stride, *dilation) >= 1, "filter, stride and dilation must be >= 1")
        oh, pad_h = output_size_and_padding(x.shape[1], kh, stride[0], dilation[0], padding)
        ow, pad_w = output_size_and_padding(x.shape[2], kw, stride[1], dilation[1], padding)
        expected = (x.shape[0], oh, ow, out_channels)
        self.require(tuple(self.output.shape) == expected,
                     f"output shape {list(self.output.shape)} does not match {list(expected)}")
        self.kh, self.kw, self.stride, self.dilation = kh, kw, stride, dilation
        self.input_shape = tuple(x.shape)
        self.out_hw, self.pad = (oh, ow), (pad_h, pad_w)
        self.check_workspace(x.shape[0] * oh * ow * kh * kw * scratch_channels)
        self.check_workspace(padded_elements((*x.shape[:3], scratch_channels), kh, kw, stride, dilation,
                                             self.pad, self.out_hw))

    def padded_input(self, fill, dtype=np.float32) -> PaddedInput:
        return PaddedInput(self.input_shape, self.kh, self.kw, self.stride, self.dilation, self.pad,
                           self.out_hw, fill, dtype)

    def windows(self, x: np.ndarray, fill) -> np.ndarray:
        return windows(x, self.kh, self.kw, self.stride, self.dilation, self.pad, self.out_hw, fill)
