"""The original StyleGAN networks (Karras et al. 2019), used by config a of StyleGAN2.

Build functions for `dnnlib.tflib.Network`:
    G_style      latents [N, latent_size], labels [N, label_size] -> images [N, C, H, W]
    G_mapping    latents, labels -> dlatents [N, num_layers, dlatent_size]
    G_synthesis  dlatents -> images (progressive growing through the `lod` variable)
    D_basic      images [N, C, H, W], labels -> scores [N, 1]

Variable names, shapes, initialisers and keyword arguments follow the official StyleGAN code, so that
its pickles map one to one onto these networks. Images in and out are NCHW; inside, G_synthesis and
D_basic run in the layout of their `data_format` argument (see `resolve_data_format`: NCHW on GPUs,
NHWC on CPUs). This module's source text is embedded in network pickles: it imports only os, NumPy,
TensorFlow, dnnlib and dnnlib.tflib.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib

# NOTE: build functions take every network parameter as a keyword argument (they are pickled as
# static kwargs), and this module must not import other parts of the project.

# ----------------------------------------------------------------------------------------------------
# Execution layout. This block is repeated in networks_stylegan2.py: each module must stand alone in a pickle.

DATA_FORMAT_ENV = "STYLEGAN2_DATA_FORMAT"  # 'NCHW', 'NHWC' or 'auto' (the default).


def _gpu_visible():
    """True if TensorFlow sees a GPU. Without the device-listing API (TF < 1.14), assume a GPU."""
    experimental = getattr(getattr(tf, "config", None), "experimental", None)
    list_physical_devices = getattr(experimental, "list_physical_devices", None)
    if list_physical_devices is None:
        return True
    return len(list_physical_devices("GPU")) > 0


def resolve_data_format(data_format=None):
    """The layout to run in: `data_format` if it is 'NCHW' or 'NHWC', else (None or 'auto') the
    environment variable STYLEGAN2_DATA_FORMAT, else 'NCHW' when a GPU is visible and 'NHWC' when not."""
    if data_format is None or data_format == "auto":
        data_format = os.environ.get(DATA_FORMAT_ENV, "auto") or "auto"
        if data_format not in ("NCHW", "NHWC", "auto"):
            raise ValueError("%s must be 'NCHW', 'NHWC' or 'auto', got %r" % (DATA_FORMAT_ENV, data_format))
    if data_format == "auto":
        data_format = "NCHW" if _gpu_visible() else "NHWC"
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError("networks_stylegan: data_format must be 'NCHW', 'NHWC', 'auto' or None, got %r"
                         % (data_format,))
    return data_format


def _channel_axis(data_format):
    return 1 if data_format == "NCHW" else 3


def _image_size(x, data_format):
    """(H, W) of a 4-D activation, as static ints."""
    shape = x.shape.as_list()
    return (shape[2], shape[3]) if data_format == "NCHW" else (shape[1], shape[2])


def _channels_shape(data_format):
    """Shape that broadcasts a per-channel [C] vector over 4-D activations."""
    return [1, -1, 1, 1] if data_format == "NCHW" else [1, 1, 1, -1]


def nchw_to_layout(x, data_format):
    """[N, C, H, W] -> the layout of `data_format`."""
    return x if data_format == "NCHW" else tf.transpose(x, [0, 2, 3, 1])


def layout_to_nchw(x, data_format):
    """The layout of `data_format` -> [N, C, H, W]."""
    return x if data_format == "NCHW" else tf.transpose(x, [0, 3, 1, 2])


def _strides(stride, data_format):
    return [1, 1, stride, stride] if data_format == "NCHW" else [1, stride, stride, 1]


# ----------------------------------------------------------------------------------------------------
# Resampling primitives (no gradients of their own). Activations are [N, C, H, W] for data_format
# 'NCHW', [N, H, W, C] for 'NHWC'.


def _blur2d(x, f=[1, 2, 1], normalize=True, flip=False, stride=1, data_format="NCHW"):
    """Depthwise 2-D FIR filter of every channel. `f` 1-D (separable, outer product) or 2-D."""
    assert x.shape.ndims == 4 and all(dim.value is not None for dim in x.shape[1:])
    assert isinstance(stride, int) and stride >= 1
    kernel = np.array(f, dtype=np.float32)
    if kernel.ndim == 1:
        kernel = kernel[:, np.newaxis] * kernel[np.newaxis, :]
    assert kernel.ndim == 2
    if normalize:
        kernel /= np.sum(kernel)
    if flip:
        kernel = kernel[::-1, ::-1]
    num_channels = x.shape[_channel_axis(data_format)].value
    kernel = np.tile(kernel[:, :, np.newaxis, np.newaxis], [1, 1, num_channels, 1])  # [kh, kw, C, 1]

    if kernel.shape[:2] == (1, 1) and kernel[0, 0, 0, 0] == 1 and stride == 1:
        return x  # Identity filter.
    orig_dtype = x.dtype
    x = tf.cast(x, tf.float32)  # The depthwise conv of fp16 is slow or missing.
    x = tf.nn.depthwise_conv2d(x, tf.constant(kernel, name="filter"), strides=_strides(stride, data_format),
                               padding="SAME", data_format=data_format)
    return tf.cast(x, orig_dtype)


def _upscale2d(x, factor=2, gain=1, data_format="NCHW"):
    """Nearest-neighbour upsampling by an integer factor: [N, C, H, W] -> [N, C, H*f, W*f] (or NHWC)."""
    assert x.shape.ndims == 4 and all(dim.value is not None for dim in x.shape[1:])
    assert isinstance(factor, int) and factor >= 1
    if gain != 1:
        x *= gain
    if factor == 1:
        return x
    if data_format == "NCHW":
        _, c, h, w = [dim.value for dim in x.shape]
        x = tf.reshape(x, [-1, c, h, 1, w, 1])
        x = tf.tile(x, [1, 1, 1, factor, 1, factor])
        return tf.reshape(x, [-1, c, h * factor, w * factor])
    _, h, w, c = [dim.value for dim in x.shape]
    x = tf.reshape(x, [-1, h, 1, w, 1, c])
    x = tf.tile(x, [1, 1, factor, 1, factor, 1])
    return tf.reshape(x, [-1, h * factor, w * factor, c])


def _downscale2d(x, factor=2, gain=1, data_format="NCHW"):
    """Box-filter downsampling by an integer factor: [N, C, H, W] -> [N, C, H/f, W/f] (or NHWC)."""
    assert x.shape.ndims == 4 and all(dim.value is not None for dim in x.shape[1:])
    assert isinstance(factor, int) and factor >= 1
    if factor == 2 and x.dtype == tf.float32:
        # A strided 2x2 filter with the gain folded in is faster than avg_pool for the common case.
        taps = [np.sqrt(gain) / factor] * factor
        return _blur2d(x, f=taps, normalize=False, stride=factor, data_format=data_format)
    if gain != 1:
        x *= gain
    if factor == 1:
        return x
    window = _strides(factor, data_format)
    return tf.nn.avg_pool(x, ksize=window, strides=window, padding="VALID", data_format=data_format)


# ----------------------------------------------------------------------------------------------------
# Resampling with explicit first- and second-order gradients. The nested custom gradients keep the
# backward pass of the R1 penalty made of the same cheap filters. None of the gradient functions
# reads a tensor from outside its own arguments (TF 2.x graph mode rejects captured variables).


def blur2d(x, f=[1, 2, 1], normalize=True, data_format="NCHW"):
    """Blur every channel of [N, C, H, W] (or NHWC) with the separable filter `f` (normalised to unit sum)."""
    with tf.variable_scope("Blur2D"):
        @tf.custom_gradient
        def blur(x):
            y = _blur2d(x, f, normalize, data_format=data_format)

            @tf.custom_gradient
            def blur_grad(dy):
                dx = _blur2d(dy, f, normalize, flip=True, data_format=data_format)
                return dx, lambda ddx: _blur2d(ddx, f, normalize, data_format=data_format)
            return y, blur_grad
        return blur(x)


def upscale2d(x, factor=2, data_format="NCHW"):
    """Nearest-neighbour upsampling of [N, C, H, W] (or NHWC) by `factor` (its gradient sums each block)."""
    with tf.variable_scope("Upscale2D"):
        @tf.custom_gradient
        def upscale(x):
            y = _upscale2d(x, factor, data_format=data_format)

            @tf.custom_gradient
            def upscale_grad(dy):
                dx = _downscale2d(dy, factor, gain=factor ** 2, data_format=data_format)
                return dx, lambda ddx: _upscale2d(ddx, factor, data_format=data_format)
            return y, upscale_grad
        return upscale(x)


def downscale2d(x, factor=2, data_format="NCHW"):
    """Average-pool [N, C, H, W] (or NHWC) over `factor` x `factor` blocks (its gradient spreads evenly)."""
    with tf.variable_scope("Downscale2D"):
        @tf.custom_gradient
        def downscale(x):
            y = _downscale2d(x, factor, data_format=data_format)

            @tf.custom_gradient
            def downscale_grad(dy):
                dx = _upscale2d(dy, factor, gain=1 / factor ** 2, data_format=data_format)
                return dx, lambda ddx: _downscale2d(ddx, factor, data_format=data_format)
            return y, downscale_grad
        return downscale(x)


# ----------------------------------------------------------------------------------------------------
# Layers with equalized learning rate.


def get_weight(shape, gain=np.sqrt(2), use_wscale=False, lrmul=1):
    """Variable `weight` of `shape` (fan-in = all but the last axis), returned scaled for use.

    With `use_wscale` the variable is initialised N(0, 1/lrmul) and multiplied by He's constant at run
    time (equalized learning rate); without, it is initialised N(0, he_std/lrmul).
    """
    fan_in = np.prod(shape[:-1])
    he_std = gain / np.sqrt(fan_in)
    if use_wscale:
        init_std = 1.0 / lrmul
        runtime_coef = he_std * lrmul
    else:
        init_std = he_std / lrmul
        runtime_coef = lrmul
    w = tf.get_variable("weight", shape=shape, initializer=tf.initializers.random_normal(0, init_std))
    return w * runtime_coef


def dense(x, fmaps, **kwargs):
    """Fully connected layer without bias: [N, ...] -> [N, fmaps]. Images are flattened in NCHW order."""
    if x.shape.ndims > 2:
        x = tf.reshape(x, [-1, np.prod([dim.value for dim in x.shape[1:]])])
    w = get_weight([x.shape[1].value, fmaps], **kwargs)
    return tf.matmul(x, tf.cast(w, x.dtype))


def conv2d(x, fmaps, kernel, data_format="NCHW", **kwargs):
    """'SAME' convolution without bias: [N, C, H, W] -> [N, fmaps, H, W] (or NHWC); `kernel` odd."""
    assert kernel >= 1 and kernel % 2 == 1
    w = get_weight([kernel, kernel, x.shape[_channel_axis(data_format)].value, fmaps], **kwargs)
    return tf.nn.conv2d(x, tf.cast(w, x.dtype), strides=[1, 1, 1, 1], padding="SAME", data_format=data_format)


def _auto_fused_scale(fused_scale, high_res_size):
    """'auto' fuses the resampling of layers whose high-resolution side has at least 128 pixels."""
    if fused_scale not in (True, False, "auto"):
        raise ValueError("networks_stylegan: fused_scale must be True, False or 'auto', got %r" % (fused_scale,))
    return high_res_size >= 128 if fused_scale == "auto" else fused_scale


def upscale2d_conv2d(x, fmaps, kernel, fused_scale="auto", data_format="NCHW", **kwargs):
    """2x nearest upsampling then 'SAME' convolution: [N, C, H, W] -> [N, fmaps, 2H, 2W] (or NHWC).

    The fused form is one stride-2 transposed convolution with the kernel summed over 2x2 shifts,
    which equals the two steps; the weight variable is the same [k, k, C, fmaps] either way.
    """
    assert kernel >= 1 and kernel % 2 == 1
    height, width = _image_size(x, data_format)
    if not _auto_fused_scale(fused_scale, min(height, width) * 2):
        return conv2d(upscale2d(x, data_format=data_format), fmaps, kernel, data_format=data_format, **kwargs)

    w = get_weight([kernel, kernel, x.shape[_channel_axis(data_format)].value, fmaps], **kwargs)
    w = tf.transpose(w, [0, 1, 3, 2])  # conv2d_transpose wants [k, k, out, in].
    w = tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]], mode="CONSTANT")
    w = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]
    w = tf.cast(w, x.dtype)
    if data_format == "NCHW":
        out_shape = [tf.shape(x)[0], fmaps, height * 2, width * 2]
    else:
        out_shape = [tf.shape(x)[0], height * 2, width * 2, fmaps]
    return tf.nn.conv2d_transpose(x, w, out_shape, strides=_strides(2, data_format), padding="SAME",
                                  data_format=data_format)


def conv2d_downscale2d(x, fmaps, kernel, fused_scale="auto", data_format="NCHW", **kwargs):
    """'SAME' convolution then 2x2 average pooling: [N, C, H, W] -> [N, fmaps, H/2, W/2] (or NHWC).

    The fused form is one stride-2 convolution with the kernel averaged over 2x2 shifts.
    """
    assert kernel >= 1 and kernel % 2 == 1
    if not _auto_fused_scale(fused_scale, min(_image_size(x, data_format))):
        return downscale2d(conv2d(x, fmaps, kernel, data_format=data_format, **kwargs), data_format=data_format)

    w = get_weight([kernel, kernel, x.shape[_channel_axis(data_format)].value, fmaps], **kwargs)
    w = tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]], mode="CONSTANT")
    w = (w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]) * 0.25
    w = tf.cast(w, x.dtype)
    return tf.nn.conv2d(x, w, strides=_strides(2, data_format), padding="SAME", data_format=data_format)


def apply_bias(x, lrmul=1, data_format="NCHW"):
    """Add the variable `bias` (zeros, [C]) times `lrmul` along the channels of [N, C] or 4-D activations."""
    axis = _channel_axis(data_format) if x.shape.ndims == 4 else 1
    b = tf.get_variable("bias", shape=[x.shape[axis]], initializer=tf.initializers.zeros()) * lrmul
    b = tf.cast(b, x.dtype)
    if x.shape.ndims == 2:
        return x + b
    return x + tf.reshape(b, _channels_shape(data_format))


def leaky_relu(x, alpha=0.2):
    """max(x, alpha * x), with a gradient that reuses the forward output's sign."""
    with tf.variable_scope("LeakyReLU"):
        alpha = tf.constant(alpha, dtype=x.dtype, name="alpha")

        @tf.custom_gradient
        def lrelu(x):
            y = tf.maximum(x, x * alpha)

            def lrelu_grad(dy):
                # Linear in dy, so TF differentiates it for second-order gradients.
                return tf.where(y >= 0, dy, dy * alpha)
            return y, lrelu_grad
        return lrelu(x)


