"""Upsample, FIR filter and downsample 2-D images (`upfirdn_2d`) and the resampling layers built on it.

`upfirdn_2d` works on `[majorDim, inH, inW, minorDim]` tensors: zero-insertion upsampling, padding
(negative pads crop), a true 2-D convolution with the FIR kernel `k` (i.e. `k` applied flipped) and
keeping every `down`-th pixel. The wrappers (`filter_2d`, `upsample_2d`, `downsample_2d`,
`upsample_conv_2d`, `conv_downsample_2d`) work on `[N, C, H, W]` or `[N, H, W, C]` images.

Two implementations: `impl='ref'` uses plain TensorFlow ops, `impl='cuda'` the `UpFirDn2D` op of
`upfirdn_2d.cu` (gradients of any order through the same op), `impl=None` picks automatically.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from .. import precision

_cuda_file = os.path.splitext(__file__)[0] + ".cu"

# ----------------------------------------------------------------------------------------------------


def upfirdn_2d(x, k, upx=1, upy=1, downx=1, downy=1, padx0=0, padx1=0, pady0=0, pady1=0, impl=None):
    """Upsample, pad, FIR-filter and downsample a batch of 2-D images.

    Args:
        x: `[majorDim, inH, inW, minorDim]` tensor; inH and inW must be static, majorDim and minorDim
            may be unknown.
        k: 2-D FIR kernel `[kernelH, kernelW]`, a NumPy array or nested list (constant).
        upx, upy: integer upsampling factors (zeros inserted after every pixel).
        downx, downy: integer downsampling factors.
        padx0, padx1, pady0, pady1: pixels of zero padding before/after along x/y; negative crops.
        impl: 'ref' (plain TF ops), 'cuda' (custom op) or None (automatic).

    Returns:
        `[majorDim, outH, outW, minorDim]` tensor with
        `outH = (inH * upy + pady0 + pady1 - kernelH) // downy + 1` (same along x).
    """
    x = tf.convert_to_tensor(x)
    k = _check_kernel(k, "upfirdn_2d")
    params = _check_params(x, k, upx, upy, downx, downy, padx0, padx1, pady0, pady1)
    impl = _resolve_impl(impl)
    if impl == "cuda":
        if x.dtype not in (tf.float32, tf.float16):
            raise TypeError("upfirdn_2d: impl='cuda' supports float32 and float16, got %s" % x.dtype.name)
        return _upfirdn_2d_cuda(x, k, **params)
    return _upfirdn_2d_ref(x, k, **params)


def _resolve_impl(impl):
    if impl is None:
        from .. import custom_ops  # Lazy: building the plugin is only needed for the CUDA path.
        impl = custom_ops.choose_impl(_cuda_file)
    if impl not in ("ref", "cuda"):
        raise ValueError("upfirdn_2d: impl must be 'ref', 'cuda' or None, got %r" % (impl,))
    return impl


def _check_kernel(k, func_name):
    if isinstance(k, (tf.Tensor, tf.Variable)):
        raise TypeError("%s: k must be a NumPy array or list (a constant), not a TF tensor" % func_name)
    k = np.asarray(k, dtype=np.float32)
    if k.ndim != 2 or k.size == 0:
        raise ValueError("%s: k must be a non-empty 2-D kernel, got shape %s" % (func_name, k.shape))
    return k


def _static_image_shape(x, func_name):
    """(inH, inW, minorDim) of a `[majorDim, inH, inW, minorDim]` tensor: static inH and inW, and minorDim
    as a Python int when static, else as an int32 scalar tensor."""
    if x.shape.rank != 4:
        raise ValueError("%s: x must be a 4-D tensor, got shape %s" % (func_name, x.shape))
    dims = x.shape.as_list()
    if dims[1] is None or dims[2] is None:
        raise ValueError("%s: x must have static inH and inW, got shape %s" % (func_name, x.shape))
    return dims[1], dims[2], _size(x, 3)


def _size(x, axis):
    """Size of `x` along `axis`: a Python int when known statically, else an int32 scalar tensor."""
    size = x.shape.as_list()[axis]
    return size if size is not None else tf.shape(x)[axis]


def _check_params(x, k, upx, upy, downx, downy, padx0, padx1, pady0, pady1):
    in_h, in_w, _minor = _static_image_shape(x, "upfirdn_2d")
    params = dict(upx=upx, upy=upy, downx=downx, downy=downy, padx0=padx0, padx1=padx1, pady0=pady0, pady1=pady1)
    for name, value in params.items():
        if not isinstance(value, (int, np.integer)):
            raise TypeError("upfirdn_2d: %s must be an int, got %r" % (name, value))
        params[name] = int(value)
    for name in ("upx", "upy", "downx", "downy"):
        if params[name] < 1:
            raise ValueError("upfirdn_2d: %s must be >= 1, got %d" % (name, params[name]))
    out_h, out_w = _output_size(in_h, in_w, k.shape, **params)
    if out_h < 1 or out_w < 1:
        raise ValueError("upfirdn_2d: output would be empty (%d x %d) for input %d x %d" % (out_h, out_w, in_h, in_w))
    return params


def _output_size(in_h, in_w, kernel_shape, upx, upy, downx, downy, padx0, padx1, pady0, pady1):
    out_h = (in_h * upy + pady0 + pady1 - kernel_shape[0]) // downy + 1
    out_w = (in_w * upx + padx0 + padx1 - kernel_shape[1]) // downx + 1
    return out_h, out_w


# ----------------------------------------------------------------------------------------------------
# Reference implementation: plain TF ops, all NHWC so that it runs on any CPU build.


def _upfirdn_2d_ref(x, k, upx, upy, downx, downy, padx0, padx1, pady0, pady1):
    in_h, in_w, minor = _static_image_shape(x, "upfirdn_2d")
    kernel_h, kernel_w = k.shape

    # Upsample: put each pixel in the top-left corner of an up x up block of zeros.
    if upx > 1 or upy > 1:
        x = tf.reshape(x, [-1, in_h, 1, in_w, 1, minor])
        x = tf.pad(x, [[0, 0], [0, 0], [0, upy - 1], [0, 0], [0, upx - 1], [0, 0]])
        x = tf.reshape(x, [-1, in_h * upy, in_w * upx, minor])

    # Pad with zeros, then crop where the pads are negative.
    x = tf.pad(x, [[0, 0], [max(pady0, 0), max(pady1, 0)], [max(padx0, 0), max(padx1, 0)], [0, 0]])
    height = in_h * upy + max(pady0, 0) + max(pady1, 0)
    width = in_w * upx + max(padx0, 0) + max(padx1, 0)
    if min(pady0, pady1, padx0, padx1) < 0:
        x = x[:, max(-pady0, 0): height - max(-pady1, 0), max(-padx0, 0): width - max(-padx1, 0), :]
    height = in_h * upy + pady0 + pady1
    width = in_w * upx + padx0 + padx1

    # conv2d correlates, so flipping the kernel makes it a convolution; the stride downsamples.
    out_h = (height - kernel_h) // downy + 1
    out_w = (width - kernel_w) // downx + 1
    x, stride_y, stride_x = _drop_strides_of_single_outputs(x, kernel_h, kernel_w, out_h, out_w, downy, downx)
    strides = [1, stride_y, stride_x, 1]
    flipped = k[::-1, ::-1, np.newaxis, np.newaxis]
    if tf.is_tensor(minor) or stride_y != stride_x:
        # Unknown channel count, or strides that depthwise convolutions do not take (they must be equal):
        # filter every (major, minor) image on its own, one channel per image.
        x = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, x.shape[1], x.shape[2], 1])
        x = tf.nn.conv2d(x, tf.constant(flipped, dtype=x.dtype), strides=strides, padding="VALID", data_format="NHWC")
        x = tf.transpose(tf.reshape(x, [-1, minor, out_h, out_w]), [0, 2, 3, 1])
    else:
        # The same kernel on every channel: a depthwise convolution, with no transposes around it.
        w = tf.constant(np.tile(flipped, [1, 1, minor, 1]), dtype=x.dtype)
        x = tf.nn.depthwise_conv2d(x, w, strides=strides, padding="VALID", data_format="NHWC")
    return tf.reshape(x, [-1, out_h, out_w, minor])


def _drop_strides_of_single_outputs(x, kernel_h, kernel_w, out_h, out_w, stride_y, stride_x):
    """Where the output has a single row (column), crop `x` `[N, H, W, 1]` to the kernel's height (width)
    and use stride 1 there; returns (x, stride_y, stride_x). The result is the same in exact arithmetic.

    Why: TensorFlow 2.x's oneDNN CPU convolution computes wrong values for a single-channel VALID
    convolution with stride 1 along y, a stride above 1 along x and a single output column (seen with
    TF 2.21 on AVX-512 CPUs; correct with TF_ENABLE_ONEDNN_OPTS=0). `benchmarks/onednn_conv_stride_repro.py`
    shows it with plain TensorFlow. A stride along an axis with one output pixel is never needed, so
    removing it sidesteps the bug at no cost and keeps oneDNN for everything else.
    """
    if out_h == 1 and stride_y > 1:
        x, stride_y = x[:, :kernel_h], 1
    if out_w == 1 and stride_x > 1:
        x, stride_x = x[:, :, :kernel_w], 1
    return x, stride_y, stride_x


# ----------------------------------------------------------------------------------------------------
# CUDA implementation: the UpFirDn2D op, differentiable to any order.


def _upfirdn_2d_cuda(x, k, upx, upy, downx, downy, padx0, padx1, pady0, pady1):
    from .. import custom_ops  # Lazy: compiling the plugin is only needed here.
    plugin = custom_ops.get_plugin(_cuda_file)

    in_h, in_w, minor = _static_image_shape(x, "upfirdn_2d")
    kernel_h, kernel_w = k.shape
    out_h, out_w = _output_size(in_h, in_w, k.shape, upx, upy, downx, downy, padx0, padx1, pady0, pady1)

    # The op is linear in x, so dL/dx is the adjoint op applied to dL/dy: upfirdn with the kernel
    # flipped and up/down swapped. Its pads follow from matching output pixel o of the forward pass
    # to input pixel i through kernel tap t = i * up - o * down + pad0: the adjoint needs
    # pad0' = kernel - 1 - pad0, and pad1' is whatever makes its output exactly inH x inW.
    grad_params = dict(
        upx=downx, upy=downy, downx=upx, downy=upy,
        padx0=kernel_w - 1 - padx0,
        padx1=in_w * upx - out_w * downx + padx0 - upx + 1,
        pady0=kernel_h - 1 - pady0,
        pady1=in_h * upy - out_h * downy + pady0 - upy + 1,
    )
    flipped_k = k[::-1, ::-1]

    @tf.custom_gradient
    def func(x):
        y = plugin.up_fir_dn2d(x=x, k=tf.constant(k, dtype=x.dtype), upx=upx, upy=upy, downx=downx, downy=downy,
                               padx0=padx0, padx1=padx1, pady0=pady0, pady1=pady1)
        y.set_shape([x.shape[0], out_h, out_w, x.shape[3]])

        def grad(dy):
            # The adjoint is again an upfirdn_2d, with its own custom gradient: any order works.
            dx = _upfirdn_2d_cuda(dy, flipped_k, **grad_params)
            dx.set_shape(x.shape)
            return dx

        return y, grad

    return func(x)


# ----------------------------------------------------------------------------------------------------
# Resampling layers on [N, C, H, W] / [N, H, W, C] images.


def _setup_kernel(k):
    """FIR kernel as a 2-D float32 array normalised to sum 1; a 1-D `k` becomes the outer product."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.size == 0:
        raise ValueError("upfirdn_2d: resampling kernel must be 1-D or square 2-D, got shape %s" % (k.shape,))
    total = np.sum(k)
    if total == 0:
        raise ValueError("upfirdn_2d: resampling kernel must not sum to zero")
    return k / total


