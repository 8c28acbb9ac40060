"""The ADA augmentation pipeline (StyleGAN2-ADA, Karras et al. 2020): what D sees, reals and fakes.

`augment_pipeline(images, labels, strength=p, **options)` applies up to 15 random transforms in six
groups, in this order: pixel blitting (xflip, rotate90, xint), general geometric (scale, rotate, aniso,
xfrac), color (brightness, contrast, lumaflip, hue, saturation), image-space filtering (imgfilter),
additive noise and cutout. Each transform fires per sample with probability multiplier * p. The eight
geometric ones are composed into one matrix per sample and applied in one resampling (2x upsampling
with the sym6 wavelet, bilinear sampling, 2x downsampling), so neither aliasing nor the padding leaks
into the result. Everything is differentiable with respect to the images.

Unlike the original, a sample on which no transform of a group fired leaves that group bit for bit as
it came in, and the group computes only the samples it changes (nothing when none fired), so at p = 0
the output is the input and costs almost nothing.

Random numbers come only from `tf.random_uniform` and `tf.random_normal`, looked up on the `tf` module
when the graph is built: `training.resume.StepSeededRandomOps.active()` replaces them for exact resume.
"""

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

# Decomposition low-pass filters (PyWavelets `Wavelet(name).dec_lo`); sym2 and sym6 are the ones used.
wavelets = {
    "haar": [0.7071067811865476, 0.7071067811865476],
    "db1": [0.7071067811865476, 0.7071067811865476],
    "sym2": [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025],
    "sym6": [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
             0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
             -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148],
}

# Every option of augment_pipeline with its default. Multipliers (0 = transform off) scale p into the
# probability of the transform; *_std of multiplicative quantities are log2 standard deviations; angles
# are drawn from U(-pi * max, pi * max); xint_max, xfrac_std and cutout_size are fractions of the size.
AUGMENT_DEFAULTS = dict(
    xflip=0, rotate90=0, xint=0, xint_max=0.125,
    scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
    brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0,
    brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1,
    imgfilter=0, imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1,
    noise=0, cutout=0, noise_std=0.1, cutout_size=0.5,
)

GEOMETRIC_NAMES = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR_NAMES = ("brightness", "contrast", "lumaflip", "hue", "saturation")

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)

# The --augpipe presets: preset name -> the probability multipliers set to 1.
augpipe_specs = {
    "blit": dict(_BLIT),
    "geom": dict(_GEOM),
    "color": dict(_COLOR),
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": dict(_BLIT, **_GEOM),
    "bgc": dict(_BLIT, **_GEOM, **_COLOR),
    "bgcf": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1),
    "bgcfn": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1),
    "bgcfnc": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1, cutout=1),
}

_SYM6_PAD = len(wavelets["sym6"]) // 4  # Canvas border (pixels) kept around the output while resampling.
_LUMA_AXIS = np.array([1, 1, 1, 0], np.float64) / np.sqrt(3)  # v: the gray axis of homogeneous RGB.
_FILTER_BAND_WEIGHTS = np.array([10, 1, 1, 1], np.float64) / 13  # Expected power share of each band.
_FILTER_TAPS = 43
_FILTER_CENTRE = _FILTER_TAPS // 2


# ------------------------------------------------------------------------------------------------------
# Batches of matrices: [N, k, k] when some entry is a [N] tensor, [1, k, k] when all are scalars
# (tf.matmul broadcasts). Built as a constant plus value * basis terms, which keeps the graph small and
# makes the identity values give the identity matrix exactly.

def _unit(size, row, col):
    m = np.zeros([size, size], np.float32)
    m[row, col] = 1
    return m


def _matrices(constant, *terms):
    """constant [k, k] + sum of value * basis over (value, basis) terms; value: number, scalar or [N]."""
    m = tf.constant(np.asarray(constant, np.float32)[np.newaxis])
    for value, basis in terms:
        m = m + tf.reshape(tf.cast(value, tf.float32), [-1, 1, 1]) * np.asarray(basis, np.float32)
    return m


