"""Tests of dnnlib.tflib.ops.upfirdn_2d: both implementations against the official numbers, an independent
NumPy/SciPy version of the definition, finite differences and exact second derivatives."""

import json
import os

import numpy as np
import pytest
import scipy.signal
import tensorflow.compat.v1 as tf

from dnnlib.tflib import custom_ops
from dnnlib.tflib.ops import upfirdn_2d as ufd

PARAM_NAMES = ("upx", "upy", "downx", "downy", "padx0", "padx1", "pady0", "pady1")

# ----------------------------------------------------------------------------------------------------
# Independent definition: zero insertion, pad/crop, scipy's true 2-D convolution, subsampling.


def np_upfirdn_2d(x, k, upx=1, upy=1, downx=1, downy=1, padx0=0, padx1=0, pady0=0, pady1=0):
    """x: [major, H, W, minor] float64 array; k: 2-D kernel. Follows the definition step by step."""
    major, in_h, in_w, minor = x.shape
    up = np.zeros([major, in_h * upy, in_w * upx, minor])
    up[:, ::upy, ::upx, :] = x
    padded = np.pad(up, [(0, 0), (max(pady0, 0), max(pady1, 0)), (max(padx0, 0), max(padx1, 0)), (0, 0)])
    padded = padded[:, max(-pady0, 0): padded.shape[1] - max(-pady1, 0), max(-padx0, 0): padded.shape[2] - max(-padx1, 0), :]
    kernel_h, kernel_w = np.shape(k)
    out = np.zeros([major, padded.shape[1] - kernel_h + 1, padded.shape[2] - kernel_w + 1, minor])
    for m in range(major):
        for c in range(minor):
            out[m, :, :, c] = scipy.signal.convolve2d(padded[m, :, :, c], np.asarray(k, np.float64), mode="valid")
    return out[:, ::downy, ::downx, :]


def np_operator_matrix(in_h, in_w, k, params):
    """Dense matrix A ([outH*outW, inH*inW]) of the per-image linear map, built from np_upfirdn_2d."""
    basis = np.eye(in_h * in_w).reshape(in_h * in_w, in_h, in_w, 1)
    responses = np_upfirdn_2d(basis, k, **params)
    return responses.reshape(in_h * in_w, -1).T


def apply_per_image(a, x, out_h, out_w):
    """Apply a per-image matrix to every (major, minor) image of [major, H, W, minor] x."""
    major, in_h, in_w, minor = x.shape
    flat = x.transpose(0, 3, 1, 2).reshape(major, minor, in_h * in_w)
    return np.einsum("oi,mci->mco", a, flat).reshape(major, minor, out_h, out_w).transpose(0, 2, 3, 1)


def random_config(rng):
    """Random shapes and parameters (negative pads included) with a non-empty output."""
    while True:
        x_shape = [int(rng.randint(1, 3)), int(rng.randint(1, 7)), int(rng.randint(1, 7)), int(rng.randint(1, 4))]
        k = rng.rand(rng.randint(1, 6), rng.randint(1, 6)) + 0.1
        params = dict(upx=rng.randint(1, 4), upy=rng.randint(1, 4), downx=rng.randint(1, 4), downy=rng.randint(1, 4),
                      padx0=rng.randint(-3, 4), padx1=rng.randint(-3, 4), pady0=rng.randint(-3, 4), pady1=rng.randint(-3, 4))
        params = {name: int(value) for name, value in params.items()}
        out_h = (x_shape[1] * params["upy"] + params["pady0"] + params["pady1"] - k.shape[0]) // params["downy"] + 1
        out_w = (x_shape[2] * params["upx"] + params["padx0"] + params["padx1"] - k.shape[1]) // params["downx"] + 1
        if out_h >= 1 and out_w >= 1:
            return x_shape, k, params


