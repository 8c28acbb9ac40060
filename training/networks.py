"""StyleGAN2-ADA networks as build functions for `dnnlib.tflib.Network` (TF1 graph style).

    G_main       z [N, latent_size], labels [N, label_size] -> images [N, C, H, W]
    G_mapping    z, labels -> w [N, num_layers, dlatent_size] (labels through an embedding)
    G_synthesis  w -> images; architecture 'orig', 'skip' or 'resnet'
    D_main       images, labels -> scores [N, 1]; labels by projection

The networks of StyleGAN2-ADA (Karras et al. 2020): StyleGAN2's layers and variable names, plus
mixed precision (the `num_fp16_res` highest resolutions in float16), convolution outputs clipped to
[-conv_clamp, conv_clamp], a label embedding in G, a projection discriminator and Freeze-D. Without a
visible GPU the float16 layers compute in float32 (a notice says so once per process), unless
$STYLEGAN2_FP16_ON_CPU is 1. Layout as in networks_stylegan2.py: NCHW on GPUs, NHWC on CPUs.

ADA network pickles carry this file's text as module `training.networks`, and the official ADA code
runs it against its own dnnlib. Hence the imports are limited to os, NumPy, TensorFlow, dnnlib and the
two custom-op modules, and only dnnlib functions that the official ADA dnnlib also has are called.
"""

import os

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

from dnnlib.tflib.ops.fused_bias_act import fused_bias_act
from dnnlib.tflib.ops.upfirdn_2d import conv_downsample_2d, downsample_2d, upsample_2d, upsample_conv_2d
from dnnlib.tflib import precision
import dnnlib

# ----------------------------------------------------------------------------------------------------
# Layout. networks_stylegan2.py has the same helpers: a pickle holds one module, which must stand alone.

DATA_FORMAT_ENV = 'STYLEGAN2_DATA_FORMAT'  # Values: 'NCHW', 'NHWC' or 'auto' (when unset).
_grouped_conv_supported_cache = []


def _gpu_visible():
    """Does TensorFlow see a GPU? TF < 1.14 cannot list devices; we then answer yes."""
    lister = getattr(getattr(getattr(tf, 'config', None), 'experimental', None), 'list_physical_devices', None)
    return True if lister is None else bool(lister('GPU'))


def resolve_data_format(data_format=None):
    """'NCHW' or 'NHWC'. An explicit argument wins; None and 'auto' defer to $STYLEGAN2_DATA_FORMAT,
    and where that is unset or 'auto' too, a visible GPU means 'NCHW' and its absence 'NHWC'."""
    if data_format in (None, 'auto'):
        data_format = os.environ.get(DATA_FORMAT_ENV) or 'auto'
        if data_format not in ('NCHW', 'NHWC', 'auto'):
            raise ValueError("%s must be 'NCHW', 'NHWC' or 'auto', got %r" % (DATA_FORMAT_ENV, data_format))
        if data_format == 'auto':
            data_format = 'NHWC' if not _gpu_visible() else 'NCHW'
    if data_format in ('NCHW', 'NHWC'):
        return data_format
    raise ValueError("networks: data_format must be 'NCHW', 'NHWC', 'auto' or None, got %r"
                     % (data_format,))


class Layout(object):
    """Axis bookkeeping for 4-D activations: 'NCHW' is [N, C, H, W], 'NHWC' is [N, H, W, C]."""

    def __init__(self, data_format):
        if data_format not in ('NCHW', 'NHWC'):
            raise ValueError('Layout: unknown data_format %r' % (data_format,))
        self.data_format = data_format
        self.channel_axis = data_format.index('C')
        self.spatial_axes = [data_format.index('H'), data_format.index('W')]

    def shape(self, n, c, h, w):
        """The four sizes, put in this layout's axis order."""
        by_letter = {'N': n, 'C': c, 'H': h, 'W': w}
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

    def from_nchw(self, x):
        return _reorder(x, 'NCHW', self.data_format)

    def to_nchw(self, x):
        return _reorder(x, self.data_format, 'NCHW')

    def _batch_before_channels(self):
        """This layout's axis letters with N moved to just before C, where one reshape merges the two."""
        return self.data_format.replace('N', '').replace('C', 'NC')

    def fold_batch(self, x):
        """[N, C, H, W] -> [1, N*C, H, W] (in this layout), sample-major, for grouped convolution."""
        height, width = self.size(x)
        x = _reorder(x, self.data_format, self._batch_before_channels())
        return tf.reshape(x, self.shape(1, -1, height, width))

    def unfold_batch(self, x, channels):
        """The inverse of fold_batch: [1, N*channels, H, W] -> [N, channels, H, W] (in this layout)."""
        height, width = self.size(x)
        order = self._batch_before_channels()
        sizes = {'N': -1, 'C': channels, 'H': height, 'W': width}
        return _reorder(tf.reshape(x, [sizes[letter] for letter in order]), order, self.data_format)

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
    """Transpose x from the axis letters `axes_from` (e.g. 'NCHW') to `axes_to`."""
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


