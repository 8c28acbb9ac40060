"""StyleGAN2 networks as build functions for `dnnlib.tflib.Network` (TF1 graph style).

    G_main                        z [N, latent_size], labels [N, label_size] -> images [N, C, H, W]
    G_mapping                     z, labels -> w [N, num_layers, dlatent_size]
    G_synthesis_stylegan2         w -> images; architecture 'orig', 'skip' or 'resnet' (configs e, f)
    G_synthesis_stylegan_revised  w -> images with progressive growing (configs b-d)
    D_stylegan2                   images, labels -> scores [N, 1]; 'orig', 'skip' or 'resnet'
    D_stylegan                    the progressive-growing discriminator of configs b-d

Every variable has the name, shape, initialiser and scope that the official networks give it, so
that official pickles load into these graphs unchanged. Variables hold unscaled weights; the
equalized learning-rate factor is multiplied in when the graph runs.

Images enter and leave as [N, C, H, W]. In between, synthesis and discriminator work in the layout
their `data_format` argument picks (see `resolve_data_format`): NCHW where a GPU is visible, NHWC on
CPUs, whose TensorFlow convolutions are faster that way (and, without oneDNN, NHWC-only). One
`Layout` object answers every layout question, so no layer has a branch per layout.

Our network pickles carry this file's text, and the official code runs that text against its own
dnnlib. Hence the imports are limited to os, NumPy, TensorFlow, dnnlib and the two custom-op modules,
and only dnnlib functions that the official dnnlib also has are called.
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
# Layout. networks_stylegan.py has the same helpers: a pickle holds one module, which must stand alone.

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
    raise ValueError("networks_stylegan2: data_format must be 'NCHW', 'NHWC', 'auto' or None, got %r"
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
# Layers. `data_format` below is 'NCHW', 'NHWC' or a Layout.


def get_weight(shape, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    """Create `weight_var` of `shape` ([..fan-in axes.., out]) and return it times its run-time factor.

    The target standard deviation is He's gain / sqrt(fan_in). With `use_wscale` the variable starts
    as N(0, 1/lrmul) and the factor carries he_std * lrmul; without, the variable starts at
    N(0, he_std/lrmul) and the factor is lrmul alone.
    """
    he_std = gain / np.sqrt(np.prod(shape[:-1]))
    init_std, runtime_coef = (1.0 / lrmul, he_std * lrmul) if use_wscale else (he_std / lrmul, lrmul)
    initializer = tf.initializers.random_normal(0, init_std)
    return tf.get_variable(weight_var, shape=shape, initializer=initializer) * runtime_coef


def dense_layer(x, fmaps, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    """[N, ...] -> [N, fmaps], no bias. Images are flattened in [N, C, H, W] order."""
    flat_size = int(np.prod(x.shape.as_list()[1:]))
    if x.shape.ndims != 2:
        x = tf.reshape(x, [-1, flat_size])
    w = get_weight([flat_size, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul, weight_var=weight_var)
    return precision.compute(tf.matmul, x, w)


def _check_kernel(caller, kernel, up, down):
    if up and down:
        raise ValueError('%s: up and down cannot both be set' % caller)
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError('%s: kernel must be a positive odd number, got %r' % (caller, kernel))


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


def conv2d_layer(x, fmaps, kernel, up=False, down=False, resample_kernel=None, gain=1, use_wscale=True, lrmul=1,
                 weight_var='weight', data_format='NCHW'):
    """4-D x -> fmaps channels, no bias; `up`/`down` double or halve H and W. `kernel` is odd."""
    _check_kernel('conv2d_layer', kernel, up, down)
    layout = as_layout(data_format)
    w = get_weight([kernel, kernel, layout.channels(x), fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul,
                   weight_var=weight_var)
    return _conv2d(x, w, up, down, resample_kernel, layout)


def apply_bias_act(x, act='linear', alpha=None, gain=None, lrmul=1, bias_var='bias', data_format='NCHW'):
    """x + bias (a zero-initialised variable per channel, times lrmul), then `act` (see fused_bias_act).
    Channels: axis 1 of [N, C]; the layout's channel axis of 4-D activations."""
    axis = as_layout(data_format).channel_axis if x.shape.ndims == 4 else 1
    bias = tf.get_variable(bias_var, shape=[x.shape[axis]], initializer=tf.initializers.zeros())
    return fused_bias_act(x, b=tf.cast(bias * lrmul, x.dtype), act=act, alpha=alpha, gain=gain, axis=axis)