def pixel_norm(x, epsilon=1e-8, data_format="NCHW"):
    """Normalise each feature vector (the channels of [N, C] or of 4-D activations) to unit mean square."""
    axis = _channel_axis(data_format) if x.shape.ndims == 4 else 1
    with tf.variable_scope("PixelNorm"):
        epsilon = tf.constant(epsilon, dtype=x.dtype, name="epsilon")
        return x * tf.rsqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=True) + epsilon)


def instance_norm(x, epsilon=1e-8, data_format="NCHW"):
    """Normalise every channel of every sample of [N, C, H, W] (or NHWC) to zero mean, unit variance."""
    assert x.shape.ndims == 4
    spatial_axes = [2, 3] if data_format == "NCHW" else [1, 2]
    with tf.variable_scope("InstanceNorm"):
        orig_dtype = x.dtype
        x = tf.cast(x, tf.float32)
        x -= tf.reduce_mean(x, axis=spatial_axes, keepdims=True)
        epsilon = tf.constant(epsilon, dtype=x.dtype, name="epsilon")
        x *= tf.rsqrt(tf.reduce_mean(tf.square(x), axis=spatial_axes, keepdims=True) + epsilon)
        return tf.cast(x, orig_dtype)


def style_mod(x, dlatent, data_format="NCHW", **kwargs):
    """AdaIN style: x * (scale + 1) + shift, with (scale, shift) = dense(dlatent) of 2C units."""
    with tf.variable_scope("StyleMod"):
        num_channels = x.shape[_channel_axis(data_format)].value
        style = apply_bias(dense(dlatent, fmaps=num_channels * 2, gain=1, **kwargs))
        if data_format == "NCHW":
            style = tf.reshape(style, [-1, 2, num_channels] + [1] * (x.shape.ndims - 2))
            return x * (style[:, 0] + 1) + style[:, 1]
        style = tf.reshape(style, [-1, 2, 1, 1, num_channels])
        return x * (style[:, 0] + 1) + style[:, 1]


