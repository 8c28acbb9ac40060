"""The first StyleGAN's networks (Karras et al. 2019), which config a of StyleGAN2 trains.

Build functions for `dnnlib.tflib.Network`:
    G_style      z [N, latent_size], labels [N, label_size] -> images [N, C, H, W]
    G_mapping    z, labels -> w [N, num_layers, dlatent_size]
    G_synthesis  w -> images, growing progressively through its `lod` variable
    D_basic      images [N, C, H, W], labels -> scores [N, 1]

Names, shapes and initialisers of the variables, and the keyword arguments, are those of the official
StyleGAN, whose pickles therefore load into these networks unchanged. Images enter and leave as
[N, C, H, W]; G_synthesis and D_basic work inside in the layout of their `data_format` argument (see
`resolve_data_format`: NCHW on GPUs, NHWC on CPUs), asking a `Layout` object where the channels are.
Network pickles carry this file's text, so it imports nothing but os, NumPy, TensorFlow, dnnlib and
dnnlib.tflib, and every network parameter is a keyword argument of a build function.
"""

import os

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

import dnnlib

# ----------------------------------------------------------------------------------------------------
# Layout. networks_stylegan2.py has the same helpers: a pickle holds one module, which must stand alone.

DATA_FORMAT_ENV = "STYLEGAN2_DATA_FORMAT"  # Values: 'NCHW', 'NHWC' or 'auto' (when unset).


def _gpu_visible():
    """Does TensorFlow see a GPU? TF < 1.14 cannot list devices; we then answer yes."""
    lister = getattr(getattr(getattr(tf, "config", None), "experimental", None), "list_physical_devices", None)
    return True if lister is None else bool(lister("GPU"))


def resolve_data_format(data_format=None):
    """'NCHW' or 'NHWC'. An explicit argument wins; None and 'auto' defer to $STYLEGAN2_DATA_FORMAT,
    and where that is unset or 'auto' too, a visible GPU means 'NCHW' and its absence 'NHWC'."""
    if data_format in (None, "auto"):
        data_format = os.environ.get(DATA_FORMAT_ENV) or "auto"
        if data_format not in ("NCHW", "NHWC", "auto"):
            raise ValueError("%s must be 'NCHW', 'NHWC' or 'auto', got %r" % (DATA_FORMAT_ENV, data_format))
        if data_format == "auto":
            data_format = "NHWC" if not _gpu_visible() else "NCHW"
    if data_format in ("NCHW", "NHWC"):
        return data_format
    raise ValueError("networks_stylegan: data_format must be 'NCHW', 'NHWC', 'auto' or None, got %r"
                     % (data_format,))


