"""The original StyleGAN networks (training/networks_stylegan.py): names, shapes, counts, lod, truncation,
resampling gradients, the R1 penalty and pickling."""

import io
import pickle

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import network_pickle
from dnnlib.tflib.network import Network
from dnnlib.tflib.network_pickle import load_network_pickle
from training import networks_stylegan as nets
from training.networks_stylegan2 import grouped_conv_supported

SMALL = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, latent_size=8, dlatent_size=8,
             mapping_fmaps=8, mapping_layers=2)


def _nf(stage, fmap_base, fmap_max, fmap_decay=1.0):
    return min(int(fmap_base / 2.0 ** (stage * fmap_decay)), fmap_max)


def _expected_G_vars(num_channels, resolution, fmap_base, fmap_max, latent_size, dlatent_size, mapping_fmaps,
                     mapping_layers, label_size=0):
    """(local name, shape, trainable) of G_style in creation order, from the official naming scheme."""
    nf = lambda stage: _nf(stage, fmap_base, fmap_max)
    log2 = int(np.log2(resolution))
    num_layers = 2 * log2 - 2
    out = [("lod", [], False), ("dlatent_avg", [dlatent_size], False), ("G_synthesis/lod", [], False)]
    out += [("G_synthesis/noise%d" % i, [1, 1, 2 ** (i // 2 + 2), 2 ** (i // 2 + 2)], False) for i in range(num_layers)]

    def styled(prefix, channels, weight_shape):
        entries = [(prefix + "/weight", weight_shape)] if weight_shape else []
        entries += [(prefix + "/Noise/weight", [channels]), (prefix + "/bias", [channels]),
                    (prefix + "/StyleMod/weight", [dlatent_size, 2 * channels]),
                    (prefix + "/StyleMod/bias", [2 * channels])]
        return entries

    syn = [("4x4/Const/const", [1, nf(1), 4, 4])] + styled("4x4/Const", nf(1), None)
    syn += styled("4x4/Conv", nf(1), [3, 3, nf(1), nf(1)])
    syn += [("ToRGB_lod%d/weight" % (log2 - 2), [1, 1, nf(1), num_channels]), ("ToRGB_lod%d/bias" % (log2 - 2), [num_channels])]
    for res in range(3, log2 + 1):
        name = "%dx%d" % (2 ** res, 2 ** res)
        syn += styled(name + "/Conv0_up", nf(res - 1), [3, 3, nf(res - 2), nf(res - 1)])
        syn += styled(name + "/Conv1", nf(res - 1), [3, 3, nf(res - 1), nf(res - 1)])
        syn += [("ToRGB_lod%d/weight" % (log2 - res), [1, 1, nf(res - 1), num_channels]),
                ("ToRGB_lod%d/bias" % (log2 - res), [num_channels])]
    out += [("G_synthesis/" + name, shape, True) for name, shape in syn]

    mapping = [("LabelConcat/weight", [label_size, latent_size])] if label_size else []
    fan_in = latent_size + (latent_size if label_size else 0)
    for i in range(mapping_layers):
        fmaps = dlatent_size if i == mapping_layers - 1 else mapping_fmaps
        mapping += [("Dense%d/weight" % i, [fan_in, fmaps]), ("Dense%d/bias" % i, [fmaps])]
        fan_in = fmaps
    out += [("G_mapping/" + name, shape, True) for name, shape in mapping]
    return out


def _expected_D_vars(num_channels, resolution, fmap_base, fmap_max, label_size=0, mbstd_num_features=1, **_kwargs):
    nf = lambda stage: _nf(stage, fmap_base, fmap_max)
    log2 = int(np.log2(resolution))
    out = [("lod", [], False), ("FromRGB_lod0/weight", [1, 1, num_channels, nf(log2 - 1)], True),
           ("FromRGB_lod0/bias", [nf(log2 - 1)], True)]
    for res in range(log2, 2, -1):
        name = "%dx%d" % (2 ** res, 2 ** res)
        lod = log2 - res + 1
        out += [(name + "/Conv0/weight", [3, 3, nf(res - 1), nf(res - 1)], True), (name + "/Conv0/bias", [nf(res - 1)], True),
                (name + "/Conv1_down/weight", [3, 3, nf(res - 1), nf(res - 2)], True),
                (name + "/Conv1_down/bias", [nf(res - 2)], True),
                ("FromRGB_lod%d/weight" % lod, [1, 1, num_channels, nf(res - 2)], True),
                ("FromRGB_lod%d/bias" % lod, [nf(res - 2)], True)]
    out += [("4x4/Conv/weight", [3, 3, nf(1) + mbstd_num_features, nf(1)], True), ("4x4/Conv/bias", [nf(1)], True),
            ("4x4/Dense0/weight", [nf(1) * 16, nf(0)], True), ("4x4/Dense0/bias", [nf(0)], True),
            ("4x4/Dense1/weight", [nf(0), max(label_size, 1)], True), ("4x4/Dense1/bias", [max(label_size, 1)], True)]
    return out


def _param_count_G(num_channels, resolution, fmap_base, fmap_max, latent_size, dlatent_size, mapping_fmaps,
                   mapping_layers, label_size=0):
    """Trainable parameters of G_style from the layer formulas (not from a variable list)."""
    nf = lambda stage: _nf(stage, fmap_base, fmap_max)
    log2 = int(np.log2(resolution))
    epilogue = lambda c: c + c + dlatent_size * 2 * c + 2 * c  # noise weight, bias, style dense + bias
    total = nf(1) * 16 + epilogue(nf(1)) + 9 * nf(1) * nf(1) + epilogue(nf(1))
    total += sum((nf(res - 1) + 1) * num_channels for res in range(2, log2 + 1))  # ToRGB per resolution
    total += sum(9 * nf(res - 2) * nf(res - 1) + 9 * nf(res - 1) ** 2 + 2 * epilogue(nf(res - 1))
                 for res in range(3, log2 + 1))
    widths = [latent_size * (2 if label_size else 1)] + [mapping_fmaps] * (mapping_layers - 1) + [dlatent_size]
    total += label_size * latent_size + sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    return total


def _param_count_D(num_channels, resolution, fmap_base, fmap_max, label_size=0, **_kwargs):
    nf = lambda stage: _nf(stage, fmap_base, fmap_max)
    log2 = int(np.log2(resolution))
    total = sum((num_channels + 1) * nf(res - 1) for res in range(2, log2 + 1))  # FromRGB per resolution
    total += sum((9 * nf(res - 1) + 1) * nf(res - 1) + (9 * nf(res - 1) + 1) * nf(res - 2) for res in range(3, log2 + 1))
    total += (9 * (nf(1) + 1) + 1) * nf(1) + (16 * nf(1) + 1) * nf(0) + (nf(0) + 1) * max(label_size, 1)
    return total


def _trainable_count(net):
    return sum(int(np.prod(var.shape.as_list())) for var in net.trainables.values())


def _randomize(net, seed=0):
    """Give every variable random values (biases, noise weights and dlatent_avg too), at the scale of its
    initialiser where that is random."""
    rnd = np.random.RandomState(seed)
    values = {}
    for name, var in net.vars.items():
        if name.endswith("lod"):
            continue
        initial = net.get_var(var)
        scale = np.std(initial) if initial.size > 1 and np.std(initial) > 0 else 0.2
        values[var] = (rnd.randn(*initial.shape) * scale).astype(np.float32)
    tflib.set_vars(values)


# ------------------------------------------------------------------------------------------------------
# Structure.


def test_variable_names_shapes_and_trainability(sess):
    G = Network("G", func_name=nets.G_style, **SMALL)
    D = Network("D", func_name=nets.D_basic, **SMALL)
    assert [(n, v.shape.as_list(), v.trainable) for n, v in G.vars.items()] == _expected_G_vars(**SMALL)
    assert [(n, v.shape.as_list(), v.trainable) for n, v in D.vars.items()] == _expected_D_vars(**SMALL)
    assert G.input_shapes == [[None, 8], [None, 0]] and G.output_shape == [None, 3, 16, 16]
    assert G.components.synthesis.input_shape == [None, 6, 8] and G.components.mapping.output_shape == [None, 6, 8]
    assert G.components.synthesis.name == "G_synthesis" and G.components.mapping.name == "G_mapping"
    assert G.components.mapping.static_kwargs["dlatent_broadcast"] == 6
    assert D.input_shapes == [[None, 3, 16, 16], [None, 0]] and D.output_shape == [None, 1]
    assert G.output_names == ["images_out"] and D.output_names == ["scores_out"]

    Gc = Network("Gc", func_name=nets.G_style, label_size=4, **SMALL)
    Dc = Network("Dc", func_name=nets.D_basic, label_size=4, **SMALL)
    assert [(n, v.shape.as_list(), v.trainable) for n, v in Gc.vars.items()] == _expected_G_vars(label_size=4, **SMALL)
    assert [(n, v.shape.as_list(), v.trainable) for n, v in Dc.vars.items()] == _expected_D_vars(label_size=4, **SMALL)


def test_initialisation(sess):
    kwargs = dict(SMALL, fmap_base=1024, fmap_max=64, latent_size=64, dlatent_size=64, mapping_fmaps=64, label_size=4)
    G = Network("G", func_name=nets.G_style, **kwargs)
    v = {name: G.get_var(name) for name in G.vars}
    np.testing.assert_array_equal(v["G_synthesis/4x4/Const/const"], 1.0)
    for name, value in v.items():
        if name.endswith("bias") or name.endswith("Noise/weight") or name in ("lod", "dlatent_avg", "G_synthesis/lod"):
            np.testing.assert_array_equal(value, 0.0, err_msg=name)
    # Equalized learning rate: unit-variance weights, 1/lrmul for the mapping (lrmul 0.01).
    assert abs(np.std(v["G_synthesis/16x16/Conv1/weight"]) - 1.0) < 0.05
    assert abs(np.std(v["G_synthesis/4x4/Conv/StyleMod/weight"]) - 1.0) < 0.05
    assert abs(np.std(v["G_mapping/Dense0/weight"]) - 100.0) < 5.0
    assert abs(np.std(v["G_mapping/LabelConcat/weight"]) - 1.0) < 0.2
    assert abs(np.std(v["G_synthesis/noise4"]) - 1.0) < 0.1
    # Without wscale the He std is stored in the variable instead.
    with tf.variable_scope("plain"):
        out = nets.dense(tf.zeros([1, 400]), fmaps=300, gain=2.0, use_wscale=False)
    sess.run(tf.variables_initializer(tf.global_variables("plain")))
    assert abs(np.std(sess.run(tf.global_variables("plain")[0])) - 2.0 / 20.0) < 0.005
    assert out.shape.as_list() == [1, 300]


@pytest.mark.slow_on_tf1  # full-size graphs, parameter counts only
def test_parameter_counts_match_the_formulas_and_the_official_1024_models(sess):
    for kwargs in [SMALL, dict(SMALL, resolution=32, label_size=3, fmap_base=256, fmap_max=32)]:
        G = Network("G", func_name=nets.G_style, **kwargs)
        D = Network("D", func_name=nets.D_basic, **kwargs)
        assert _trainable_count(G) == _param_count_G(**kwargs)
        assert _trainable_count(D) == _param_count_D(**kwargs)
    # The published FFHQ 1024x1024 StyleGAN (config a: fmap_base 8192, 512-wide mapping) prints these totals.
    full = dict(num_channels=3, resolution=1024, fmap_base=8192, fmap_max=512, latent_size=512, dlatent_size=512,
                mapping_fmaps=512, mapping_layers=8)
    assert _param_count_G(**full) == 26219627
    assert _param_count_D(**full) == 23087249
    G = Network("G", func_name=nets.G_style, num_channels=3, resolution=1024, label_size=0)
    D = Network("D", func_name=nets.D_basic, num_channels=3, resolution=1024, label_size=0)
    assert _trainable_count(G) == 26219627
    assert _trainable_count(D) == 23087249
    assert G.components.synthesis.input_shape == [None, 18, 512]
    assert "G_synthesis/noise17" in G.vars and "G_synthesis/ToRGB_lod8/weight" in G.vars
    assert D.vars["1024x1024/Conv1_down/weight"].shape.as_list() == [3, 3, 16, 32]


def test_bad_arguments_raise_clear_errors(sess):
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        Network("G", func_name=nets.G_synthesis, resolution=24)
    with pytest.raises(ValueError, match="structure must be"):
        Network("D", func_name=nets.D_basic, structure="spiral", resolution=8)
    with pytest.raises(ValueError, match="nonlinearity"):
        Network("D", func_name=nets.D_basic, nonlinearity="tanh", resolution=8)
    with pytest.raises(ValueError, match="fused_scale"):
        Network("D", func_name=nets.D_basic, fused_scale="yes", resolution=8)


# ------------------------------------------------------------------------------------------------------
# Resampling layers.


def _np_blur(x, taps):
    k = np.outer(taps, taps) / np.sum(np.outer(taps, taps))
    r = k.shape[0] // 2
    padded = np.pad(x, [(0, 0), (0, 0), (r, r), (r, r)])
    out = np.zeros_like(x)
    for dy in range(k.shape[0]):
        for dx in range(k.shape[1]):
            out += k[dy, dx] * padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    return out


def _np_downscale(x, factor):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5))


def _np_upscale(x, factor):
    return x.repeat(factor, axis=2).repeat(factor, axis=3)


RESAMPLERS = [
    ("blur", lambda x, df: nets.blur2d(x, [1, 2, 1], data_format=df), lambda x: _np_blur(x, [1, 2, 1]), [2, 3, 6, 6]),
    ("upscale2", lambda x, df: nets.upscale2d(x, 2, data_format=df), lambda x: _np_upscale(x, 2), [2, 3, 4, 4]),
    ("upscale4", lambda x, df: nets.upscale2d(x, 4, data_format=df), lambda x: _np_upscale(x, 4), [2, 3, 2, 2]),
    ("downscale2", lambda x, df: nets.downscale2d(x, 2, data_format=df), lambda x: _np_downscale(x, 2), [2, 3, 8, 8]),
    ("downscale4", lambda x, df: nets.downscale2d(x, 4, data_format=df), lambda x: _np_downscale(x, 4), [2, 3, 8, 8]),
    ("lrelu", lambda x, df: nets.leaky_relu(x), lambda x: np.where(x >= 0, x, 0.2 * x), [2, 3, 4, 4]),
]


def _skip_nchw_without_support(data_format):
    # NCHW convolutions and pooling run on a CPU only in TF 2.x through oneDNN, as grouped convolutions do.
    if data_format == "NCHW" and not grouped_conv_supported():
        pytest.skip("NCHW convolutions need a GPU or oneDNN")


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("name,op,np_op,shape", RESAMPLERS, ids=[r[0] for r in RESAMPLERS])
def test_resampling_values_and_first_and_second_order_gradients(sess, name, op, np_op, shape, data_format):
    _skip_nchw_without_support(data_format)
    rnd = np.random.RandomState(1)
    x_val = rnd.randn(*shape).astype(np.float32)
    x = tf.placeholder(tf.float32, shape)  # NCHW, as the NumPy versions; transposed for NHWC.
    y = nets.layout_to_nchw(op(nets.nchw_to_layout(x, data_format), data_format), data_format)
    np.testing.assert_allclose(sess.run(y, {x: x_val}), np_op(x_val), rtol=1e-5, atol=1e-6)

    # A loss that is not linear in x, so that second derivatives are not trivially zero:
    # L = sum(r * y^2)  =>  dL/dx = 2 A^T (r * A x),  d(dL/dx . s)/dx = 2 A^T (r * A s).
    r_val = rnd.randn(*y.shape.as_list()).astype(np.float32)
    loss = tf.reduce_sum(r_val * tf.square(y))
    grad = tf.gradients(loss, x)[0]
    s_val = rnd.randn(*shape).astype(np.float32)
    hvp = tf.gradients(tf.reduce_sum(grad * s_val), x)[0]
    h = 1e-2
    # Directional derivative of the loss, against central differences (float64 accumulation).
    lp, lm = [np.sum(r_val.astype(np.float64) * np.square(np_op(x_val + sign * h * s_val).astype(np.float64)))
              for sign in (1, -1)]
    g_val, hvp_val = sess.run([grad, hvp], {x: x_val})
    np.testing.assert_allclose(np.sum(g_val * s_val), (lp - lm) / (2 * h), rtol=2e-3, atol=1e-3)
    # Hessian-vector product against differences of the TF gradient.
    gp, gm = [sess.run(grad, {x: x_val + sign * h * s_val}) for sign in (1, -1)]
    np.testing.assert_allclose(hvp_val, (gp - gm) / (2 * h), rtol=1e-3, atol=1e-3)
    # The gradient of a linear op is its adjoint: <A x, r> = <x, A^T r>.
    adjoint = tf.gradients(tf.reduce_sum(y * r_val), x)[0]
    if name != "lrelu":
        np.testing.assert_allclose(np.sum(sess.run(adjoint, {x: x_val}) * x_val), np.sum(np_op(x_val) * r_val),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("res", [4, 8])
def test_fused_resampling_convolutions_equal_the_two_step_versions(sess, res, data_format):
    _skip_nchw_without_support(data_format)
    rnd = np.random.RandomState(2)
    x = nets.nchw_to_layout(tf.constant(rnd.randn(2, 5, res, res).astype(np.float32)), data_format)
    kwargs = dict(use_wscale=True, data_format=data_format)
    with tf.variable_scope("up_fused"):
        up_fused = nets.upscale2d_conv2d(x, 7, 3, fused_scale=True, **kwargs)
    with tf.variable_scope("up_plain"):
        up_plain = nets.upscale2d_conv2d(x, 7, 3, fused_scale=False, **kwargs)
    with tf.variable_scope("down"):
        down_fused = nets.conv2d_downscale2d(x, 7, 3, fused_scale=True, **kwargs)
    with tf.variable_scope("down", reuse=True):
        down_plain = nets.conv2d_downscale2d(x, 7, 3, fused_scale=False, **kwargs)
    up_fused, up_plain, down_fused, down_plain = [nets.layout_to_nchw(t, data_format)
                                                  for t in (up_fused, up_plain, down_fused, down_plain)]
    assert [v.shape.as_list() for v in tf.global_variables()] == [[3, 3, 5, 7]] * 3
    sess.run(tf.global_variables_initializer())
    # The fused upsampling is a transposed convolution, which flips the kernel spatially.
    w_up = sess.run(tf.global_variables("up_fused")[0])
    tf.global_variables("up_plain")[0].load(w_up[::-1, ::-1], sess)
    a, b, c, d = sess.run([up_fused, up_plain, down_fused, down_plain])
    assert a.shape == (2, 7, 2 * res, 2 * res) and c.shape == (2, 7, res // 2, res // 2)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(c, d, rtol=1e-4, atol=1e-4)


def test_fused_scale_auto_switches_at_128_pixels(sess):
    for size, fused in [(32, False), (64, True)]:
        with tf.variable_scope("up%d" % size):
            nets.upscale2d_conv2d(tf.zeros([1, 2, size, size]), 2, 3)
        ops = [op.type for op in tf.get_default_graph().get_operations() if op.name.startswith("up%d/" % size)]
        assert ("Conv2DBackpropInput" in ops) == fused
    for size, fused in [(64, False), (128, True)]:
        with tf.variable_scope("down%d" % size):
            nets.conv2d_downscale2d(tf.zeros([1, 2, size, size]), 2, 3)
        ops = [op.type for op in tf.get_default_graph().get_operations() if op.name.startswith("down%d/" % size)]
        assert ("DepthwiseConv2dNative" not in ops) == fused


# ------------------------------------------------------------------------------------------------------
# Progressive growing.


def _copy_to_lower_resolution(high, low, prefix):
    """Assign `low` (one resolution step smaller) the variables of `high`: lod numbers shift by one."""
    values = {}
    for name, var in low.vars.items():
        if name == "lod":
            continue
        src = name
        if name.startswith(prefix + "_lod"):
            lod, rest = name[len(prefix + "_lod"):].split("/")
            src = "%s_lod%d/%s" % (prefix, int(lod) + 1, rest)
        values[var] = high.get_var(src)
    tflib.set_vars(values)


def test_generator_lod_blends_the_lower_resolution_branch(sess):
    kwargs = dict(num_channels=3, fmap_base=64, fmap_max=16, dlatent_size=8)
    S16 = Network("S16", func_name=nets.G_synthesis, resolution=16, **kwargs)
    S8 = Network("S8", func_name=nets.G_synthesis, resolution=8, **kwargs)
    _randomize(S16)
    _copy_to_lower_resolution(S16, S8, "ToRGB")
    dlatents = np.random.RandomState(3).randn(4, 6, 8).astype(np.float32)
    low = S8.run(dlatents[:, :4], randomize_noise=False)
    upscaled_low = _np_upscale(low, 2)

    outputs = {}
    for lod in [0.0, 0.25, 1.0, 1.5, 2.0]:
        S16.find_var("lod").load(lod, sess)
        for structure in ["linear", "recursive"]:
            outputs[lod, structure] = S16.run(dlatents, randomize_noise=False, structure=structure)
        np.testing.assert_allclose(outputs[lod, "linear"], outputs[lod, "recursive"], rtol=1e-5, atol=1e-5)
    full = outputs[0.0, "linear"]
    np.testing.assert_allclose(S16.run(dlatents, randomize_noise=False, structure="fixed"), full, rtol=1e-5, atol=1e-5)
    assert np.abs(full - upscaled_low).mean() > 0.1  # The two branches really differ.
    np.testing.assert_allclose(outputs[1.0, "linear"], upscaled_low, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outputs[0.25, "linear"], 0.75 * full + 0.25 * upscaled_low, rtol=1e-4, atol=1e-5)
    # lod 2 shows the 4x4 output, which at lod 1.5 is half blended with the 8x8 one.
    S8.find_var("lod").load(1.0, sess)
    lowest = _np_upscale(S8.run(dlatents[:, :4], randomize_noise=False), 2)
    np.testing.assert_allclose(outputs[2.0, "linear"], lowest, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outputs[1.5, "linear"], 0.5 * upscaled_low + 0.5 * lowest, rtol=1e-4, atol=1e-5)


def test_discriminator_lod_uses_the_downscaled_lower_branch(sess):
    kwargs = dict(num_channels=3, fmap_base=64, fmap_max=16)
    D16 = Network("D16", func_name=nets.D_basic, resolution=16, **kwargs)
    D8 = Network("D8", func_name=nets.D_basic, resolution=8, **kwargs)
    _randomize(D16, seed=4)
    _copy_to_lower_resolution(D16, D8, "FromRGB")
    images = np.random.RandomState(5).randn(8, 3, 16, 16).astype(np.float32)
    low = D8.run(_np_downscale(images, 2), None)
    scores = {}
    for lod in [0.0, 0.5, 1.0]:
        D16.find_var("lod").load(lod, sess)
        for structure in ["linear", "recursive"]:
            scores[lod, structure] = D16.run(images, None, structure=structure)
        np.testing.assert_allclose(scores[lod, "linear"], scores[lod, "recursive"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(D16.run(images, None, structure="fixed"), scores[0.0, "linear"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores[1.0, "linear"], low, rtol=1e-5, atol=1e-5)
    assert np.abs(scores[0.0, "linear"] - low).mean() > 1e-2
    # Half way, the 8x8 features (not the scores) are blended, so only check it lies between.
    assert not np.allclose(scores[0.5, "linear"], scores[0.0, "linear"])


# ------------------------------------------------------------------------------------------------------
# Generator behaviour.


def test_truncation_moves_only_early_layers_toward_dlatent_avg(sess):
    G = Network("G", func_name=nets.G_style, **SMALL)
    _randomize(G, seed=6)
    synthesis, mapping = G.components.synthesis, G.components.mapping
    z = np.random.RandomState(7).randn(4, 8).astype(np.float32)
    w = mapping.run(z, None)
    assert w.shape == (4, 6, 8)
    np.testing.assert_allclose(w[:, 0], w[:, 5], rtol=1e-6)  # Broadcast: one w for every layer.
    avg = G.get_var("dlatent_avg")
    assert np.abs(avg).max() > 0.05

    def synth(dlatents):
        return synthesis.run(dlatents, randomize_noise=False)

    for psi, cutoff in [(0.5, 2), (0.7, 8), (-0.3, 4)]:
        expected = w.copy()
        expected[:, :cutoff] = avg + psi * (w[:, :cutoff] - avg)
        got = G.run(z, None, truncation_psi=psi, truncation_cutoff=cutoff, randomize_noise=False)
        np.testing.assert_allclose(got, synth(expected), rtol=1e-4, atol=1e-5)
    # Defaults: psi 0.7 on the first 8 layers, i.e. all 6 of this small G.
    expected = avg + 0.7 * (w - avg)
    np.testing.assert_allclose(G.run(z, None, randomize_noise=False), synth(expected), rtol=1e-4, atol=1e-5)
    # No truncation: psi 1, cutoff None, or validation with the default *_val settings.
    untruncated = synth(w)
    assert np.abs(untruncated - synth(expected)).mean() > 1e-3
    for kwargs in [dict(truncation_psi=1.0), dict(truncation_cutoff=None), dict(is_validation=True)]:
        np.testing.assert_allclose(G.run(z, None, randomize_noise=False, **kwargs), untruncated, rtol=1e-4, atol=1e-5)
    # G copies its lod into the synthesis network.
    G.find_var("lod").load(1.0, sess)
    lod1 = G.run(z, None, randomize_noise=False, truncation_psi=1.0)
    np.testing.assert_allclose(lod1, _np_upscale(_np_downscale(lod1, 2), 2), rtol=1e-5, atol=1e-5)


def test_training_updates_dlatent_avg_and_noise_is_random(sess):
    G = Network("G", func_name=nets.G_style, **SMALL)
    _randomize(G, seed=8)
    z = np.random.RandomState(9).randn(6, 8).astype(np.float32)
    old_avg = G.get_var("dlatent_avg")
    w = G.components.mapping.run(z, None)
    images = G.get_output_for(tf.constant(z), None, is_training=True, style_mixing_prob=None)
    sess.run(images)
    np.testing.assert_allclose(G.get_var("dlatent_avg"), old_avg * 0.995 + w[:, 0].mean(axis=0) * 0.005,
                               rtol=1e-5, atol=1e-6)
    # Training ignores truncation; style mixing replaces later layers by a second latent's dlatents.
    mixed = G.get_output_for(tf.constant(z), None, is_training=True, style_mixing_prob=1.0, randomize_noise=False)
    plain = G.components.synthesis.run(w, randomize_noise=False)
    assert not np.allclose(sess.run(mixed), plain, atol=1e-4)
    # Noise: random by default, the stored noise variables with randomize_noise=False.
    a, b = G.run(z, None), G.run(z, None)
    assert np.abs(a - b).mean() > 1e-4
    np.testing.assert_array_equal(G.run(z, None, randomize_noise=False), G.run(z, None, randomize_noise=False))


def test_conditional_networks_use_the_labels(sess):
    kwargs = dict(SMALL, label_size=3)
    G = Network("G", func_name=nets.G_style, **kwargs)
    D = Network("D", func_name=nets.D_basic, **kwargs)
    _randomize(G, seed=10)
    _randomize(D, seed=11)
    rnd = np.random.RandomState(12)
    z = rnd.randn(4, 8).astype(np.float32)
    eye = np.eye(3, dtype=np.float32)
    w0 = G.components.mapping.run(z, eye[[0] * 4])
    w1 = G.components.mapping.run(z, eye[[1] * 4])
    assert np.abs(w0 - w1).mean() > 1e-3
    images = rnd.randn(4, 3, 16, 16).astype(np.float32)
    scores = [D.run(images, eye[[k] * 4]) for k in range(3)]
    # D's label switch: the score is the label-weighted sum of its outputs, linear in the labels.
    np.testing.assert_allclose(D.run(images, eye[[0] * 4] * 2 - eye[[2] * 4]), 2 * scores[0] - scores[2],
                               rtol=1e-4, atol=1e-5)
    assert np.abs(scores[0] - scores[1]).mean() > 1e-3


# ------------------------------------------------------------------------------------------------------
# Training graph and pickles.


def _r1_penalty_and_grads(D, reals):
    scores = D.get_output_for(reals, None, is_training=True)  # structure 'recursive': tf.cond branches
    real_grads = tf.gradients(tf.reduce_sum(scores), [reals])[0]
    penalty = tf.reduce_sum(tf.square(real_grads))
    return penalty, tf.gradients(penalty, list(D.trainables.values()))


@pytest.mark.parametrize("fused_scale,lod,unused", [(False, 0.5, ["FromRGB_lod2"]), (True, 0.0, ["FromRGB_lod1", "FromRGB_lod2"])])
def test_r1_penalty_second_order_gradients_match_plain_autodiff(sess, monkeypatch, fused_scale, lod, unused):
    kwargs = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, fused_scale=fused_scale)
    D = Network("D", func_name=nets.D_basic, **kwargs)
    _randomize(D, seed=13)
    D.find_var("lod").load(lod, sess)
    reals = tf.constant(np.random.RandomState(14).randn(4, 3, 16, 16).astype(np.float32))
    penalty, grads = _r1_penalty_and_grads(D, reals)
    names = list(D.trainables)
    # Past the minibatch-stddev layer D is piecewise linear in the images, so those biases move only the
    # leaky-ReLU masks: their second derivatives are zero and TF has no gradient path for them.
    assert [n for n, g in zip(names, grads) if g is None] == ["4x4/Conv/bias", "4x4/Dense0/bias", "4x4/Dense1/bias"]
    names = [n for n, g in zip(names, grads) if g is not None]
    penalty_val, grad_vals = sess.run([penalty, [g for g in grads if g is not None]])
    assert np.isfinite(penalty_val) and penalty_val > 0
    assert all(np.all(np.isfinite(g)) for g in grad_vals)
    # Only the FromRGB layers of resolutions that this lod does not show get zero gradients.
    assert [n for n, g in zip(names, grad_vals) if not np.any(g)] == [n + s for n in unused for s in ("/weight", "/bias")]

    # The same D built from the plain TF ops (TF's own gradients, no custom ones) gives the same numbers.
    # (Finite differences of the penalty itself are useless: it jumps wherever a leaky-ReLU mask flips.)
    _use_plain_ops(monkeypatch)
    D_plain = Network("D_plain", func_name=nets.D_basic, **kwargs)
    D_plain.copy_vars_from(D)
    plain_penalty, plain_grads = _r1_penalty_and_grads(D_plain, reals)
    custom_ops = lambda scope: [op for op in tf.get_default_graph().get_operations()
                                if op.name.startswith(scope) and op.type == "IdentityN"]  # tf.custom_gradient
    assert custom_ops("D/") and not custom_ops("D_plain/")
    plain_penalty_val, plain_grad_vals = sess.run([plain_penalty, [g for g in plain_grads if g is not None]])
    assert sum(g is None for g in plain_grads) == 3
    np.testing.assert_allclose(plain_penalty_val, penalty_val, rtol=1e-4)
    for name, got, expected in zip(names, grad_vals, plain_grad_vals):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max(), err_msg=name)


def _use_plain_ops(monkeypatch):
    """Swap the custom-gradient layers of the module for the same maths in plain TF ops."""
    monkeypatch.setattr(nets, "blur2d", lambda x, f=[1, 2, 1], normalize=True, data_format="NCHW":
                        nets._blur2d(x, f, normalize, data_format=data_format))
    monkeypatch.setattr(nets, "upscale2d", lambda x, factor=2, data_format="NCHW":
                        nets._upscale2d(x, factor, data_format=data_format))
    monkeypatch.setattr(nets, "downscale2d", lambda x, factor=2, data_format="NCHW":
                        nets._downscale2d(x, factor, data_format=data_format))
    monkeypatch.setattr(nets, "leaky_relu", lambda x, alpha=0.2: tf.maximum(x, x * alpha))


def test_generator_gradients_match_plain_autodiff(sess, monkeypatch):
    kwargs = dict(SMALL, resolution=8)
    G = Network("G", func_name=nets.G_style, **kwargs)
    _randomize(G, seed=19)
    G.find_var("lod").load(0.5, sess)
    z = tf.constant(np.random.RandomState(20).randn(4, 8).astype(np.float32))
    r = np.random.RandomState(21).randn(4, 3, 8, 8).astype(np.float32)

    def loss_and_grads(net):
        images = net.get_output_for(z, None, is_training=True, style_mixing_prob=None, randomize_noise=False)
        loss = tf.reduce_sum(images * r)
        return loss, tf.gradients(loss, list(net.trainables.values()))

    loss, grads = loss_and_grads(G)
    assert all(g is not None for g in grads)
    _use_plain_ops(monkeypatch)
    G_plain = G.clone("G_plain")
    plain_loss, plain_grads = loss_and_grads(G_plain)
    got, expected = sess.run([[loss] + grads, [plain_loss] + plain_grads])
    for name, a, b in zip(["loss"] + list(G.trainables), got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * np.abs(b).max(), err_msg=name)
    # At lod 0.5 both the 8x8 and the 4x4 ToRGB layers are blended in: every parameter has a gradient.
    assert all(np.any(g) for g in got[1:])


@pytest.mark.slow_on_tf1  # long; pickles are checked across TF versions in test_cross_version_pickles
def test_pickle_round_trip_reproduces_outputs(sess, monkeypatch):
    G = Network("G", func_name=nets.G_style, **SMALL)
    D = Network("D", func_name=nets.D_basic, **SMALL)
    _randomize(G, seed=16)
    _randomize(D, seed=17)
    G.find_var("lod").load(0.5, sess)
    z = np.random.RandomState(18).randn(4, 8).astype(np.float32)
    images = G.run(z, None, randomize_noise=False)
    scores = D.run(images, None)
    state = G.__getstate__()
    assert state["build_func_name"] == "G_style" and state["version"] == 4
    assert "def G_synthesis(" in state["build_module_src"]
    assert state["components"]["synthesis"].__getstate__()["build_func_name"] == "G_synthesis"
    assert [name for name, _ in state["variables"]] == ["lod", "dlatent_avg"]
    data = pickle.dumps((G, D), protocol=4)

    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, D2 = load_network_pickle(io.BytesIO(data))
        assert list(G2.vars) == list(G.vars) and G2.static_kwargs == G.static_kwargs
        np.testing.assert_allclose(G2.run(z, None, randomize_noise=False), images, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(D2.run(images, None), scores, rtol=1e-5, atol=1e-6)

    # The same through the embedded source, executed in a module of its own as the official loader does
    # (as it would be if this module were not one the loader knows).
    monkeypatch.setattr(network_pickle, "KNOWN_BUILD_MODULES", ())
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G3, _ = load_network_pickle(io.BytesIO(data), allow_code_execution=True)
        exec_module = G3._build_func.__module__
        assert exec_module.startswith("_tflib_network_import_")
        assert G3.components.synthesis._build_func.__module__.startswith("_tflib_network_import_")
        np.testing.assert_allclose(G3.run(z, None, randomize_noise=False), images, rtol=1e-5, atol=1e-6)
        # A new G from the executed source builds its sub-networks from that module's globals.
        G4 = Network("G4", func_name=G3._build_func, **SMALL)
        assert G4.components.synthesis._build_func.__module__ == exec_module
        assert G4.components.mapping._build_func.__module__ == exec_module