def translate_2d(tx, ty):
    return _matrices(np.eye(3), (tx, _unit(3, 0, 2)), (ty, _unit(3, 1, 2)))


def translate_3d(tx, ty, tz):
    return _matrices(np.eye(4), (tx, _unit(4, 0, 3)), (ty, _unit(4, 1, 3)), (tz, _unit(4, 2, 3)))


def scale_2d(sx, sy):
    return _matrices(_unit(3, 2, 2), (sx, _unit(3, 0, 0)), (sy, _unit(3, 1, 1)))


def scale_3d(sx, sy, sz):
    return _matrices(_unit(4, 3, 3), (sx, _unit(4, 0, 0)), (sy, _unit(4, 1, 1)), (sz, _unit(4, 2, 2)))


def rotate_2d(theta):
    """(x, y) -> (x cos - y sin, x sin + y cos)."""
    return _matrices(_unit(3, 2, 2), (tf.cos(theta), _unit(3, 0, 0) + _unit(3, 1, 1)),
                     (tf.sin(theta), _unit(3, 1, 0) - _unit(3, 0, 1)))


def rotate_3d(v, theta):
    """Right-handed rotation by `theta` about the unit axis v (3 numbers), homogeneous 4x4 (Rodrigues):
    cos I + sin [v]x + (1 - cos) vv^T."""
    vx, vy, vz = [float(c) for c in v[:3]]
    cross = np.array([[0, -vz, vy, 0], [vz, 0, -vx, 0], [-vy, vx, 0, 0], [0, 0, 0, 0]])
    outer = np.outer([vx, vy, vz, 0], [vx, vy, vz, 0])
    cos = tf.cos(theta)
    return _matrices(_unit(4, 3, 3), (cos, np.diag([1, 1, 1, 0])), (tf.sin(theta), cross), (1 - cos, outer))


def _is_changed(matrices, size):
    """[N] bool: which of the [N, size, size] matrices differ from the identity in any entry."""
    return tf.reduce_any(tf.not_equal(matrices, np.eye(size, dtype=np.float32)), axis=[1, 2])


# ------------------------------------------------------------------------------------------------------
# Random parameters.

def gate_augment_params(probability, params, disabled_val):
    """Per sample n, params[n] ([N] or [N, k]) iff u_n < probability with u_n ~ U(0, 1), else disabled_val."""
    u = tf.random_uniform(tf.shape(params)[:1], 0, 1)
    disabled = tf.zeros_like(params) + disabled_val
    return tf.where(u < probability, params, disabled)


def _param(shape, probability, draw, disabled_val, q, debug_value):
    """One per-sample parameter of `shape` ([N] or [N, 2]).

    draw(shape) gives the random values, kept for samples whose gate fires. With the debug percentile q
    (a scalar tensor) the gates are ignored and every sample gets debug_value(q) instead.
    """
    if q is not None:
        return tf.zeros(shape) + debug_value(q)
    return gate_augment_params(probability, draw(shape), disabled_val)


def _log2_normal(std):
    """draw(shape) for 2^N(0, std)."""
    return lambda shape: tflib.exp2(tf.random_normal(shape) * std)


def _uniform(low, high):
    return lambda shape: tf.random_uniform(shape, low, high)


def _floor_uniform(count):
    """draw(shape) for a uniform integer in [0, count), as float32."""
    return lambda shape: tf.floor(tf.random_uniform(shape, 0, count))


def _debug_normal(std):
    """The debug value of an N(0, std) draw: the q-quantile-like erfinv(2q - 1) * std."""
    return lambda q: tflib.erfinv(q * 2 - 1) * std


def _debug_log2_normal(std):
    return lambda q: tflib.exp2(tflib.erfinv(q * 2 - 1) * std)


# ------------------------------------------------------------------------------------------------------
# Groups compute only the samples they change; the others pass untouched.

