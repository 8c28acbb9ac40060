"""StyleGAN2 generator and discriminator build functions (TF1 graph style, NCHW or NHWC inside).

Build functions for `dnnlib.tflib.Network`:
* `G_main`: the full generator, mapping + synthesis as components, truncation, style mixing.
* `G_mapping`: z (+ labels) -> w, broadcast to one w per synthesis layer.
* `G_synthesis_stylegan2`: w -> image, architectures 'orig', 'skip' (configs e/f) and 'resnet'.
* `G_synthesis_stylegan_revised`: the progressive-growing synthesis of configs b-d.
* `D_stylegan2`: discriminator, architectures 'orig', 'skip' and 'resnet' (configs e/f).
* `D_stylegan`: the progressive-growing discriminator of configs b-d.

Variable names, shapes, initialisers and scopes follow the official networks, so that official
network pickles map onto these graphs one to one. Weights are stored unscaled; the equalized
learning-rate coefficients are applied at run time.

Images in and out are NCHW [N, C, H, W], as in the official code. Inside, the synthesis and
discriminator networks run in the layout of their `data_format` argument (see `resolve_data_format`):
NCHW on GPUs, NHWC on CPUs, where TensorFlow's convolutions are faster in NHWC (and, without oneDNN,
exist only in NHWC).

The text of this module is embedded in the network pickles we write, and the official code executes
it with its own dnnlib: it imports only os, NumPy, TensorFlow, dnnlib and the two custom-op modules,
and uses no dnnlib function that the official dnnlib lacks.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib.ops.upfirdn_2d import upsample_2d, downsample_2d, upsample_conv_2d, conv_downsample_2d
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act

# ----------------------------------------------------------------------------------------------------
# Execution layout. resolve_data_format is repeated in networks_stylegan.py: each module stands alone in a pickle.

DATA_FORMAT_ENV = 'STYLEGAN2_DATA_FORMAT'  # 'NCHW', 'NHWC' or 'auto' (the default).
_grouped_conv_supported_cache = []


def _gpu_visible():
    """True if TensorFlow sees a GPU. Without the device-listing API (TF < 1.14), assume a GPU."""
    experimental = getattr(getattr(tf, 'config', None), 'experimental', None)
    list_physical_devices = getattr(experimental, 'list_physical_devices', None)
    if list_physical_devices is None:
        return True
    return len(list_physical_devices('GPU')) > 0


def resolve_data_format(data_format=None):
    """The layout to run in: `data_format` if it is 'NCHW' or 'NHWC', else (None or 'auto') the
    environment variable STYLEGAN2_DATA_FORMAT, else 'NCHW' when a GPU is visible and 'NHWC' when not."""
    if data_format is None or data_format == 'auto':
        data_format = os.environ.get(DATA_FORMAT_ENV, 'auto') or 'auto'
        if data_format not in ('NCHW', 'NHWC', 'auto'):
            raise ValueError("%s must be 'NCHW', 'NHWC' or 'auto', got %r" % (DATA_FORMAT_ENV, data_format))
    if data_format == 'auto':
        data_format = 'NCHW' if _gpu_visible() else 'NHWC'
    if data_format not in ('NCHW', 'NHWC'):
        raise ValueError("networks_stylegan2: data_format must be 'NCHW', 'NHWC', 'auto' or None, got %r"
                         % (data_format,))
    return data_format


def grouped_conv_supported():
    """True if grouped convolutions and their gradients run here (fused modulated convolution).

    GPUs have them (cuDNN). On CPUs, TF 1.x has none (it may even crash or compute garbage on them, so
    they are never tried there), and TF 2.x has them through oneDNN only, which depends on the build,
    the CPU and TF_ENABLE_ONEDNN_OPTS: rather than guessing, a tiny grouped convolution and its
    gradients run once in a throwaway graph on the CPU, and the answer is kept for the process.
    """
    if not _grouped_conv_supported_cache:
        supported = _gpu_visible()
        if not supported and not tf.VERSION.startswith('1.'):
            with tf.Graph().as_default():
                x = tf.ones([1, 3, 3, 4])
                w = tf.ones([3, 3, 2, 2])  # 4 input channels in 2 groups of 2.
                try:
                    y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding='SAME', data_format='NHWC')
                    grads = tf.gradients(tf.reduce_sum(tf.square(y)), [x, w])
                    with tf.Session(config=tf.ConfigProto(device_count={'GPU': 0})) as session:
                        y_value, _ = session.run([y, grads])
                    supported = bool(np.all(y_value[0, 1, 1] == 18))  # 3x3 pixels x 2 channels of ones.
                except (tf.errors.OpError, ValueError, TypeError):
                    supported = False
        _grouped_conv_supported_cache.append(supported)
    return _grouped_conv_supported_cache[0]


def use_grouped_conv():
    """Whether fused modulated convolution runs as one grouped convolution: on GPUs. On CPUs grouped
    convolutions are missing (TF 1.x, TF 2.x without oneDNN) or, through oneDNN, about twice as slow as
    the non-fused form of the same maths (benchmarks/bench_data_format.py), which runs there instead."""
    return _gpu_visible() and grouped_conv_supported()


def _channel_axis(data_format):
    return 1 if data_format == 'NCHW' else 3


def _image_size(x, data_format):
    """(H, W) of a 4-D activation, as static ints."""
    shape = x.shape.as_list()
    return (shape[2], shape[3]) if data_format == 'NCHW' else (shape[1], shape[2])


def nchw_to_layout(x, data_format):
    """[N, C, H, W] -> the layout of `data_format`."""
    return x if data_format == 'NCHW' else tf.transpose(x, [0, 2, 3, 1])


def layout_to_nchw(x, data_format):
    """The layout of `data_format` -> [N, C, H, W]."""
    return x if data_format == 'NCHW' else tf.transpose(x, [0, 3, 1, 2])


# ----------------------------------------------------------------------------------------------------
# Layers. Activations are [N, C, H, W] for data_format 'NCHW', [N, H, W, C] for 'NHWC'.


def get_weight(shape, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    """A weight variable of `shape` ([..., fan_in dims, fmaps]), returned multiplied by its runtime coefficient.

    He init: std = gain / sqrt(fan_in). With `use_wscale` (equalized learning rate) the variable holds
    N(0, 1/lrmul) and the coefficient is std * lrmul; otherwise it holds N(0, std/lrmul), coefficient lrmul.
    """
    fan_in = np.prod(shape[:-1])
    he_std = gain / np.sqrt(fan_in)
    if use_wscale:
        init_std = 1.0 / lrmul
        runtime_coef = he_std * lrmul
    else:
        init_std = he_std / lrmul
        runtime_coef = lrmul
    weight = tf.get_variable(weight_var, shape=shape, initializer=tf.initializers.random_normal(0, init_std))
    return weight * runtime_coef


def dense_layer(x, fmaps, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    """[N, ...] -> [N, fmaps]; inputs of rank > 2 are flattened first (images in NCHW order). No bias."""
    if len(x.shape) > 2:
        x = tf.reshape(x, [-1, np.prod([d.value for d in x.shape[1:]])])
    w = get_weight([x.shape[1].value, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul, weight_var=weight_var)
    return tf.matmul(x, tf.cast(w, x.dtype))


def _conv2d(x, w, up=False, down=False, resample_kernel=None, data_format='NCHW'):
    """Convolution of `x` with `w` [k, k, in, out]: 'SAME', or 2x up/down with FIR filtering.

    `w` may hold a multiple of x's channels as input (grouped convolution)."""
    w = tf.cast(w, x.dtype)
    if up:
        return upsample_conv_2d(x, w, data_format=data_format, k=resample_kernel)
    if down:
        return conv_downsample_2d(x, w, data_format=data_format, k=resample_kernel)
    return tf.nn.conv2d(x, w, data_format=data_format, strides=[1, 1, 1, 1], padding='SAME')