class Layout(object):
    """Axis bookkeeping for 4-D activations: 'NCHW' is [N, C, H, W], 'NHWC' is [N, H, W, C]."""

    def __init__(self, data_format):
        if data_format not in ("NCHW", "NHWC"):
            raise ValueError("Layout: unknown data_format %r" % (data_format,))
        self.data_format = data_format
        self.channel_axis = data_format.index("C")
        self.spatial_axes = [data_format.index("H"), data_format.index("W")]

    def shape(self, n, c, h, w):
        """The four sizes, put in this layout's axis order."""
        by_letter = {"N": n, "C": c, "H": h, "W": w}
        return [by_letter[letter] for letter in self.data_format]

    def channels(self, x):
        return x.shape[self.channel_axis].value

    def size(self, x):
        """(H, W) as static ints."""
        dims = x.shape.as_list()
        return dims[self.spatial_axes[0]], dims[self.spatial_axes[1]]

    def per_channel(self, v):
        """[C] or [N, C] -> a tensor that scales or shifts the channels of 4-D activations."""
        return tf.reshape(v, self.shape(-1, v.shape[-1].value, 1, 1))

    def strides(self, step):
        return self.shape(1, 1, step, step)

    def from_nchw(self, x):
        return _reorder(x, "NCHW", self.data_format)

    def to_nchw(self, x):
        return _reorder(x, self.data_format, "NCHW")

    def blocks(self, x, factor, grow):
        """A 6-D view of x with a block axis after each spatial axis, and the two block axes.

        grow=True: spatial sizes stay and each block axis has size 1 (to be tiled);
        grow=False: each spatial size is divided by `factor`, the block axes have size `factor`.
        """
        view, block_axes = [], []
        for axis, size in enumerate(x.shape.as_list()):
            if axis == 0:
                view.append(-1)
            elif axis in self.spatial_axes:
                view += [size, 1] if grow else [size // factor, factor]
                block_axes.append(len(view) - 1)
            else:
                view.append(size)
        return view, block_axes


def _reorder(x, axes_from, axes_to):
    """Transpose x from the axis letters `axes_from` (e.g. "NCHW") to `axes_to`."""
    if axes_from == axes_to:
        return x
    return tf.transpose(x, [axes_from.index(letter) for letter in axes_to])


def as_layout(data_format):
    """A Layout for 'NCHW' / 'NHWC'; a Layout passes through."""
    return data_format if isinstance(data_format, Layout) else Layout(data_format)


def nchw_to_layout(x, data_format):
    """[N, C, H, W] -> the axis order of `data_format`."""
    return as_layout(data_format).from_nchw(x)


def layout_to_nchw(x, data_format):
    """The axis order of `data_format` -> [N, C, H, W]."""
    return as_layout(data_format).to_nchw(x)


# ----------------------------------------------------------------------------------------------------
# Resampling in plain TF ops. `data_format` below is 'NCHW', 'NHWC' or a Layout.


def _check_static_image(x):
    if x.shape.ndims != 4 or None in x.shape.as_list()[1:]:
        raise ValueError("networks_stylegan: expected 4-D activations with static C, H, W, got %s" % (x.shape,))


def _blur2d(x, f=[1, 2, 1], normalize=True, flip=False, stride=1, data_format="NCHW"):
    """Filter every channel on its own with the 2-D FIR kernel `f` (a 1-D `f` means outer(f, f))."""
    _check_static_image(x)
    assert isinstance(stride, int) and stride >= 1
    layout = as_layout(data_format)
    taps = np.asarray(f, dtype=np.float32)
    taps = np.outer(taps, taps) if taps.ndim == 1 else taps
    assert taps.ndim == 2
    if normalize:
        taps = taps / np.sum(taps)
    if flip:
        taps = taps[::-1, ::-1]
    if stride == 1 and taps.shape == (1, 1) and taps[0, 0] == 1:
        return x
    depthwise = np.tile(taps[:, :, np.newaxis, np.newaxis], [1, 1, layout.channels(x), 1])  # [kh, kw, C, 1]
    dtype = x.dtype
    # Run in float32: depthwise convolutions of float16 are slow or missing.
    y = tf.nn.depthwise_conv2d(tf.cast(x, tf.float32), tf.constant(depthwise, name="filter"),
                               strides=layout.strides(stride), padding="SAME", data_format=layout.data_format)
    return tf.cast(y, dtype)


def _upscale2d(x, factor=2, gain=1, data_format="NCHW"):
    """Repeat every pixel factor x factor times (times `gain`): H, W -> H*factor, W*factor."""
    _check_static_image(x)
    assert isinstance(factor, int) and factor >= 1
    layout = as_layout(data_format)
    if gain != 1:
        x = x * gain
    if factor == 1:
        return x
    height, width = layout.size(x)
    channels = layout.channels(x)
    view, block_axes = layout.blocks(x, factor, grow=True)
    reps = [factor if axis in block_axes else 1 for axis in range(len(view))]
    x = tf.tile(tf.reshape(x, view), reps)
    return tf.reshape(x, layout.shape(-1, channels, height * factor, width * factor))


def _downscale2d(x, factor=2, gain=1, data_format="NCHW"):
    """The mean of each factor x factor block (times `gain`): H, W -> H/factor, W/factor."""
    _check_static_image(x)
    assert isinstance(factor, int) and factor >= 1
    layout = as_layout(data_format)
    if factor == 2 and x.dtype == tf.float32:
        # Faster than avg_pool in this common case: one strided 2x2 filter, gain folded into its taps.
        return _blur2d(x, f=[np.sqrt(gain) / 2] * 2, normalize=False, stride=2, data_format=layout)
    if gain != 1:
        x = x * gain
    if factor == 1:
        return x
    window = layout.strides(factor)
    return tf.nn.avg_pool(x, ksize=window, strides=window, padding="VALID", data_format=layout.data_format)


# ----------------------------------------------------------------------------------------------------
# The same resampling with hand-written first- and second-order gradients, so that the backward pass
# of the R1 penalty stays made of these cheap filters. Each gradient function reads only its own
# arguments: TF 2.x graph mode refuses captured variables there.


def _linear_op(x, scope, forward, backward):
    """forward(x) in `scope`. Both maps are linear: the gradient is backward(dy), and the gradient of
    that gradient is forward again."""
    with tf.variable_scope(scope):
        @tf.custom_gradient
        def op(inputs):
            @tf.custom_gradient
            def op_grad(dy):
                return backward(dy), forward
            return forward(inputs), op_grad
        return op(x)


def blur2d(x, f=[1, 2, 1], normalize=True, data_format="NCHW"):
    """Blur each channel with the separable filter `f` (scaled to sum 1 unless normalize=False)."""
    return _linear_op(x, "Blur2D", lambda t: _blur2d(t, f, normalize, data_format=data_format),
                      lambda t: _blur2d(t, f, normalize, flip=True, data_format=data_format))


def upscale2d(x, factor=2, data_format="NCHW"):
    """Pixel repetition by `factor`; the gradient sums each block."""
    return _linear_op(x, "Upscale2D", lambda t: _upscale2d(t, factor, data_format=data_format),
                      lambda t: _downscale2d(t, factor, gain=factor ** 2, data_format=data_format))


def downscale2d(x, factor=2, data_format="NCHW"):
    """Block mean over factor x factor; the gradient spreads evenly over each block."""
    return _linear_op(x, "Downscale2D", lambda t: _downscale2d(t, factor, data_format=data_format),
                      lambda t: _upscale2d(t, factor, gain=1 / factor ** 2, data_format=data_format))


# ----------------------------------------------------------------------------------------------------
# Layers (equalized learning rate).


def get_weight(shape, gain=np.sqrt(2), use_wscale=False, lrmul=1):
    """Create `weight` of `shape` ([..fan-in axes.., out]) and return it times its run-time factor.

    Target std: He's gain / sqrt(fan_in). With `use_wscale` the variable starts as N(0, 1/lrmul) and
    the factor is he_std * lrmul; without, it starts as N(0, he_std/lrmul) and the factor is lrmul.
    """
    he_std = gain / np.sqrt(np.prod(shape[:-1]))
    init_std, runtime_coef = (1.0 / lrmul, he_std * lrmul) if use_wscale else (he_std / lrmul, lrmul)
    initializer = tf.initializers.random_normal(0, init_std)
    return tf.get_variable("weight", shape=shape, initializer=initializer) * runtime_coef


def dense(x, fmaps, **kwargs):
    """[N, ...] -> [N, fmaps], no bias; images are flattened in [N, C, H, W] order."""
    flat_size = int(np.prod(x.shape.as_list()[1:]))
    if x.shape.ndims != 2:
        x = tf.reshape(x, [-1, flat_size])
    return tf.matmul(x, tf.cast(get_weight([flat_size, fmaps], **kwargs), x.dtype))


def _conv_weight(x, fmaps, kernel, layout, kwargs):
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError("networks_stylegan: kernel must be a positive odd number, got %r" % (kernel,))
    return get_weight([kernel, kernel, layout.channels(x), fmaps], **kwargs)


def conv2d(x, fmaps, kernel, data_format="NCHW", **kwargs):
    """'SAME' convolution with an odd `kernel`, no bias: 4-D x -> fmaps channels."""
    layout = as_layout(data_format)
    w = tf.cast(_conv_weight(x, fmaps, kernel, layout, kwargs), x.dtype)
    return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME", data_format=layout.data_format)


def _fuse_resampling(fused_scale, high_res_size):
    """True/False as given; 'auto' fuses where the larger side of the layer has 128 pixels or more."""
    if fused_scale == "auto":
        return high_res_size >= 128
    if fused_scale is True or fused_scale is False:
        return fused_scale
    raise ValueError("networks_stylegan: fused_scale must be True, False or 'auto', got %r" % (fused_scale,))


def _shift_sum(w):
    """w [k, k, ...] -> [k+1, k+1, ...]: the sum of w placed at the four offsets of a 2x2 block."""
    padded = tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]], mode="CONSTANT")
    return padded[1:, 1:] + padded[:-1, 1:] + padded[1:, :-1] + padded[:-1, :-1]


