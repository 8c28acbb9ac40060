"""training/augment.py: the ADA pipeline against NumPy computations written from the spec, on tiny images.

The NumPy side rebuilds every transform independently: the geometric chain (reflect pad, 2x upsampling,
bilinear sampling, 2x downsampling, crop) as explicit matrices of the sym6 taps, the color transforms as
their per-pixel formulas, the image filter as a direct convolution, cutout as its pixel rule.
`debug_percentile` q makes the parameters deterministic; the NumPy side derives the same ones from q.
"""

import numpy as np
import pytest
import scipy.special

import dnnlib.tflib as tflib
import tensorflow.compat.v1 as tf
from training import augment
from training.resume import StepSeededRandomOps

SYM6 = np.array(augment.wavelets["sym6"], np.float64)


def _run(sess, images, data_format="NCHW", **kwargs):
    """augment_pipeline on `images` fed through a placeholder with a dynamic batch size."""
    x = tf.placeholder(tf.float32, [None] + list(images.shape[1:]))
    out, labels = augment.augment_pipeline(x, "labels", data_format=data_format, **kwargs)
    assert labels == "labels"
    return sess.run(out, {x: images})


def _smooth_images(batch, channels, size, seed=0):
    """Low-frequency images in [-1, 1]: one cosine per channel, at most 0.4 cycles per image along each axis."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = np.zeros([batch, channels, size, size])
    for n in range(batch):
        for c in range(channels):
            fx, fy, phase = rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(0, 2 * np.pi)
            images[n, c] = np.cos(2 * np.pi * (fx * x + fy * y) + phase)
    return images.astype(np.float32)


def _noise_images(batch, channels, size, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, [batch, channels, size, size]).astype(np.float32)


# ------------------------------------------------------------------------------------------------------
# NumPy geometry, straight from the spec: matrices, margins, and the resampling chain.

def _t(tx, ty):
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)


def _s(sx, sy):
    return np.diag([sx, sy, 1.0])


def _r(theta):
    return np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])


def _np_geometry(q, size, opts):
    """G^-1 of transforms 1-8 in debug mode (every enabled transform at its q value)."""
    o = dict(augment.AUGMENT_DEFAULTS, **opts)
    e = scipy.special.erfinv(2 * q - 1)
    g = np.eye(3)
    if o["xflip"]:
        g = g @ _s(1 - 2 * np.floor(2 * q), 1)
    if o["rotate90"]:
        g = g @ _r(np.pi / 2 * np.floor(4 * q))
    if o["xint"]:
        t = (2 * q - 1) * o["xint_max"] * size
        g = g @ _t(-np.rint(t), -np.rint(t))
    if o["scale"]:
        s = 2 ** (e * o["scale_std"])
        g = g @ _s(1 / s, 1 / s)
    if o["rotate"]:
        g = g @ _r((2 * q - 1) * np.pi * o["rotate_max"])
    if o["aniso"]:
        s = 2 ** (e * o["aniso_std"])
        g = g @ _s(1 / s, s)
    if o["xfrac"]:
        t = e * o["xfrac_std"] * size
        g = g @ _t(-t, -t)
    return g


def _upsample_matrix(n):
    """[2n, n]: the adjoint of a 'SAME' stride-2 correlation with the 12 sym6 taps (pad before 5)."""
    m = np.zeros([2 * n, n])
    for i in range(2 * n):
        for o in range(n):
            k = i + 5 - 2 * o
            if 0 <= k < 12:
                m[i, o] = SYM6[k]
    return m


def _same_filter_matrix(n):
    """[n, n]: a 'SAME' stride-1 correlation with the sym6 taps (pad before 5)."""
    m = np.zeros([n, n])
    for o in range(n):
        for k in range(12):
            if 0 <= o + k - 5 < n:
                m[o, o + k - 5] = SYM6[k]
    return m


def _np_bilinear(image, a, out_h, out_w):
    """image [H, W, C] sampled at a @ (u, v, 1) for every output pixel (u = column), zero outside."""
    h, w, _ = image.shape
    v, u = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    sx = a[0, 0] * u + a[0, 1] * v + a[0, 2]
    sy = a[1, 0] * u + a[1, 1] * v + a[1, 2]
    out = np.zeros([out_h, out_w, image.shape[2]])
    for dy in (0, 1):
        for dx in (0, 1):
            px, py = np.floor(sx) + dx, np.floor(sy) + dy
            weight = (1 - np.abs(sx - px)) * (1 - np.abs(sy - py))
            ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
            pixels = image[np.clip(py, 0, h - 1).astype(int), np.clip(px, 0, w - 1).astype(int)]
            out += (weight * ok)[..., None] * pixels
    return out


def _np_resample(image, g_inv):
    """image [H, W, C] through G^-1 (centered output pixel -> input position), float64."""
    h, w, _ = image.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    q = g_inv @ np.array([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]])
    lx = int(np.clip(np.ceil(np.max(-q[0]) - cx + 6), 0, w - 1))
    hx = int(np.clip(np.ceil(np.max(q[0]) - cx + 6), 0, w - 1))
    ly = int(np.clip(np.ceil(np.max(-q[1]) - cy + 6), 0, h - 1))
    hy = int(np.clip(np.ceil(np.max(q[1]) - cy + 6), 0, h - 1))
    padded = np.pad(image, [(ly, hy), (lx, hx), (0, 0)], mode="reflect")
    hp, wp = padded.shape[:2]
    a = _s(2, 2) @ _t(cx + lx, cy + ly) @ g_inv @ _t(-cx - 3, -cy - 3) @ _s(0.5, 0.5)
    zeros_between = np.zeros([2 * hp, hp])
    zeros_between[::2] = np.eye(hp)
    up_rows = _same_filter_matrix(2 * hp).T @ zeros_between
    up = np.einsum("ij,jkc,lk->ilc", up_rows, padded, _upsample_matrix(wp))
    sampled = _np_bilinear(up, a, 2 * (h + 6), 2 * (w + 6))
    down_rows = _upsample_matrix(h + 6).T
    down_cols = _same_filter_matrix(2 * (w + 6))[::2]
    down = np.einsum("ij,jkc,lk->ilc", down_rows, sampled, down_cols)
    return down[3:3 + h, 3:3 + w]


def _np_resample_batch(images_nchw, g_inv):
    return np.stack([_np_resample(img.transpose(1, 2, 0).astype(np.float64), g_inv).transpose(2, 0, 1)
                     for img in images_nchw])


# ------------------------------------------------------------------------------------------------------
# Geometry.

def _mirror_shift_px():
    """How far the resampling shifts a mirrored axis: 0.098 px.

    Up- and downsampling with the orthogonal sym6 pair reconstruct exactly only when the grid keeps its
    orientation (the even taps of sym6's autocorrelation are an impulse). Mirrored, the pair acts as the
    even taps of sym6 convolved with itself, whose centre of mass is 0.098 px off the pixel.
    """
    offsets = np.arange(-6, 6)
    taps = np.convolve(SYM6, SYM6)[10 - 2 * offsets]  # Weight of input pixel j* + d, the mirror image being j*.
    return abs(np.sum(taps * offsets))


def _max_slope(images):
    return max(np.abs(np.diff(images, axis=2)).max(), np.abs(np.diff(images, axis=3)).max())


@pytest.mark.parametrize("name, q, mirrored_axes, expected", [
    ("xflip", 0.75, 1, lambda x: x[..., ::-1]),
    ("rotate90", 0.3, 1, lambda x: np.rot90(x, 1, axes=(2, 3))),
    ("rotate90", 0.6, 2, lambda x: np.rot90(x, 2, axes=(2, 3))),
    ("rotate90", 0.9, 1, lambda x: np.rot90(x, 3, axes=(2, 3))),
])
def test_pixel_blits_match_numpy_flip_rot90_and_the_resampling_chain(sess, name, q, mirrored_axes, expected):
    smooth = _smooth_images(2, 3, 16)
    out = _run(sess, smooth, debug_percentile=q, **{name: 1})
    # To first order the error is the shift times the slope, per mirrored axis. Near the borders the
    # reflect padding bends the image, which raised it to 1.4x that here; a misplaced half pixel gives 5x.
    tolerance = 2 * _mirror_shift_px() * _max_slope(smooth) * mirrored_axes + 1e-4
    assert 0.09 < _mirror_shift_px() < 0.1
    assert np.abs(out - expected(smooth)).max() <= tolerance
    noise = _noise_images(2, 3, 16, seed=1)
    out = _run(sess, noise, debug_percentile=q, **{name: 1})
    np.testing.assert_allclose(out, _np_resample_batch(noise, _np_geometry(q, 16, {name: 1})), atol=1e-5)


def test_integer_translation_is_exact_in_the_interior(sess):
    images = _noise_images(2, 3, 16)
    out = _run(sess, images, debug_percentile=0.9, xint=1)  # t = 0.8 * 0.125 * 16 = 1.6 -> 2 px right/down.
    shifted = np.zeros_like(images)
    shifted[:, :, 2:, 2:] = images[:, :, :-2, :-2]
    np.testing.assert_allclose(out[:, :, 6:-6, 6:-6], shifted[:, :, 6:-6, 6:-6], atol=2e-6)


@pytest.mark.parametrize("opts, q", [
    (dict(scale=1), 0.8), (dict(rotate=1), 0.6), (dict(aniso=1), 0.3), (dict(xfrac=1), 0.7),
    (dict(augment.augpipe_specs["bg"]), 0.55),
])
def test_general_geometric_transforms_match_numpy_resampling(sess, opts, q):
    images = _noise_images(2, 3, 12, seed=2)
    out = _run(sess, images, debug_percentile=q, **opts)
    np.testing.assert_allclose(out, _np_resample_batch(images, _np_geometry(q, 12, opts)), atol=1e-5)


@pytest.mark.skipif(not hasattr(getattr(tf, "raw_ops", None), "ImageProjectiveTransformV3"),
                    reason="TensorFlow's projective-transform op is not in core before TF 2.3")
def test_bilinear_sampler_equals_tensorflows_projective_transform(sess):
    rng = np.random.RandomState(3)
    images = rng.randn(3, 10, 12, 2).astype(np.float32)
    matrices = np.zeros([3, 3, 3], np.float32)
    for n in range(3):
        matrices[n, :2, :2] = rng.uniform(0.5, 1.5) * _r(rng.uniform(-3, 3))[:2, :2]
        matrices[n, :2, 2] = rng.uniform(-4, 14, 2)  # Partly outside: zero fill.
        matrices[n, 2, 2] = 1
    ours = augment._bilinear_sample(tf.constant(images), tf.constant(matrices), 14, 16, 2)
    theirs = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=matrices.reshape(3, 9)[:, :8], output_shape=[14, 16], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")
    ours, theirs = sess.run([ours, theirs])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)  # Rounding of the sampled positions.


# ------------------------------------------------------------------------------------------------------
# Color.

def _np_color_rgb(x, name, q):
    """One color transform on NCHW RGB, from its formula."""
    e = scipy.special.erfinv(2 * q - 1)
    mean = x.mean(axis=1, keepdims=True)
    if name == "brightness":
        return x + e * 0.2
    if name == "contrast":
        return x * 2 ** (e * 0.5)
    if name == "lumaflip":
        return x - 2 * np.floor(2 * q) * mean
    if name == "saturation":
        return mean + (x - mean) * 2 ** (e * 1)
    # hue: right-handed rotation about the gray axis (Rodrigues).
    theta = (2 * q - 1) * np.pi
    v = np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    rotation = np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(v, v)
    return np.einsum("ij,njhw->nihw", rotation, x)


def _np_color_gray(x, name, q):
    e = scipy.special.erfinv(2 * q - 1)
    return {"brightness": x + e * 0.2, "contrast": x * 2 ** (e * 0.5), "lumaflip": -x if q >= 0.5 else x,
            "hue": x, "saturation": x}[name]


@pytest.mark.parametrize("channels", [3, 1])
def test_color_transforms_follow_their_formulas(sess, channels):
    images = _noise_images(2, channels, 8, seed=4)
    reference = _np_color_rgb if channels == 3 else _np_color_gray
    q = 0.7
    for name in augment.COLOR_NAMES:
        out = _run(sess, images, debug_percentile=q, **{name: 1})
        np.testing.assert_allclose(out, reference(images.astype(np.float64), name, q), atol=1e-5, err_msg=name)
    expected = images.astype(np.float64)
    for name in augment.COLOR_NAMES:  # In table order, one after the other.
        expected = reference(expected, name, q)
    out = _run(sess, images, debug_percentile=q, **augment.augpipe_specs["color"])
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_color_transforms_refuse_other_channel_counts(sess):
    with pytest.raises(ValueError, match="1 or 3 channels"):
        augment.augment_pipeline(tf.zeros([2, 2, 8, 8]), None, brightness=1)


# ------------------------------------------------------------------------------------------------------
# Image-space filtering.

def test_filter_bank_is_built_from_sym2_and_rows_sum_to_an_impulse():
    h = np.array(augment.wavelets["sym2"])
    np.testing.assert_allclose(np.convolve(h, h[::-1]) / 2, np.array([-1, 0, 9, 16, 9, 0, -1]) / 32, atol=1e-12)
    bank = augment.imgfilter_bank()
    assert bank.shape == (4, 43)
    impulse = np.zeros(43)
    impulse[21] = 1
    np.testing.assert_allclose(bank.sum(axis=0), impulse, atol=1e-12)
    np.testing.assert_allclose(bank[3, 18:25], np.array([1, 0, -9, 16, -9, 0, 1]) / 32, atol=1e-12)
    assert np.abs(bank[3, :18]).max() == 0 and np.abs(bank[3, 25:]).max() == 0
    # Band 0 passes DC, the other bands block it; band 3 passes Nyquist, the others block it.
    np.testing.assert_allclose(bank.sum(axis=1), [1, 0, 0, 0], atol=1e-12)
    alternating = (-1.0) ** np.arange(43)
    np.testing.assert_allclose(np.abs(bank @ alternating), [0, 0, 0, 1], atol=1e-12)


def _np_filter(x, q, bands, std=1.0):
    """Per-spec gains, the bank's filter, reflect padding by 21 and a separable correlation (NCHW)."""
    weights = np.array([10, 1, 1, 1]) / 13
    gains = np.ones(4)
    for i in range(4):
        tau = np.ones(4)
        tau[i] = 2 ** (scipy.special.erfinv(2 * q - 1) * std) if bands[i] > 0 else 1
        gains *= tau / np.sqrt(np.sum(weights * tau ** 2))
    taps = gains @ augment.imgfilter_bank()
    padded = np.pad(x, [(0, 0), (0, 0), (21, 21), (21, 21)], mode="reflect")
    h, w = x.shape[2:]
    rows = sum(taps[k] * padded[:, :, :, k:k + w] for k in range(43))
    return sum(taps[k] * rows[:, :, k:k + h, :] for k in range(43))


@pytest.mark.parametrize("bands", [(1, 1, 1, 1), (0, 1, 0, 2)])
def test_imgfilter_matches_numpy_convolution(sess, bands):
    images = _noise_images(2, 3, 16, seed=5)
    out = _run(sess, images, debug_percentile=0.8, imgfilter=1, imgfilter_bands=list(bands))
    np.testing.assert_allclose(out, _np_filter(images.astype(np.float64), 0.8, bands), atol=1e-5)


# ------------------------------------------------------------------------------------------------------
# Noise and cutout.

def test_noise_has_the_debug_standard_deviation(sess):
    out = _run(sess, np.zeros([8, 1, 16, 16], np.float32), debug_percentile=0.8, noise=1)
    sigma = scipy.special.erfinv(0.8) * 0.1
    assert abs(out.std() / sigma - 1) < 0.05  # 2048 values: the std estimate is good to ~1.6 %.
    assert abs(out.mean()) < 0.1 * sigma


def test_cutout_zeroes_the_pixels_of_the_rule(sess):
    images = _noise_images(1, 1, 64, seed=6) + 2  # No pixel is 0 to begin with.
    for q, first, last in [(0.5, 16, 47), (0.3, 3, 34)]:  # |(i + 1/2) / 64 - q| < 1/4.
        out = _run(sess, images, debug_percentile=q, cutout=1)[0, 0]
        inside = np.zeros([64], bool)
        inside[first:last + 1] = True
        hole = inside[:, None] & inside[None, :]
        assert np.all(out[hole] == 0)
        assert np.array_equal(out[~hole], images[0, 0][~hole])


# ------------------------------------------------------------------------------------------------------
# The pipeline as a whole.

def test_p0_is_the_identity_bit_for_bit_and_p_can_be_a_variable(sess):
    images = _noise_images(3, 3, 8, seed=7) * 1.5
    strength = tf.Variable(0.0, trainable=False)
    x = tf.placeholder(tf.float32, [None, 3, 8, 8])
    x_nhwc = tf.transpose(x, [0, 2, 3, 1])
    nchw = [augment.augment_pipeline(x, None, strength=strength, **spec)[0] for spec in augment.augpipe_specs.values()]
    nhwc = [augment.augment_pipeline(x_nhwc, None, strength=strength, data_format="NHWC", **spec)[0]
            for spec in augment.augpipe_specs.values()]
    sess.run(strength.initializer)
    nchw_out, nhwc_out = sess.run([nchw, nhwc], {x: images})
    for name, out_nchw, out_nhwc in zip(augment.augpipe_specs, nchw_out, nhwc_out):
        assert np.array_equal(out_nchw, images), name
        assert np.array_equal(out_nhwc, images.transpose(0, 2, 3, 1)), name
    sess.run(strength.assign(1.0))
    bgcfnc = sess.run(nchw[-1], {x: images})
    assert np.all(np.abs(bgcfnc - images).max(axis=(1, 2, 3)) > 0.01)


@pytest.mark.slow_on_tf1  # Gate statistics: the same Python logic on every TensorFlow version.
def test_random_gates_fire_with_the_gate_probability(sess):
    images = _noise_images(400, 1, 4, seed=8)
    flipped = _run(sess, images, strength=1, xflip=1)  # Gate always open; i = 1 (a flip) half the time.
    untouched = np.all(flipped == images, axis=(1, 2, 3))
    assert 0.4 <= untouched.mean() <= 0.6
    mirrored = _run(sess, images, debug_percentile=0.75, xflip=1)
    np.testing.assert_allclose(flipped[~untouched], mirrored[~untouched], atol=1e-6)
    # Two rotations of probability 1 - sqrt(1 - p) each: at least one fires with probability p.
    rotated = _run(sess, images, strength=0.5, rotate=1)
    assert 0.4 <= np.mean(np.any(rotated != images, axis=(1, 2, 3))) <= 0.6


def _seeded_run(images, data_format, opts):
    graph = tf.Graph()
    with graph.as_default(), tf.Session(graph=graph) as session:
        seeded = StepSeededRandomOps(base_seed=5)
        with seeded.active():
            out, _ = augment.augment_pipeline(tf.constant(images), None, strength=0.8, data_format=data_format,
                                              **opts)
        random_ops = [op.type for op in graph.get_operations() if op.type.startswith("Random")]
        return session.run(out, {seeded.step_in: 3}), random_ops


def test_nchw_and_nhwc_agree_and_only_step_seeded_random_ops_are_used():
    images = _smooth_images(4, 3, 8)
    opts = augment.augpipe_specs["bgcfnc"]
    nchw, random_ops = _seeded_run(images, "NCHW", opts)
    nhwc, _ = _seeded_run(images.transpose(0, 2, 3, 1), "NHWC", opts)
    assert random_ops == []  # Stateful random ops would break exact resume.
    assert np.array_equal(nchw.transpose(0, 2, 3, 1), nhwc)
    assert np.abs(nchw - images).max() > 0.01


def test_gradients_reach_the_images(sess):
    images = _smooth_images(4, 3, 8)
    x = tf.placeholder(tf.float32, [None, 3, 8, 8])
    weights = np.random.RandomState(9).randn(4, 3, 8, 8).astype(np.float32)
    # Random gates, every transform: the gradient is finite and reaches every sample.
    out, _ = augment.augment_pipeline(x, None, strength=1, **augment.augpipe_specs["bgcfnc"])
    grad = sess.run(tf.gradients(tf.reduce_sum(out * weights), x)[0], {x: images})
    assert np.all(np.isfinite(grad)) and np.all(np.abs(grad).sum(axis=(1, 2, 3)) > 0)
    # Step-seeded random ops: the same draws on every run of a step (p = 0.15, so the groups transform only
    # part of the batch). For fixed draws the pipeline is affine in the images, so the gradient predicts
    # any change exactly.
    seeded = StepSeededRandomOps(base_seed=11)
    with seeded.active():
        out, _ = augment.augment_pipeline(x, None, strength=0.15, **augment.augpipe_specs["bgcfnc"])
    loss = tf.reduce_sum(tf.cast(out, tf.float64) * weights)
    grad_op = tf.gradients(loss, x)[0]
    delta = np.random.RandomState(10).randn(*images.shape).astype(np.float32)
    base, grad = sess.run([loss, grad_op], {x: images, seeded.step_in: 2})
    moved = sess.run(loss, {x: images + delta, seeded.step_in: 2})
    np.testing.assert_allclose(moved - base, np.sum(grad.astype(np.float64) * delta), rtol=1e-4)
    changed = np.any(sess.run(out, {x: images, seeded.step_in: 2}) != images, axis=(1, 2, 3))
    assert 0 < changed.sum() < len(images), changed


def test_options_are_checked(sess):
    with pytest.raises(TypeError, match="xflipp"):
        augment.augment_pipeline(tf.zeros([1, 3, 8, 8]), None, xflipp=1)
    with pytest.raises(ValueError, match="data_format"):
        augment.augment_pipeline(tf.zeros([1, 3, 8, 8]), None, data_format="CHWN")
    assert augment.augpipe_specs["bgc"] == dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                                                brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
    assert len(augment.augpipe_specs["bgcfnc"]) == 15


def test_tflib_erfinv_matches_scipy(sess):
    y = np.array([-0.999, -0.6, 0, 0.25, 0.9], np.float32)
    np.testing.assert_allclose(sess.run(tflib.erfinv(tf.constant(y))), scipy.special.erfinv(y.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)