def test_numpy_definition_sanity():
    # The test's own definition: upsample 2x with a 1x1 kernel and no pad gives zero insertion, and
    # an asymmetric kernel is applied flipped (convolution), cropping by negative pads.
    x = np.arange(6.0).reshape(1, 2, 3, 1)
    y = np_upfirdn_2d(x, [[1.0]], upx=2, upy=2)
    assert y.shape == (1, 4, 6, 1)
    np.testing.assert_array_equal(y[0, ::2, ::2, 0], x[0, :, :, 0])
    assert np.all(y[0, 1::2, :, 0] == 0) and np.all(y[0, :, 1::2, 0] == 0)
    y = np_upfirdn_2d(np.array([1.0, 0, 0, 0]).reshape(1, 1, 4, 1), [[1.0, 2.0]], padx0=1, padx1=-1)
    np.testing.assert_array_equal(y[0, 0, :, 0], [1.0, 2.0, 0.0])


# ----------------------------------------------------------------------------------------------------
# The CUDA implementation: built with nvcc and run through its CPU kernel on this machine.


@pytest.fixture(scope="module")
def plugin_built():
    if custom_ops.find_nvcc() is None:
        pytest.skip("nvcc not found: cannot build the UpFirDn2D plugin")
    custom_ops.get_plugin(ufd._cuda_file)  # A build failure must fail the test, not skip it.
    return True


IMPLS = ["ref", "cuda"]


def maybe_plugin(impl, request):
    if impl == "cuda":
        request.getfixturevalue("plugin_built")


# ----------------------------------------------------------------------------------------------------
# Official numbers.


def load_reference(reference, name):
    folder = os.path.join(reference, "pieces", "ops")
    with open(os.path.join(folder, name + "_cases.json")) as f:
        cases = json.load(f)
    return folder, cases


@pytest.mark.parametrize("impl", IMPLS)
def test_upfirdn_2d_official_cases(sess, reference, impl, request):
    maybe_plugin(impl, request)
    folder, cases = load_reference(reference, "upfirdn_2d")
    data = np.load(os.path.join(folder, "upfirdn_2d.npz"))
    x_value = np.random.RandomState(101).randn(2, 8, 12, 3).astype(np.float32)
    x = tf.constant(x_value)
    fetches = {}
    for case in cases:
        name = case["name"]
        y = ufd.upfirdn_2d(x, data[name + "/k"], impl=impl, **case["params"])
        assert y.shape.as_list() == case["y_shape"], name
        dx = tf.gradients(tf.reduce_sum(y * data[name + "/R"]), [x])[0]
        fetches[name] = (y, dx)
    results = sess.run(fetches)
    for case in cases:
        name = case["name"]
        y, dx = results[name]
        np.testing.assert_allclose(y, data[name + "/y"], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(dx, data[name + "/dx"], rtol=1e-5, atol=1e-5, err_msg=name)
        # The official numbers follow the definition too (and pin down the kernel orientation).
        expected = np_upfirdn_2d(x_value.astype(np.float64), data[name + "/k"], **case["params"])
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5, err_msg=name)


RESAMPLE_FUNCS = {
    "filter_2d": ufd.filter_2d,
    "upsample_2d": ufd.upsample_2d,
    "downsample_2d": ufd.downsample_2d,
    "upsample_conv_2d": ufd.upsample_conv_2d,
    "conv_downsample_2d": ufd.conv_downsample_2d,
}


def grouped_conv_supported():
    """Can this TF build run grouped conv2d_transpose and grouped conv2d gradients on the CPU?

    TF's plain CPU kernels cannot; with oneDNN (TF_ENABLE_ONEDNN_OPTS=1, the default only on some
    CPUs) they can. TF 1.15 has none, and running the probe there crashes the process, so it is not run.
    """
    if tf.VERSION.startswith("1."):
        return False
    with tf.Graph().as_default():
        x = tf.ones([1, 4, 4, 4])
        w = tf.ones([3, 3, 2, 4])
        y = tf.nn.conv2d_transpose(x, w, output_shape=[1, 9, 9, 4], strides=[1, 2, 2, 1], padding="VALID")
        grads = tf.gradients(tf.reduce_sum(tf.nn.conv2d(y, w, strides=[1, 1, 1, 1], padding="VALID")), [x, w])
        with tf.Session() as session:
            try:
                session.run(grads)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
                return False
    return True