def upscale2d_conv2d(x, fmaps, kernel, fused_scale="auto", data_format="NCHW", **kwargs):
    """Pixel repetition by 2, then 'SAME' convolution: H, W -> 2H, 2W with fmaps channels.

    Fused, it is one stride-2 transposed convolution with the kernel summed over the 2x2 offsets,
    the same result; the weight variable is [k, k, C, fmaps] in both forms.
    """
    layout = as_layout(data_format)
    height, width = layout.size(x)
    if not _fuse_resampling(fused_scale, 2 * min(height, width)):
        return conv2d(upscale2d(x, data_format=layout), fmaps, kernel, data_format=layout, **kwargs)
    w = _conv_weight(x, fmaps, kernel, layout, kwargs)
    w = tf.cast(_shift_sum(tf.transpose(w, [0, 1, 3, 2])), x.dtype)  # Transposed conv: [k, k, out, in].
    out_shape = layout.shape(tf.shape(x)[0], fmaps, 2 * height, 2 * width)
    return tf.nn.conv2d_transpose(x, w, out_shape, strides=layout.strides(2), padding="SAME",
                                  data_format=layout.data_format)


def conv2d_downscale2d(x, fmaps, kernel, fused_scale="auto", data_format="NCHW", **kwargs):
    """'SAME' convolution, then the mean of 2x2 blocks: H, W -> H/2, W/2 with fmaps channels.
    Fused, it is one stride-2 convolution with the kernel averaged over the 2x2 offsets."""
    layout = as_layout(data_format)
    if not _fuse_resampling(fused_scale, min(layout.size(x))):
        return downscale2d(conv2d(x, fmaps, kernel, data_format=layout, **kwargs), data_format=layout)
    w = tf.cast(_shift_sum(_conv_weight(x, fmaps, kernel, layout, kwargs)) * 0.25, x.dtype)
    return tf.nn.conv2d(x, w, strides=layout.strides(2), padding="SAME", data_format=layout.data_format)


def apply_bias(x, lrmul=1, data_format="NCHW"):
    """x + `bias` (zeros, one per channel, times lrmul); channels of [N, C] or of 4-D activations."""
    layout = as_layout(data_format)
    four_d = x.shape.ndims == 4
    b = tf.get_variable("bias", shape=[x.shape[layout.channel_axis if four_d else 1]],
                        initializer=tf.initializers.zeros())
    b = tf.cast(b * lrmul, x.dtype)
    return x + (layout.per_channel(b) if four_d else b)