def grouped_conv_supported():
    """Can grouped convolutions (and their gradients) run here? Needed by fused modulated convolution.

    Yes on GPUs (cuDNN). On CPUs: never tried under TF 1.x, which lacks them and can crash or return
    wrong numbers; under TF 2.x they exist only through oneDNN, depending on build, CPU and
    TF_ENABLE_ONEDNN_OPTS, so a 3x3 example is run once on the CPU and the answer remembered.
    """
    if _grouped_conv_supported_cache:
        return _grouped_conv_supported_cache[0]
    answer = _gpu_visible()
    if not answer and not tf.VERSION.startswith('1.'):
        answer = _probe_grouped_conv_on_cpu()
    _grouped_conv_supported_cache.append(answer)
    return answer


def _probe_grouped_conv_on_cpu():
    with tf.Graph().as_default():
        try:
            inputs = tf.ones([1, 3, 3, 4])
            filters = tf.ones([3, 3, 2, 2])  # Four input channels seen as two groups of two.
            out = tf.nn.conv2d(inputs, filters, strides=[1, 1, 1, 1], padding='SAME', data_format='NHWC')
            grads = tf.gradients(tf.reduce_sum(out * out), [inputs, filters])
            with tf.Session(config=tf.ConfigProto(device_count={'GPU': 0})) as session:
                centre = session.run([out, grads])[0][0, 1, 1]
        except (tf.errors.OpError, ValueError, TypeError):
            return False
    return bool((centre == 18).all())  # Each centre output sums 9 pixels x 2 channels of ones.


def use_grouped_conv():
    """Should fused modulated convolution run as a grouped convolution? Only on GPUs: on CPUs that op
    is missing (TF 1.x, TF 2.x without oneDNN) or, with oneDNN, about half as fast as the unfused form
    (benchmarks/bench_data_format.py), which computes the same thing."""
    return _gpu_visible() and grouped_conv_supported()


# ----------------------------------------------------------------------------------------------------
# Mixed precision.

FP16_ON_CPU_ENV = 'STYLEGAN2_FP16_ON_CPU'  # '1': float16 layers stay float16 without a GPU (NHWC only).
_fp16_fallback_noticed = []


def fp16_dtype(dtype):
    """The dtype of the float16 blocks: 'float16' where a GPU is visible (or $STYLEGAN2_FP16_ON_CPU is 1);
    elsewhere `dtype`, because CPUs lack float16 NCHW convolutions and are slow at the others."""
    if _gpu_visible() or os.environ.get(FP16_ON_CPU_ENV) == '1':
        return 'float16'
    if not _fp16_fallback_noticed:
        _fp16_fallback_noticed.append(True)
        print('networks: no GPU visible: the float16 layers (num_fp16_res > 0) compute in float32 instead')
    return dtype


def _block_dtypes(res_log2_max, num_fp16_res, dtype):
    """log2 resolution -> dtype of its block: float16 iff above res_log2_max - num_fp16_res, never 4x4."""
    lowest_fp16 = max(res_log2_max - num_fp16_res + 1, 3)
    half = fp16_dtype(dtype) if lowest_fp16 <= res_log2_max else dtype
    return lambda res_log2: half if res_log2 >= lowest_fp16 else dtype


# ----------------------------------------------------------------------------------------------------
# Layers. `data_format` below is 'NCHW', 'NHWC' or a Layout. Variables are float32; weights and
# biases are cast to the dtype of the activations they meet.


def get_weight(shape, gain=1, equalized_lr=True, lrmul=1, weight_var='weight', trainable=True,
               use_spectral_norm=False):
    """Create `weight_var` of `shape` ([..fan-in axes.., out]) and return it times its run-time factor.

    The target standard deviation is He's gain / sqrt(fan_in). With `equalized_lr` the variable starts
    as N(0, 1/lrmul) and the factor carries he_std * lrmul; without, the variable starts at
    N(0, he_std/lrmul) and the factor is lrmul alone.
    """
    _check_unsupported('get_weight', use_spectral_norm=use_spectral_norm)
    he_std = gain / np.sqrt(np.prod(shape[:-1]))
    init_std, runtime_coef = (1.0 / lrmul, he_std * lrmul) if equalized_lr else (he_std / lrmul, lrmul)
    initializer = tf.initializers.random_normal(0, init_std)
    return tf.get_variable(weight_var, shape=shape, initializer=initializer, trainable=trainable) * runtime_coef


def dense_layer(x, fmaps, lrmul=1, weight_var='weight', trainable=True):
    """[N, ...] -> [N, fmaps], no bias. Images are flattened in [N, C, H, W] order."""
    flat_size = int(np.prod(x.shape.as_list()[1:]))
    if x.shape.ndims != 2:
        x = tf.reshape(x, [-1, flat_size])
    w = get_weight([flat_size, fmaps], lrmul=lrmul, weight_var=weight_var, trainable=trainable)
    return precision.compute(tf.matmul, x, w)