def resample_inputs(data_format):
    """The inputs of the official resample cases, by the names used in resample_cases.json."""
    x_nchw = np.random.RandomState(103).randn(2, 3, 8, 12).astype(np.float32)
    inputs = {
        "x": x_nchw,
        "x_grouped": x_nchw.reshape(1, 6, 8, 12),
        "w3": np.random.RandomState(104).randn(3, 3, 3, 5).astype(np.float32),
        "w1": np.random.RandomState(105).randn(1, 1, 3, 5).astype(np.float32),
        "w_grouped": np.random.RandomState(106).randn(3, 3, 3, 10).astype(np.float32),
    }
    if data_format == "NHWC":
        inputs["x"] = inputs["x"].transpose(0, 2, 3, 1)
        inputs["x_grouped"] = inputs["x_grouped"].transpose(0, 2, 3, 1)
    return inputs


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("grouped", [False, True], ids=["plain", "grouped"])
def test_resample_official_cases(sess, reference, data_format, impl, grouped, request):
    maybe_plugin(impl, request)
    if grouped and not grouped_conv_supported():
        pytest.skip("this TF build has no grouped convolutions on the CPU (try TF_ENABLE_ONEDNN_OPTS=1)")
    folder, all_cases = load_reference(reference, "resample")
    all_cases = {fmt: [c for c in cases if (c["x"] == "x_grouped") == grouped] for fmt, cases in all_cases.items()}
    assert all_cases[data_format]
    data = np.load(os.path.join(folder, "resample_%s.npz" % data_format))
    inputs = resample_inputs(data_format)

    fetches = {}
    for case in all_cases[data_format]:
        name = case["name"]
        x = tf.constant(inputs[case["x"]])
        args = [x]
        if case["w"] is not None:
            w = tf.constant(inputs[case["w"]])
            args.append(w)
        y = RESAMPLE_FUNCS[case["func"]](*args, data_format=data_format, impl=impl, **case["kwargs"])
        assert y.shape.as_list() == case["y_shape"], name  # Listed in the file's own layout.
        grads = tf.gradients(tf.reduce_sum(y * data[name + "/R"]), args)
        fetches[name] = [y] + grads
    results = sess.run(fetches)
    for case in all_cases[data_format]:
        name = case["name"]
        values = results[name]
        np.testing.assert_allclose(values[0], data[name + "/y"], rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(values[1], data[name + "/dx"], rtol=1e-4, atol=1e-4, err_msg=name)
        if case["w"] is not None:
            np.testing.assert_allclose(values[2], data[name + "/dw"], rtol=1e-4, atol=1e-3, err_msg=name)


def skip_without_grouped_conv():
    if not grouped_conv_supported():
        pytest.skip("this TF build has no grouped convolutions on the CPU (try TF_ENABLE_ONEDNN_OPTS=1)")


def unknown_channels_placeholder(data_format, spatial):
    """Placeholder for [N, C, H, W] / [N, H, W, C] images with N and C unknown (static H, W)."""
    if data_format == "NCHW":
        return tf.placeholder(tf.float32, [None, None] + list(spatial))
    return tf.placeholder(tf.float32, [None] + list(spatial) + [None])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
def test_grouped_resample_unknown_channels(sess, reference, data_format, impl, request):
    """The official grouped cases with the group count known only at run time (x's channels unknown),
    with w's output channels static (a constant) and unknown (a placeholder), as in StyleGAN2's fused
    modulated convolution with an unknown minibatch size."""
    maybe_plugin(impl, request)
    skip_without_grouped_conv()
    folder, all_cases = load_reference(reference, "resample")
    cases = [case for case in all_cases[data_format] if case["x"] == "x_grouped"]
    assert sorted(case["func"] for case in cases) == ["conv_downsample_2d", "upsample_conv_2d"]
    data = np.load(os.path.join(folder, "resample_%s.npz" % data_format))
    inputs = resample_inputs(data_format)
    channel_axis = 1 if data_format == "NCHW" else 3
    spatial_axes = [2, 3] if data_format == "NCHW" else [1, 2]

    x = unknown_channels_placeholder(data_format, [8, 12])
    w_unknown = tf.placeholder(tf.float32, [3, 3, 3, None])
    w_constant = tf.constant(inputs["w_grouped"])
    fetches = {}
    for case in cases:
        for w in [w_unknown, w_constant]:
            y = RESAMPLE_FUNCS[case["func"]](x, w, data_format=data_format, impl=impl, **case["kwargs"])
            expected_shape = [None] * 4
            for axis in spatial_axes:
                expected_shape[axis] = case["y_shape"][axis]
            if w is w_constant:
                expected_shape[channel_axis] = case["y_shape"][channel_axis]  # Static outC stays known.
            assert y.shape.as_list() == expected_shape, case["name"]
            grads = tf.gradients(tf.reduce_sum(y * data[case["name"] + "/R"]), [x, w])
            fetches[(case["name"], w is w_constant)] = [y] + grads
    results = sess.run(fetches, {x: inputs["x_grouped"], w_unknown: inputs["w_grouped"]})
    for (name, w_static), (y, dx, dw) in results.items():
        message = "%s (w static: %s)" % (name, w_static)
        np.testing.assert_allclose(y, data[name + "/y"], rtol=1e-4, atol=1e-4, err_msg=message)
        np.testing.assert_allclose(dx, data[name + "/dx"], rtol=1e-4, atol=1e-4, err_msg=message)
        np.testing.assert_allclose(dw, data[name + "/dw"], rtol=1e-4, atol=1e-3, err_msg=message)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
def test_grouped_resample_second_order_unknown_channels(sess, data_format, impl, request):
    """Second derivatives of a gradient norm (as in the R1 and path-length penalties) through the grouped
    layers with unknown channels, against the same layers applied group by group with static shapes."""
    maybe_plugin(impl, request)
    skip_without_grouped_conv()
    rng = np.random.RandomState(21)
    num_groups, in_c, out_c = 3, 2, 4
    channel_axis = 1 if data_format == "NCHW" else 3
    x_value = rng.randn(2, num_groups * in_c, 6, 6).astype(np.float32)
    if data_format == "NHWC":
        x_value = x_value.transpose(0, 2, 3, 1)
    w_value = rng.randn(3, 3, in_c, num_groups * out_c).astype(np.float32)
    x = unknown_channels_placeholder(data_format, [6, 6])
    w = tf.placeholder(tf.float32, [3, 3, in_c, None])
    x_static = tf.constant(x_value)
    w_static = tf.constant(w_value)

    def penalty_grads(x, w, y, r):
        # A loss non-linear in x, the squared norm of its gradient, and that penalty's gradients.
        dx = tf.gradients(tf.reduce_sum(tf.sin(y) * r), [x])[0]
        return tf.gradients(tf.reduce_sum(tf.square(dx)), [x, w])

    fetches = {}
    for func in [ufd.upsample_conv_2d, ufd.conv_downsample_2d]:
        y_grouped = func(x, w, k=[1, 3, 3, 1], data_format=data_format, impl=impl)
        y_split = tf.concat([
            func(xg, wg, k=[1, 3, 3, 1], data_format=data_format, impl="ref")
            for xg, wg in zip(tf.split(x_static, num_groups, axis=channel_axis), tf.split(w_static, num_groups, axis=3))
        ], axis=channel_axis)
        r_value = rng.randn(*y_split.shape.as_list()).astype(np.float32)
        fetches[func.__name__] = (penalty_grads(x, w, y_grouped, r_value),
                                  penalty_grads(x_static, w_static, y_split, r_value))
    results = sess.run(fetches, {x: x_value, w: w_value})
    for name, (grouped, split) in results.items():
        for got, want, what in zip(grouped, split, ["dx", "dw"]):
            assert np.abs(want).max() > 1e-2, name  # The second derivatives do not vanish.
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(),
                                       err_msg="%s %s" % (name, what))