def leaky_relu(x, alpha=0.2):
    """max(x, alpha * x). Its gradient is chosen by the sign of the output."""
    with tf.variable_scope("LeakyReLU"):
        slope = tf.constant(alpha, dtype=x.dtype, name="alpha")

        @tf.custom_gradient
        def op(x):
            y = tf.maximum(x, x * slope)
            # Linear in dy, so that TF can differentiate it again for second-order gradients.
            return y, lambda dy: tf.where(y >= 0, dy, dy * slope)
        return op(x)


def pixel_norm(x, epsilon=1e-8, data_format="NCHW"):
    """Scale every feature vector (the channels at one sample and pixel) to a mean square of 1."""
    axis = as_layout(data_format).channel_axis if x.shape.ndims == 4 else 1
    with tf.variable_scope("PixelNorm"):
        eps = tf.constant(epsilon, dtype=x.dtype, name="epsilon")
        return x * tf.rsqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=True) + eps)


def instance_norm(x, epsilon=1e-8, data_format="NCHW"):
    """Give every channel of every sample a zero mean and unit variance over its pixels."""
    assert x.shape.ndims == 4
    axes = as_layout(data_format).spatial_axes
    with tf.variable_scope("InstanceNorm"):
        dtype = x.dtype
        centred = tf.cast(x, tf.float32)
        centred -= tf.reduce_mean(centred, axis=axes, keepdims=True)
        eps = tf.constant(epsilon, dtype=tf.float32, name="epsilon")
        return tf.cast(centred * tf.rsqrt(tf.reduce_mean(tf.square(centred), axis=axes, keepdims=True) + eps),
                       dtype)


def style_mod(x, dlatent, data_format="NCHW", **kwargs):
    """AdaIN: x * (scale + 1) + shift, where [scale, shift] = dense(dlatent) + bias, 2C values."""
    layout = as_layout(data_format)
    with tf.variable_scope("StyleMod"):
        channels = layout.channels(x)
        style = apply_bias(dense(dlatent, fmaps=2 * channels, gain=1, **kwargs))
        scale, shift = tf.unstack(tf.reshape(style, [-1, 2, channels]), axis=1)
        return x * layout.per_channel(scale + 1) + layout.per_channel(shift)


def apply_noise(x, noise_var=None, randomize_noise=True, data_format="NCHW"):
    """x + noise [N, 1, H, W] times a learned per-channel `weight` (zeros at the start)."""
    assert x.shape.ndims == 4
    layout = as_layout(data_format)
    with tf.variable_scope("Noise"):
        height, width = layout.size(x)
        if randomize_noise or noise_var is None:
            noise = tf.random_normal(layout.shape(tf.shape(x)[0], 1, height, width), dtype=x.dtype)
        else:
            # A single channel, so the same numbers in the same order in either layout.
            noise = tf.reshape(tf.cast(noise_var, x.dtype), layout.shape(1, 1, height, width))
        weight = tf.get_variable("weight", shape=[layout.channels(x)], initializer=tf.initializers.zeros())
        return x + noise * layout.per_channel(tf.cast(weight, x.dtype))


def minibatch_stddev_layer(x, group_size=4, num_new_features=1, data_format="NCHW"):
    """Append `num_new_features` channels that hold a per-group standard deviation.

    Groups have G = min(group_size, N) samples; sample i is in group i % (N / G), so N must be a
    multiple of G. Feature j is the std over the group, averaged over the j-th slice of the channels
    and over all pixels.
    """
    layout = as_layout(data_format)
    with tf.variable_scope("MinibatchStddev"):
        group = tf.minimum(group_size, tf.shape(x)[0])
        height, width = layout.size(x)
        c = layout.channel_axis
        dims = x.shape.as_list()
        slices = [num_new_features, dims[c] // num_new_features]
        grouped = tf.cast(tf.reshape(x, [group, -1] + dims[1:c] + slices + dims[c + 1:]), tf.float32)
        centred = grouped - tf.reduce_mean(grouped, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=0) + 1e-8)  # [M, ..., n, C/n, ...]
        averaged_axes = [axis for axis in range(1, std.shape.ndims) if axis != c]
        stats = tf.cast(tf.reduce_mean(std, axis=averaged_axes), x.dtype)  # [M, n]
        stats = tf.tile(layout.per_channel(stats), layout.shape(group, 1, height, width))
        return tf.concat([x, stats], axis=c)


# ----------------------------------------------------------------------------------------------------
# Small pieces the build functions share.


def _activation(nonlinearity):
    """(activation function, the gain that keeps activations at unit scale) for 'relu' or 'lrelu'."""
    if nonlinearity == "relu":
        return tf.nn.relu, np.sqrt(2)
    if nonlinearity == "lrelu":
        return leaky_relu, np.sqrt(2)
    raise ValueError("networks_stylegan: nonlinearity must be 'relu' or 'lrelu', got %r" % (nonlinearity,))