def _apply_to_changed(x, changed, transform, params):
    """transform(x[changed], params[changed]) for the samples where changed ([N] bool) holds; the others
    pass bit for bit. params: [N, ...], the group's per-sample parameters.

    Only the changed samples are computed, and nothing when none changed (this keeps p = 0 cheap).
    """
    def apply():
        partitions = tf.cast(changed, tf.int32)
        indices = tf.dynamic_partition(tf.range(tf.shape(x)[0]), partitions, 2)
        kept, picked = tf.dynamic_partition(x, partitions, 2)
        out = transform(picked, tf.dynamic_partition(params, partitions, 2)[1])
        out.set_shape(x.shape)
        return tf.dynamic_stitch(indices, [kept, out])
    y = tf.cond(tf.reduce_any(changed), apply, lambda: tf.identity(x))
    y.set_shape(x.shape)
    return y


# ------------------------------------------------------------------------------------------------------
# Transforms 1-8: geometry.

def _geometric_matrix(shape, p, o, q, width, height):
    """G^-1 [N, 3, 3]: centered output pixel (x right, y down) -> the input position it samples."""
    n1, n2 = shape[:1], shape[:1] + [2]
    g = tf.eye(3, batch_shape=[1])
    if o.xflip > 0:
        i = _param(n1, o.xflip * p, _floor_uniform(2), 0, q, lambda q: tf.floor(q * 2))
        g = tf.matmul(g, scale_2d(1 - 2 * i, 1))
    if o.rotate90 > 0:
        i = _param(n1, o.rotate90 * p, _floor_uniform(4), 0, q, lambda q: tf.floor(q * 4))
        g = tf.matmul(g, rotate_2d(np.pi / 2 * i))
    if o.xint > 0:
        t = _param(n2, o.xint * p, _uniform(-o.xint_max, o.xint_max), 0, q, lambda q: (q * 2 - 1) * o.xint_max)
        g = tf.matmul(g, translate_2d(-tf.rint(t[:, 0] * width), -tf.rint(t[:, 1] * height)))
    if o.scale > 0:
        s = _param(n1, o.scale * p, _log2_normal(o.scale_std), 1, q, _debug_log2_normal(o.scale_std))
        g = tf.matmul(g, scale_2d(1 / s, 1 / s))
    if o.rotate > 0:
        # Two independent rotations, each with p_rot, so that at least one fires with probability rotate * p.
        p_rot = 1 - tf.sqrt(tf.maximum(1 - o.rotate * p, 0.0))
        max_angle = np.pi * o.rotate_max
        theta = _param(n1, p_rot, _uniform(-max_angle, max_angle), 0, q, lambda q: (q * 2 - 1) * max_angle)
        g = tf.matmul(g, rotate_2d(theta))
    if o.aniso > 0:
        s = _param(n1, o.aniso * p, _log2_normal(o.aniso_std), 1, q, _debug_log2_normal(o.aniso_std))
        g = tf.matmul(g, scale_2d(1 / s, s))
    if o.rotate > 0:
        theta = _param(n1, p_rot, _uniform(-max_angle, max_angle), 0, q, lambda q: 0.0)
        g = tf.matmul(g, rotate_2d(theta))
    if o.xfrac > 0:
        t = _param(n2, o.xfrac * p, lambda s: tf.random_normal(s) * o.xfrac_std, 0, q, _debug_normal(o.xfrac_std))
        g = tf.matmul(g, translate_2d(-t[:, 0] * width, -t[:, 1] * height))
    return g + tf.zeros(n1 + [1, 1])  # [N, 3, 3] even when every matrix above was batch-free.


def _sym6_filters(channels):
    """Depthwise filters of sym6 along W [1, 12, C, 1] and along H [12, 1, C, 1]."""
    taps = np.array(wavelets["sym6"], np.float32)
    along_w = np.tile(taps.reshape(1, -1, 1, 1), [1, 1, channels, 1])
    along_h = np.tile(taps.reshape(-1, 1, 1, 1), [1, 1, channels, 1])
    return along_w, along_h


def _upsample2x(x, channels):
    """[N, H, W, C] -> [N, 2H, 2W, C]: zeros between samples, sym6 along W then H (DC gain 1/2)."""
    along_w, along_h = _sym6_filters(channels)
    shape = tf.shape(x)
    up_shape = tf.stack([shape[0], shape[1] * 2, shape[2] * 2, channels])
    x = tf.nn.depthwise_conv2d_native_backprop_input(up_shape, along_w, x, [1, 2, 2, 1], "SAME")
    return tf.nn.depthwise_conv2d_native_backprop_input(up_shape, along_h, x, [1, 1, 1, 1], "SAME")