def naive_upsample_2d(x, factor=2, data_format='NCHW'):
    """Repeat every pixel factor x factor times: H, W -> H*factor, W*factor."""
    layout = as_layout(data_format)
    with tf.variable_scope('NaiveUpsample'):
        height, width = layout.size(x)
        channels = layout.channels(x)
        view, block_axes = layout.blocks(x, factor, grow=True)
        reps = [factor if axis in block_axes else 1 for axis in range(len(view))]
        x = tf.tile(tf.reshape(x, view), reps)
        return tf.reshape(x, layout.shape(-1, channels, height * factor, width * factor))


def naive_downsample_2d(x, factor=2, data_format='NCHW'):
    """The mean of each factor x factor block: H, W -> H/factor, W/factor."""
    layout = as_layout(data_format)
    with tf.variable_scope('NaiveDownsample'):
        view, block_axes = layout.blocks(x, factor, grow=False)
        return tf.reduce_mean(tf.reshape(x, view), axis=block_axes)


def modulated_conv2d_layer(x, y, fmaps, kernel, up=False, down=False, demodulate=True, resample_kernel=None,
                           gain=1, use_wscale=True, lrmul=1, fused_modconv=True, weight_var='weight',
                           mod_weight_var='mod_weight', mod_bias_var='mod_bias', data_format='NCHW'):
    """Convolution whose input channels are scaled by a style from w: x [N, in, H, W] (any layout),
    y [N, w_dim] -> [N, fmaps, H', W'], no bias.

    style = dense(y) + bias + 1, shape [N, in]. With `demodulate`, every output channel of the
    style-scaled weight is then divided by its L2 norm. Fused, that per-sample weight is applied in
    one grouped convolution (the samples become groups); unfused, the style scales x before a plain
    convolution and the norms scale its output, which is the same maths. Fused is only used where
    use_grouped_conv() says so.
    """
    _check_kernel('modulated_conv2d_layer', kernel, up, down)
    layout = as_layout(data_format)
    in_fmaps = layout.channels(x)
    w = get_weight([kernel, kernel, in_fmaps, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul,
                   weight_var=weight_var)

    style = dense_layer(y, fmaps=in_fmaps, weight_var=mod_weight_var)
    style = apply_bias_act(style, bias_var=mod_bias_var) + 1  # Near 1 at the start: the bias starts at 0.
    if fused_modconv and use_grouped_conv():
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


def minibatch_stddev_layer(x, group_size=4, num_new_features=1, data_format='NCHW'):
    """Append `num_new_features` channels that hold a per-group standard deviation.

    A group has min(group_size, N) samples, and sample i is in group i % (N / that size), so N must be
    a multiple of it. The channels are cut into num_new_features equal slices; feature j is the std
    over the group, averaged over slice j and over all pixels. Output: C + num_new_features channels.
    """
    layout = as_layout(data_format)
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


def _resolution_log2(resolution, func_name):
    log2 = int(np.log2(resolution))
    if resolution < 4 or 2 ** log2 != resolution:
        raise ValueError('%s: resolution must be a power of two >= 4, got %r' % (func_name, resolution))
    return log2


def _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max):
    """nf(stage), the width at a stage (1 is 4x4, 2 is 8x8, ...), clipped to [fmap_min, fmap_max]."""
    return lambda stage: np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max)