def _resolution_log2(resolution, func_name):
    log2 = int(np.log2(resolution))
    if resolution < 4 or 2 ** log2 != resolution:
        raise ValueError("networks_stylegan.%s: resolution must be a power of two >= 4, got %r"
                         % (func_name, resolution))
    return log2


def _resolve_structure(structure, use_linear):
    """'auto' -> 'linear' for clean graphs, else 'recursive'; other values are checked."""
    if structure == "auto":
        return "linear" if use_linear else "recursive"
    if structure in ("fixed", "linear", "recursive"):
        return structure
    raise ValueError("networks_stylegan: structure must be 'auto', 'fixed', 'linear' or 'recursive', got %r"
                     % (structure,))


def _choose_at_runtime(otherwise, condition, instead):
    """A thunk for tf.cond: `instead()` where `condition` holds, `otherwise()` elsewhere."""
    return lambda: tf.cond(condition, instead, otherwise)


def _feature_maps_func(fmap_base, fmap_decay, fmap_max):
    """nf(stage): fmap_base / 2**(stage * fmap_decay), at most fmap_max (stage 1 is 4x4)."""
    return lambda stage: min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


# ----------------------------------------------------------------------------------------------------
# Generator.


def _style_options(is_training, is_validation, psi, cutoff, psi_val, cutoff_val, avg_beta, mixing_prob):
    """Which of truncation, the w average and style mixing apply: (psi, cutoff, beta, mixing), None = off."""
    if is_training and is_validation:
        raise ValueError("networks_stylegan.G_style: is_training and is_validation are exclusive")
    if is_validation:
        psi, cutoff = psi_val, cutoff_val
    fixed = lambda value: value is not None and not tflib.is_tf_expression(value)
    if is_training or (fixed(psi) and psi == 1):
        psi = None
    if is_training or (fixed(cutoff) and cutoff <= 0):
        cutoff = None
    if not is_training:
        return psi, cutoff, None, None
    if fixed(avg_beta) and avg_beta == 1:
        avg_beta = None
    if fixed(mixing_prob) and mixing_prob <= 0:
        mixing_prob = None
    return psi, cutoff, avg_beta, mixing_prob


def _mixed_styles(dlatents, other_dlatents, lod_in, prob):
    """With probability `prob`, the layers from a random index on take `other_dlatents`; only the
    layers in use at the current lod count."""
    num_layers = dlatents.shape[1].value
    active_layers = num_layers - 2 * tf.cast(lod_in, tf.int32)
    mix_now = tf.random_uniform([], 0.0, 1.0) < prob
    first_mixed = tf.cond(mix_now, lambda: tf.random_uniform([], 1, active_layers, dtype=tf.int32),
                          lambda: active_layers)
    keep = tf.less(np.arange(num_layers, dtype=np.int32).reshape([1, -1, 1]), first_mixed)
    return tf.where(tf.broadcast_to(keep, tf.shape(dlatents)), dlatents, other_dlatents)


def G_style(latents_in, labels_in, truncation_psi=0.7, truncation_cutoff=8, truncation_psi_val=None,
            truncation_cutoff_val=None, dlatent_avg_beta=0.995, style_mixing_prob=0.9, is_training=False,
            is_validation=False, is_template_graph=False, components=dnnlib.EasyDict(), **kwargs):
    """The style-based generator: z [N, latent_size], labels [N, label_size] -> images [N, C, H, W].

    Truncation (psi None or 1: off) pulls w of the layers below truncation_cutoff (None or <= 0: off)
    towards the average; the *_val pair replaces both when is_validation. While is_training, the
    average w follows the batches with decay dlatent_avg_beta, and style_mixing_prob is the chance of
    mixing in the w of a second latent. `components` holds the mapping and synthesis Networks, made on
    the first call; both get **kwargs.
    """
    assert isinstance(components, dnnlib.EasyDict)
    psi, cutoff, avg_beta, mixing_prob = _style_options(
        is_training, is_validation, truncation_psi, truncation_cutoff, truncation_psi_val, truncation_cutoff_val,
        dlatent_avg_beta, style_mixing_prob)

    # Looked up in globals() so that a copy of this module rebuilt from a pickle uses its own functions.
    if "synthesis" not in components:
        components.synthesis = tflib.Network("G_synthesis", func_name=globals()["G_synthesis"], **kwargs)
    num_layers, dlatent_size = components.synthesis.input_shape[1:3]
    if "mapping" not in components:
        components.mapping = tflib.Network("G_mapping", func_name=globals()["G_mapping"],
                                           dlatent_broadcast=num_layers, **kwargs)

    lod_in = tf.get_variable("lod", initializer=np.float32(0), trainable=False)
    dlatent_avg = tf.get_variable("dlatent_avg", shape=[dlatent_size], initializer=tf.initializers.zeros(),
                                  trainable=False)
    dlatents = components.mapping.get_output_for(latents_in, labels_in, **kwargs)  # [N, num_layers, D]

    if avg_beta is not None:
        with tf.variable_scope("DlatentAvg"):
            moved = tflib.lerp(tf.reduce_mean(dlatents[:, 0], axis=0), dlatent_avg, avg_beta)
            with tf.control_dependencies([tf.assign(dlatent_avg, moved)]):
                dlatents = tf.identity(dlatents)
    if mixing_prob is not None:
        with tf.name_scope("StyleMix"):
            other = components.mapping.get_output_for(tf.random_normal(tf.shape(latents_in)), labels_in, **kwargs)
            dlatents = _mixed_styles(dlatents, other, lod_in, mixing_prob)
    if psi is not None and cutoff is not None:
        with tf.variable_scope("Truncation"):
            ones = np.ones([1, num_layers, 1], dtype=np.float32)
            factors = tf.where(np.arange(num_layers).reshape(ones.shape) < cutoff, ones * psi, ones)
            dlatents = tflib.lerp(dlatent_avg, dlatents, factors)

    with tf.control_dependencies([tf.assign(components.synthesis.find_var("lod"), lod_in)]):
        images = components.synthesis.get_output_for(dlatents, force_clean_graph=is_template_graph, **kwargs)
    return tf.identity(images, name="images_out")