def _downsample2x(x, channels):
    """[N, 2H, 2W, C] -> [N, H, W, C]: sym6 along W then H, every second sample (DC gain 2)."""
    along_w, along_h = _sym6_filters(channels)
    x = tf.nn.depthwise_conv2d_native(x, along_w, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d_native(x, along_h, [1, 2, 2, 1], "SAME")


def _bilinear_sample(x, transform, out_height, out_width, channels):
    """Output pixel (u, v) of sample n = x[n] at transform[n] @ (u, v, 1), bilinear, zero outside.

    x [N, Hi, Wi, channels]; transform [N, 3, 3] affine, in pixel indices (x = column, y = row). Written with
    gathers rather than ImageProjectiveTransform: TF 1.15 has that op only in tf.contrib, and TF 2's
    registered gradient is not the exact adjoint of the sampling.
    """
    shape = tf.shape(x)
    batch, in_height, in_width = shape[0], shape[1], shape[2]
    u, v = np.meshgrid(np.arange(out_width, dtype=np.float32), np.arange(out_height, dtype=np.float32))
    grid = np.stack([u.ravel(), v.ravel(), np.ones(u.size, np.float32)])  # [3, P]
    sampled = tf.matmul(transform[:, :2, :], grid)  # [N, 2, P]
    sx, sy = tf.expand_dims(sampled[:, 0], -1), tf.expand_dims(sampled[:, 1], -1)  # [N, P, 1]
    px = tf.floor(sx) + np.array([0, 1, 0, 1], np.float32)  # The 4 neighbours: [N, P, 4].
    py = tf.floor(sy) + np.array([0, 0, 1, 1], np.float32)
    max_x, max_y = tf.cast(in_width - 1, tf.float32), tf.cast(in_height - 1, tf.float32)
    inside = tf.cast((px >= 0) & (px <= max_x) & (py >= 0) & (py <= max_y), tf.float32)
    weights = (1 - tf.abs(sx - px)) * (1 - tf.abs(sy - py)) * inside
    first_row = tf.reshape(tf.range(batch) * in_height * in_width, [-1, 1, 1])
    index = (first_row + tf.cast(tf.clip_by_value(py, 0, max_y), tf.int32) * in_width
             + tf.cast(tf.clip_by_value(px, 0, max_x), tf.int32))
    values = tf.gather(tf.reshape(x, [-1, channels]), index)  # [N, P, 4, C]
    out = tf.reduce_sum(values * tf.expand_dims(weights, -1), axis=2)
    return tf.reshape(out, tf.stack([batch, out_height, out_width, channels]))


def _geometric_resample(x, g_inv):
    """x [N, H, W, C] resampled through G^-1 [N, 3, 3] (centered output pixel -> input position).

    Reflect-pad by margins that cover every sampled position, upsample 2x, sample bilinearly onto a
    canvas of the output plus a border, downsample 2x, crop.
    """
    _, height, width, channels = tflib.shape_to_list(x.shape)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = np.array([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], np.float32)
    sampled = tf.matmul(g_inv[:, :2, :], corners)  # [N, 2, 4]: where the output corners sample the input.
    reach = tf.reduce_max(tf.concat([-sampled, sampled], axis=1), axis=[0, 2])  # max -x, -y, x, y.
    margins = tf.ceil(reach - np.array([cx, cy, cx, cy], np.float32) + _SYM6_PAD * 2)
    margins = tf.clip_by_value(margins, 0, np.array([width, height, width, height], np.float32) - 1)
    int_margins = tf.cast(margins, tf.int32)
    x = tf.pad(x, [[0, 0], [int_margins[1], int_margins[3]], [int_margins[0], int_margins[2]], [0, 0]],
               mode="REFLECT")
    # Canvas pixel (output plus a border of _SYM6_PAD) -> padded input pixel, both at 2x:
    # S(2, 2) T(c + low) G^-1 T(-c - pad) S(1/2, 1/2).
    to_padded = _matrices(np.array([[2, 0, 2 * cx], [0, 2, 2 * cy], [0, 0, 1]]),
                          (margins[0], 2 * _unit(3, 0, 2)), (margins[1], 2 * _unit(3, 1, 2)))
    from_canvas = np.array([[0.5, 0, -cx - _SYM6_PAD], [0, 0.5, -cy - _SYM6_PAD], [0, 0, 1]], np.float32)
    g = tf.matmul(tf.matmul(to_padded, g_inv), from_canvas)
    x = _upsample2x(x, channels)
    x = _bilinear_sample(x, g, (height + _SYM6_PAD * 2) * 2, (width + _SYM6_PAD * 2) * 2, channels)
    x = _downsample2x(x, channels)
    return x[:, _SYM6_PAD:_SYM6_PAD + height, _SYM6_PAD:_SYM6_PAD + width, :]


# ------------------------------------------------------------------------------------------------------
# Transforms 9-13: color.

def _color_matrix(shape, p, o, q, channels):
    """C [N, 4, 4] acting on homogeneous RGB (pivot 0 of the [-1, 1] range). Hue and saturation need C > 1."""
    n1 = shape[:1]
    vvt = np.outer(_LUMA_AXIS, _LUMA_AXIS).astype(np.float32)
    c = tf.eye(4, batch_shape=[1])
    if o.brightness > 0:
        b = _param(n1, o.brightness * p, lambda s: tf.random_normal(s) * o.brightness_std, 0, q,
                   _debug_normal(o.brightness_std))
        c = tf.matmul(translate_3d(b, b, b), c)
    if o.contrast > 0:
        s = _param(n1, o.contrast * p, _log2_normal(o.contrast_std), 1, q, _debug_log2_normal(o.contrast_std))
        c = tf.matmul(scale_3d(s, s, s), c)
    if o.lumaflip > 0:
        i = _param(n1, o.lumaflip * p, _floor_uniform(2), 0, q, lambda q: tf.floor(q * 2))
        c = tf.matmul(np.eye(4, dtype=np.float32) - 2 * vvt * tf.reshape(i, [-1, 1, 1]), c)
    if o.hue > 0 and channels > 1:
        max_angle = np.pi * o.hue_max
        theta = _param(n1, o.hue * p, _uniform(-max_angle, max_angle), 0, q, lambda q: (q * 2 - 1) * max_angle)
        c = tf.matmul(rotate_3d(_LUMA_AXIS, theta), c)
    if o.saturation > 0 and channels > 1:
        s = _param(n1, o.saturation * p, _log2_normal(o.saturation_std), 1, q,
                   _debug_log2_normal(o.saturation_std))
        # vv^T + (I - vv^T) s, written as I + (I - vv^T)(s - 1) so that s = 1 gives the identity exactly.
        chroma = np.diag([1, 1, 1, 0]).astype(np.float32) - vvt
        c = tf.matmul(np.eye(4, dtype=np.float32) + chroma * tf.reshape(s - 1, [-1, 1, 1]), c)
    return c + tf.zeros(n1 + [1, 1])


def _apply_color(x, c):
    """x [N, H, W, C] (C = 3: RGB; C = 1: gray, through the mean of C's RGB rows), c [N, 4, 4]."""
    _, height, width, channels = tflib.shape_to_list(x.shape)
    if channels == 3:
        rgb = tf.reshape(x, [-1, height * width, 3])
        rgb = tf.matmul(rgb, c[:, :3, :3], transpose_b=True) + tf.expand_dims(c[:, :3, 3], 1)
        return tf.reshape(rgb, tf.shape(x))
    rho = tf.reduce_mean(c[:, :3, :], axis=1)  # [N, 4]
    gain = tf.reshape(tf.reduce_sum(rho[:, :3], axis=1), [-1, 1, 1, 1])
    return x * gain + tf.reshape(rho[:, 3], [-1, 1, 1, 1])


# ------------------------------------------------------------------------------------------------------
# Transform 14: image-space filtering.

def imgfilter_bank():
    """float64 [4, 43]: band-pass filters from sym2, band 0 lowest; the rows sum to an impulse at tap 21."""
    h = np.array(wavelets["sym2"], np.float64)
    h_hi = h * (-1.0) ** np.arange(h.size)
    lo2 = np.convolve(h, h[::-1]) / 2
    hi2 = np.convolve(h_hi, h_hi[::-1]) / 2
    bank = np.zeros([4, 1])
    bank[0, 0] = 1
    for i in range(1, 4):
        spread = np.zeros([4, bank.shape[1] * 2 - 1])
        spread[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in spread])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start:start + hi2.size] += hi2
    return bank