def _is_constant(value, constant):
    """Is `value` a plain number equal to `constant`? A TF expression never is."""
    return value is not None and not tflib.is_tf_expression(value) and value == constant


def _check_choice(func_name, what, value, choices):
    if value not in choices:
        raise ValueError('%s: %s must be %s, got %r' % (func_name, what, ', '.join(repr(c) for c in choices),
                                                        value))


def _scale_sum(a, b):
    """(a + b) / sqrt(2): keeps the variance of a residual sum."""
    return (a + b) * (1 / np.sqrt(2))


def _choose_at_runtime(otherwise, condition, instead):
    """A thunk for tf.cond: `instead()` where `condition` holds, `otherwise()` elsewhere."""
    return lambda: tf.cond(condition, instead, otherwise)


# ----------------------------------------------------------------------------------------------------
# Generator.


def _g_main_options(is_training, is_validation, psi, cutoff, psi_val, cutoff_val, avg_beta, mixing_prob):
    """Which of truncation, the w average and style mixing apply: (psi, cutoff, beta, mixing), None = off."""
    if is_training and is_validation:
        raise ValueError('G_main: is_training and is_validation cannot both be set')
    if is_validation:
        psi, cutoff = psi_val, cutoff_val
    if is_training:
        psi = cutoff = None
    elif _is_constant(psi, 1):
        psi = None
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


def _mix_styles(dlatents, map_latents, latents_shape, lod_in, prob):
    """With probability `prob`, the layers from a random index on take the w of a fresh latent."""
    num_layers = dlatents.shape[1].value
    with tf.variable_scope('StyleMix'):
        other = map_latents(tf.random_normal(latents_shape))
        active_layers = num_layers - 2 * tf.cast(lod_in, tf.int32)
        mix_now = tf.random_uniform([], 0.0, 1.0) < prob
        first_mixed = tf.cond(mix_now, lambda: tf.random_uniform([], 1, active_layers, dtype=tf.int32),
                              lambda: active_layers)
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


def G_main(latents_in, labels_in, truncation_psi=0.5, truncation_cutoff=None, truncation_psi_val=None,
           truncation_cutoff_val=None, dlatent_avg_beta=0.995, style_mixing_prob=0.9, is_training=False,
           is_validation=False, return_dlatents=False, is_template_graph=False, components=dnnlib.EasyDict(),
           mapping_func='G_mapping', synthesis_func='G_synthesis_stylegan2', **kwargs):
    """The whole generator: z [N, latent_size], labels [N, label_size] -> images [N, C, H, W], roughly in
    [-1, 1]; with `return_dlatents`, also the w actually used, [N, num_layers, dlatent_size].

    truncation_psi / truncation_cutoff: pull w towards its average (psi 1 = no pull, 0 = the average)
    in the layers below the cutoff (None: in all); the *_val pair replaces them when is_validation.
    While is_training there is no truncation; instead dlatent_avg follows the batches with decay
    dlatent_avg_beta, and style_mixing_prob is the chance of mixing two latents (None turns either off).
    `components` holds the mapping and synthesis Networks, made on the first call from the build
    functions named by mapping_func and synthesis_func; both get **kwargs.
    """
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

    lod_in = tf.get_variable('lod', initializer=np.float32(0), trainable=False)
    dlatent_avg = tf.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tf.initializers.zeros(),
                                  trainable=False)

    def map_latents(latents):
        w = components.mapping.get_output_for(latents, labels_in, is_training=is_training, **kwargs)
        return tf.cast(w, tf.float32)

    dlatents = map_latents(latents_in)
    if avg_beta is not None:
        dlatents = _track_average(dlatents, dlatent_avg, avg_beta)
    if mixing_prob is not None:
        dlatents = _mix_styles(dlatents, map_latents, tf.shape(latents_in), lod_in, mixing_prob)
    if psi is not None:
        dlatents = _truncate(dlatents, dlatent_avg, psi, cutoff)

    # A progressive-growing synthesis reads the level of detail from a `lod` variable of its own.
    synthesis_vars = components.synthesis.vars
    lod_sync = [tf.assign(synthesis_vars['lod'], lod_in)] if 'lod' in synthesis_vars else []
    with tf.control_dependencies(lod_sync):
        images = components.synthesis.get_output_for(dlatents, is_training=is_training,
                                                     force_clean_graph=is_template_graph, **kwargs)
    images = tf.identity(images, name='images_out')
    return (images, dlatents) if return_dlatents else images