def G_mapping(latents_in, labels_in, latent_size=512, label_size=0, dlatent_size=512, dlatent_broadcast=None,
              mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, mapping_nonlinearity="lrelu",
              use_wscale=True, normalize_latents=True, dtype="float32", **_kwargs):
    """z [N, latent_size], labels [N, label_size] -> w [N, dlatent_size], or [N, L, dlatent_size]
    (the same w L times) with dlatent_broadcast=L.

    A label is embedded by a plain matrix and appended to z, which is then pixel normalised
    (normalize_latents) and sent through `mapping_layers` dense layers, mapping_fmaps wide except the
    last (dlatent_size), with learning rate times mapping_lrmul. The synthesis arguments are ignored.
    """
    act, gain = _activation(mapping_nonlinearity)
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    x = tf.cast(latents_in, dtype)
    if label_size:
        with tf.variable_scope("LabelConcat"):
            embedding = tf.get_variable("weight", shape=[label_size, latent_size],
                                        initializer=tf.initializers.random_normal())
            x = tf.concat([x, tf.matmul(tf.cast(labels_in, dtype), tf.cast(embedding, dtype))], axis=1)
    if normalize_latents:
        x = pixel_norm(x)
    for index in range(mapping_layers):
        width = dlatent_size if index + 1 == mapping_layers else mapping_fmaps
        with tf.variable_scope("Dense%d" % index):
            x = act(apply_bias(dense(x, fmaps=width, gain=gain, use_wscale=use_wscale, lrmul=mapping_lrmul),
                               lrmul=mapping_lrmul))
    if dlatent_broadcast is not None:
        with tf.variable_scope("Broadcast"):
            x = tf.tile(tf.expand_dims(x, 1), [1, dlatent_broadcast, 1])
    assert x.dtype == tf.as_dtype(dtype)
    return tf.identity(x, name="dlatents_out")


def _g_synthesis_layers(dlatents, noise_vars, layout, act, gain, use_wscale, use_noise, randomize_noise,
                        use_pixel_norm, use_instance_norm, use_styles, fused_scale, blur_filter):
    """(input layer, block, toRGB) of G_synthesis as closures."""
    def finish(x, index):  # Noise, bias, activation, normalisation, style; the tail of every layer.
        if use_noise:
            x = apply_noise(x, noise_vars[index], randomize_noise=randomize_noise, data_format=layout)
        x = act(apply_bias(x, data_format=layout))
        if use_pixel_norm:
            x = pixel_norm(x, data_format=layout)
        if use_instance_norm:
            x = instance_norm(x, data_format=layout)
        return style_mod(x, dlatents[:, index], use_wscale=use_wscale, data_format=layout) if use_styles else x

    def conv3x3(x, fmaps):
        return conv2d(x, fmaps=fmaps, kernel=3, gain=gain, use_wscale=use_wscale, data_format=layout)

    def first(fmaps, const_input_layer):
        with tf.variable_scope("4x4"):
            if const_input_layer:
                with tf.variable_scope("Const"):
                    const = tf.get_variable("const", shape=[1, fmaps, 4, 4], initializer=tf.initializers.ones())
                    const = layout.from_nchw(tf.cast(const, dlatents.dtype))
                    x = finish(tf.tile(const, [tf.shape(dlatents)[0], 1, 1, 1]), 0)
            else:
                with tf.variable_scope("Dense"):
                    x = dense(dlatents[:, 0], fmaps=fmaps * 16, gain=gain / 4, use_wscale=use_wscale)
                    x = finish(layout.from_nchw(tf.reshape(x, [-1, fmaps, 4, 4])), 0)
            with tf.variable_scope("Conv"):
                return finish(conv3x3(x, fmaps), 1)

    def block(x, res_log2, fmaps):
        with tf.variable_scope("%dx%d" % (2 ** res_log2, 2 ** res_log2)):
            with tf.variable_scope("Conv0_up"):
                x = upscale2d_conv2d(x, fmaps=fmaps, kernel=3, gain=gain, use_wscale=use_wscale,
                                     fused_scale=fused_scale, data_format=layout)
                if blur_filter:
                    x = blur2d(x, blur_filter, data_format=layout)
                x = finish(x, 2 * res_log2 - 4)
            with tf.variable_scope("Conv1"):
                return finish(conv3x3(x, fmaps), 2 * res_log2 - 3)

    def to_rgb(x, num_channels):
        return apply_bias(conv2d(x, fmaps=num_channels, kernel=1, gain=1, use_wscale=use_wscale, data_format=layout),
                          data_format=layout)

    return first, block, to_rgb