def _filter_gains(shape, p, o, q):
    """Per-sample band gains g [N, 4] (expected total power kept) and [N] bool: any band changed."""
    n1 = shape[:1]
    weights = _FILTER_BAND_WEIGHTS.astype(np.float32)
    g = tf.ones(n1 + [4])
    changed = tf.zeros(n1, tf.bool)
    for band, band_strength in enumerate(o.imgfilter_bands):
        debug = _debug_log2_normal(o.imgfilter_std) if band_strength > 0 else (lambda q: 1.0)
        t = _param(n1, o.imgfilter * p * band_strength, _log2_normal(o.imgfilter_std), 1, q, debug)
        changed = tf.logical_or(changed, tf.not_equal(t, 1))
        tau = tf.stack([t if i == band else tf.ones_like(t) for i in range(4)], axis=1)
        tau = tau / tf.sqrt(tf.reduce_sum(weights * tf.square(tau), axis=1, keepdims=True))
        g = g * tau
    return g, changed


def _reflect_indices(size, pad):
    """Source indices of a reflect padding by `pad` on both ends (edge not repeated), any size and pad."""
    if size == 1:
        return np.zeros(size + pad * 2, np.int32)
    period = 2 * (size - 1)
    idx = np.arange(-pad, size + pad) % period
    return np.where(idx < size, idx, period - idx).astype(np.int32)