@pytest.mark.parametrize("func", [ufd.upsample_conv_2d, ufd.conv_downsample_2d], ids=["up", "down"])
def test_grouped_resample_runtime_mismatch_errors(sess, func):
    skip_without_grouped_conv()
    x = tf.placeholder(tf.float32, [None, None, 8, 8])
    w = tf.placeholder(tf.float32, [3, 3, 3, None])
    y = func(x, w, impl="ref")
    with pytest.raises(tf.errors.InvalidArgumentError, match="channels of x are not a multiple of the 3 input"):
        sess.run(y, {x: np.ones([1, 5, 8, 8]), w: np.ones([3, 3, 3, 4])})
    with pytest.raises(tf.errors.InvalidArgumentError, match="output channels of w do not split"):
        sess.run(y, {x: np.ones([1, 6, 8, 8]), w: np.ones([3, 3, 3, 5])})
    assert sess.run(y, {x: np.ones([2, 6, 8, 8]), w: np.ones([3, 3, 3, 4])}).shape[:2] == (2, 4)
    # Static channels, w's output channels known only at run time.
    y = func(tf.ones([2, 6, 8, 8]), w, impl="ref")
    with pytest.raises(tf.errors.InvalidArgumentError, match="output channels of w do not split"):
        sess.run(y, {w: np.ones([3, 3, 3, 5])})
    assert sess.run(y, {w: np.ones([3, 3, 3, 4])}).shape[:2] == (2, 4)