def G_synthesis(dlatents_in, dlatent_size=512, num_channels=3, resolution=1024, fmap_base=8192, fmap_decay=1.0,
                fmap_max=512, use_styles=True, const_input_layer=True, use_noise=True, randomize_noise=True,
                nonlinearity="lrelu", use_wscale=True, use_pixel_norm=False, use_instance_norm=True,
                dtype="float32", fused_scale="auto", blur_filter=[1, 2, 1], structure="auto", data_format=None,
                is_template_graph=False, force_clean_graph=False, **_kwargs):
    """w [N, num_layers, dlatent_size] -> images [N, num_channels, res, res]; num_layers = 2*log2(res) - 2.

    Widths nf(stage) = fmap_base / 2**(stage * fmap_decay), at most fmap_max. use_styles=False feeds
    one w to all layers. const_input_layer=False starts from a dense layer of w. Noise (use_noise) is
    fresh per call unless randomize_noise=False, which uses the noise%d variables. fused_scale:
    see upscale2d_conv2d; blur_filter None turns the blur after upsampling off. The `lod` variable
    blends the outputs of neighbouring resolutions; structure: 'fixed', 'linear', 'recursive' or
    'auto' ('linear' for clean graphs). Mapping arguments are ignored.
    """
    res_log2_max = _resolution_log2(resolution, "G_synthesis")
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_max)
    layout = Layout(resolve_data_format(data_format))
    clean = force_clean_graph or is_template_graph
    structure = _resolve_structure(structure, use_linear=clean)
    act, gain = _activation(nonlinearity)
    num_layers = 2 * res_log2_max - 2

    dlatents_in.set_shape([None, num_layers if use_styles else 1, dlatent_size])
    dlatents = tf.cast(dlatents_in, dtype)
    lod_in = tf.cast(tf.get_variable("lod", initializer=np.float32(0), trainable=False), dtype)
    noise_vars = []
    for index in range(num_layers if use_noise else 0):  # Two per resolution, from 4x4 up.
        side = 2 ** (index // 2 + 2)
        noise_vars.append(tf.get_variable("noise%d" % index, shape=[1, 1, side, side], trainable=False,
                                          initializer=tf.initializers.random_normal()))

    first, block, rgb = _g_synthesis_layers(dlatents, noise_vars, layout, act, gain, use_wscale, use_noise,
                                            randomize_noise and not clean, use_pixel_norm, use_instance_norm,
                                            use_styles, fused_scale, blur_filter)

    def to_rgb(x, res_log2):
        with tf.variable_scope("ToRGB_lod%d" % (res_log2_max - res_log2)):
            return rgb(x, num_channels)

    def upscale(image, factor=2):
        return upscale2d(image, factor, data_format=layout)

    x = first(nf(1), const_input_layer)
    if structure == "fixed":
        for res_log2 in range(3, res_log2_max + 1):
            x = block(x, res_log2, nf(res_log2 - 1))
        images = to_rgb(x, res_log2_max)
    elif structure == "linear":
        images = to_rgb(x, 2)
        for res_log2 in range(3, res_log2_max + 1):
            lod = res_log2_max - res_log2
            x = block(x, res_log2, nf(res_log2 - 1))
            finer = to_rgb(x, res_log2)
            images = upscale(images)
            with tf.variable_scope("Grow_lod%d" % lod):
                images = tflib.lerp_clip(finer, images, lod_in - lod)
    else:
        def grow(coarse, res_log2, lod):  # 'recursive': tf.cond computes only what lod needs.
            fine = block(coarse, res_log2, nf(res_log2 - 1))

            def blended():
                fine_rgb = to_rgb(fine, res_log2)
                return upscale(tflib.lerp(fine_rgb, upscale(to_rgb(coarse, res_log2 - 1)), lod_in - lod), 2 ** lod)

            pick = _choose_at_runtime(lambda: upscale(to_rgb(fine, res_log2), 2 ** lod), lod_in > lod, blended)
            if lod > 0:
                pick = _choose_at_runtime(pick, lod_in < lod, lambda: grow(fine, res_log2 + 1, lod - 1))
            return pick()
        images = grow(x, 3, res_log2_max - 3)

    images = layout.to_nchw(images)
    assert images.dtype == tf.as_dtype(dtype)
    return tf.identity(images, name="images_out")


# ----------------------------------------------------------------------------------------------------
# Discriminator (progressive GAN style).


def _d_basic_layers(layout, act, gain, use_wscale, fused_scale, blur_filter, mbstd_group_size, mbstd_num_features,
                    nf, label_size):
    """block(x, res_log2) of D_basic: a downsampling pair of convs at 8x8 and up, the head at 4x4."""
    def conv_act(x, fmaps, kernel):
        return act(apply_bias(conv2d(x, fmaps=fmaps, kernel=kernel, gain=gain, use_wscale=use_wscale,
                                     data_format=layout), data_format=layout))

    def dense_bias(x, fmaps, dense_gain):
        return apply_bias(dense(x, fmaps=fmaps, gain=dense_gain, use_wscale=use_wscale))

    def head(x):  # -> [N, max(label_size, 1)]
        if mbstd_group_size > 1:
            x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features, data_format=layout)
        with tf.variable_scope("Conv"):
            x = conv_act(x, nf(1), 3)
        with tf.variable_scope("Dense0"):
            # The rows of this weight follow the [C, H, W] order of the official networks.
            x = act(dense_bias(layout.to_nchw(x), nf(0), gain))
        with tf.variable_scope("Dense1"):
            return dense_bias(x, max(label_size, 1), 1)

    def block(x, res_log2):
        with tf.variable_scope("%dx%d" % (2 ** res_log2, 2 ** res_log2)):
            if res_log2 == 2:
                return head(x)
            with tf.variable_scope("Conv0"):
                x = conv_act(x, nf(res_log2 - 1), 3)
            with tf.variable_scope("Conv1_down"):
                if blur_filter:
                    x = blur2d(x, blur_filter, data_format=layout)
                x = conv2d_downscale2d(x, fmaps=nf(res_log2 - 2), kernel=3, gain=gain, use_wscale=use_wscale,
                                       fused_scale=fused_scale, data_format=layout)
                return act(apply_bias(x, data_format=layout))

    return conv_act, block