def G_mapping(latents_in, labels_in, latent_size=512, label_size=0, dlatent_size=512, dlatent_broadcast=None,
              mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, mapping_nonlinearity='lrelu',
              normalize_latents=True, dtype='float32', **_kwargs):
    """z [N, latent_size] and labels [N, label_size] -> w: [N, dlatent_size], or, with
    dlatent_broadcast=L, the same w repeated as [N, L, dlatent_size].

    A label is embedded by a plain (not equalized) matrix and appended to z; the result is pixel
    normalised (normalize_latents), then runs through `mapping_layers` dense layers of width
    mapping_fmaps (the last one dlatent_size wide), learning rate times mapping_lrmul. Unknown
    keyword arguments are ignored.
    """
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    x = tf.cast(latents_in, dtype)
    if label_size:
        with tf.variable_scope('LabelConcat'):
            embedding = tf.get_variable('weight', shape=[label_size, latent_size],
                                        initializer=tf.initializers.random_normal())
            x = tf.concat([x, tf.matmul(tf.cast(labels_in, dtype), tf.cast(embedding, dtype))], axis=1)
    if normalize_latents:
        with tf.variable_scope('Normalize'):
            x = x * tf.rsqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + 1e-8)
    for index in range(mapping_layers):
        width = dlatent_size if index + 1 == mapping_layers else mapping_fmaps
        with tf.variable_scope('Dense%d' % index):
            x = apply_bias_act(dense_layer(x, fmaps=width, lrmul=mapping_lrmul), act=mapping_nonlinearity,
                               lrmul=mapping_lrmul)
    if dlatent_broadcast is not None:
        with tf.variable_scope('Broadcast'):
            x = tf.tile(tf.expand_dims(x, 1), [1, dlatent_broadcast, 1])
    assert x.dtype == tf.as_dtype(dtype)
    return tf.identity(x, name='dlatents_out')