# ----------------------------------------------------------------------------------------------------
# Independent definition on random shapes and parameters; exact first and second derivatives.


@pytest.mark.parametrize("impl", IMPLS)
def test_single_output_column_with_stride_along_x(sess, impl, request):
    """The configuration that oneDNN's CPU convolution got wrong (TF 2.21, AVX-512, oneDNN on): one
    output column, stride 3 along x and 1 along y. The ref path must still give the definition."""
    maybe_plugin(impl, request)
    rng = np.random.RandomState(0)
    params = dict(upx=2, upy=2, downx=3, downy=1, padx0=-1, padx1=0, pady0=0, pady1=-3)
    cases = [(rng.randn(1, 4, 3, 1), rng.rand(4, 5) + 0.1), (rng.randn(2, 4, 3, 3), rng.randn(4, 5))]
    outputs = sess.run([ufd.upfirdn_2d(tf.constant(x, tf.float32), k, impl=impl, **params) for x, k in cases])
    for (x, k), y in zip(cases, outputs):
        assert y.shape == (x.shape[0], 2, 1, x.shape[3])
        np.testing.assert_allclose(y, np_upfirdn_2d(x, k, **params), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_random_configs_against_numpy(sess, impl, request):
    """y, dL/dx and the second derivative of a quadratic, all exact through the dense operator A.

    With y = A x per image and L = 0.5 * sum(R * y^2): g = dL/dx = A^T (R * A x), and for
    G = sum(g^2): dG/dx = 2 A^T (R * A g).
    """
    maybe_plugin(impl, request)
    rng = np.random.RandomState(7)
    checks = []
    fetches = []
    for _ in range(30):
        x_shape, k, params = random_config(rng)
        x_value = rng.randn(*x_shape)
        a = np_operator_matrix(x_shape[1], x_shape[2], k, params)
        y_expected = np_upfirdn_2d(x_value, k, **params)
        np.testing.assert_allclose(apply_per_image(a, x_value, *y_expected.shape[1:3]), y_expected, atol=1e-12)
        r_value = rng.randn(*y_expected.shape)
        out_h, out_w = y_expected.shape[1:3]
        g_expected = apply_per_image(a.T, r_value * y_expected, x_shape[1], x_shape[2])
        h_expected = 2 * apply_per_image(a.T, r_value * apply_per_image(a, g_expected, out_h, out_w), x_shape[1], x_shape[2])

        x = tf.constant(x_value.astype(np.float32))
        y = ufd.upfirdn_2d(x, k, impl=impl, **params)
        g = tf.gradients(0.5 * tf.reduce_sum(r_value.astype(np.float32) * tf.square(y)), [x])[0]
        h = tf.gradients(tf.reduce_sum(tf.square(g)), [x])[0]
        fetches.append((y, g, h))
        checks.append((params, k.shape, y_expected, g_expected, h_expected))
    results = sess.run(fetches)
    for (y, g, h), (params, k_shape, y_expected, g_expected, h_expected) in zip(results, checks):
        message = "params=%s kernel=%s" % (params, k_shape)
        np.testing.assert_allclose(y, y_expected, rtol=1e-4, atol=1e-4, err_msg=message)
        np.testing.assert_allclose(g, g_expected, rtol=1e-4, atol=1e-4 * (1 + np.abs(g_expected).max()), err_msg=message)
        np.testing.assert_allclose(h, h_expected, rtol=1e-4, atol=1e-4 * (1 + np.abs(h_expected).max()), err_msg=message)


def test_ref_gradient_finite_differences(sess):
    """dL/dx of the ref implementation in float64 against central differences (L non-linear in x)."""
    rng = np.random.RandomState(11)
    for _ in range(6):
        x_shape, k, params = random_config(rng)
        x_value = rng.randn(*x_shape)
        x = tf.placeholder(tf.float64, x_shape)
        y = ufd.upfirdn_2d(x, k, impl="ref", **params)
        r_value = rng.randn(*y.shape.as_list())
        loss = tf.reduce_sum(r_value * tf.sin(y))
        grad = tf.gradients(loss, [x])[0]
        grad_value = sess.run(grad, {x: x_value})

        # Every coordinate direction (the shapes are small) plus two random directions.
        eps = 1e-5
        directions = list(np.eye(x_value.size).reshape(-1, *x_shape)) + [rng.randn(*x_shape) for _ in range(2)]
        for v in directions:
            numeric = (sess.run(loss, {x: x_value + eps * v}) - sess.run(loss, {x: x_value - eps * v})) / (2 * eps)
            np.testing.assert_allclose(np.sum(grad_value * v), numeric, rtol=1e-6, atol=1e-7, err_msg=str(params))


# ----------------------------------------------------------------------------------------------------
# The CUDA op against the ref implementation: float16, higher orders, resampling wrappers.


def test_cuda_float16_matches_ref(sess, reference, plugin_built):
    folder, cases = load_reference(reference, "upfirdn_2d")
    data = np.load(os.path.join(folder, "upfirdn_2d.npz"))
    x_value = np.random.RandomState(101).randn(2, 8, 12, 3).astype(np.float16)
    x16 = tf.constant(x_value)
    x32 = tf.constant(x_value.astype(np.float32))
    fetches = {}
    for case in cases:
        name = case["name"]
        k = data[name + "/k"].astype(np.float16).astype(np.float32)  # Same kernel values in both precisions.
        r = data[name + "/R"]
        y16 = ufd.upfirdn_2d(x16, k, impl="cuda", **case["params"])
        assert y16.dtype == tf.float16
        dx16 = tf.gradients(tf.reduce_sum(tf.cast(y16, tf.float32) * r), [x16])[0]
        y32 = ufd.upfirdn_2d(x32, k, impl="ref", **case["params"])
        dx32 = tf.gradients(tf.reduce_sum(y32 * r), [x32])[0]
        fetches[name] = (y16, dx16, y32, dx32)
    for name, (y16, dx16, y32, dx32) in sess.run(fetches).items():
        assert y16.dtype == np.float16 and dx16.dtype == np.float16
        np.testing.assert_allclose(y16.astype(np.float32), y32, rtol=1e-2, atol=1e-2 * np.abs(y32).max(), err_msg=name)
        np.testing.assert_allclose(dx16.astype(np.float32), dx32, rtol=1e-2, atol=1e-2 * np.abs(dx32).max(), err_msg=name)


def test_cuda_third_order_matches_ref(sess, plugin_built):
    """Nested custom gradients: the third derivative of a quartic in y, cuda vs ref."""
    rng = np.random.RandomState(5)
    x_value = rng.randn(2, 5, 6, 2).astype(np.float32)
    k = rng.rand(3, 4).astype(np.float32)
    params = dict(upx=2, upy=1, downx=1, downy=2, padx0=1, padx1=-1, pady0=2, pady1=0)
    outputs = []
    for impl in IMPLS:
        x = tf.constant(x_value)
        y = ufd.upfirdn_2d(x, k, impl=impl, **params)
        g1 = tf.gradients(tf.reduce_sum(y ** 4) / 4, [x])[0]
        g2 = tf.gradients(tf.reduce_sum(tf.sin(g1)), [x])[0]
        g3 = tf.gradients(tf.reduce_sum(tf.cos(g2)), [x])[0]
        outputs.append((g1, g2, g3))
    (ref1, ref2, ref3), (cuda1, cuda2, cuda3) = sess.run(outputs)
    np.testing.assert_allclose(cuda1, ref1, rtol=1e-4, atol=1e-4 * np.abs(ref1).max())
    # sin and cos of first derivatives in the hundreds turn their float32 rounding (which differs between
    # the kernels' summation orders) into ~1e-4 relative errors of the higher orders.
    for ref, cuda in [(ref2, cuda2), (ref3, cuda3)]:
        np.testing.assert_allclose(cuda, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


# ----------------------------------------------------------------------------------------------------
# Graph building: unknown batch size, automatic implementation, errors.


@pytest.mark.parametrize("impl", IMPLS)
def test_unknown_batch_and_channels_placeholders(sess, impl, request):
    """Unknown N, and unknown N and C (C is upfirdn_2d's minorDim in NHWC), give the static results."""
    maybe_plugin(impl, request)
    rng = np.random.RandomState(3)
    x_nchw = rng.randn(3, 4, 8, 8).astype(np.float32)
    w = rng.randn(3, 3, 4, 6).astype(np.float32)
    fetches, feed = [], {}
    for data_format in ["NCHW", "NHWC", "upfirdn_2d"]:
        x_value = x_nchw if data_format == "NCHW" else x_nchw.transpose(0, 2, 3, 1)
        x_known = tf.constant(x_value)
        x_unknown_batch = tf.placeholder(tf.float32, [None] + list(x_value.shape[1:]))
        x_unknown_channels = unknown_channels_placeholder("NCHW" if data_format == "NCHW" else "NHWC", [8, 8])
        feed.update({x_unknown_batch: x_value, x_unknown_channels: x_value})
        if data_format == "upfirdn_2d":  # [majorDim, inH, inW, minorDim]
            builders = [lambda x: ufd.upfirdn_2d(x, np.ones([2, 3]), upx=2, downy=2, padx0=1, pady1=-1, impl=impl)]
        else:
            builders = [
                lambda x, fmt=data_format: ufd.filter_2d(x, [1, 3, 3, 1], data_format=fmt, impl=impl),
                lambda x, fmt=data_format: ufd.upsample_2d(x, [1, 3, 3, 1], data_format=fmt, impl=impl),
                lambda x, fmt=data_format: ufd.downsample_2d(x, [1, 3, 3, 1], data_format=fmt, impl=impl),
                lambda x, fmt=data_format: ufd.upsample_conv_2d(x, tf.constant(w), [1, 3, 3, 1], data_format=fmt,
                                                                impl=impl),
                lambda x, fmt=data_format: ufd.conv_downsample_2d(x, tf.constant(w), [1, 3, 3, 1], data_format=fmt,
                                                                  impl=impl),
            ]
        for build in builders:
            y_known = build(x_known)
            grad_known = tf.gradients(tf.reduce_sum(tf.square(y_known)), [x_known])[0]
            for x_unknown in [x_unknown_batch, x_unknown_channels]:
                y_unknown = build(x_unknown)
                assert y_unknown.shape[0].value is None and y_unknown.shape.is_compatible_with(y_known.shape)
                if x_unknown is x_unknown_batch:
                    assert y_unknown.shape.as_list()[1:] == y_known.shape.as_list()[1:]
                grad = tf.gradients(tf.reduce_sum(tf.square(y_unknown)), [x_unknown])[0]
                assert grad.shape.is_compatible_with(x_value.shape)
                fetches.append((y_unknown, y_known, grad, grad_known))
    for y_unknown, y_known, grad, grad_known in sess.run(fetches, feed):
        np.testing.assert_allclose(y_unknown, y_known, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(grad, grad_known, rtol=1e-5, atol=1e-5)


def test_automatic_impl_matches_ref(sess):
    x_value = np.random.RandomState(4).randn(2, 3, 8, 8).astype(np.float32)
    x = tf.constant(x_value)
    chosen = custom_ops.choose_impl(ufd._cuda_file)
    assert chosen in ("ref", "cuda")
    y_auto = ufd.upsample_2d(x, [1, 3, 3, 1])  # impl=None: the automatic choice.
    y_ref = ufd.upsample_2d(x, [1, 3, 3, 1], impl="ref")
    a, b = sess.run([y_auto, y_ref])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_setup_kernel():
    k = ufd._setup_kernel([1, 3, 3, 1])
    np.testing.assert_allclose(k, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)
    assert k.dtype == np.float32
    np.testing.assert_allclose(ufd._setup_kernel([[1, 2], [3, 4]]), [[0.1, 0.2], [0.3, 0.4]], rtol=1e-6)


def test_bad_inputs_raise_clear_errors(sess):
    with pytest.raises(ValueError, match="static"):
        ufd.upfirdn_2d(tf.placeholder(tf.float32, [2, None, 8, 3]), np.ones([3, 3]), impl="ref")
    with pytest.raises(ValueError, match="static"):
        ufd.upsample_2d(tf.placeholder(tf.float32, [2, 3, None, 8]), impl="ref")
    with pytest.raises(ValueError, match="2-D"):
        ufd.upfirdn_2d(tf.zeros([1, 4, 4, 1]), np.ones([3]), impl="ref")
    with pytest.raises(ValueError, match="empty"):
        ufd.upfirdn_2d(tf.zeros([1, 4, 4, 1]), np.ones([3, 3]), pady0=-3, impl="ref")
    with pytest.raises(ValueError, match="impl"):
        ufd.upfirdn_2d(tf.zeros([1, 4, 4, 1]), np.ones([3, 3]), impl="gpu")
    with pytest.raises(TypeError, match="float32"):
        ufd.upfirdn_2d(tf.zeros([1, 4, 4, 1], tf.float64), np.ones([3, 3]), impl="cuda")
    with pytest.raises(ValueError, match="data_format"):
        ufd.filter_2d(tf.zeros([1, 1, 4, 4]), [1, 2, 1], data_format="CHWN", impl="ref")
    with pytest.raises(ValueError, match="multiple"):
        ufd.conv_downsample_2d(tf.zeros([1, 5, 8, 8]), tf.zeros([3, 3, 2, 4]), impl="ref")
    with pytest.raises(ValueError, match="5 output channels do not split into 2 groups"):
        ufd.upsample_conv_2d(tf.zeros([1, 6, 8, 8]), tf.zeros([3, 3, 3, 5]), impl="ref")
    with pytest.raises(ValueError, match="static kh, kw and inC"):
        ufd.conv_downsample_2d(tf.zeros([1, 6, 8, 8]), tf.placeholder(tf.float32, [3, 3, None, 4]), impl="ref")