def _conv2d(x, w, up, down, resample_kernel, layout):
    """x convolved with w [k, k, in, out] ('SAME'), or with a 2x FIR up/down step built in.
    A w with fewer input channels than x makes it a grouped convolution."""
    w = tf.cast(w, x.dtype)
    if up:
        return upsample_conv_2d(x, w, k=resample_kernel, data_format=layout.data_format)
    if down:
        return conv_downsample_2d(x, w, k=resample_kernel, data_format=layout.data_format)
    return precision.compute(tf.nn.conv2d, x, w, strides=[1, 1, 1, 1], padding='SAME',
                             data_format=layout.data_format)


def conv2d_layer(x, fmaps, kernel, up=False, down=False, resample_kernel=None, lrmul=1, weight_var='weight',
                 trainable=True, data_format='NCHW'):
    """4-D x -> fmaps channels, no bias; `up`/`down` double or halve H and W. `kernel` is odd."""
    if up and down:
        raise ValueError('conv2d_layer: up and down cannot both be set')
    layout = as_layout(data_format)
    w = get_weight([kernel, kernel, layout.channels(x), fmaps], lrmul=lrmul, weight_var=weight_var,
                   trainable=trainable)
    return _conv2d(x, w, up, down, resample_kernel, layout)


def apply_bias_act(x, act='linear', alpha=None, gain=None, lrmul=1, clamp=None, bias_var='bias', trainable=True,
                   data_format='NCHW'):
    """x + bias (a zero-initialised variable per channel, times lrmul), then `act`, then a clip to
    [-clamp, clamp] (None: none); see fused_bias_act. Channels: axis 1 of [N, C], else the layout's."""
    axis = as_layout(data_format).channel_axis if x.shape.ndims == 4 else 1
    bias = tf.get_variable(bias_var, shape=[x.shape[axis]], initializer=tf.initializers.zeros(), trainable=trainable)
    return fused_bias_act(x, b=tf.cast(bias * lrmul, x.dtype), act=act, alpha=alpha, gain=gain, clamp=clamp,
                          axis=axis)


def normalize_2nd_moment(x, axis=1, eps=1e-8):
    """x divided by the root mean square along `axis`."""
    return x * tf.rsqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=True) + eps)


def modulated_conv2d_layer(x, y, fmaps, kernel, up=False, down=False, demodulate=True, resample_kernel=None,
                           lrmul=1, fused_modconv=False, weight_var='weight', mod_weight_var='mod_weight',
                           mod_bias_var='mod_bias', data_format='NCHW'):
    """Convolution whose input channels are scaled by a style from w: x [N, in, H, W] (any layout, float32
    or float16), y [N, w_dim] -> [N, fmaps, H', W'] in x's dtype, no bias.

    style = dense(y) + bias + 1, [N, in]. With `demodulate`, every output channel of the style-scaled
    weight is divided by its L2 norm. For float16, weight and styles are first divided by their largest
    magnitudes (weight per output channel, times 1/sqrt(fan_in)) so that nothing overflows; the
    demodulation cancels that. Fused (only where use_grouped_conv() says so): one grouped convolution.
    """
    layout = as_layout(data_format)
    in_fmaps = layout.channels(x)
    w = get_weight([kernel, kernel, in_fmaps, fmaps], lrmul=lrmul, weight_var=weight_var)
    style = dense_layer(y, fmaps=in_fmaps, weight_var=mod_weight_var)
    style = apply_bias_act(style, bias_var=mod_bias_var) + 1  # Near 1 at the start: the bias starts at 0.
    fused = fused_modconv and use_grouped_conv()
    if x.dtype == tf.float16 and demodulate and not fused:
        w *= (1 / np.sqrt(kernel * kernel * in_fmaps)) / tf.reduce_max(tf.abs(w), axis=[0, 1, 2], keepdims=True)
        style *= 1 / tf.reduce_max(tf.abs(style))

    if fused:
        sample_w = w[np.newaxis] * tf.cast(style[:, np.newaxis, np.newaxis, :, np.newaxis], w.dtype)
        if demodulate:
            inv_norm = tf.rsqrt(tf.reduce_sum(tf.square(sample_w), axis=[1, 2, 3]) + 1e-8)  # [N, out]
            sample_w *= inv_norm[:, np.newaxis, np.newaxis, np.newaxis, :]
        group_w = tf.reshape(tf.transpose(sample_w, [1, 2, 3, 0, 4]), [kernel, kernel, in_fmaps, -1])
        out = _conv2d(layout.fold_batch(x), group_w, up, down, resample_kernel, layout)
        return layout.unfold_batch(out, fmaps)

    out = _conv2d(x * tf.cast(layout.per_channel(style), x.dtype), w, up, down, resample_kernel, layout)
    if demodulate:
        # The squared norm of w * style over (k, k, in) is square(style) @ (w's squares summed over k, k):
        # one [N, in] x [in, out] product instead of building the [N, k, k, in, out] per-sample weight.
        w_sq = tf.reduce_sum(tf.square(w), axis=[0, 1])
        inv_norm = tf.rsqrt(tf.matmul(tf.square(tf.cast(style, w.dtype)), w_sq) + 1e-8)  # [N, out]
        out *= tf.cast(layout.per_channel(inv_norm), out.dtype)
    return out