def _apply_filter(x, gains):
    """x [N, H, W, C] filtered separably by sample n's filter gains[n] @ bank (same for its channels)."""
    _, height, width, channels = tflib.shape_to_list(x.shape)
    taps = tf.matmul(gains, imgfilter_bank().astype(np.float32))  # [N, 43], symmetric.
    x = tf.gather(x, _reflect_indices(height, _FILTER_CENTRE), axis=1)
    x = tf.gather(x, _reflect_indices(width, _FILTER_CENTRE), axis=2)
    # Batch folded into channels (channel n * C + c), so that one depthwise conv applies every sample's filter.
    padded_size = [height + _FILTER_CENTRE * 2, width + _FILTER_CENTRE * 2]
    folded = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1] + padded_size + [-1])
    per_channel = tf.transpose(tf.reshape(tf.tile(tf.expand_dims(taps, 1), [1, channels, 1]), [-1, _FILTER_TAPS]))
    folded = tf.nn.depthwise_conv2d_native(folded, tf.reshape(per_channel, [1, _FILTER_TAPS, -1, 1]), [1, 1, 1, 1],
                                           "VALID")
    folded = tf.nn.depthwise_conv2d_native(folded, tf.reshape(per_channel, [_FILTER_TAPS, 1, -1, 1]), [1, 1, 1, 1],
                                           "VALID")
    return tf.transpose(tf.reshape(folded, [height, width, -1, channels]), [2, 0, 1, 3])


# ------------------------------------------------------------------------------------------------------
# Transforms 15-16: noise and cutout.

def _add_noise(x, shape, p, o, q):
    sigma = _param(shape[:1], o.noise * p, lambda s: tf.abs(tf.random_normal(s) * o.noise_std), 0, q,
                   lambda q: tflib.erfinv(q) * o.noise_std)
    return _apply_to_changed(x, tf.not_equal(sigma, 0),
                             lambda x, sigma: x + tf.reshape(sigma, [-1, 1, 1, 1]) * tf.random_normal(tf.shape(x)),
                             sigma)