class _SynthesisLayers(object):
    """What both synthesis networks share: the w input, the noise variables, the styled 3x3 layers,
    the learned constant input and ToRGB."""

    def __init__(self, dlatents_in, dlatent_size, resolution_log2, randomize_noise, act, resample_kernel,
                 fused_modconv, layout, dtype):
        num_layers = resolution_log2 * 2 - 2
        dlatents_in.set_shape([None, num_layers, dlatent_size])
        self.dlatents = tf.cast(dlatents_in, dtype)
        self.randomize_noise, self.act, self.resample_kernel = randomize_noise, act, resample_kernel
        self.fused_modconv, self.layout, self.dtype = fused_modconv, layout, dtype
        self.noise_vars = []

    def make_noise_vars(self):
        """noise0 .. noise{num_layers-2}: fixed N(0, 1) maps [1, 1, res, res], two per resolution
        from 8x8 up and one at 4x4."""
        for index in range(self.dlatents.shape[1].value - 1):
            side = 2 ** ((index + 5) // 2)
            self.noise_vars.append(tf.get_variable('noise%d' % index, shape=[1, 1, side, side], trainable=False,
                                                   initializer=tf.initializers.random_normal()))

    def styled(self, x, index, fmaps, up=False):
        """Layer `index`: modulated 3x3 conv with w[:, index], noise times a learned strength, bias, act."""
        layout = self.layout
        x = modulated_conv2d_layer(x, self.dlatents[:, index], fmaps=fmaps, kernel=3, up=up,
                                   resample_kernel=self.resample_kernel, fused_modconv=self.fused_modconv,
                                   data_format=layout)
        height, width = layout.size(x)
        if self.randomize_noise:
            noise = tf.random_normal(layout.shape(tf.shape(x)[0], 1, height, width), dtype=x.dtype)
        else:
            # A single channel, so the same numbers in the same order in either layout.
            noise = tf.reshape(tf.cast(self.noise_vars[index], x.dtype), layout.shape(1, 1, height, width))
        strength = tf.get_variable('noise_strength', shape=[], initializer=tf.initializers.zeros())
        return apply_bias_act(x + noise * tf.cast(strength, x.dtype), act=self.act, data_format=layout)

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
        """1x1 modulated conv to colours, no demodulation, using w of layer 2*res_log2 - 3; plus bias."""
        x = modulated_conv2d_layer(x, self.dlatents[:, 2 * res_log2 - 3], fmaps=num_channels, kernel=1,
                                   demodulate=False, fused_modconv=self.fused_modconv, data_format=self.layout)
        return apply_bias_act(x, data_format=self.layout)

    def output(self, images):
        images = self.layout.to_nchw(images)
        assert images.dtype == tf.as_dtype(self.dtype)
        return tf.identity(images, name='images_out')


def G_synthesis_stylegan2(dlatents_in, dlatent_size=512, num_channels=3, resolution=1024, fmap_base=16 << 10,
                          fmap_decay=1.0, fmap_min=1, fmap_max=512, randomize_noise=True, architecture='skip',
                          nonlinearity='lrelu', dtype='float32', resample_kernel=[1, 3, 3, 1], fused_modconv=True,
                          data_format=None, **_kwargs):
    """w [N, num_layers, dlatent_size] -> images [N, num_channels, resolution, resolution];
    num_layers = 2 * log2(resolution) - 2.

    Widths: nf(stage) = fmap_base / 2**(stage * fmap_decay), clipped to [fmap_min, fmap_max].
    architecture: 'orig' (one ToRGB at the end), 'skip' (ToRGB at every resolution, summed while
    upsampling with resample_kernel) or 'resnet' (residual 1x1 shortcuts). randomize_noise=False uses
    the noise variables. fused_modconv: see modulated_conv2d_layer. data_format: see
    resolve_data_format. Unknown keyword arguments are ignored.
    """
    res_log2_max = _resolution_log2(resolution, 'G_synthesis_stylegan2')
    _check_choice('G_synthesis_stylegan2', 'architecture', architecture, ['orig', 'skip', 'resnet'])
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    layout = Layout(resolve_data_format(data_format))
    net = _SynthesisLayers(dlatents_in, dlatent_size, res_log2_max, randomize_noise, nonlinearity,
                           resample_kernel, fused_modconv, layout, dtype)
    net.make_noise_vars()

    def add_rgb(x, image, res_log2):
        with tf.variable_scope('ToRGB'):
            rgb = net.to_rgb(x, res_log2, num_channels)
        return rgb if image is None else image + rgb

    image = None  # 'skip' sums the colours of every resolution in here.
    with tf.variable_scope('4x4'):
        x = net.const_input(nf(1))
        with tf.variable_scope('Conv'):
            x = net.styled(x, 0, nf(1))
        if architecture == 'skip':
            image = add_rgb(x, image, 2)
    for res_log2 in range(3, res_log2_max + 1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
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
            if architecture == 'skip' or res_log2 == res_log2_max:
                image = add_rgb(x, image, res_log2)
    return net.output(image)


def G_synthesis_stylegan_revised(dlatents_in, dlatent_size=512, num_channels=3, resolution=1024,
                                 fmap_base=16 << 10, fmap_decay=1.0, fmap_min=1, fmap_max=512,
                                 randomize_noise=True, nonlinearity='lrelu', dtype='float32',
                                 resample_kernel=[1, 3, 3, 1], fused_modconv=True, data_format=None,
                                 structure='auto', is_template_graph=False, force_clean_graph=False, **_kwargs):
    """Progressive-growing synthesis of configs b-d: w [N, num_layers, dlatent_size] -> [N, C, res, res].

    The `lod` variable is the level of detail (0 = full resolution). At a whole number k the image is
    the output of resolution res/2**k, enlarged by pixel repetition; in between, the two neighbouring
    outputs are blended. structure: 'fixed' (full resolution only), 'linear' (all resolutions computed
    and blended), 'recursive' (tf.cond computes only the needed ones) or 'auto' ('linear' for clean
    graphs, such as templates, else 'recursive'). force_clean_graph also fixes the noise. The other
    arguments are those of G_synthesis_stylegan2.
    """
    res_log2_max = _resolution_log2(resolution, 'G_synthesis_stylegan_revised')
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    clean = force_clean_graph or is_template_graph
    if structure == 'auto':
        structure = 'linear' if clean else 'recursive'
    _check_choice('G_synthesis_stylegan_revised', 'structure', structure, ['fixed', 'linear', 'recursive', 'auto'])
    layout = Layout(resolve_data_format(data_format))
    net = _SynthesisLayers(dlatents_in, dlatent_size, res_log2_max, randomize_noise and not clean, nonlinearity,
                           resample_kernel, fused_modconv, layout, dtype)
    lod_in = tf.cast(tf.get_variable('lod', initializer=np.float32(0), trainable=False), dtype)
    net.make_noise_vars()

    def block(x, res_log2):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            return net.block(x, res_log2, nf(res_log2 - 1))

    def to_rgb(x, res_log2):
        with tf.variable_scope('ToRGB_lod%d' % (res_log2_max - res_log2)):
            return net.to_rgb(x, res_log2, num_channels)

    def enlarge(image, lod):
        return naive_upsample_2d(image, factor=2 ** lod, data_format=layout)

    with tf.variable_scope('4x4'):
        x = net.const_input(nf(1))
        with tf.variable_scope('Conv'):
            x = net.styled(x, 0, nf(1))

    if structure == 'fixed':
        for res_log2 in range(3, res_log2_max + 1):
            x = block(x, res_log2)
        return net.output(to_rgb(x, res_log2_max))

    if structure == 'linear':
        image = to_rgb(x, 2)
        for res_log2 in range(3, res_log2_max + 1):
            lod = res_log2_max - res_log2
            x = block(x, res_log2)
            finer = to_rgb(x, res_log2)
            with tf.variable_scope('Upsample_lod%d' % lod):
                image = upsample_2d(image, data_format=layout.data_format)
            with tf.variable_scope('Grow_lod%d' % lod):
                image = tflib.lerp_clip(finer, image, lod_in - lod)
        return net.output(image)

    # 'recursive': a chain of tf.cond that stops at the resolution lod asks for.
    def grow(coarse, res_log2, lod):
        fine = block(coarse, res_log2)

        def blended():
            fine_rgb = to_rgb(fine, res_log2)
            coarse_rgb = upsample_2d(to_rgb(coarse, res_log2 - 1), data_format=layout.data_format)
            return enlarge(tflib.lerp(fine_rgb, coarse_rgb, lod_in - lod), lod)

        pick = _choose_at_runtime(lambda: enlarge(to_rgb(fine, res_log2), lod), lod_in > lod, blended)
        if lod > 0:
            pick = _choose_at_runtime(pick, lod_in < lod, lambda: grow(fine, res_log2 + 1, lod - 1))
        return pick()

    return net.output(to_rgb(x, 2) if res_log2_max == 2 else grow(x, 3, res_log2_max - 3))


# ----------------------------------------------------------------------------------------------------
# Discriminators.


def _conv_act(x, fmaps, kernel, act, layout, **conv_kwargs):
    return apply_bias_act(conv2d_layer(x, fmaps=fmaps, kernel=kernel, data_format=layout, **conv_kwargs), act=act,
                          data_format=layout)


def _d_block(x, res_log2, nf, act, resample_kernel, resnet, layout):
    """Resolution 2**res_log2 -> half of it: a 3x3 conv, then a 3x3 conv that downsamples; resnet adds
    a downsampling 1x1 shortcut."""
    with tf.variable_scope('Conv0'):
        y = _conv_act(x, nf(res_log2 - 1), 3, act, layout)
    with tf.variable_scope('Conv1_down'):
        y = _conv_act(y, nf(res_log2 - 2), 3, act, layout, down=True, resample_kernel=resample_kernel)
    if not resnet:
        return y
    with tf.variable_scope('Skip'):
        shortcut = conv2d_layer(x, fmaps=nf(res_log2 - 2), kernel=1, down=True, resample_kernel=resample_kernel,
                                data_format=layout)
        return _scale_sum(y, shortcut)


def _d_head(x, nf, act, mbstd_group_size, mbstd_num_features, layout):
    """The 4x4 layers, in the caller's 4x4 scope: minibatch stddev, 3x3 conv, dense -> [N, nf(0)]."""
    if mbstd_group_size > 1:
        with tf.variable_scope('MinibatchStddev'):
            x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features, data_format=layout)
    with tf.variable_scope('Conv'):
        x = _conv_act(x, nf(1), 3, act, layout)
    with tf.variable_scope('Dense0'):
        # The rows of this weight follow the [C, H, W] order of the official networks.
        x = apply_bias_act(dense_layer(layout.to_nchw(x), fmaps=nf(0)), act=act)
    return x


def _d_output(x, labels_in):
    """Scores [N, 1]. A conditional network scores every label and keeps the score of the given one
    (Mescheder et al., "Which Training Methods for GANs do actually Converge?")."""
    label_size = labels_in.shape[1].value
    with tf.variable_scope('Output'):
        scores = apply_bias_act(dense_layer(x, fmaps=max(label_size, 1)))
        if label_size > 0:
            scores = tf.reduce_sum(scores * labels_in, axis=1, keepdims=True)
    return scores


def _d_inputs(images_in, labels_in, num_channels, resolution, label_size, dtype, layout):
    images_in.set_shape([None, num_channels, resolution, resolution])
    labels_in.set_shape([None, label_size])
    return layout.from_nchw(tf.cast(images_in, dtype)), tf.cast(labels_in, dtype)


def _d_scores(scores, dtype):
    assert scores.dtype == tf.as_dtype(dtype)
    return tf.identity(scores, name='scores_out')


def D_stylegan2(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, fmap_base=16 << 10,
                fmap_decay=1.0, fmap_min=1, fmap_max=512, architecture='resnet', nonlinearity='lrelu',
                mbstd_group_size=4, mbstd_num_features=1, dtype='float32', resample_kernel=[1, 3, 3, 1],
                data_format=None, **_kwargs):
    """images [N, num_channels, resolution, resolution], labels [N, label_size] -> scores [N, 1].

    architecture: 'orig' (images enter once, at full resolution), 'skip' (a FromRGB at every
    resolution, the image downsampled with resample_kernel) or 'resnet' (residual blocks).
    mbstd_group_size 0 turns the minibatch stddev layer off. The width arguments are those of
    G_synthesis_stylegan2; data_format: see resolve_data_format. Unknown keyword arguments are ignored.
    """
    res_log2_max = _resolution_log2(resolution, 'D_stylegan2')
    _check_choice('D_stylegan2', 'architecture', architecture, ['orig', 'skip', 'resnet'])
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    layout = Layout(resolve_data_format(data_format))
    image, labels = _d_inputs(images_in, labels_in, num_channels, resolution, label_size, dtype, layout)
    skip = architecture == 'skip'

    def add_rgb(x, res_log2):
        with tf.variable_scope('FromRGB'):
            features = _conv_act(image, nf(res_log2 - 1), 1, nonlinearity, layout)
        return features if x is None else x + features

    x = None
    for res_log2 in range(res_log2_max, 1, -1):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            if skip or res_log2 == res_log2_max:
                x = add_rgb(x, res_log2)
            if res_log2 == 2:
                x = _d_head(x, nf, nonlinearity, mbstd_group_size, mbstd_num_features, layout)
                continue
            x = _d_block(x, res_log2, nf, nonlinearity, resample_kernel, architecture == 'resnet', layout)
            if skip:
                with tf.variable_scope('Downsample'):
                    image = downsample_2d(image, k=resample_kernel, data_format=layout.data_format)
    return _d_scores(_d_output(x, labels), dtype)


def D_stylegan(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, fmap_base=16 << 10,
               fmap_decay=1.0, fmap_min=1, fmap_max=512, nonlinearity='lrelu', mbstd_group_size=4,
               mbstd_num_features=1, dtype='float32', resample_kernel=[1, 3, 3, 1], data_format=None,
               structure='auto', is_template_graph=False, **_kwargs):
    """Progressive-growing discriminator of configs b-d: images [N, C, res, res], labels -> scores [N, 1].

    The `lod` variable (0 = full resolution) picks where the image enters: through FromRGB_lod{lod} at
    resolution res/2**lod, blending two neighbours between whole numbers. structure: as in
    G_synthesis_stylegan_revised ('auto' is 'linear' for the template graph). Other arguments: as in
    D_stylegan2.
    """
    res_log2_max = _resolution_log2(resolution, 'D_stylegan')
    if structure == 'auto':
        structure = 'linear' if is_template_graph else 'recursive'
    _check_choice('D_stylegan', 'structure', structure, ['fixed', 'linear', 'recursive', 'auto'])
    nf = _feature_maps_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    layout = Layout(resolve_data_format(data_format))
    images, labels = _d_inputs(images_in, labels_in, num_channels, resolution, label_size, dtype, layout)
    lod_in = tf.cast(tf.get_variable('lod', initializer=np.float32(0.0), trainable=False), dtype)

    def from_rgb(image, res_log2):
        with tf.variable_scope('FromRGB_lod%d' % (res_log2_max - res_log2)):
            return _conv_act(image, nf(res_log2 - 1), 1, nonlinearity, layout)

    def block(x, res_log2):
        with tf.variable_scope('%dx%d' % (2 ** res_log2, 2 ** res_log2)):
            return _d_block(x, res_log2, nf, nonlinearity, resample_kernel, False, layout)

    def shrunk(lod):
        return naive_downsample_2d(images, factor=2 ** lod, data_format=layout)

    if structure == 'recursive':
        def grow(res_log2, lod):
            entry = lambda: from_rgb(shrunk(lod), res_log2)
            if lod > 0:
                entry = _choose_at_runtime(entry, lod_in < lod, lambda: grow(res_log2 + 1, lod - 1))
            x = block(entry(), res_log2)
            blend = lambda: tflib.lerp(x, from_rgb(shrunk(lod + 1), res_log2 - 1), lod_in - lod)
            return _choose_at_runtime(lambda: x, lod_in > lod, blend)()
        x = from_rgb(images, 2) if res_log2_max == 2 else grow(3, res_log2_max - 3)
    else:
        x = from_rgb(images, res_log2_max)
        image = images
        for res_log2 in range(res_log2_max, 2, -1):
            x = block(x, res_log2)
            if structure == 'linear':
                lod = res_log2_max - res_log2
                with tf.variable_scope('Downsample_lod%d' % lod):
                    image = downsample_2d(image, data_format=layout.data_format)
                coarse = from_rgb(image, res_log2 - 1)
                with tf.variable_scope('Grow_lod%d' % lod):
                    x = tflib.lerp_clip(x, coarse, lod_in - lod)

    with tf.variable_scope('4x4'):
        x = _d_head(x, nf, nonlinearity, mbstd_group_size, mbstd_num_features, layout)
    return _d_scores(_d_output(x, labels), dtype)