def minibatch_stddev_layer(x, group_size=None, num_new_features=1, data_format='NCHW'):
    """Append `num_new_features` channels that hold a per-group standard deviation (computed in float32).

    A group has min(group_size, N) samples (None: the whole minibatch), and sample i is in group
    i % (N / that size), so N must be a multiple of it. The channels are cut into num_new_features
    equal slices; feature j is the std over the group, averaged over slice j and over all pixels.
    """
    layout = as_layout(data_format)
    batch = tf.shape(x)[0]
    group = batch if group_size is None else tf.minimum(group_size, batch)
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


def _resolution_log2(resolution, func_name):
    log2 = int(np.log2(resolution))
    if resolution < 4 or 2 ** log2 != resolution:
        raise ValueError('%s: resolution must be a power of two >= 4, got %r' % (func_name, resolution))
    return log2


def _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max):
    """nf(stage), the width at a stage (1 is 4x4, 2 is 8x8, ...), clipped to [fmap_min, fmap_max]."""
    return lambda stage: int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))


def _is_constant(value, constant):
    """Is `value` a plain number equal to `constant`? A TF expression never is."""
    return value is not None and not tflib.is_tf_expression(value) and value == constant


def _check_choice(func_name, what, value, choices):
    if value not in choices:
        raise ValueError('%s: %s must be %s, got %r' % (func_name, what, ', '.join(repr(c) for c in choices),
                                                        value))


def _check_unsupported(func_name, **options):
    """ADA's comparison methods (PA-GAN, spectral norm, adaptive dropout, auxiliary rotations) are not
    implemented here: refuse them instead of silently training something else."""
    defaults = dict(use_pagan=False, use_spectral_norm=False, adaptive_dropout=0, score_max=1)
    for name, value in sorted(options.items()):
        if value != defaults[name]:
            raise ValueError('%s: %s=%r is not supported by this project (only %r)'
                             % (func_name, name, value, defaults[name]))


def _scale_sum(a, b):
    """(a + b) / sqrt(2): keeps the variance of a residual sum."""
    return (a + b) * (1 / np.sqrt(2))


# ----------------------------------------------------------------------------------------------------
# Generator.


def _g_main_options(is_training, is_validation, psi, cutoff, psi_val, cutoff_val, avg_beta, mixing_prob):
    """Which of truncation, the w average and style mixing apply: (psi, cutoff, beta, mixing), None = off."""
    if is_training and is_validation:
        raise ValueError('G_main: is_training and is_validation cannot both be set')
    if is_validation:
        psi, cutoff = psi_val, cutoff_val
    if is_training or _is_constant(psi, 1):
        psi = cutoff = None
    if not is_training:
        return psi, cutoff, None, None
    if _is_constant(avg_beta, 1):
        avg_beta = None
    if mixing_prob is not None and not tflib.is_tf_expression(mixing_prob) and mixing_prob <= 0:
        mixing_prob = None
    return psi, cutoff, avg_beta, mixing_prob


def _track_average(dlatents, dlatent_avg, beta):
    """dlatents, returned only after dlatent_avg has moved towards this batch's mean w."""
    with tf.variable_scope('DlatentAvg'):
        moved = tflib.lerp(tf.reduce_mean(dlatents[:, 0], axis=0), dlatent_avg, beta)
        with tf.control_dependencies([tf.assign(dlatent_avg, moved)]):
            return tf.identity(dlatents)


def _mix_styles(dlatents, map_latents, latents_shape, prob):
    """With probability `prob`, the layers from a random index in [1, num_layers) on take the w of a
    fresh latent (one draw per minibatch)."""
    num_layers = dlatents.shape[1].value
    with tf.variable_scope('StyleMix'):
        other = map_latents(tf.random_normal(latents_shape))
        mix_now = tf.random_uniform([], 0.0, 1.0) < prob
        first_mixed = tf.cond(mix_now, lambda: tf.random_uniform([], 1, num_layers, dtype=tf.int32),
                              lambda: tf.constant(num_layers, dtype=tf.int32))
        keep = tf.less(np.arange(num_layers, dtype=np.int32).reshape([1, -1, 1]), first_mixed)
        return tf.where(tf.broadcast_to(keep, tf.shape(dlatents)), dlatents, other)


def _truncate(dlatents, dlatent_avg, psi, cutoff):
    """Move w towards the average by the factor psi, in all layers or in those below `cutoff`."""
    num_layers = dlatents.shape[1].value
    with tf.variable_scope('Truncation'):
        ones = np.ones([1, num_layers, 1], dtype=np.float32)
        factors = ones * psi
        if cutoff is not None:
            factors = tf.where(np.arange(num_layers).reshape(ones.shape) < cutoff, factors, ones)
        return tflib.lerp(dlatent_avg, dlatents, factors)