def _check_data_format(data_format, func_name):
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError("%s: data_format must be 'NCHW' or 'NHWC', got %r" % (func_name, data_format))


def _check_factor(factor, func_name):
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError("%s: factor must be an int >= 1, got %r" % (func_name, factor))


def _simple_upfirdn_2d(x, k, up=1, down=1, pad0=0, pad1=0, data_format="NCHW", impl=None):
    """upfirdn_2d with the same parameters along x and y on an `[N, C, H, W]` or `[N, H, W, C]` image.

    H and W must be static; N and C may be unknown."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4:
        raise ValueError("upfirdn_2d: x must be a 4-D image tensor, got shape %s" % (x.shape,))
    if data_format == "NCHW":
        height, width = x.shape.as_list()[2:]
        if height is None or width is None:
            raise ValueError("upfirdn_2d: x must have static H and W, got shape %s" % (x.shape,))
        # Every channel of every image becomes one single-channel image: C need not be static.
        y = tf.reshape(x, [-1, height, width, 1])
        y = upfirdn_2d(y, k, upx=up, upy=up, downx=down, downy=down, padx0=pad0, padx1=pad1, pady0=pad0, pady1=pad1, impl=impl)
        out_h, out_w = y.shape.as_list()[1:3]
        return tf.reshape(y, [_size(x, 0), _size(x, 1), out_h, out_w])
    # NHWC already is [majorDim, inH, inW, minorDim].
    return upfirdn_2d(x, k, upx=up, upy=up, downx=down, downy=down, padx0=pad0, padx1=pad1, pady0=pad0, pady1=pad1, impl=impl)


def _check_padding(padding, func_name):
    if not isinstance(padding, (int, np.integer)):
        raise ValueError("%s: padding must be an int, got %r" % (func_name, padding))


def filter_2d(x, k, gain=1, padding=0, data_format="NCHW", impl=None):
    """Filter a batch of images with FIR kernel `k` (1-D: separable), keeping the size.

    Args:
        x: `[N, C, H, W]` or `[N, H, W, C]` images (see `data_format`).
        k: FIR kernel, 1-D or square 2-D; normalised to sum 1, then scaled by `gain`.
        gain: scaling factor of the output.
        padding: extra output pixels on each side (negative: fewer).
    Returns:
        Images of the shape of `x`, H and W grown by 2 * padding.
    """
    _check_data_format(data_format, "filter_2d")
    _check_padding(padding, "filter_2d")
    k = _setup_kernel(k) * gain
    taps = k.shape[0]
    return _simple_upfirdn_2d(x, k, pad0=taps // 2 + padding, pad1=(taps - 1) // 2 + padding,
                              data_format=data_format, impl=impl)


def upsample_2d(x, k=None, factor=2, gain=1, padding=0, data_format="NCHW", impl=None):
    """Upsample a batch of images by `factor` and filter with `k` (default: nearest neighbour).

    Args:
        x: `[N, C, H, W]` or `[N, H, W, C]` images.
        k: FIR kernel, 1-D or square 2-D (default `[1] * factor`), normalised to sum 1.
        factor: integer upsampling factor.
        gain: scaling factor of the output.
        padding: extra output pixels on each side (negative: fewer).
    Returns:
        `[N, C, H * factor + 2 * padding, W * factor + 2 * padding]` (or NHWC) images.
    """
    _check_data_format(data_format, "upsample_2d")
    _check_factor(factor, "upsample_2d")
    _check_padding(padding, "upsample_2d")
    if k is None:
        k = [1] * factor
    # The zeros inserted by upsampling dilute the signal by factor^2, hence the extra gain.
    k = _setup_kernel(k) * (gain * (factor ** 2))
    taps = k.shape[0]
    return _simple_upfirdn_2d(x, k, up=factor, pad0=(taps + factor - 1) // 2 + padding,
                              pad1=(taps - factor) // 2 + padding, data_format=data_format, impl=impl)


def downsample_2d(x, k=None, factor=2, gain=1, padding=0, data_format="NCHW", impl=None):
    """Filter a batch of images with `k` (default: box filter) and downsample by `factor`.

    Args:
        x: `[N, C, H, W]` or `[N, H, W, C]` images.
        k: FIR kernel, 1-D or square 2-D (default `[1] * factor`), normalised to sum 1.
        factor: integer downsampling factor.
        gain: scaling factor of the output.
        padding: extra output pixels on each side (negative: fewer).
    Returns:
        `[N, C, H // factor + 2 * padding, W // factor + 2 * padding]` (or NHWC) images.
    """
    _check_data_format(data_format, "downsample_2d")
    _check_factor(factor, "downsample_2d")
    _check_padding(padding, "downsample_2d")
    if k is None:
        k = [1] * factor
    k = _setup_kernel(k) * gain
    taps, extra = k.shape[0], padding * factor
    return _simple_upfirdn_2d(x, k, down=factor, pad0=(taps - factor + 1) // 2 + extra,
                              pad1=(taps - factor) // 2 + extra, data_format=data_format, impl=impl)


def _conv_weight_shape(x, w, data_format, func_name):
    """(convH, convW, inC, outC) of `w` and the number of channel groups of `x` (channels // inC).

    convH, convW and inC must be static. outC and the group count are Python ints where x's channels
    and w's outC are static, else int32 scalar tensors (StyleGAN2's fused modulated convolution puts
    the minibatch, often unknown at graph-build time, into the groups). Static mismatches raise here,
    dynamic ones when the returned `w` is evaluated.
    """
    w = tf.convert_to_tensor(w)
    if w.shape.rank != 4:
        raise ValueError("%s: w must be a 4-D [kh, kw, inC, outC] tensor, got shape %s" % (func_name, w.shape))
    conv_h, conv_w, in_c, out_c = w.shape.as_list()
    if conv_h is None or conv_w is None or in_c is None:
        raise ValueError("%s: w must have static kh, kw and inC, got shape %s" % (func_name, w.shape))
    if conv_h != conv_w:
        raise ValueError("%s: w must be spatially square, got shape %s" % (func_name, w.shape))
    channel_axis = 1 if data_format == "NCHW" else 3
    channels = x.shape.as_list()[channel_axis]
    if channels is not None and channels % in_c != 0:
        raise ValueError("%s: x has %d channels, not a multiple of w's %d input channels" % (func_name, channels, in_c))
    if channels is not None and out_c is not None and out_c % (channels // in_c) != 0:
        raise ValueError("%s: w's %d output channels do not split into %d groups"
                         % (func_name, out_c, channels // in_c))
    channels = _size(x, channel_axis)
    num_groups = channels // in_c
    out_c = _size(w, 3)
    if tf.is_tensor(channels) or tf.is_tensor(out_c):
        # Without these checks a mismatch surfaces as an obscure error of the (oneDNN) convolution.
        checks = [
            tf.debugging.assert_equal(channels % in_c, 0, message="%s: the channels of x are not a multiple "
                                      "of the %d input channels of w" % (func_name, in_c)),
            tf.debugging.assert_equal(out_c % tf.maximum(num_groups, 1), 0, message="%s: the output channels of w "
                                      "do not split into (channels of x) // %d groups" % (func_name, in_c)),
        ]
        with tf.control_dependencies(checks):
            w = tf.identity(w)
    return w, (conv_h, conv_w, in_c, out_c), num_groups


def upsample_conv_2d(x, w, k=None, factor=2, gain=1, padding=0, data_format="NCHW", impl=None):
    """Upsampling transposed convolution followed by FIR filtering (one layer of the StyleGAN2 generator).

    Args:
        x: `[N, C, H, W]` or `[N, H, W, C]` images; C may be `groups * inC` (grouped convolution, the
            group `g` of outputs then uses inputs `g * inC ... (g + 1) * inC - 1`). H, W static; N and C
            may be unknown (groups = C // inC is then computed at run time).
        w: `[convH, convW, inC, outC]` convolution weights (square; outC may be unknown).
        k: FIR kernel, 1-D or square 2-D (default `[1] * factor`), normalised to sum 1.
        factor: integer upsampling factor.
        gain: scaling factor of the output.
        padding: extra output pixels on each side (negative: fewer).
    Returns:
        `[N, outC, H * factor, W * factor]` (or NHWC) images for factor 2 (for other factors the
        official padding gives `H * factor + 2 - factor`), H and W grown by 2 * padding.
    """
    x = tf.convert_to_tensor(x)
    _check_data_format(data_format, "upsample_conv_2d")
    _check_factor(factor, "upsample_conv_2d")
    _check_padding(padding, "upsample_conv_2d")
    if x.shape.rank != 4:
        raise ValueError("upsample_conv_2d: x must be a 4-D image tensor, got shape %s" % (x.shape,))
    w, (conv_h, conv_w, in_c, out_c), num_groups = _conv_weight_shape(x, w, data_format, "upsample_conv_2d")
    if k is None:
        k = [1] * factor
    k = _setup_kernel(k) * (gain * (factor ** 2))
    taps = k.shape[0]

    # conv2d_transpose takes [kh, kw, outputs, inputs] and correlates the other way round, so flip the
    # kernel spatially and swap in/out per group: filter[:, :, o, g * inC + c] = w[::-1, ::-1, c, g * outG + o].
    # With an unknown group count or outC, the reshapes take them from tf.shape.
    static_groups = not tf.is_tensor(num_groups) and not tf.is_tensor(out_c)
    out_per_group = out_c // num_groups if static_groups else -1
    w = tf.reshape(w, [conv_h, conv_w, in_c, num_groups, out_per_group])
    # tf.reverse, not w[::-1, ::-1]: TF's strided slice with negative steps is ~25x slower on CPUs.
    w = tf.transpose(tf.reverse(w, axis=[0, 1]), [0, 1, 4, 3, 2])
    w = tf.reshape(w, [conv_h, conv_w, out_per_group, num_groups * in_c])

    # The convolution runs in NHWC: TF's CPU kernels (without oneDNN) have no NCHW convolutions, and on
    # GPUs Grappler's layout optimizer turns the transposes and the NHWC convolution back into NCHW.
    if data_format == "NCHW":
        x = tf.transpose(x, [0, 2, 3, 1])
    height, width = x.shape.as_list()[1:3]
    if height is None or width is None:
        raise ValueError("upsample_conv_2d: x must have static H and W, got shape %s" % (x.shape,))
    output_shape = tf.stack([_size(x, 0), (height - 1) * factor + conv_h, (width - 1) * factor + conv_w, out_c])
    x = precision.compute(tf.nn.conv2d_transpose, x, w, output_shape=output_shape, strides=[1, factor, factor, 1],
                          padding="VALID", data_format="NHWC")
    if data_format == "NCHW":
        x = tf.transpose(x, [0, 3, 1, 2])
    return _simple_upfirdn_2d(x, k, pad0=(taps + factor - conv_w) // 2 + padding,
                              pad1=(taps - factor - conv_w + 3) // 2 + padding, data_format=data_format, impl=impl)


def conv_downsample_2d(x, w, k=None, factor=2, gain=1, padding=0, data_format="NCHW", impl=None):
    """FIR filtering followed by a strided convolution (one layer of the StyleGAN2 discriminator).

    Args:
        x: `[N, C, H, W]` or `[N, H, W, C]` images; C may be `groups * inC` (grouped convolution). H, W
            static; N and C may be unknown.
        w: `[convH, convW, inC, outC]` convolution weights (square; outC may be unknown).
        k: FIR kernel, 1-D or square 2-D (default `[1] * factor`), normalised to sum 1.
        factor: integer downsampling factor.
        gain: scaling factor of the output.
        padding: extra output pixels on each side (negative: fewer).
    Returns:
        `[N, outC, H // factor + 2 * padding, W // factor + 2 * padding]` (or NHWC) images.
    """
    x = tf.convert_to_tensor(x)
    _check_data_format(data_format, "conv_downsample_2d")
    _check_factor(factor, "conv_downsample_2d")
    _check_padding(padding, "conv_downsample_2d")
    if x.shape.rank != 4:
        raise ValueError("conv_downsample_2d: x must be a 4-D image tensor, got shape %s" % (x.shape,))
    w, (_conv_h, conv_w, _in_c, _out_c), _num_groups = _conv_weight_shape(x, w, data_format, "conv_downsample_2d")
    if k is None:
        k = [1] * factor
    k = _setup_kernel(k) * gain
    taps, extra = k.shape[0], padding * factor
    x = _simple_upfirdn_2d(x, k, pad0=(taps - factor + conv_w) // 2 + extra,
                           pad1=(taps - factor + conv_w - 1) // 2 + extra, data_format=data_format, impl=impl)
    # NHWC convolution for CPU portability, as in upsample_conv_2d.
    if data_format == "NCHW":
        x = tf.transpose(x, [0, 2, 3, 1])
    x = precision.compute(tf.nn.conv2d, x, w, strides=[1, factor, factor, 1], padding="VALID", data_format="NHWC")
    if data_format == "NCHW":
        x = tf.transpose(x, [0, 3, 1, 2])
    return x