def conv2d_layer(x, fmaps, kernel, up=False, down=False, resample_kernel=None, gain=1, use_wscale=True, lrmul=1,
                 weight_var='weight', data_format='NCHW'):
    """[N, C, H, W] -> [N, fmaps, H', W'] (or NHWC) with an odd `kernel`; `up`/`down` change H, W by 2. No bias."""
    assert not (up and down), 'conv2d_layer: up and down are exclusive'
    assert kernel >= 1 and kernel % 2 == 1, 'conv2d_layer: kernel must be odd, got %r' % (kernel,)
    in_fmaps = x.shape[_channel_axis(data_format)].value
    w = get_weight([kernel, kernel, in_fmaps, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul,
                   weight_var=weight_var)
    return _conv2d(x, w, up=up, down=down, resample_kernel=resample_kernel, data_format=data_format)


def apply_bias_act(x, act='linear', alpha=None, gain=None, lrmul=1, bias_var='bias', data_format='NCHW'):
    """Add a bias variable (zeros, one per channel, scaled by lrmul), then `act` (see fused_bias_act).

    The channels are axis 1 of [N, C] and of NCHW images, axis 3 of NHWC images."""
    axis = _channel_axis(data_format) if len(x.shape) == 4 else 1
    b = tf.get_variable(bias_var, shape=[x.shape[axis]], initializer=tf.initializers.zeros()) * lrmul
    return fused_bias_act(x, b=tf.cast(b, x.dtype), axis=axis, act=act, alpha=alpha, gain=gain)


def naive_upsample_2d(x, factor=2, data_format='NCHW'):
    """Nearest-neighbour upsampling: [N, C, H, W] -> [N, C, H*factor, W*factor] (or NHWC)."""
    with tf.variable_scope('NaiveUpsample'):
        if data_format == 'NCHW':
            _, C, H, W = x.shape.as_list()
            x = tf.reshape(x, [-1, C, H, 1, W, 1])
            x = tf.tile(x, [1, 1, 1, factor, 1, factor])
            return tf.reshape(x, [-1, C, H * factor, W * factor])
        _, H, W, C = x.shape.as_list()
        x = tf.reshape(x, [-1, H, 1, W, 1, C])
        x = tf.tile(x, [1, 1, factor, 1, factor, 1])
        return tf.reshape(x, [-1, H * factor, W * factor, C])


def naive_downsample_2d(x, factor=2, data_format='NCHW'):
    """Box-filter downsampling: [N, C, H, W] -> [N, C, H/factor, W/factor] (or NHWC), the mean of each block."""
    with tf.variable_scope('NaiveDownsample'):
        if data_format == 'NCHW':
            _, C, H, W = x.shape.as_list()
            x = tf.reshape(x, [-1, C, H // factor, factor, W // factor, factor])
            return tf.reduce_mean(x, axis=[3, 5])
        _, H, W, C = x.shape.as_list()
        x = tf.reshape(x, [-1, H // factor, factor, W // factor, factor, C])
        return tf.reduce_mean(x, axis=[2, 4])


def modulated_conv2d_layer(x, y, fmaps, kernel, up=False, down=False, demodulate=True, resample_kernel=None,
                           gain=1, use_wscale=True, lrmul=1, fused_modconv=True, weight_var='weight',
                           mod_weight_var='mod_weight', mod_bias_var='mod_bias', data_format='NCHW'):
    """Style-modulated convolution: x [N, in, H, W] (or NHWC), y (w vector) [N, w_dim] -> [N, fmaps, H', W']. No bias.

    The style s = dense(y) + bias + 1 [N, in] scales the weight's input channels; with `demodulate`
    each output channel of the scaled weight is then normalised to unit L2 norm. Fused: one grouped
    convolution with a weight per sample. Not fused: the same result by scaling the activations; also
    used when fused is asked for where grouped convolutions are missing or slow (see use_grouped_conv).
    """
    assert not (up and down), 'modulated_conv2d_layer: up and down are exclusive'
    assert kernel >= 1 and kernel % 2 == 1, 'modulated_conv2d_layer: kernel must be odd, got %r' % (kernel,)
    nchw = data_format == 'NCHW'
    in_fmaps = x.shape[_channel_axis(data_format)].value
    if fused_modconv and not use_grouped_conv():
        fused_modconv = False

    w = get_weight([kernel, kernel, in_fmaps, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul,
                   weight_var=weight_var)
    per_sample_w = w[np.newaxis]  # [N, k, k, in, out]

    # Style: the bias starts at 0, so s starts around 1.
    s = dense_layer(y, fmaps=in_fmaps, weight_var=mod_weight_var)  # [N, in]
    s = apply_bias_act(s, bias_var=mod_bias_var) + 1
    per_sample_w *= tf.cast(s[:, np.newaxis, np.newaxis, :, np.newaxis], w.dtype)

    if demodulate:
        d = tf.rsqrt(tf.reduce_sum(tf.square(per_sample_w), axis=[1, 2, 3]) + 1e-8)  # [N, out]
        per_sample_w *= d[:, np.newaxis, np.newaxis, np.newaxis, :]

    if fused_modconv:
        # The minibatch becomes convolution groups: x [1, N*in, H, W] (NHWC: [1, H, W, N*in]),
        # weight [k, k, in, N*out].
        H, W = _image_size(x, data_format)
        if nchw:
            x = tf.reshape(x, [1, -1, H, W])
        else:
            x = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, H, W, -1])
        w = tf.transpose(per_sample_w, [1, 2, 3, 0, 4])
        w = tf.reshape(w, [kernel, kernel, in_fmaps, -1])
    elif nchw:
        x *= tf.cast(s[:, :, np.newaxis, np.newaxis], x.dtype)
    else:
        x *= tf.cast(s[:, np.newaxis, np.newaxis, :], x.dtype)

    x = _conv2d(x, w, up=up, down=down, resample_kernel=resample_kernel, data_format=data_format)

    if fused_modconv:
        H, W = _image_size(x, data_format)
        if nchw:
            x = tf.reshape(x, [-1, fmaps, H, W])
        else:
            x = tf.transpose(tf.reshape(x, [H, W, -1, fmaps]), [2, 0, 1, 3])
    elif demodulate and nchw:
        x *= tf.cast(d[:, :, np.newaxis, np.newaxis], x.dtype)
    elif demodulate:
        x *= tf.cast(d[:, np.newaxis, np.newaxis, :], x.dtype)
    return x


def minibatch_stddev_layer(x, group_size=4, num_new_features=1, data_format='NCHW'):
    """Append the per-group standard deviation as `num_new_features` channels: [N, C, H, W] -> [N, C+n, H, W].

    Groups hold min(group_size, N) samples; sample i belongs to group i % (N / group size), so N must
    be divisible by the group size. The channels are split into n parts, each giving one feature:
    the std over the group, averaged over the part's channels and all pixels. NHWC works the same way.
    """
    group_size = tf.minimum(group_size, tf.shape(x)[0])
    n = num_new_features
    if data_format == 'NCHW':
        _, C, H, W = x.shape.as_list()
        y = tf.reshape(x, [group_size, -1, n, C // n, H, W])  # [G, M, n, C/n, H, W]
        feature_axes = [2, 3, 4]  # of the variance [M, n, C/n, H, W]
    else:
        _, H, W, C = x.shape.as_list()
        y = tf.reshape(x, [group_size, -1, H, W, n, C // n])  # [G, M, H, W, n, C/n]
        feature_axes = [1, 2, 4]  # of the variance [M, H, W, n, C/n]
    y = tf.cast(y, tf.float32)
    y -= tf.reduce_mean(y, axis=0, keepdims=True)
    y = tf.reduce_mean(tf.square(y), axis=0)  # Variance over the group.
    y = tf.sqrt(y + 1e-8)
    y = tf.reduce_mean(y, axis=feature_axes)  # [M, n]
    y = tf.cast(y, x.dtype)
    if data_format == 'NCHW':
        y = tf.tile(y[:, :, np.newaxis, np.newaxis], [group_size, 1, H, W])  # [N, n, H, W]
        return tf.concat([x, y], axis=1)
    y = tf.tile(y[:, np.newaxis, np.newaxis, :], [group_size, H, W, 1])  # [N, H, W, n]
    return tf.concat([x, y], axis=3)


# ----------------------------------------------------------------------------------------------------
# Helpers shared by the build functions.


def _resolution_log2(resolution, func_name):
    resolution_log2 = int(np.log2(resolution))
    if resolution != 2 ** resolution_log2 or resolution < 4:
        raise ValueError('%s: resolution must be a power of two >= 4, got %r' % (func_name, resolution))
    return resolution_log2


def _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max):
    """nf(stage): the number of feature maps at `stage` (stage 1 = 4x4, 2 = 8x8, ...)."""
    def nf(stage):
        return np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max)
    return nf


def _is_constant(value, constant):
    """True if `value` is a Python number equal to `constant` (TF expressions are never constant)."""
    return value is not None and not tflib.is_tf_expression(value) and value == constant


# ----------------------------------------------------------------------------------------------------
# Generator: mapping + synthesis.


def G_main(
        latents_in,                             # First input: latent vectors z [minibatch, latent_size].
        labels_in,                              # Second input: conditioning labels [minibatch, label_size].
        truncation_psi=0.5,                     # Truncation strength: 1 = off, 0 = everything at the mean w.
        truncation_cutoff=None,                 # Truncate only layers below this index; None = all layers.
        truncation_psi_val=None,                # truncation_psi used when is_validation=True.
        truncation_cutoff_val=None,             # truncation_cutoff used when is_validation=True.
        dlatent_avg_beta=0.995,                 # Decay of the moving average of w while training; None = off.
        style_mixing_prob=0.9,                  # Probability of mixing styles while training; None = off.
        is_training=False,                      # Training graph: tracks dlatent_avg, mixes styles, no truncation.
        is_validation=False,                    # Validation graph: uses the *_val truncation arguments.
        return_dlatents=False,                  # Also return the (truncated) dlatents [minibatch, layers, dlatent].
        is_template_graph=False,                # Set by Network while building the template graph.
        components=dnnlib.EasyDict(),           # Sub-networks (synthesis, mapping), created on first build.
        mapping_func='G_mapping',               # Build function name of the mapping network.
        synthesis_func='G_synthesis_stylegan2', # Build function name of the synthesis network.
        **kwargs):                              # Passed on to both sub-networks.
    """[N, latent_size], [N, label_size] -> images [N, C, H, W] (about [-1, 1]), and dlatents if asked."""
    assert not (is_training and is_validation), 'G_main: is_training and is_validation are exclusive'
    assert isinstance(components, dnnlib.EasyDict)
    if is_validation:
        truncation_psi = truncation_psi_val
        truncation_cutoff = truncation_cutoff_val
    if is_training or _is_constant(truncation_psi, 1):
        truncation_psi = None
    if is_training:
        truncation_cutoff = None
    if not is_training or _is_constant(dlatent_avg_beta, 1):
        dlatent_avg_beta = None
    if not is_training or (style_mixing_prob is not None and not tflib.is_tf_expression(style_mixing_prob)
                           and style_mixing_prob <= 0):
        style_mixing_prob = None

    # Sub-networks; globals() so that the functions of this very module are used, even when it was
    # created from source embedded in a pickle.
    if 'synthesis' not in components:
        components.synthesis = tflib.Network('G_synthesis', func_name=globals()[synthesis_func], **kwargs)
    num_layers = components.synthesis.input_shape[1]
    dlatent_size = components.synthesis.input_shape[2]
    if 'mapping' not in components:
        components.mapping = tflib.Network('G_mapping', func_name=globals()[mapping_func],
                                           dlatent_broadcast=num_layers, **kwargs)

    lod_in = tf.get_variable('lod', initializer=np.float32(0), trainable=False)
    dlatent_avg = tf.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tf.initializers.zeros(),
                                  trainable=False)

    dlatents = components.mapping.get_output_for(latents_in, labels_in, is_training=is_training, **kwargs)
    dlatents = tf.cast(dlatents, tf.float32)

    # Track the mean w, the centre of the truncation trick.
    if dlatent_avg_beta is not None:
        with tf.variable_scope('DlatentAvg'):
            batch_avg = tf.reduce_mean(dlatents[:, 0], axis=0)
            update_op = tf.assign(dlatent_avg, tflib.lerp(batch_avg, dlatent_avg, dlatent_avg_beta))
            with tf.control_dependencies([update_op]):
                dlatents = tf.identity(dlatents)

    # Style mixing: layers from a random cutoff on take the w of a second latent.
    if style_mixing_prob is not None:
        with tf.variable_scope('StyleMix'):
            latents2 = tf.random_normal(tf.shape(latents_in))
            dlatents2 = components.mapping.get_output_for(latents2, labels_in, is_training=is_training, **kwargs)
            dlatents2 = tf.cast(dlatents2, tf.float32)
            layer_idx = np.arange(num_layers)[np.newaxis, :, np.newaxis]
            cur_layers = num_layers - tf.cast(lod_in, tf.int32) * 2
            mixing_cutoff = tf.cond(
                tf.random_uniform([], 0.0, 1.0) < style_mixing_prob,
                lambda: tf.random_uniform([], 1, cur_layers, dtype=tf.int32),
                lambda: cur_layers)
            dlatents = tf.where(tf.broadcast_to(layer_idx < mixing_cutoff, tf.shape(dlatents)), dlatents, dlatents2)

    # Truncation trick: pull w towards its mean.
    if truncation_psi is not None:
        with tf.variable_scope('Truncation'):
            layer_idx = np.arange(num_layers)[np.newaxis, :, np.newaxis]
            layer_psi = np.ones(layer_idx.shape, dtype=np.float32)
            if truncation_cutoff is None:
                layer_psi *= truncation_psi
            else:
                layer_psi = tf.where(layer_idx < truncation_cutoff, layer_psi * truncation_psi, layer_psi)
            dlatents = tflib.lerp(dlatent_avg, dlatents, layer_psi)

    # Progressive-growing synthesis networks read the level of detail from their own `lod` variable.
    deps = []
    if 'lod' in components.synthesis.vars:
        deps.append(tf.assign(components.synthesis.vars['lod'], lod_in))
    with tf.control_dependencies(deps):
        images_out = components.synthesis.get_output_for(dlatents, is_training=is_training,
                                                         force_clean_graph=is_template_graph, **kwargs)

    images_out = tf.identity(images_out, name='images_out')
    if return_dlatents:
        return images_out, dlatents
    return images_out


def G_mapping(
        latents_in,                     # First input: latent vectors z [minibatch, latent_size].
        labels_in,                      # Second input: conditioning labels [minibatch, label_size].
        latent_size=512,                # Latent vector (z) dimensionality.
        label_size=0,                   # Label dimensionality, 0 if no labels.
        dlatent_size=512,               # Disentangled latent (w) dimensionality.
        dlatent_broadcast=None,         # Broadcast w to [minibatch, dlatent_broadcast, dlatent_size]; None = no.
        mapping_layers=8,               # Number of dense layers.
        mapping_fmaps=512,              # Width of the hidden dense layers.
        mapping_lrmul=0.01,             # Learning-rate multiplier of the dense layers.
        mapping_nonlinearity='lrelu',   # Activation function.
        normalize_latents=True,         # Pixel-normalise the input vector.
        dtype='float32',                # Data type of the activations.
        **_kwargs):                     # Ignores unrecognised keyword args.
    """z [N, latent_size] (+ labels [N, label_size]) -> w [N, dlatent_broadcast, dlatent_size]."""
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    latents_in = tf.cast(latents_in, dtype)
    labels_in = tf.cast(labels_in, dtype)
    x = latents_in

    # Labels are embedded by a plain (not equalized) matrix and appended to z.
    if label_size:
        with tf.variable_scope('LabelConcat'):
            embed = tf.get_variable('weight', shape=[label_size, latent_size],
                                    initializer=tf.initializers.random_normal())
            x = tf.concat([x, tf.matmul(labels_in, tf.cast(embed, dtype))], axis=1)

    if normalize_latents:
        with tf.variable_scope('Normalize'):
            x *= tf.rsqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + 1e-8)

    for layer_idx in range(mapping_layers):
        with tf.variable_scope('Dense%d' % layer_idx):
            fmaps = dlatent_size if layer_idx == mapping_layers - 1 else mapping_fmaps
            x = dense_layer(x, fmaps=fmaps, lrmul=mapping_lrmul)
            x = apply_bias_act(x, act=mapping_nonlinearity, lrmul=mapping_lrmul)

    if dlatent_broadcast is not None:
        with tf.variable_scope('Broadcast'):
            x = tf.tile(x[:, np.newaxis], [1, dlatent_broadcast, 1])

    assert x.dtype == tf.as_dtype(dtype)
    return tf.identity(x, name='dlatents_out')


def _noise_variables(num_layers):
    """Per-layer constant noise inputs noise0..noise{num_layers-2}: [1, 1, res, res], N(0, 1), not trainable."""
    noise_vars = []
    for layer_idx in range(num_layers - 1):
        res_log2 = (layer_idx + 5) // 2
        shape = [1, 1, 2 ** res_log2, 2 ** res_log2]
        noise_vars.append(tf.get_variable('noise%d' % layer_idx, shape=shape,
                                          initializer=tf.initializers.random_normal(), trainable=False))
    return noise_vars


def _styled_layer(x, dlatents, noise_vars, layer_idx, fmaps, kernel, up, randomize_noise, act, resample_kernel,
                  fused_modconv, data_format):
    """One synthesis layer: modulated conv with w[:, layer_idx], scaled noise, bias, activation."""
    x = modulated_conv2d_layer(x, dlatents[:, layer_idx], fmaps=fmaps, kernel=kernel, up=up,
                               resample_kernel=resample_kernel, fused_modconv=fused_modconv, data_format=data_format)
    H, W = _image_size(x, data_format)
    if randomize_noise:
        noise = tf.random_normal([tf.shape(x)[0], 1, H, W], dtype=x.dtype)
    else:
        noise = tf.cast(noise_vars[layer_idx], x.dtype)  # [1, 1, H, W]
    if data_format == 'NHWC':
        noise = tf.reshape(noise, [-1, H, W, 1])  # One channel: the same values in the same order.
    noise_strength = tf.get_variable('noise_strength', shape=[], initializer=tf.initializers.zeros())
    x += noise * tf.cast(noise_strength, x.dtype)
    return apply_bias_act(x, act=act, data_format=data_format)


def _const_input(dlatents, fmaps, dtype, data_format):
    """The learned 4x4 input, tiled over the minibatch: [N, fmaps, 4, 4] (or NHWC)."""
    with tf.variable_scope('Const'):
        const = tf.get_variable('const', shape=[1, fmaps, 4, 4], initializer=tf.initializers.random_normal())
        const = nchw_to_layout(tf.cast(const, dtype), data_format)
        return tf.tile(const, [tf.shape(dlatents)[0], 1, 1, 1])


def _to_rgb(x, dlatents, res_log2, num_channels, fused_modconv, data_format):
    """Modulated 1x1 conv to image channels (not demodulated) with w of layer 2*res_log2-3, plus bias."""
    x = modulated_conv2d_layer(x, dlatents[:, res_log2 * 2 - 3], fmaps=num_channels, kernel=1, demodulate=False,
                               fused_modconv=fused_modconv, data_format=data_format)
    return apply_bias_act(x, data_format=data_format)


def G_synthesis_stylegan2(
        dlatents_in,                    # Input: disentangled latents w [minibatch, num_layers, dlatent_size].
        dlatent_size=512,               # w dimensionality.
        num_channels=3,                 # Number of output colour channels.
        resolution=1024,                # Output resolution.
        fmap_base=16 << 10,             # Overall multiplier for the number of feature maps.
        fmap_decay=1.0,                 # log2 feature-map reduction when doubling the resolution.
        fmap_min=1,                     # Minimum number of feature maps in any layer.
        fmap_max=512,                   # Maximum number of feature maps in any layer.
        randomize_noise=True,           # True = fresh noise every call, False = the noise variables.
        architecture='skip',            # 'orig', 'skip' or 'resnet'.
        nonlinearity='lrelu',           # Activation function.
        dtype='float32',                # Data type of the activations.
        resample_kernel=[1, 3, 3, 1],   # FIR filter for up/downsampling; None = box filter.
        fused_modconv=True,             # One grouped convolution per layer instead of scaled activations.
        data_format=None,               # Layout inside: 'NCHW', 'NHWC' or None/'auto' (see resolve_data_format).
        **_kwargs):                     # Ignores unrecognised keyword args.
    """w [N, num_layers, dlatent_size] -> images [N, num_channels, resolution, resolution]."""
    resolution_log2 = _resolution_log2(resolution, 'G_synthesis_stylegan2')
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    if architecture not in ['orig', 'skip', 'resnet']:
        raise ValueError("G_synthesis_stylegan2: architecture must be 'orig', 'skip' or 'resnet', got %r"
                         % (architecture,))
    num_layers = resolution_log2 * 2 - 2
    data_format = resolve_data_format(data_format)

    dlatents_in.set_shape([None, num_layers, dlatent_size])
    dlatents_in = tf.cast(dlatents_in, dtype)
    noise_vars = _noise_variables(num_layers)

    def layer(x, layer_idx, fmaps, kernel, up=False):
        return _styled_layer(x, dlatents_in, noise_vars, layer_idx, fmaps, kernel, up, randomize_noise,
                             nonlinearity, resample_kernel, fused_modconv, data_format)

    def to_rgb(x, y, res_log2):
        with tf.variable_scope('ToRGB'):
            t = _to_rgb(x, dlatents_in, res_log2, num_channels, fused_modconv, data_format)
            return t if y is None else y + t

    y = None  # The image, for 'skip' accumulated over all resolutions.
    with tf.variable_scope('4x4'):
        x = _const_input(dlatents_in, nf(1), dtype, data_format)
        with tf.variable_scope('Conv'):
            x = layer(x, 0, nf(1), kernel=3)
        if architecture == 'skip':
            y = to_rgb(x, y, 2)

    for res_log2 in range(3, resolution_log2 + 1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            t = x
            with tf.variable_scope('Conv0_up'):
                x = layer(x, res_log2 * 2 - 5, nf(res_log2 - 1), kernel=3, up=True)
            with tf.variable_scope('Conv1'):
                x = layer(x, res_log2 * 2 - 4, nf(res_log2 - 1), kernel=3)
            if architecture == 'resnet':
                with tf.variable_scope('Skip'):
                    t = conv2d_layer(t, fmaps=nf(res_log2 - 1), kernel=1, up=True, resample_kernel=resample_kernel,
                                     data_format=data_format)
                    x = (x + t) * (1 / np.sqrt(2))
            if architecture == 'skip':
                with tf.variable_scope('Upsample'):
                    y = upsample_2d(y, k=resample_kernel, data_format=data_format)
            if architecture == 'skip' or res_log2 == resolution_log2:
                y = to_rgb(x, y, res_log2)

    images_out = layout_to_nchw(y, data_format)
    assert images_out.dtype == tf.as_dtype(dtype)
    return tf.identity(images_out, name='images_out')


def G_synthesis_stylegan_revised(
        dlatents_in,                    # Input: disentangled latents w [minibatch, num_layers, dlatent_size].
        dlatent_size=512,               # w dimensionality.
        num_channels=3,                 # Number of output colour channels.
        resolution=1024,                # Output resolution.
        fmap_base=16 << 10,             # Overall multiplier for the number of feature maps.
        fmap_decay=1.0,                 # log2 feature-map reduction when doubling the resolution.
        fmap_min=1,                     # Minimum number of feature maps in any layer.
        fmap_max=512,                   # Maximum number of feature maps in any layer.
        randomize_noise=True,           # True = fresh noise every call, False = the noise variables.
        nonlinearity='lrelu',           # Activation function.
        dtype='float32',                # Data type of the activations.
        resample_kernel=[1, 3, 3, 1],   # FIR filter for upsampling; None = box filter.
        fused_modconv=True,             # One grouped convolution per layer instead of scaled activations.
        data_format=None,               # Layout inside: 'NCHW', 'NHWC' or None/'auto' (see resolve_data_format).
        structure='auto',               # 'fixed' (no growing), 'linear', 'recursive' (tf.cond) or 'auto'.
        is_template_graph=False,        # Set by Network while building the template graph.
        force_clean_graph=False,        # Build without tf.cond and random ops (G_main sets it for its template).
        **_kwargs):                     # Ignores unrecognised keyword args.
    """Progressive-growing synthesis (configs b-d): w [N, num_layers, dlatent_size] -> [N, C, res, res].

    The `lod` variable (level of detail, 0 = full resolution) selects the output: at integer lod k the
    image of resolution res/2^k, upsampled (nearest) to full size; between integers the two neighbours
    are blended linearly. structure 'auto' is 'linear' for clean graphs (templates), else 'recursive'.
    """
    resolution_log2 = _resolution_log2(resolution, 'G_synthesis_stylegan_revised')
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    if is_template_graph:
        force_clean_graph = True
    if force_clean_graph:
        randomize_noise = False
    if structure == 'auto':
        structure = 'linear' if force_clean_graph else 'recursive'
    if structure not in ['fixed', 'linear', 'recursive']:
        raise ValueError("G_synthesis_stylegan_revised: structure must be 'fixed', 'linear', 'recursive' or 'auto', "
                         "got %r" % (structure,))
    num_layers = resolution_log2 * 2 - 2
    data_format = resolve_data_format(data_format)

    dlatents_in.set_shape([None, num_layers, dlatent_size])
    dlatents_in = tf.cast(dlatents_in, dtype)
    lod_in = tf.cast(tf.get_variable('lod', initializer=np.float32(0), trainable=False), dtype)
    noise_vars = _noise_variables(num_layers)

    def layer(x, layer_idx, fmaps, kernel, up=False):
        return _styled_layer(x, dlatents_in, noise_vars, layer_idx, fmaps, kernel, up, randomize_noise,
                             nonlinearity, resample_kernel, fused_modconv, data_format)

    def block(x, res_log2):  # res_log2 = 3..resolution_log2
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            with tf.variable_scope('Conv0_up'):
                x = layer(x, res_log2 * 2 - 5, nf(res_log2 - 1), kernel=3, up=True)
            with tf.variable_scope('Conv1'):
                x = layer(x, res_log2 * 2 - 4, nf(res_log2 - 1), kernel=3)
            return x

    def to_rgb(x, res_log2):  # res_log2 = 2..resolution_log2
        with tf.variable_scope('ToRGB_lod%d' % (resolution_log2 - res_log2)):
            return _to_rgb(x, dlatents_in, res_log2, num_channels, fused_modconv, data_format)

    with tf.variable_scope('4x4'):
        x = _const_input(dlatents_in, nf(1), dtype, data_format)
        with tf.variable_scope('Conv'):
            x = layer(x, 0, nf(1), kernel=3)

    if structure == 'fixed':
        for res_log2 in range(3, resolution_log2 + 1):
            x = block(x, res_log2)
        images_out = to_rgb(x, resolution_log2)

    # Every resolution is computed; the image is blended up from 4x4 as lod decreases.
    if structure == 'linear':
        images_out = to_rgb(x, 2)
        for res_log2 in range(3, resolution_log2 + 1):
            lod = resolution_log2 - res_log2
            x = block(x, res_log2)
            img = to_rgb(x, res_log2)
            with tf.variable_scope('Upsample_lod%d' % lod):
                images_out = upsample_2d(images_out, data_format=data_format)
            with tf.variable_scope('Grow_lod%d' % lod):
                images_out = tflib.lerp_clip(img, images_out, lod_in - lod)

    # Only the resolutions that lod needs are computed, chosen at run time with tf.cond.
    if structure == 'recursive':
        def cond_or(current, condition, alternative):
            return lambda: tf.cond(condition, alternative, current)

        def grow(x, res_log2, lod):
            y = block(x, res_log2)
            img = lambda: naive_upsample_2d(to_rgb(y, res_log2), factor=2 ** lod, data_format=data_format)
            img = cond_or(img, lod_in > lod, lambda: naive_upsample_2d(
                tflib.lerp(to_rgb(y, res_log2), upsample_2d(to_rgb(x, res_log2 - 1), data_format=data_format),
                           lod_in - lod), factor=2 ** lod, data_format=data_format))
            if lod > 0:
                img = cond_or(img, lod_in < lod, lambda: grow(y, res_log2 + 1, lod - 1))
            return img()

        if resolution_log2 == 2:
            images_out = to_rgb(x, 2)
        else:
            images_out = grow(x, 3, resolution_log2 - 3)

    images_out = layout_to_nchw(images_out, data_format)
    assert images_out.dtype == tf.as_dtype(dtype)
    return tf.identity(images_out, name='images_out')


# ----------------------------------------------------------------------------------------------------
# Discriminators.


def _d_4x4_layers(x, nf, act, mbstd_group_size, mbstd_num_features, data_format):
    """The last layers, inside the caller's 4x4 scope: minibatch stddev, 3x3 conv, dense -> [N, nf(0)]."""
    if mbstd_group_size > 1:
        with tf.variable_scope('MinibatchStddev'):
            x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features, data_format=data_format)
    with tf.variable_scope('Conv'):
        x = apply_bias_act(conv2d_layer(x, fmaps=nf(1), kernel=3, data_format=data_format), act=act,
                           data_format=data_format)
    with tf.variable_scope('Dense0'):
        # The dense weight's rows are in NCHW order (C, H, W).
        x = apply_bias_act(dense_layer(layout_to_nchw(x, data_format), fmaps=nf(0)), act=act)
    return x


def _d_output_layer(x, labels_in):
    """Scores [N, 1]. Conditional networks output one score per label and keep the one the label selects
    ("Which Training Methods for GANs do actually Converge?")."""
    with tf.variable_scope('Output'):
        x = apply_bias_act(dense_layer(x, fmaps=max(labels_in.shape[1].value, 1)))
        if labels_in.shape[1].value > 0:
            x = tf.reduce_sum(x * labels_in, axis=1, keepdims=True)
    return x


def _d_block(x, res_log2, nf, act, resample_kernel, resnet, data_format):
    """Two 3x3 convs, the second halving the resolution; resnet adds a downsampling 1x1 skip."""
    t = x
    with tf.variable_scope('Conv0'):
        x = apply_bias_act(conv2d_layer(x, fmaps=nf(res_log2 - 1), kernel=3, data_format=data_format), act=act,
                           data_format=data_format)
    with tf.variable_scope('Conv1_down'):
        x = apply_bias_act(conv2d_layer(x, fmaps=nf(res_log2 - 2), kernel=3, down=True,
                                        resample_kernel=resample_kernel, data_format=data_format), act=act,
                           data_format=data_format)
    if resnet:
        with tf.variable_scope('Skip'):
            t = conv2d_layer(t, fmaps=nf(res_log2 - 2), kernel=1, down=True, resample_kernel=resample_kernel,
                             data_format=data_format)
            x = (x + t) * (1 / np.sqrt(2))
    return x


def D_stylegan2(
        images_in,                      # First input: images [minibatch, channel, height, width].
        labels_in,                      # Second input: labels [minibatch, label_size].
        num_channels=3,                 # Number of input colour channels.
        resolution=1024,                # Input resolution.
        label_size=0,                   # Label dimensionality, 0 if no labels.
        fmap_base=16 << 10,             # Overall multiplier for the number of feature maps.
        fmap_decay=1.0,                 # log2 feature-map reduction when doubling the resolution.
        fmap_min=1,                     # Minimum number of feature maps in any layer.
        fmap_max=512,                   # Maximum number of feature maps in any layer.
        architecture='resnet',          # 'orig', 'skip' or 'resnet'.
        nonlinearity='lrelu',           # Activation function.
        mbstd_group_size=4,             # Group size of the minibatch stddev layer, 0 = off.
        mbstd_num_features=1,           # Number of features of the minibatch stddev layer.
        dtype='float32',                # Data type of the activations.
        resample_kernel=[1, 3, 3, 1],   # FIR filter for downsampling; None = box filter.
        data_format=None,               # Layout inside: 'NCHW', 'NHWC' or None/'auto' (see resolve_data_format).
        **_kwargs):                     # Ignores unrecognised keyword args.
    """images [N, C, res, res], labels [N, label_size] -> scores [N, 1]."""
    resolution_log2 = _resolution_log2(resolution, 'D_stylegan2')
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    if architecture not in ['orig', 'skip', 'resnet']:
        raise ValueError("D_stylegan2: architecture must be 'orig', 'skip' or 'resnet', got %r" % (architecture,))
    act = nonlinearity
    data_format = resolve_data_format(data_format)

    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    images_in = nchw_to_layout(tf.cast(images_in, dtype), data_format)
    labels_in = tf.cast(labels_in, dtype)

    def from_rgb(x, y, res_log2):
        with tf.variable_scope('FromRGB'):
            t = apply_bias_act(conv2d_layer(y, fmaps=nf(res_log2 - 1), kernel=1, data_format=data_format), act=act,
                               data_format=data_format)
            return t if x is None else x + t

    x = None  # Features.
    y = images_in  # The image, for 'skip' downsampled at every resolution.
    for res_log2 in range(resolution_log2, 2, -1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            if architecture == 'skip' or res_log2 == resolution_log2:
                x = from_rgb(x, y, res_log2)
            x = _d_block(x, res_log2, nf, act, resample_kernel, resnet=(architecture == 'resnet'),
                         data_format=data_format)
            if architecture == 'skip':
                with tf.variable_scope('Downsample'):
                    y = downsample_2d(y, k=resample_kernel, data_format=data_format)

    with tf.variable_scope('4x4'):
        if architecture == 'skip' or resolution_log2 == 2:
            x = from_rgb(x, y, 2)
        x = _d_4x4_layers(x, nf, act, mbstd_group_size, mbstd_num_features, data_format)
    scores_out = _d_output_layer(x, labels_in)

    assert scores_out.dtype == tf.as_dtype(dtype)
    return tf.identity(scores_out, name='scores_out')


def D_stylegan(
        images_in,                      # First input: images [minibatch, channel, height, width].
        labels_in,                      # Second input: labels [minibatch, label_size].
        num_channels=3,                 # Number of input colour channels.
        resolution=1024,                # Input resolution.
        label_size=0,                   # Label dimensionality, 0 if no labels.
        fmap_base=16 << 10,             # Overall multiplier for the number of feature maps.
        fmap_decay=1.0,                 # log2 feature-map reduction when doubling the resolution.
        fmap_min=1,                     # Minimum number of feature maps in any layer.
        fmap_max=512,                   # Maximum number of feature maps in any layer.
        nonlinearity='lrelu',           # Activation function.
        mbstd_group_size=4,             # Group size of the minibatch stddev layer, 0 = off.
        mbstd_num_features=1,           # Number of features of the minibatch stddev layer.
        dtype='float32',                # Data type of the activations.
        resample_kernel=[1, 3, 3, 1],   # FIR filter for downsampling; None = box filter.
        data_format=None,               # Layout inside: 'NCHW', 'NHWC' or None/'auto' (see resolve_data_format).
        structure='auto',               # 'fixed' (no growing), 'linear', 'recursive' (tf.cond) or 'auto'.
        is_template_graph=False,        # Set by Network while building the template graph.
        **_kwargs):                     # Ignores unrecognised keyword args.
    """Progressive-growing discriminator (configs b-d): images [N, C, res, res], labels -> scores [N, 1].

    The `lod` variable (0 = full resolution) selects the input resolution, res/2^lod, where the
    image enters through `FromRGB_lod%d`; between integers the two neighbours are blended.
    structure 'auto' is 'linear' for the template graph, else 'recursive'.
    """
    resolution_log2 = _resolution_log2(resolution, 'D_stylegan')
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    if structure == 'auto':
        structure = 'linear' if is_template_graph else 'recursive'
    if structure not in ['fixed', 'linear', 'recursive']:
        raise ValueError("D_stylegan: structure must be 'fixed', 'linear', 'recursive' or 'auto', got %r"
                         % (structure,))
    act = nonlinearity
    data_format = resolve_data_format(data_format)

    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    images_in = nchw_to_layout(tf.cast(images_in, dtype), data_format)
    labels_in = tf.cast(labels_in, dtype)
    lod_in = tf.cast(tf.get_variable('lod', initializer=np.float32(0.0), trainable=False), dtype)

    def from_rgb(x, res_log2):  # res_log2 = 2..resolution_log2
        with tf.variable_scope('FromRGB_lod%d' % (resolution_log2 - res_log2)):
            return apply_bias_act(conv2d_layer(x, fmaps=nf(res_log2 - 1), kernel=1, data_format=data_format),
                                  act=act, data_format=data_format)

    def block(x, res_log2):  # res_log2 = 3..resolution_log2
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            return _d_block(x, res_log2, nf, act, resample_kernel, resnet=False, data_format=data_format)

    if structure == 'fixed':
        x = from_rgb(images_in, resolution_log2)
        for res_log2 in range(resolution_log2, 2, -1):
            x = block(x, res_log2)

    # Every resolution is computed; features of lower resolutions are blended in as lod increases.
    if structure == 'linear':
        img = images_in
        x = from_rgb(img, resolution_log2)
        for res_log2 in range(resolution_log2, 2, -1):
            lod = resolution_log2 - res_log2
            x = block(x, res_log2)
            with tf.variable_scope('Downsample_lod%d' % lod):
                img = downsample_2d(img, data_format=data_format)
            y = from_rgb(img, res_log2 - 1)
            with tf.variable_scope('Grow_lod%d' % lod):
                x = tflib.lerp_clip(x, y, lod_in - lod)

    # Only the resolutions that lod needs are computed, chosen at run time with tf.cond.
    if structure == 'recursive':
        def cond_or(current, condition, alternative):
            return lambda: tf.cond(condition, alternative, current)

        def grow(res_log2, lod):
            x = lambda: from_rgb(naive_downsample_2d(images_in, factor=2 ** lod, data_format=data_format), res_log2)
            if lod > 0:
                x = cond_or(x, lod_in < lod, lambda: grow(res_log2 + 1, lod - 1))
            x = block(x(), res_log2)
            y = lambda: x
            y = cond_or(y, lod_in > lod, lambda: tflib.lerp(
                x, from_rgb(naive_downsample_2d(images_in, factor=2 ** (lod + 1), data_format=data_format),
                            res_log2 - 1), lod_in - lod))
            return y()

        if resolution_log2 == 2:
            x = from_rgb(images_in, 2)
        else:
            x = grow(3, resolution_log2 - 3)

    with tf.variable_scope('4x4'):
        x = _d_4x4_layers(x, nf, act, mbstd_group_size, mbstd_num_features, data_format)
    scores_out = _d_output_layer(x, labels_in)
    assert scores_out.dtype == tf.as_dtype(dtype)
    return tf.identity(scores_out, name='scores_out')