def G_main(latents_in, labels_in, is_training=False, is_validation=False, return_dlatents=False,
           truncation_psi=0.5, truncation_cutoff=None, truncation_psi_val=None, truncation_cutoff_val=None,
           dlatent_avg_beta=0.995, style_mixing_prob=0.9, components=dnnlib.EasyDict(), mapping_func='G_mapping',
           synthesis_func='G_synthesis', is_template_graph=False, **kwargs):
    """The whole generator: z [N, latent_size], labels [N, label_size] -> images [N, C, H, W], roughly in
    [-1, 1]; with `return_dlatents`, also the float32 w actually used, [N, num_layers, dlatent_size].

    truncation_psi / truncation_cutoff: pull w towards its average (psi 1 or None = no pull, 0 = the
    average) in the layers below the cutoff (None: in all); the *_val pair replaces them when
    is_validation. While is_training there is no truncation; instead dlatent_avg follows the batches with
    decay dlatent_avg_beta, and style_mixing_prob is the chance of mixing two latents (None or 1 / <= 0
    turn either off). `components` holds the synthesis and mapping Networks, made on the first call from
    the build functions named by synthesis_func and mapping_func; both get **kwargs.
    """
    del is_template_graph  # Nothing here depends on it.
    assert isinstance(components, dnnlib.EasyDict)
    psi, cutoff, avg_beta, mixing_prob = _g_main_options(
        is_training, is_validation, truncation_psi, truncation_cutoff, truncation_psi_val, truncation_cutoff_val,
        dlatent_avg_beta, style_mixing_prob)

    # Looked up in globals() so that a copy of this module rebuilt from a pickle uses its own functions.
    if 'synthesis' not in components:
        components.synthesis = tflib.Network('G_synthesis', func_name=globals()[synthesis_func], **kwargs)
    num_layers, dlatent_size = components.synthesis.input_shape[1:3]
    if 'mapping' not in components:
        components.mapping = tflib.Network('G_mapping', func_name=globals()[mapping_func],
                                           dlatent_broadcast=num_layers, **kwargs)
    dlatent_avg = tf.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tf.initializers.zeros(),
                                  trainable=False)

    def map_latents(latents):
        w = components.mapping.get_output_for(latents, labels_in, is_training=is_training, **kwargs)
        return tf.cast(w, tf.float32)

    dlatents = map_latents(latents_in)
    if avg_beta is not None:
        dlatents = _track_average(dlatents, dlatent_avg, avg_beta)
    if mixing_prob is not None:
        dlatents = _mix_styles(dlatents, map_latents, tf.shape(latents_in), mixing_prob)
    if psi is not None:
        dlatents = _truncate(dlatents, dlatent_avg, psi, cutoff)
    images = components.synthesis.get_output_for(dlatents, is_training=is_training, **kwargs)
    images = tf.identity(images, name='images_out')
    return (images, dlatents) if return_dlatents else images


def G_mapping(latents_in, labels_in, latent_size=512, label_size=0, dlatent_size=512, dlatent_broadcast=None,
              mapping_layers=8, mapping_fmaps=None, mapping_lrmul=0.01, mapping_nonlinearity='lrelu',
              normalize_latents=True, label_fmaps=None, dtype='float32', **_kwargs):
    """z [N, latent_size] and labels [N, label_size] -> w: [N, dlatent_size], or, with
    dlatent_broadcast=L, the same w repeated as [N, L, dlatent_size].

    z is normalised to unit root mean square (normalize_latents). A label is embedded by a dense layer
    with bias (LabelEmbed, width label_fmaps, None: latent_size), normalised the same way and appended.
    Then `mapping_layers` dense layers, learning rate times mapping_lrmul: all dlatent_size wide, or,
    when mapping_fmaps is given, that wide except the last. Unknown keyword arguments are ignored.
    """
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    parts = [tf.cast(latents_in, dtype)]  # z, then the label embedding.
    if normalize_latents:
        with tf.variable_scope('Normalize'):
            parts[0] = normalize_2nd_moment(parts[0])
    if label_size:
        with tf.variable_scope('LabelEmbed'):
            embedded = apply_bias_act(dense_layer(tf.cast(labels_in, dtype), fmaps=label_fmaps or latent_size))
            parts.append(normalize_2nd_moment(embedded))
    x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
    for index in range(mapping_layers):
        last = index + 1 == mapping_layers
        width = dlatent_size if last or mapping_fmaps is None else mapping_fmaps
        with tf.variable_scope('Dense%d' % index):
            x = apply_bias_act(dense_layer(x, fmaps=width, lrmul=mapping_lrmul), act=mapping_nonlinearity,
                               lrmul=mapping_lrmul)
    if dlatent_broadcast is not None:
        with tf.variable_scope('Broadcast'):
            x = tf.tile(tf.expand_dims(x, 1), [1, dlatent_broadcast, 1])
    assert x.dtype == tf.as_dtype(dtype)
    return tf.identity(x, name='dlatents_out')