def D_basic(images_in, labels_in, num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0,
            fmap_max=512, nonlinearity="lrelu", use_wscale=True, mbstd_group_size=4, mbstd_num_features=1,
            dtype="float32", fused_scale="auto", blur_filter=[1, 2, 1], structure="auto", data_format=None,
            is_template_graph=False, **_kwargs):
    """images [N, num_channels, res, res], labels [N, label_size] -> scores [N, 1].

    mbstd_group_size <= 1 turns the minibatch stddev layer off; blur_filter None the blur before each
    downsampling; fused_scale: see conv2d_downscale2d. The `lod` variable picks the input resolution
    res/2**lod, blending neighbours in between; structure as in G_synthesis ('auto' is 'linear' for
    the template graph). A conditional network keeps the score of the given label. Generator
    arguments are ignored.
    """
    res_log2_max = _resolution_log2(resolution, "D_basic")
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_max)
    layout = Layout(resolve_data_format(data_format))
    structure = _resolve_structure(structure, use_linear=is_template_graph)
    act, gain = _activation(nonlinearity)

    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    images = layout.from_nchw(tf.cast(images_in, dtype))
    labels = tf.cast(labels_in, dtype)
    lod_in = tf.cast(tf.get_variable("lod", initializer=np.float32(0.0), trainable=False), dtype)
    conv_act, block = _d_basic_layers(layout, act, gain, use_wscale, fused_scale, blur_filter, mbstd_group_size,
                                      mbstd_num_features, nf, label_size)

    def from_rgb(image, res_log2):
        with tf.variable_scope("FromRGB_lod%d" % (res_log2_max - res_log2)):
            return conv_act(image, nf(res_log2 - 1), 1)

    def downscale(image, factor=2):
        return downscale2d(image, factor, data_format=layout)

    if structure == "recursive":
        def grow(res_log2, lod):  # tf.cond computes only what lod needs.
            entry = lambda: from_rgb(downscale(images, 2 ** lod), res_log2)
            if lod > 0:
                entry = _choose_at_runtime(entry, lod_in < lod, lambda: grow(res_log2 + 1, lod - 1))
            x = block(entry(), res_log2)
            if res_log2 == 2:
                return x
            blend = lambda: tflib.lerp(x, from_rgb(downscale(images, 2 ** (lod + 1)), res_log2 - 1), lod_in - lod)
            return _choose_at_runtime(lambda: x, lod_in > lod, blend)()
        scores = grow(2, res_log2_max - 2)
    else:
        x = from_rgb(images, res_log2_max)
        image = images
        for res_log2 in range(res_log2_max, 2, -1):
            x = block(x, res_log2)
            if structure == "linear":
                lod = res_log2_max - res_log2
                image = downscale(image)
                coarse = from_rgb(image, res_log2 - 1)
                with tf.variable_scope("Grow_lod%d" % lod):
                    x = tflib.lerp_clip(x, coarse, lod_in - lod)
        scores = block(x, 2)

    if label_size:
        with tf.variable_scope("LabelSwitch"):
            scores = tf.reduce_sum(scores * labels, axis=1, keepdims=True)
    assert scores.dtype == tf.as_dtype(dtype)
    return tf.identity(scores, name="scores_out")