def _cutout(x, shape, p, o, q):
    """Zero a square of side cutout_size * (W, H) around a random centre (pixel centres strictly inside)."""
    _, height, width, _ = tflib.shape_to_list(x.shape)
    size = _param(shape[:1], o.cutout * p, lambda s: tf.zeros(s) + o.cutout_size, 0, q, lambda q: o.cutout_size)
    centre = tf.random_uniform(shape[:1] + [2], 0, 1) if q is None else tf.zeros(shape[:1] + [2]) + q
    half = tf.reshape(size / 2, [-1, 1, 1])
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    far_x = tf.abs(xs.reshape(1, 1, -1) - tf.reshape(centre[:, 0], [-1, 1, 1])) >= half  # [N, 1, W]
    far_y = tf.abs(ys.reshape(1, -1, 1) - tf.reshape(centre[:, 1], [-1, 1, 1])) >= half  # [N, H, 1]
    keep = tf.logical_or(far_x, far_y)
    return x * tf.expand_dims(tf.cast(keep, x.dtype), -1)


# ------------------------------------------------------------------------------------------------------

def _options(options):
    unknown = sorted(set(options) - set(AUGMENT_DEFAULTS))
    if unknown:
        raise TypeError("augment_pipeline: unknown option(s): %s" % ", ".join(unknown))
    o = dnnlib.EasyDict(AUGMENT_DEFAULTS)
    o.update(options)
    if len(o.imgfilter_bands) != 4:
        raise ValueError("augment_pipeline: imgfilter_bands needs 4 numbers, got %r" % (o.imgfilter_bands,))
    return o


def augment_pipeline(images, labels, strength=1, debug_percentile=None, data_format="NCHW", **options):
    """Augment every image of the minibatch; returns (images, labels), labels untouched.

    images: float32 [N, C, H, W] in [-1, 1] ([N, H, W, C] with data_format='NHWC'), N may be dynamic;
    the output has the same shape, layout and range conventions (nothing is clipped).
    strength: p, a Python number or a scalar tensor (e.g. the variable the ADA controller tunes).
    debug_percentile: None, or q in [0, 1): every enabled transform ignores its gate and takes a fixed
    value derived from q (for tests). options: AUGMENT_DEFAULTS' names (see also augpipe_specs).
    """
    o = _options(options)
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError("augment_pipeline: data_format must be 'NCHW' or 'NHWC', got %r" % (data_format,))
    with tf.name_scope("AugmentPipeline"):
        x = tf.convert_to_tensor(images)
        if data_format == "NCHW":
            x = tf.transpose(x, [0, 2, 3, 1])
        _, height, width, channels = tflib.shape_to_list(x.shape)
        if any(o[name] > 0 for name in COLOR_NAMES) and channels not in (1, 3):
            raise ValueError("augment_pipeline: color transforms need 1 or 3 channels, got %s" % channels)
        p = tf.cast(strength, tf.float32)
        q = None if debug_percentile is None else tf.cast(debug_percentile, tf.float32)
        shape = [tf.shape(x)[0]]
        if any(o[name] > 0 for name in GEOMETRIC_NAMES):
            with tf.name_scope("Geometric"):
                g_inv = _geometric_matrix(shape, p, o, q, width, height)
                x = _apply_to_changed(x, _is_changed(g_inv, 3), _geometric_resample, g_inv)
        if any(o[name] > 0 for name in COLOR_NAMES):
            with tf.name_scope("Color"):
                c = _color_matrix(shape, p, o, q, channels)
                x = _apply_to_changed(x, _is_changed(c, 4), _apply_color, c)
        if o.imgfilter > 0:
            with tf.name_scope("Filter"):
                gains, changed = _filter_gains(shape, p, o, q)
                x = _apply_to_changed(x, changed, _apply_filter, gains)
        if o.noise > 0:
            with tf.name_scope("Noise"):
                x = _add_noise(x, shape, p, o, q)
        if o.cutout > 0:
            with tf.name_scope("Cutout"):
                x = _cutout(x, shape, p, o, q)
        if data_format == "NCHW":
            x = tf.transpose(x, [0, 3, 1, 2])
    return x, labels