class _SynthesisLayers(object):
    """The parts of G_synthesis: the w input, the noise variables, the styled 3x3 layers, the learned
    constant input and ToRGB. Each layer computes in the dtype of its input x."""

    def __init__(self, dlatents_in, dlatent_size, resolution_log2, use_noise, randomize_noise, act,
                 resample_kernel, fused_modconv, conv_clamp, layout, dtype):
        num_layers = resolution_log2 * 2 - 2
        dlatents_in.set_shape([None, num_layers, dlatent_size])
        self.dlatents = tf.cast(dlatents_in, dtype)
        self.use_noise, self.randomize_noise, self.act = use_noise, randomize_noise, act
        self.resample_kernel, self.fused_modconv, self.conv_clamp = resample_kernel, fused_modconv, conv_clamp
        self.layout, self.dtype = layout, dtype
        self.noise_vars = []

    def make_noise_vars(self):
        """noise0 .. noise{num_layers-2}: fixed N(0, 1) maps [1, 1, res, res], two per resolution
        from 8x8 up and one at 4x4."""
        for index in range(self.dlatents.shape[1].value - 1):
            side = 2 ** ((index + 5) // 2)
            self.noise_vars.append(tf.get_variable('noise%d' % index, shape=[1, 1, side, side], trainable=False,
                                                   initializer=tf.initializers.random_normal()))

    def styled(self, x, index, fmaps, up=False):
        """Layer `index`: modulated 3x3 conv with w[:, index], noise times a learned strength, bias, act,
        clamp."""
        layout = self.layout
        x = modulated_conv2d_layer(x, self.dlatents[:, index], fmaps=fmaps, kernel=3, up=up,
                                   resample_kernel=self.resample_kernel, fused_modconv=self.fused_modconv,
                                   data_format=layout)
        if self.use_noise:
            height, width = layout.size(x)
            if self.randomize_noise:
                noise = tf.random_normal(layout.shape(tf.shape(x)[0], 1, height, width), dtype=x.dtype)
            else:
                # A single channel, so the same numbers in the same order in either layout.
                noise = tf.reshape(tf.cast(self.noise_vars[index], x.dtype), layout.shape(1, 1, height, width))
            strength = tf.get_variable('noise_strength', shape=[], initializer=tf.initializers.zeros())
            x += noise * tf.cast(strength, x.dtype)
        return apply_bias_act(x, act=self.act, clamp=self.conv_clamp, data_format=layout)

    def block(self, x, res_log2, fmaps):
        """The two layers of resolution 2**res_log2 (8 and up); the first one upsamples."""
        with tf.variable_scope('Conv0_up'):
            x = self.styled(x, 2 * res_log2 - 5, fmaps, up=True)
        with tf.variable_scope('Conv1'):
            return self.styled(x, 2 * res_log2 - 4, fmaps)

    def const_input(self, fmaps):
        with tf.variable_scope('Const'):
            const = tf.get_variable('const', shape=[1, fmaps, 4, 4], initializer=tf.initializers.random_normal())
            const = self.layout.from_nchw(tf.cast(const, self.dtype))
            return tf.tile(const, [tf.shape(self.dlatents)[0], 1, 1, 1])

    def to_rgb(self, x, res_log2, num_channels):
        """1x1 modulated conv to colours, no demodulation, using w of layer 2*res_log2 - 3; plus bias,
        clamp; cast to the network's dtype."""
        with tf.variable_scope('ToRGB'):
            x = modulated_conv2d_layer(x, self.dlatents[:, 2 * res_log2 - 3], fmaps=num_channels, kernel=1,
                                       demodulate=False, fused_modconv=self.fused_modconv, data_format=self.layout)
            return tf.cast(apply_bias_act(x, clamp=self.conv_clamp, data_format=self.layout), self.dtype)

    def output(self, images):
        images = self.layout.to_nchw(images)
        assert images.dtype == tf.as_dtype(self.dtype)
        return tf.identity(images, name='images_out')


def G_synthesis(dlatents_in, dlatent_size=512, num_channels=3, resolution=1024, fmap_base=16 << 10, fmap_decay=1.0,
                fmap_min=1, fmap_max=512, fmap_const=None, use_noise=True, randomize_noise=True, architecture='skip',
                nonlinearity='lrelu', dtype='float32', num_fp16_res=0, conv_clamp=None,
                resample_kernel=[1, 3, 3, 1], fused_modconv=False, data_format=None, **_kwargs):
    """w [N, num_layers, dlatent_size] -> images [N, num_channels, resolution, resolution] in `dtype`;
    num_layers = 2 * log2(resolution) - 2.

    Widths: nf(stage) = fmap_base / 2**(stage * fmap_decay), clipped to [fmap_min, fmap_max]; the 4x4
    constant has fmap_const channels (None: nf(1)). architecture: 'orig' (one ToRGB at the end), 'skip'
    (ToRGB at every resolution, summed while upsampling with resample_kernel) or 'resnet' (residual 1x1
    shortcuts). use_noise=False drops the noise inputs; randomize_noise=False uses the noise variables.
    The blocks of the num_fp16_res highest resolutions (never 4x4) compute in float16 (see fp16_dtype);
    conv_clamp clips every Conv and ToRGB output to [-conv_clamp, conv_clamp]. fused_modconv: see
    modulated_conv2d_layer; data_format: see resolve_data_format. Unknown keyword arguments are ignored.
    """
    res_log2_max = _resolution_log2(resolution, 'G_synthesis')
    _check_choice('G_synthesis', 'architecture', architecture, ['orig', 'skip', 'resnet'])
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    block_dtype = _block_dtypes(res_log2_max, num_fp16_res, dtype)
    layout = Layout(resolve_data_format(data_format))
    net = _SynthesisLayers(dlatents_in, dlatent_size, res_log2_max, use_noise, randomize_noise, nonlinearity,
                           resample_kernel, fused_modconv, conv_clamp, layout, dtype)
    if use_noise:
        net.make_noise_vars()

    image = None  # 'skip' sums the colours of every resolution in here, in `dtype`.
    with tf.variable_scope('4x4'):
        x = net.const_input(nf(1) if fmap_const is None else fmap_const)
        with tf.variable_scope('Conv'):
            x = net.styled(x, 0, nf(1))
        if architecture == 'skip':
            image = net.to_rgb(x, 2, num_channels)
    for res_log2 in range(3, res_log2_max + 1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            x = tf.cast(x, block_dtype(res_log2))
            shortcut = x
            x = net.block(x, res_log2, nf(res_log2 - 1))
            if architecture == 'resnet':
                with tf.variable_scope('Skip'):
                    shortcut = conv2d_layer(shortcut, fmaps=nf(res_log2 - 1), kernel=1, up=True,
                                            resample_kernel=resample_kernel, data_format=layout)
                    x = _scale_sum(x, shortcut)
            if architecture == 'skip':
                with tf.variable_scope('Upsample'):
                    image = upsample_2d(image, k=resample_kernel, data_format=layout.data_format)
                image += net.to_rgb(x, res_log2, num_channels)
            elif res_log2 == res_log2_max:
                image = net.to_rgb(x, res_log2, num_channels)
    if res_log2_max == 2 and image is None:
        with tf.variable_scope('4x4'):
            image = net.to_rgb(x, 2, num_channels)
    return net.output(image)


# ----------------------------------------------------------------------------------------------------
# Discriminator.


class _FreezeCounter(object):
    """Freeze-D: the first `freeze_layers` layers from the input, in creation order, are not trainable."""

    def __init__(self, freeze_layers):
        self.freeze_layers, self.created = freeze_layers, 0

    def next_trainable(self):
        self.created += 1
        return self.created > self.freeze_layers


class _DLayers(object):
    """The convolution layers of D_main, each with bias, activation and the conv clamp."""

    def __init__(self, act, conv_clamp, resample_kernel, freeze, layout):
        self.act, self.conv_clamp, self.resample_kernel = act, conv_clamp, resample_kernel
        self.freeze, self.layout = freeze, layout

    def conv(self, x, fmaps, kernel, down=False):
        trainable = self.freeze.next_trainable()
        x = conv2d_layer(x, fmaps=fmaps, kernel=kernel, down=down, resample_kernel=self.resample_kernel,
                         trainable=trainable, data_format=self.layout)
        return apply_bias_act(x, act=self.act, clamp=self.conv_clamp, trainable=trainable, data_format=self.layout)

    def from_rgb(self, x, image, fmaps, dtype):
        """FromRGB on the image cast to `dtype`; added to x unless x is None."""
        with tf.variable_scope('FromRGB'):
            features = self.conv(tf.cast(image, dtype), fmaps, 1)
        return features if x is None else tf.cast(x, dtype) + features

    def block(self, x, res_log2, nf, resnet):
        """Resolution 2**res_log2 -> half of it: a 3x3 conv, then a 3x3 conv that downsamples; resnet adds
        a downsampling 1x1 shortcut (no bias, no clamp)."""
        with tf.variable_scope('Conv0'):
            y = self.conv(x, nf(res_log2 - 1), 3)
        with tf.variable_scope('Conv1_down'):
            y = self.conv(y, nf(res_log2 - 2), 3, down=True)
        if not resnet:
            return y
        with tf.variable_scope('Skip'):
            shortcut = conv2d_layer(x, fmaps=nf(res_log2 - 2), kernel=1, down=True,
                                    resample_kernel=self.resample_kernel, trainable=self.freeze.next_trainable(),
                                    data_format=self.layout)
            return _scale_sum(y, shortcut)

    def head(self, x, nf, mbstd_group_size, mbstd_num_features):
        """The 4x4 layers (float32 from here on): minibatch stddev, 3x3 conv, dense -> [N, nf(0)]."""
        if mbstd_num_features > 0:
            with tf.variable_scope('MinibatchStddev'):
                x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features, data_format=self.layout)
        with tf.variable_scope('Conv'):
            x = self.conv(x, nf(1), 3)
        with tf.variable_scope('Dense0'):
            trainable = self.freeze.next_trainable()
            # The rows of this weight follow the [C, H, W] order of the official networks.
            x = dense_layer(self.layout.to_nchw(x), fmaps=nf(0), trainable=trainable)
            return apply_bias_act(x, act=self.act, trainable=trainable)


def _d_label_embedding(labels, mapping_fmaps, mapping_layers, mapping_lrmul, act):
    """Labels [N, L] -> their projection vector y [N, mapping_fmaps]: an embedding normalised to unit
    root mean square (LabelEmbed), then `mapping_layers` dense layers (Mapping0, ...)."""
    with tf.variable_scope('LabelEmbed'):
        y = normalize_2nd_moment(apply_bias_act(dense_layer(labels, fmaps=mapping_fmaps)))
    for index in range(mapping_layers):
        with tf.variable_scope('Mapping%d' % index):
            y = apply_bias_act(dense_layer(y, fmaps=mapping_fmaps, lrmul=mapping_lrmul), act=act, lrmul=mapping_lrmul)
    return y


def _d_output(x, label_vector, score_size, score_max):
    """Scores: conditional, the projection sum_k out_k * y_k / sqrt(width) [N, 1]; else a dense layer
    to score_max values, of which the first score_size are kept."""
    with tf.variable_scope('Output'):
        if label_vector is None:
            return apply_bias_act(dense_layer(x, fmaps=score_max))[:, :score_size]
        width = label_vector.shape[1].value
        out = apply_bias_act(dense_layer(x, fmaps=width))
        return tf.reduce_sum(out * label_vector, axis=1, keepdims=True) * (1 / np.sqrt(width))


def D_main(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, fmap_base=16 << 10, fmap_decay=1.0,
           fmap_min=1, fmap_max=512, mapping_layers=0, mapping_fmaps=None, mapping_lrmul=0.1, architecture='resnet',
           nonlinearity='lrelu', mbstd_group_size=None, mbstd_num_features=1, dtype='float32', num_fp16_res=0,
           conv_clamp=None, resample_kernel=[1, 3, 3, 1], augment_strength=0, use_pagan=False, pagan_num=16,
           pagan_fade=0.5, score_size=1, score_max=1, use_spectral_norm=False, adaptive_dropout=0, freeze_layers=0,
           data_format=None, **_kwargs):
    """images [N, num_channels, resolution, resolution], labels [N, label_size] -> scores [N, score_size].

    architecture: 'orig' (images enter once), 'skip' (a FromRGB at every resolution, the image
    downsampled with resample_kernel) or 'resnet' (residual blocks). Minibatch stddev over groups of
    mbstd_group_size (None: the whole minibatch); mbstd_num_features 0 turns it off. Labels condition by
    projection: an embedding of mapping_fmaps values (None: nf(0)) plus mapping_layers dense layers,
    dotted with the output. num_fp16_res, conv_clamp: as in G_synthesis. freeze_layers: the first that
    many layers from the input are not trainable. augment_strength is used only by PA-GAN, which, like
    spectral norm, adaptive dropout and score_max > 1, is not supported. Unknown kwargs are ignored.
    """
    del augment_strength, pagan_num, pagan_fade  # Only PA-GAN reads them.
    _check_unsupported('D_main', use_pagan=use_pagan, use_spectral_norm=use_spectral_norm,
                       adaptive_dropout=adaptive_dropout, score_max=score_max)
    res_log2_max = _resolution_log2(resolution, 'D_main')
    _check_choice('D_main', 'architecture', architecture, ['orig', 'skip', 'resnet'])
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    block_dtype = _block_dtypes(res_log2_max, num_fp16_res, dtype)
    layout = Layout(resolve_data_format(data_format))
    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    image = layout.from_nchw(tf.cast(images_in, dtype))
    label_vector = None
    if label_size:
        label_vector = _d_label_embedding(tf.cast(labels_in, dtype), mapping_fmaps or nf(0), mapping_layers,
                                          mapping_lrmul, nonlinearity)
    layers = _DLayers(nonlinearity, conv_clamp, resample_kernel, _FreezeCounter(freeze_layers), layout)

    x = None
    for res_log2 in range(res_log2_max, 1, -1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            if architecture == 'skip' or res_log2 == res_log2_max:
                x = layers.from_rgb(x, image, nf(res_log2 - 1), block_dtype(res_log2))
            x = tf.cast(x, block_dtype(res_log2))
            if res_log2 == 2:
                x = layers.head(x, nf, mbstd_group_size, mbstd_num_features)
                continue
            x = layers.block(x, res_log2, nf, architecture == 'resnet')
            if architecture == 'skip':
                with tf.variable_scope('Downsample'):
                    image = downsample_2d(image, k=resample_kernel, data_format=layout.data_format)
    scores = _d_output(x, label_vector, score_size, score_max)
    assert scores.dtype == tf.as_dtype(dtype)
    return tf.identity(scores, name='scores_out')