def apply_noise(x, noise_var=None, randomize_noise=True, data_format="NCHW"):
    """Add per-pixel noise [N, 1, H, W] times a learned per-channel `weight` (zeros, [C])."""
    assert x.shape.ndims == 4
    with tf.variable_scope("Noise"):
        height, width = _image_size(x, data_format)
        if noise_var is None or randomize_noise:
            noise = tf.random_normal([tf.shape(x)[0], 1, height, width], dtype=x.dtype)
        else:
            noise = tf.cast(noise_var, x.dtype)  # [1, 1, H, W]
        if data_format == "NHWC":
            noise = tf.reshape(noise, [-1, height, width, 1])  # One channel: the same values in the same order.
        weight = tf.get_variable("weight", shape=[x.shape[_channel_axis(data_format)].value],
                                 initializer=tf.initializers.zeros())
        return x + noise * tf.reshape(tf.cast(weight, x.dtype), _channels_shape(data_format))


def minibatch_stddev_layer(x, group_size=4, num_new_features=1, data_format="NCHW"):
    """Append `num_new_features` channels holding the stddev over groups of samples.

    Sample i belongs to group i mod (N / G), G = min(group_size, N); N must be divisible by G.
    """
    with tf.variable_scope("MinibatchStddev"):
        group_size = tf.minimum(group_size, tf.shape(x)[0])
        n = num_new_features
        if data_format == "NCHW":
            _, c, h, w = [dim.value for dim in x.shape]
            y = tf.reshape(x, [group_size, -1, n, c // n, h, w])  # [GMncHW]
            feature_axes = [2, 3, 4]  # of the variance [MncHW]
        else:
            _, h, w, c = [dim.value for dim in x.shape]
            y = tf.reshape(x, [group_size, -1, h, w, n, c // n])  # [GMHWnc]
            feature_axes = [1, 2, 4]  # of the variance [MHWnc]
        y = tf.cast(y, tf.float32)
        y -= tf.reduce_mean(y, axis=0, keepdims=True)
        y = tf.reduce_mean(tf.square(y), axis=0)  # Variance over the group.
        y = tf.sqrt(y + 1e-8)
        y = tf.reduce_mean(y, axis=feature_axes)  # [Mn]
        y = tf.cast(y, x.dtype)
        if data_format == "NCHW":
            y = tf.tile(y[:, :, np.newaxis, np.newaxis], [group_size, 1, h, w])  # [NnHW]
            return tf.concat([x, y], axis=1)
        y = tf.tile(y[:, np.newaxis, np.newaxis, :], [group_size, h, w, 1])  # [NHWn]
        return tf.concat([x, y], axis=3)


def _activation(nonlinearity):
    """(function, gain that keeps the signal magnitude) for 'relu' or 'lrelu'."""
    table = {"relu": (tf.nn.relu, np.sqrt(2)), "lrelu": (leaky_relu, np.sqrt(2))}
    if nonlinearity not in table:
        raise ValueError("networks_stylegan: nonlinearity must be 'relu' or 'lrelu', got %r" % (nonlinearity,))
    return table[nonlinearity]


def _resolution_log2(resolution, what):
    resolution_log2 = int(np.log2(resolution))
    if resolution != 2 ** resolution_log2 or resolution < 4:
        raise ValueError("networks_stylegan.%s: resolution must be a power of two >= 4, got %r" % (what, resolution))
    return resolution_log2


def _resolve_structure(structure, use_linear):
    if structure == "auto":
        structure = "linear" if use_linear else "recursive"
    if structure not in ("fixed", "linear", "recursive"):
        raise ValueError("networks_stylegan: structure must be 'auto', 'fixed', 'linear' or 'recursive', got %r"
                         % (structure,))
    return structure


def _cond_chain(current, condition, replacement):
    """A thunk that evaluates `replacement` when `condition` holds, else `current`."""
    return lambda: tf.cond(condition, replacement, current)


# ----------------------------------------------------------------------------------------------------
# Generator: mapping + synthesis, with truncation, style mixing and the dlatent moving average.


def G_style(
        latents_in,                         # [N, latent_size] latent vectors z.
        labels_in,                          # [N, label_size] labels (one-hot or empty).
        truncation_psi=0.7,                 # Truncation strength; None or 1 = off.
        truncation_cutoff=8,                # Truncate layers [0, cutoff); None or <= 0 = off.
        truncation_psi_val=None,            # Replaces truncation_psi when is_validation.
        truncation_cutoff_val=None,         # Replaces truncation_cutoff when is_validation.
        dlatent_avg_beta=0.995,             # Decay of the dlatent moving average while training.
        style_mixing_prob=0.9,              # Probability of style mixing while training.
        is_training=False,                  # Training: dlatent_avg update and style mixing, no truncation.
        is_validation=False,                # Validation: the *_val truncation settings.
        is_template_graph=False,            # Set by Network while it builds its template graph.
        components=dnnlib.EasyDict(),       # Sub-networks `synthesis` and `mapping`, created if missing.
        **kwargs):                          # Passed on to G_synthesis and G_mapping.
    """Style-based generator: latents [N, latent_size], labels [N, label_size] -> images [N, C, H, W]."""
    if is_training and is_validation:
        raise ValueError("networks_stylegan.G_style: is_training and is_validation are exclusive")
    assert isinstance(components, dnnlib.EasyDict)
    if is_validation:
        truncation_psi = truncation_psi_val
        truncation_cutoff = truncation_cutoff_val
    is_constant = lambda value: value is not None and not tflib.is_tf_expression(value)
    if is_training or (is_constant(truncation_psi) and truncation_psi == 1):
        truncation_psi = None
    if is_training or (is_constant(truncation_cutoff) and truncation_cutoff <= 0):
        truncation_cutoff = None
    if not is_training or (is_constant(dlatent_avg_beta) and dlatent_avg_beta == 1):
        dlatent_avg_beta = None
    if not is_training or (is_constant(style_mixing_prob) and style_mixing_prob <= 0):
        style_mixing_prob = None

    # Sub-networks, looked up by name so that an exec'd copy of this module uses its own functions.
    if "synthesis" not in components:
        components.synthesis = tflib.Network("G_synthesis", func_name=globals()["G_synthesis"], **kwargs)
    num_layers = components.synthesis.input_shape[1]
    dlatent_size = components.synthesis.input_shape[2]
    if "mapping" not in components:
        components.mapping = tflib.Network("G_mapping", func_name=globals()["G_mapping"],
                                           dlatent_broadcast=num_layers, **kwargs)

    lod_in = tf.get_variable("lod", initializer=np.float32(0), trainable=False)
    dlatent_avg = tf.get_variable("dlatent_avg", shape=[dlatent_size], initializer=tf.initializers.zeros(),
                                  trainable=False)

    dlatents = components.mapping.get_output_for(latents_in, labels_in, **kwargs)  # [N, num_layers, D]

    if dlatent_avg_beta is not None:
        with tf.variable_scope("DlatentAvg"):
            batch_avg = tf.reduce_mean(dlatents[:, 0], axis=0)
            update_op = tf.assign(dlatent_avg, tflib.lerp(batch_avg, dlatent_avg, dlatent_avg_beta))
            with tf.control_dependencies([update_op]):
                dlatents = tf.identity(dlatents)

    layer_idx = np.arange(num_layers)[np.newaxis, :, np.newaxis]  # [1, num_layers, 1]
    if style_mixing_prob is not None:
        with tf.name_scope("StyleMix"):
            latents2 = tf.random_normal(tf.shape(latents_in))
            dlatents2 = components.mapping.get_output_for(latents2, labels_in, **kwargs)
            cur_layers = num_layers - tf.cast(lod_in, tf.int32) * 2  # Layers in use at this lod.
            mixing_cutoff = tf.cond(
                tf.random_uniform([], 0.0, 1.0) < style_mixing_prob,
                lambda: tf.random_uniform([], 1, cur_layers, dtype=tf.int32),
                lambda: cur_layers)
            dlatents = tf.where(tf.broadcast_to(layer_idx < mixing_cutoff, tf.shape(dlatents)), dlatents, dlatents2)

    if truncation_psi is not None and truncation_cutoff is not None:
        with tf.variable_scope("Truncation"):
            ones = np.ones(layer_idx.shape, dtype=np.float32)
            coefs = tf.where(layer_idx < truncation_cutoff, truncation_psi * ones, ones)
            dlatents = tflib.lerp(dlatent_avg, dlatents, coefs)

    with tf.control_dependencies([tf.assign(components.synthesis.find_var("lod"), lod_in)]):
        images_out = components.synthesis.get_output_for(dlatents, force_clean_graph=is_template_graph, **kwargs)
    return tf.identity(images_out, name="images_out")


def G_mapping(
        latents_in,                         # [N, latent_size] latent vectors z.
        labels_in,                          # [N, label_size] labels.
        latent_size=512,                    # Size of z.
        label_size=0,                       # Size of the labels, 0 = unconditional.
        dlatent_size=512,                   # Size of w.
        dlatent_broadcast=None,             # Output [N, dlatent_broadcast, dlatent_size] instead of [N, dlatent_size].
        mapping_layers=8,                   # Number of dense layers.
        mapping_fmaps=512,                  # Width of the hidden layers.
        mapping_lrmul=0.01,                 # Learning-rate multiplier of the mapping layers.
        mapping_nonlinearity="lrelu",       # 'relu' or 'lrelu'.
        use_wscale=True,                    # Equalized learning rate.
        normalize_latents=True,             # Pixel-normalise z (after the label embedding) first.
        dtype="float32",                    # Data type of the activations.
        **_kwargs):                         # Ignores the synthesis network's arguments.
    """Mapping network: latents [N, latent_size], labels [N, label_size] -> dlatents."""
    act, gain = _activation(mapping_nonlinearity)

    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    latents_in = tf.cast(latents_in, dtype)
    labels_in = tf.cast(labels_in, dtype)
    x = latents_in

    if label_size:
        with tf.variable_scope("LabelConcat"):
            w = tf.get_variable("weight", shape=[label_size, latent_size], initializer=tf.initializers.random_normal())
            x = tf.concat([x, tf.matmul(labels_in, tf.cast(w, dtype))], axis=1)

    if normalize_latents:
        x = pixel_norm(x)

    for layer_idx in range(mapping_layers):
        with tf.variable_scope("Dense%d" % layer_idx):
            fmaps = dlatent_size if layer_idx == mapping_layers - 1 else mapping_fmaps
            x = dense(x, fmaps=fmaps, gain=gain, use_wscale=use_wscale, lrmul=mapping_lrmul)
            x = apply_bias(x, lrmul=mapping_lrmul)
            x = act(x)

    if dlatent_broadcast is not None:
        with tf.variable_scope("Broadcast"):
            x = tf.tile(x[:, np.newaxis], [1, dlatent_broadcast, 1])

    assert x.dtype == tf.as_dtype(dtype)
    return tf.identity(x, name="dlatents_out")


def G_synthesis(
        dlatents_in,                        # [N, num_layers, dlatent_size] per-layer dlatents w.
        dlatent_size=512,                   # Size of w.
        num_channels=3,                     # Image channels.
        resolution=1024,                    # Output resolution (power of two).
        fmap_base=8192,                     # Feature maps: nf(stage) = min(fmap_base / 2^(stage*fmap_decay), fmap_max).
        fmap_decay=1.0,
        fmap_max=512,
        use_styles=True,                    # One dlatent per layer (else one for all).
        const_input_layer=True,             # Learned constant 4x4 input (else a dense layer of w).
        use_noise=True,                     # Per-layer noise inputs.
        randomize_noise=True,               # Fresh noise per call (else the `noise%d` variables).
        nonlinearity="lrelu",               # 'relu' or 'lrelu'.
        use_wscale=True,                    # Equalized learning rate.
        use_pixel_norm=False,               # Pixel norm after every layer.
        use_instance_norm=True,             # Instance norm after every layer.
        dtype="float32",                    # Data type of the activations.
        fused_scale="auto",                 # Fused upscale+conv: True, False or 'auto' (>= 128 px).
        blur_filter=[1, 2, 1],              # Low-pass filter after upsampling; None = off.
        structure="auto",                   # 'fixed', 'linear', 'recursive' or 'auto'.
        data_format=None,                   # Layout inside: 'NCHW', 'NHWC' or None/'auto' (resolve_data_format).
        is_template_graph=False,            # Set by Network while it builds its template graph.
        force_clean_graph=False,            # Build a graph without tf.cond or random noise.
        **_kwargs):                         # Ignores the mapping network's arguments.
    """Synthesis network: dlatents [N, num_layers, dlatent_size] -> images [N, num_channels, res, res].

    num_layers = 2 * log2(resolution) - 2. The `lod` variable (0 = full resolution) blends the
    output of the growing network as in progressive GANs.
    """
    resolution_log2 = _resolution_log2(resolution, "G_synthesis")
    nf = lambda stage: min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)
    data_format = resolve_data_format(data_format)
    blur = lambda x: blur2d(x, blur_filter, data_format=data_format) if blur_filter else x
    upscale = lambda x, factor=2: upscale2d(x, factor, data_format=data_format)
    if is_template_graph:
        force_clean_graph = True
    if force_clean_graph:
        randomize_noise = False
    structure = _resolve_structure(structure, use_linear=force_clean_graph)
    act, gain = _activation(nonlinearity)
    num_layers = resolution_log2 * 2 - 2
    num_styles = num_layers if use_styles else 1

    dlatents_in.set_shape([None, num_styles, dlatent_size])
    dlatents_in = tf.cast(dlatents_in, dtype)
    lod_in = tf.cast(tf.get_variable("lod", initializer=np.float32(0), trainable=False), dtype)

    # Two noise inputs per resolution, from 4x4 up.
    noise_inputs = []
    if use_noise:
        for layer_idx in range(num_layers):
            res = layer_idx // 2 + 2
            noise_inputs.append(tf.get_variable("noise%d" % layer_idx, shape=[1, 1, 2 ** res, 2 ** res],
                                                initializer=tf.initializers.random_normal(), trainable=False))

    def layer_epilogue(x, layer_idx):
        if use_noise:
            x = apply_noise(x, noise_inputs[layer_idx], randomize_noise=randomize_noise, data_format=data_format)
        x = apply_bias(x, data_format=data_format)
        x = act(x)
        if use_pixel_norm:
            x = pixel_norm(x, data_format=data_format)
        if use_instance_norm:
            x = instance_norm(x, data_format=data_format)
        if use_styles:
            x = style_mod(x, dlatents_in[:, layer_idx], use_wscale=use_wscale, data_format=data_format)
        return x

    def conv(x, fmaps, kernel, **kwargs):
        return conv2d(x, fmaps=fmaps, kernel=kernel, data_format=data_format, **kwargs)

    with tf.variable_scope("4x4"):
        if const_input_layer:
            with tf.variable_scope("Const"):
                const = tf.get_variable("const", shape=[1, nf(1), 4, 4], initializer=tf.initializers.ones())
                x = tf.tile(nchw_to_layout(tf.cast(const, dtype), data_format), [tf.shape(dlatents_in)[0], 1, 1, 1])
                x = layer_epilogue(x, 0)
        else:
            with tf.variable_scope("Dense"):
                x = dense(dlatents_in[:, 0], fmaps=nf(1) * 16, gain=gain / 4, use_wscale=use_wscale)
                x = layer_epilogue(nchw_to_layout(tf.reshape(x, [-1, nf(1), 4, 4]), data_format), 0)
        with tf.variable_scope("Conv"):
            x = layer_epilogue(conv(x, fmaps=nf(1), kernel=3, gain=gain, use_wscale=use_wscale), 1)

    def block(res, x):  # 8x8 and up: [N, nf(res-2), r/2, r/2] -> [N, nf(res-1), r, r].
        with tf.variable_scope("%dx%d" % (2 ** res, 2 ** res)):
            with tf.variable_scope("Conv0_up"):
                x = upscale2d_conv2d(x, fmaps=nf(res - 1), kernel=3, gain=gain, use_wscale=use_wscale,
                                     fused_scale=fused_scale, data_format=data_format)
                x = layer_epilogue(blur(x), res * 2 - 4)
            with tf.variable_scope("Conv1"):
                x = layer_epilogue(conv(x, fmaps=nf(res - 1), kernel=3, gain=gain, use_wscale=use_wscale),
                                   res * 2 - 3)
            return x

    def torgb(res, x):
        with tf.variable_scope("ToRGB_lod%d" % (resolution_log2 - res)):
            return apply_bias(conv(x, fmaps=num_channels, kernel=1, gain=1, use_wscale=use_wscale),
                              data_format=data_format)

    if structure == "fixed":
        # Full resolution only; lod is ignored.
        for res in range(3, resolution_log2 + 1):
            x = block(res, x)
        images_out = torgb(resolution_log2, x)

    elif structure == "linear":
        # Every resolution is computed; lerp_clip blends in each finer output as lod decreases.
        images_out = torgb(2, x)
        for res in range(3, resolution_log2 + 1):
            lod = resolution_log2 - res
            x = block(res, x)
            img = torgb(res, x)
            images_out = upscale(images_out)
            with tf.variable_scope("Grow_lod%d" % lod):
                images_out = tflib.lerp_clip(img, images_out, lod_in - lod)

    else:
        # Same result as 'linear', but tf.cond skips the resolutions that the current lod does not use.
        def grow(x, res, lod):
            y = block(res, x)
            img = lambda: upscale(torgb(res, y), 2 ** lod)
            img = _cond_chain(img, lod_in > lod, lambda: upscale(
                tflib.lerp(torgb(res, y), upscale(torgb(res - 1, x)), lod_in - lod), 2 ** lod))
            if lod > 0:
                img = _cond_chain(img, lod_in < lod, lambda: grow(y, res + 1, lod - 1))
            return img()
        images_out = grow(x, 3, resolution_log2 - 3)

    images_out = layout_to_nchw(images_out, data_format)
    assert images_out.dtype == tf.as_dtype(dtype)
    return tf.identity(images_out, name="images_out")


# ----------------------------------------------------------------------------------------------------
# Discriminator (progressive GAN style).


def D_basic(
        images_in,                          # [N, num_channels, resolution, resolution] images.
        labels_in,                          # [N, label_size] labels.
        num_channels=1,                     # Image channels.
        resolution=32,                      # Input resolution (power of two).
        label_size=0,                       # Size of the labels, 0 = unconditional.
        fmap_base=8192,                     # Feature maps: nf(stage) = min(fmap_base / 2^(stage*fmap_decay), fmap_max).
        fmap_decay=1.0,
        fmap_max=512,
        nonlinearity="lrelu",               # 'relu' or 'lrelu'.
        use_wscale=True,                    # Equalized learning rate.
        mbstd_group_size=4,                 # Minibatch stddev group size; <= 1 = off.
        mbstd_num_features=1,               # Minibatch stddev channels.
        dtype="float32",                    # Data type of the activations.
        fused_scale="auto",                 # Fused conv+downscale: True, False or 'auto' (>= 128 px).
        blur_filter=[1, 2, 1],              # Low-pass filter before downsampling; None = off.
        structure="auto",                   # 'fixed', 'linear', 'recursive' or 'auto'.
        data_format=None,                   # Layout inside: 'NCHW', 'NHWC' or None/'auto' (resolve_data_format).
        is_template_graph=False,            # Set by Network while it builds its template graph.
        **_kwargs):                         # Ignores the generator's arguments.
    """Discriminator: images [N, num_channels, res, res], labels [N, label_size] -> scores [N, 1]."""
    resolution_log2 = _resolution_log2(resolution, "D_basic")
    nf = lambda stage: min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)
    data_format = resolve_data_format(data_format)
    blur = lambda x: blur2d(x, blur_filter, data_format=data_format) if blur_filter else x
    downscale = lambda x, factor=2: downscale2d(x, factor, data_format=data_format)
    structure = _resolve_structure(structure, use_linear=is_template_graph)
    act, gain = _activation(nonlinearity)

    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    images_in = nchw_to_layout(tf.cast(images_in, dtype), data_format)
    labels_in = tf.cast(labels_in, dtype)
    lod_in = tf.cast(tf.get_variable("lod", initializer=np.float32(0.0), trainable=False), dtype)

    def conv_bias_act(x, fmaps, kernel):
        x = conv2d(x, fmaps=fmaps, kernel=kernel, gain=gain, use_wscale=use_wscale, data_format=data_format)
        return act(apply_bias(x, data_format=data_format))

    def fromrgb(x, res):  # [N, C, r, r] -> [N, nf(res-1), r, r] (or NHWC)
        with tf.variable_scope("FromRGB_lod%d" % (resolution_log2 - res)):
            return conv_bias_act(x, fmaps=nf(res - 1), kernel=1)

    def block(x, res):  # [N, nf(res-1), r, r] -> [N, nf(res-2), r/2, r/2]; 4x4 -> [N, max(label_size, 1)].
        with tf.variable_scope("%dx%d" % (2 ** res, 2 ** res)):
            if res >= 3:
                with tf.variable_scope("Conv0"):
                    x = conv_bias_act(x, fmaps=nf(res - 1), kernel=3)
                with tf.variable_scope("Conv1_down"):
                    x = conv2d_downscale2d(blur(x), fmaps=nf(res - 2), kernel=3, gain=gain, use_wscale=use_wscale,
                                           fused_scale=fused_scale, data_format=data_format)
                    x = act(apply_bias(x, data_format=data_format))
            else:
                if mbstd_group_size > 1:
                    x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features, data_format=data_format)
                with tf.variable_scope("Conv"):
                    x = conv_bias_act(x, fmaps=nf(res - 1), kernel=3)
                with tf.variable_scope("Dense0"):
                    x = layout_to_nchw(x, data_format)  # The dense weight's rows are in NCHW order.
                    x = act(apply_bias(dense(x, fmaps=nf(res - 2), gain=gain, use_wscale=use_wscale)))
                with tf.variable_scope("Dense1"):
                    x = apply_bias(dense(x, fmaps=max(label_size, 1), gain=1, use_wscale=use_wscale))
            return x

    if structure == "fixed":
        x = fromrgb(images_in, resolution_log2)
        for res in range(resolution_log2, 2, -1):
            x = block(x, res)
        scores_out = block(x, 2)

    elif structure == "linear":
        img = images_in
        x = fromrgb(img, resolution_log2)
        for res in range(resolution_log2, 2, -1):
            lod = resolution_log2 - res
            x = block(x, res)
            img = downscale(img)
            y = fromrgb(img, res - 1)
            with tf.variable_scope("Grow_lod%d" % lod):
                x = tflib.lerp_clip(x, y, lod_in - lod)
        scores_out = block(x, 2)

    else:
        # Same result as 'linear', with tf.cond skipping the unused resolutions.
        def grow(res, lod):
            x = lambda: fromrgb(downscale(images_in, 2 ** lod), res)
            if lod > 0:
                x = _cond_chain(x, lod_in < lod, lambda: grow(res + 1, lod - 1))
            x = block(x(), res)
            y = lambda: x
            if res > 2:
                y = _cond_chain(y, lod_in > lod, lambda: tflib.lerp(
                    x, fromrgb(downscale(images_in, 2 ** (lod + 1)), res - 1), lod_in - lod))
            return y()
        scores_out = grow(2, resolution_log2 - 2)

    if label_size:
        with tf.variable_scope("LabelSwitch"):
            scores_out = tf.reduce_sum(scores_out * labels_in, axis=1, keepdims=True)

    assert scores_out.dtype == tf.as_dtype(dtype)
    return tf.identity(scores_out, name="scores_out")
