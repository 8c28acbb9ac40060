"""Tests of dnnlib.tflib.ops.fused_bias_act: both implementations against the official numbers, an independent
NumPy definition, finite differences (float64) of that definition and of its analytic first derivative, float16,
extreme inputs, argument checks. The 'cuda' impl runs the op library's CPU kernel on /cpu:0 (needs nvcc only)."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from dnnlib.tflib import custom_ops
from dnnlib.tflib.ops import fused_bias_act as fba

ACTS = list(fba.activation_funcs.keys())
NONLINEAR_ACTS = [a for a in ACTS if not fba.activation_funcs[a].zero_2nd_grad]

# ----------------------------------------------------------------------------------------------------
# Independent definition in float64: f(s) and f'(s) from the textbook formulas.

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def np_sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


def np_act(act, s, alpha):
    if act == "linear":
        return s
    if act == "relu":
        return np.maximum(s, 0.0)
    if act == "lrelu":
        return np.where(s > 0, s, alpha * s)
    if act == "tanh":
        return np.tanh(s)
    if act == "sigmoid":
        return np_sigmoid(s)
    if act == "elu":
        return np.where(s > 0, s, np.expm1(np.minimum(s, 0)))
    if act == "selu":
        return SELU_SCALE * np.where(s > 0, s, SELU_ALPHA * np.expm1(np.minimum(s, 0)))
    if act == "softplus":
        return np.logaddexp(0.0, s)
    if act == "swish":
        return s * np_sigmoid(s)
    raise ValueError(act)


def np_act_derivative(act, s, alpha):
    if act == "linear":
        return np.ones_like(s)
    if act == "relu":
        return (s > 0).astype(np.float64)
    if act == "lrelu":
        return np.where(s > 0, 1.0, alpha)
    if act == "tanh":
        return 1.0 - np.tanh(s) ** 2
    if act == "sigmoid":
        return np_sigmoid(s) * (1.0 - np_sigmoid(s))
    if act == "elu":
        return np.where(s > 0, 1.0, np.exp(np.minimum(s, 0)))
    if act == "selu":
        return SELU_SCALE * np.where(s > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(s, 0)))
    if act == "softplus":
        return np_sigmoid(s)
    if act == "swish":
        sig = np_sigmoid(s)
        return sig + s * sig * (1.0 - sig)
    raise ValueError(act)


def np_preact(x, b, axis):
    if b is None:
        return x
    shape = [1] * x.ndim
    shape[axis] = -1
    return x + b.reshape(shape)


def np_sum_to_bias(t, axis):
    return t.sum(axis=tuple(i for i in range(t.ndim) if i != axis))


def np_fused_bias_act(x, b, axis, act, alpha, gain):
    return np_act(act, np_preact(x, b, axis), alpha) * gain


def np_first_grads(x, b, axis, act, alpha, gain, R):
    """Analytic dL/dx, dL/db for L = sum(y * R)."""
    ds = R * gain * np_act_derivative(act, np_preact(x, b, axis), alpha)
    return ds, (None if b is None else np_sum_to_bias(ds, axis))


def central_difference(func, value, eps):
    """d func / d value (func: array -> scalar), one element at a time, float64."""
    grad = np.zeros_like(value)
    flat_value, flat_grad = value.reshape(-1), grad.reshape(-1)
    for i in range(flat_value.size):
        orig = flat_value[i]
        flat_value[i] = orig + eps
        plus = func(value)
        flat_value[i] = orig - eps
        minus = func(value)
        flat_value[i] = orig
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def test_numpy_definition_matches_its_own_finite_differences():
    # Guards the helpers the other tests trust: f' of every activation against central differences of f.
    s = np.concatenate([np.linspace(-4, -0.05, 40), np.linspace(0.05, 4, 40)])
    for act in ACTS:
        numeric = (np_act(act, s + 1e-6, 0.3) - np_act(act, s - 1e-6, 0.3)) / 2e-6
        np.testing.assert_allclose(np_act_derivative(act, s, 0.3), numeric, rtol=1e-6, atol=1e-8, err_msg=act)


# ----------------------------------------------------------------------------------------------------
# Helpers.


@pytest.fixture(scope="module")
def cuda_plugin():
    """Build (or load from cache) the op library; skip the 'cuda' tests where nvcc is absent."""
    if custom_ops.find_nvcc() is None:
        pytest.skip("nvcc not found: cannot build the FusedBiasAct op library")
    return custom_ops.get_plugin(fba._cuda_file())


def impls_param():
    """('ref', 'cuda'); the cuda case pulls in the plugin fixture (which may skip)."""
    return pytest.mark.parametrize("impl", ["ref", "cuda"])


def need_plugin(impl, request):
    if impl == "cuda":
        request.getfixturevalue("cuda_plugin")


def build_with_grads(x, b, axis, act, alpha, gain, impl, R):
    """y, dx, db (L = sum(y*R)) and d2x, d2b (of sum(dx^2)); None-gradients become zeros."""
    y = fba.fused_bias_act(x, b, axis=axis, act=act, alpha=alpha, gain=gain, impl=impl)
    inputs = [x] if b is None else [x, b]
    first = tf.gradients(tf.reduce_sum(y * R), inputs)
    second = tf.gradients(tf.reduce_sum(tf.square(first[0])), inputs)
    zeros = lambda t, like: tf.zeros_like(like) if t is None else t  # noqa: E731
    out = dict(y=y, dx=first[0], d2x=zeros(second[0], x))
    if b is not None:
        out.update(db=first[1], d2b=zeros(second[1], b))
    return out


def assert_close(actual, expected, rel, name=""):
    """Elementwise |a - e| <= rel * max(1, max|e|)."""
    expected = np.asarray(expected, np.float64)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=0, atol=rel * scale, err_msg=name)


def away_from_kinks(x, b, axis, margin=0.05):
    """Shift x so that no pre-activation lies within `margin` of 0 (relu/lrelu/elu/selu kinks)."""
    s = np_preact(x, b, axis)
    return x + np.where(np.abs(s) < margin, np.where(s >= 0, 2 * margin, -2 * margin), 0.0)


# ----------------------------------------------------------------------------------------------------
# Against the official numbers (float32): every layout, activation and parameter set, y and all derivatives.


def load_reference(reference):
    folder = os.path.join(reference, "pieces", "ops")
    with open(os.path.join(folder, "fused_bias_act_cases.json")) as f:
        cases = json.load(f)
    return cases, np.load(os.path.join(folder, "fused_bias_act.npz"))


@impls_param()
@pytest.mark.parametrize("layout", ["nchw_axis1", "nhwc_axis3", "dense_axis1", "nobias_axism1"])
def test_matches_official_numbers(reference, request, impl, layout):
    need_plugin(impl, request)
    cases, data = load_reference(reference)
    spec = [l for l in cases["layouts"] if l["name"] == layout][0]
    assert sorted(cases["activations"]) == sorted(ACTS)

    graph = tf.Graph()
    with graph.as_default(), tf.device("/cpu:0"):
        x = tf.constant(data[layout + "/x"])
        b = tf.constant(data[layout + "/b"]) if spec["bias"] else None
        R = tf.constant(data[layout + "/R"])
        fetches = {}
        for act in ACTS:
            for params_name, params in cases["params"].items():
                fetches[(act, params_name)] = build_with_grads(
                    x, b, spec["axis"], act, params.get("alpha"), params.get("gain"), impl, R)
        with tf.Session(graph=graph) as session:
            results = session.run(fetches)

    for (act, params_name), values in results.items():
        for key, value in values.items():
            name = "%s/%s/%s/%s" % (layout, act, params_name, key)
            assert_close(value, data[name], 2e-6, name)


def test_activation_table_matches_official(reference):
    cases, _ = load_reference(reference)
    for act, official in cases["activations"].items():
        spec = fba.activation_funcs[act]
        assert spec.def_alpha == official["def_alpha"], act
        assert spec.def_gain == pytest.approx(official["def_gain"], rel=1e-12), act
        assert spec.zero_2nd_grad == official["zero_2nd_grad"], act
        assert spec.ref == ("x" if act == "swish" else "y"), act
    assert [fba.activation_funcs[a].cuda_idx for a in ACTS] == list(range(1, 10))


# ----------------------------------------------------------------------------------------------------
# Against the NumPy definition: layouts of every rank, odd sizes, defaults, finite differences.

LAYOUTS = [  # (x shape, axis, has bias)
    ([7], 0, True),
    ([6, 9], 1, True),
    ([2, 3, 5], 2, True),
    ([2, 5, 3, 4], 1, True),   # NCHW
    ([2, 3, 4, 5], 3, True),   # NHWC
    ([4, 2, 3], 0, True),
    ([2, 3, 4], -1, False),
]


@impls_param()
@pytest.mark.parametrize("act", ACTS)
def test_forward_matches_numpy_all_layouts(sess, request, impl, act):
    need_plugin(impl, request)
    rs = np.random.RandomState(7)
    checks = []
    with tf.device("/cpu:0"):
        for shape, axis, has_bias in LAYOUTS:
            x = rs.randn(*shape) * 2
            b = rs.randn(shape[axis]) if has_bias else None
            for alpha, gain in [(None, None), (0.3, 0.75), (0.1, 1.0)]:
                y = fba.fused_bias_act(tf.constant(x, tf.float32), None if b is None else tf.constant(b, tf.float32),
                                       axis=axis, act=act, alpha=alpha, gain=gain, impl=impl)
                spec = fba.activation_funcs[act]
                expected = np_fused_bias_act(x, b, axis, act, spec.def_alpha if alpha is None else alpha,
                                             spec.def_gain if gain is None else gain)
                checks.append((y, expected, "%s %s axis=%d alpha=%s gain=%s" % (act, shape, axis, alpha, gain)))
    results = sess.run([c[0] for c in checks])
    for value, (_, expected, name) in zip(results, checks):
        assert value.shape == expected.shape, name
        assert_close(value, expected, 2e-6, name)


@impls_param()
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape,axis", [([3, 4, 2], 1), ([2, 2, 3, 4], 3)])
def test_gradients_match_finite_differences(sess, request, impl, act, shape, axis):
    """dx, db against central differences of the float64 NumPy definition; d2x, d2b against central
    differences of the NumPy first derivative (L2 = sum(dx^2))."""
    need_plugin(impl, request)
    rs = np.random.RandomState(11)
    x = rs.randn(*shape) * 1.5
    b = rs.randn(shape[axis]) * 0.5
    x = away_from_kinks(x, b, axis)
    R = rs.randn(*shape)
    alpha, gain = 0.3, 0.75

    with tf.device("/cpu:0"):
        out = build_with_grads(tf.constant(x, tf.float32), tf.constant(b, tf.float32), axis, act, alpha, gain,
                               impl, tf.constant(R, tf.float32))
    values = sess.run(out)

    loss = lambda xv, bv: np.sum(np_fused_bias_act(xv, bv, axis, act, alpha, gain) * R)  # noqa: E731
    loss2 = lambda xv, bv: np.sum(np_first_grads(xv, bv, axis, act, alpha, gain, R)[0] ** 2)  # noqa: E731
    eps = 1e-6
    assert_close(values["dx"], central_difference(lambda v: loss(v, b), x.copy(), eps), 1e-5, "dx")
    assert_close(values["db"], central_difference(lambda v: loss(x, v), b.copy(), eps), 1e-5, "db")
    assert_close(values["d2x"], central_difference(lambda v: loss2(v, b), x.copy(), eps), 1e-5, "d2x")
    assert_close(values["d2b"], central_difference(lambda v: loss2(x, v), b.copy(), eps), 1e-5, "d2b")
    if fba.activation_funcs[act].zero_2nd_grad:
        assert np.all(values["d2x"] == 0) and np.all(values["d2b"] == 0)
    else:
        assert np.max(np.abs(values["d2x"])) > 1e-3  # The second-order path really contributes.


@pytest.mark.parametrize("act", ACTS)
def test_cuda_matches_ref_float16(sess, cuda_plugin, act):
    """float16: forward and both derivative orders of the kernel against the ref impl and float64 NumPy."""
    rs = np.random.RandomState(3)
    shape, axis = [2, 6, 3, 3], 1
    x = (rs.randn(*shape) * 1.5).astype(np.float16)
    b = (rs.randn(shape[axis]) * 0.5).astype(np.float16)
    R = rs.randn(*shape).astype(np.float16)
    with tf.device("/cpu:0"):
        xt, bt, Rt = tf.constant(x), tf.constant(b), tf.constant(R)
        outs = {impl: build_with_grads(xt, bt, axis, act, None, None, impl, Rt) for impl in ["ref", "cuda"]}
    values = sess.run(outs)
    for key in ["y", "dx", "db", "d2x", "d2b"]:
        assert values["cuda"][key].dtype == np.float16
        assert_close(values["cuda"][key], values["ref"][key].astype(np.float64), 1e-2, "%s %s" % (act, key))
    spec = fba.activation_funcs[act]
    x64, b64 = x.astype(np.float64), b.astype(np.float64)
    assert_close(values["cuda"]["y"], np_fused_bias_act(x64, b64, axis, act, spec.def_alpha, spec.def_gain), 5e-3)
    dx, db = np_first_grads(x64, b64, axis, act, spec.def_alpha, spec.def_gain, R.astype(np.float64))
    assert_close(values["cuda"]["dx"], dx, 5e-3)
    assert_close(values["cuda"]["db"], db, 1e-2)


# ----------------------------------------------------------------------------------------------------
# Behaviour details.


@pytest.mark.parametrize("dtype", [tf.float32, tf.float16])
def test_cuda_extreme_inputs_stay_finite(sess, cuda_plugin, dtype):
    """Large |x| must not overflow exp() anywhere: outputs hit their limits, derivatives stay finite."""
    x = np.array([[-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0]])
    with tf.device("/cpu:0"):
        xt = tf.constant(x, dtype)
        outs = {act: build_with_grads(xt, None, -1, act, None, 1.0, "cuda", tf.ones_like(xt))
                for act in NONLINEAR_ACTS}
    values = sess.run(outs)
    limits = dict(
        tanh=np.sign(x), sigmoid=(x > 0).astype(float), elu=np.where(x > 0, x, -1.0),
        selu=SELU_SCALE * np.where(x > 0, x, -SELU_ALPHA), softplus=np.maximum(x, 0), swish=np.maximum(x, 0))
    for act in NONLINEAR_ACTS:
        for key, value in values[act].items():
            assert np.all(np.isfinite(value.astype(np.float64))), (act, key, value)
        assert_close(values[act]["y"], limits[act], 1e-3, act)
        with np.errstate(over="ignore"):
            dx_expected = np_act_derivative(act, x, None)
        assert_close(values[act]["dx"], dx_expected, 1e-3, act)


def test_unknown_batch_size_both_impls(sess, request):
    need_plugin("cuda", request)
    rs = np.random.RandomState(5)
    x = rs.randn(3, 4, 2, 2).astype(np.float32)
    b = rs.randn(4).astype(np.float32)
    with tf.device("/cpu:0"):
        xp = tf.placeholder(tf.float32, [None, 4, 2, 2])
        ys = [fba.fused_bias_act(xp, b, act="swish", impl=impl) for impl in ["ref", "cuda"]]
        grads = [tf.gradients(tf.reduce_sum(tf.square(tf.gradients(tf.reduce_sum(y), xp)[0])), xp)[0] for y in ys]
    assert ys[1].shape.as_list() == [None, 4, 2, 2]
    y_ref, y_cuda, g_ref, g_cuda = sess.run(ys + grads, {xp: x})
    assert_close(y_cuda, y_ref, 2e-6)
    assert_close(g_cuda, g_ref, 2e-6)


def test_cuda_graph_uses_the_op_and_ref_does_not(sess, cuda_plugin):
    x = tf.zeros([2, 3])
    fba.fused_bias_act(x, tf.zeros([3]), act="lrelu", impl="ref")
    assert not [op for op in sess.graph.get_operations() if op.type == "FusedBiasAct"]
    fba.fused_bias_act(x, tf.zeros([3]), act="lrelu", impl="cuda")
    assert len([op for op in sess.graph.get_operations() if op.type == "FusedBiasAct"]) == 1


def test_cuda_zero_2nd_grad_acts_differentiate_to_any_order(sess, cuda_plugin):
    # lrelu's backward is a linear map of dy (its own gradient), so a third derivative works.
    rs = np.random.RandomState(2)
    xv = rs.randn(4, 3).astype(np.float32)
    c = tf.constant(1.5)
    y = fba.fused_bias_act(tf.constant(xv) * c, act="lrelu", impl="cuda")
    g1 = tf.gradients(tf.reduce_sum(y ** 4), c)[0]
    g2 = tf.gradients(g1, c)[0]
    g3 = tf.gradients(g2, c)[0]
    # y = c * sqrt(2) * v with v = x (x > 0) or 0.2 x, so sum(y^4) = 4 c^4 sum(v^4) and d3/dc3 = 96 c sum(v^4).
    v = np.where(xv > 0, xv, 0.2 * xv).astype(np.float64)
    assert sess.run(g3) == pytest.approx(96 * 1.5 * np.sum(v ** 4), rel=1e-4)


def test_cuda_third_order_of_nonlinear_act_raises(sess, cuda_plugin):
    x = tf.constant(np.linspace(-1, 1, 6, dtype=np.float32))
    y = fba.fused_bias_act(x, act="tanh", impl="cuda")
    g1 = tf.gradients(tf.reduce_sum(y), x)[0]
    g2 = tf.gradients(tf.reduce_sum(g1), x)[0]
    with pytest.raises(NotImplementedError, match="second order"):
        tf.gradients(tf.reduce_sum(g2), x)


def test_default_impl_runs_and_matches_ref(sess):
    x = np.random.RandomState(9).randn(2, 3, 2, 2).astype(np.float32)
    y_auto = fba.fused_bias_act(x, np.float32([0.1, -0.2, 0.3]), act="lrelu")
    y_ref = fba.fused_bias_act(x, np.float32([0.1, -0.2, 0.3]), act="lrelu", impl="ref")
    assert custom_ops.choose_impl(fba._cuda_file()) in ("ref", "cuda")
    a, r = sess.run([y_auto, y_ref])
    assert_close(a, r, 2e-6)
    s = x + np.float32([0.1, -0.2, 0.3]).reshape(1, 3, 1, 1)
    assert_close(r, np.where(s > 0, s, 0.2 * s) * np.sqrt(2), 2e-6)


def test_gain_one_skips_multiply_and_linear_is_identity(sess):
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = fba.fused_bias_act(x, impl="ref")
    assert y is x  # linear, no bias, gain 1: nothing to compute.
    y = fba.fused_bias_act(x, act="relu", gain=1.0, impl="ref")
    assert y.op.type == "Relu"


@impls_param()
def test_bad_arguments_raise_clear_errors(sess, request, impl):
    need_plugin(impl, request)
    x = tf.zeros([2, 3, 4, 4])
    with pytest.raises(ValueError, match="axis"):
        fba.fused_bias_act(x, tf.zeros([4]), axis=-1, impl=impl)
    with pytest.raises(ValueError, match="axis"):
        fba.fused_bias_act(x, tf.zeros([4]), axis=4, impl=impl)
    with pytest.raises(ValueError, match="b has 5 elements"):
        fba.fused_bias_act(x, tf.zeros([5]), axis=1, impl=impl)
    with pytest.raises(ValueError, match="1-D"):
        fba.fused_bias_act(x, tf.zeros([3, 1]), axis=1, impl=impl)
    with pytest.raises(ValueError, match="unknown act"):
        fba.fused_bias_act(x, act="gelu", impl=impl)
    with pytest.raises(ValueError, match="rank"):
        fba.fused_bias_act(tf.zeros([]), impl=impl)
    with pytest.raises(ValueError, match="impl"):
        fba.fused_bias_act(x, impl="cpu")


def test_raw_op_rejects_bad_shapes(sess, cuda_plugin):
    x = tf.zeros([2, 3])
    empty = tf.zeros([0])
    bad_bias = cuda_plugin.fused_bias_act(x=x, b=tf.zeros([4]), ref=empty, grad=0, axis=1, act=2, alpha=0.0, gain=1.0)
    bad_ref = cuda_plugin.fused_bias_act(x=x, b=empty, ref=tf.zeros([3, 2]), grad=1, axis=1, act=4, alpha=0.0, gain=1.0)
    bad_grad = cuda_plugin.fused_bias_act(x=x, b=empty, ref=x, grad=3, axis=1, act=4, alpha=0.0, gain=1.0)
    for bad, message in [(bad_bias, "b has 4 elements"), (bad_ref, "ref"), (bad_grad, "grad must be")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sess.run(bad)



@pytest.mark.parametrize("act", ["lrelu", "swish", "softplus"])
def test_cuda_second_order_through_variables(sess, cuda_plugin, act):
    """A dense layer of variables, the way the networks use the op: the gradient of an R1-style penalty
    w.r.t. the weight and the bias, against the ref impl on the same variables."""
    rs = np.random.RandomState(4)
    with tf.device("/cpu:0"):
        images = tf.constant(rs.randn(5, 3).astype(np.float32))
        w = tf.get_variable("weight", initializer=tf.constant(rs.randn(3, 4).astype(np.float32)))
        b = tf.get_variable("bias", initializer=tf.constant(rs.randn(4).astype(np.float32) * 0.5))
        results = {}
        for impl in ["ref", "cuda"]:
            out = fba.fused_bias_act(tf.matmul(images, w), b, act=act, impl=impl)
            grad_images = tf.gradients(tf.reduce_sum(out * out), images)[0]
            penalty = tf.reduce_sum(tf.square(grad_images))
            results[impl] = tf.gradients(penalty, [w, b])
    sess.run(tf.global_variables_initializer())
    values = sess.run(results)
    for ref_value, cuda_value in zip(values["ref"], values["cuda"]):
        assert np.max(np.abs(ref_value)) > 1e-3
        assert_close(cuda_value, ref_value, 1e-5)


# ----------------------------------------------------------------------------------------------------
# clamp (StyleGAN2-ADA): y clipped to [-clamp, clamp], derivatives 0 where clipped.


@impls_param()
@pytest.mark.parametrize("act", ["lrelu", "linear", "tanh", "swish"])
def test_clamp_clips_values_and_zeroes_gradients_where_clipped(sess, request, impl, act):
    need_plugin(impl, request)
    rnd = np.random.RandomState(11)
    axis, clamp = 1, 0.6
    x64 = rnd.randn(4, 6, 5) * 1.5
    b64 = rnd.randn(6) * 0.3
    spec = fba.activation_funcs[act]
    unclipped = np_fused_bias_act(x64, b64, axis, act, spec.def_alpha, spec.def_gain)
    # No element within 1e-3 of the clamp, where float32 rounding could decide the side.
    x64 = np.where(np.abs(np.abs(unclipped) - clamp) < 1e-3, x64 + 0.01, x64)
    unclipped = np_fused_bias_act(x64, b64, axis, act, spec.def_alpha, spec.def_gain)
    inside = np.abs(unclipped) < clamp
    assert 0.2 < inside.mean() < 0.9  # Both cases are exercised.
    R = rnd.randn(*x64.shape)
    xt, bt = tf.constant(x64, tf.float32), tf.constant(b64, tf.float32)
    y = fba.fused_bias_act(xt, bt, axis=axis, act=act, clamp=clamp, impl=impl)
    dx, db = tf.gradients(tf.reduce_sum(y * R), [xt, bt])
    d2x = tf.gradients(tf.reduce_sum(tf.square(dx)), [xt])[0]
    y_v, dx_v, db_v, d2x_v = sess.run([y, dx, db, tf.zeros_like(xt) if d2x is None else d2x])
    assert_close(y_v, np.clip(unclipped, -clamp, clamp), 1e-5, "y")
    ds = np.where(inside, np_first_grads(x64, b64, axis, act, spec.def_alpha, spec.def_gain, R)[0], 0.0)
    assert_close(dx_v, ds, 1e-5, "dx")
    assert_close(db_v, np_sum_to_bias(ds, axis), 1e-5, "db")
    assert np.all(d2x_v[~inside] == 0), "second derivative where clipped"


def test_clamp_ref_and_cuda_agree_in_float16(sess, cuda_plugin):
    x = np.random.RandomState(12).randn(3, 8, 4, 4).astype(np.float16) * 4
    xt = tf.constant(x)
    outs = [fba.fused_bias_act(xt, act="lrelu", clamp=2.5, impl=impl) for impl in ["ref", "cuda"]]
    grads = [tf.gradients(tf.reduce_sum(out), [xt])[0] for out in outs]
    y_ref, y_cuda, g_ref, g_cuda = sess.run(outs + grads)
    assert y_cuda.dtype == np.float16 and np.abs(y_cuda).max() <= 2.5
    assert_close(y_cuda, y_ref.astype(np.float64), 1e-2)  # float16 rounding of (x * gain) differs.
    inside = np.abs(y_ref) < 2.4  # Away from the clamp, where the two roundings agree on the side.
    assert_close(g_cuda[inside], g_ref[inside].astype(np.float64), 1e-2)
    unclipped = np_fused_bias_act(x.astype(np.float64), None, 1, "lrelu", 0.2, np.sqrt(2))
    assert np.all(g_cuda[np.abs(y_cuda) >= 2.5] == 0) and np.all(g_ref[np.abs(unclipped) > 2.6] == 0)


def test_clamp_must_be_a_nonnegative_number(sess):
    with pytest.raises(ValueError, match="clamp must be None or a number >= 0"):
        fba.fused_bias_act(tf.zeros([2, 3]), clamp=-1, impl="ref")
