"""Fused bias + activation + gain: `y = act(x + b, alpha) * gain`, with b broadcast along `axis`,
optionally clipped to [-clamp, clamp].

Two implementations with the same results: 'ref' (plain TF ops, differentiable to any order through
TF autodiff) and 'cuda' (the `FusedBiasAct` op of fused_bias_act.cu, first and second derivatives
wired with `tf.custom_gradient`). The op library also has CPU kernels, so 'cuda' runs on /cpu:0 too.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from ... import util

# ----------------------------------------------------------------------------------------------------
# Activation table. `ref` says which tensor the derivative kernels read: the forward output 'y', or
# the pre-activation 'x' (swish, whose derivative cannot be written in terms of its output).
# Piecewise-linear activations have `zero_2nd_grad`: their derivative does not depend on x.

activation_funcs = {
    "linear":   util.EasyDict(func=lambda x, **_: x,                        def_alpha=None, def_gain=1.0,          cuda_idx=1, ref="y", zero_2nd_grad=True),
    "relu":     util.EasyDict(func=lambda x, **_: tf.nn.relu(x),            def_alpha=None, def_gain=np.sqrt(2),   cuda_idx=2, ref="y", zero_2nd_grad=True),
    "lrelu":    util.EasyDict(func=lambda x, alpha, **_: tf.nn.leaky_relu(x, alpha), def_alpha=0.2, def_gain=np.sqrt(2), cuda_idx=3, ref="y", zero_2nd_grad=True),
    "tanh":     util.EasyDict(func=lambda x, **_: tf.nn.tanh(x),            def_alpha=None, def_gain=1.0,          cuda_idx=4, ref="y", zero_2nd_grad=False),
    "sigmoid":  util.EasyDict(func=lambda x, **_: tf.nn.sigmoid(x),         def_alpha=None, def_gain=1.0,          cuda_idx=5, ref="y", zero_2nd_grad=False),
    "elu":      util.EasyDict(func=lambda x, **_: tf.nn.elu(x),             def_alpha=None, def_gain=1.0,          cuda_idx=6, ref="y", zero_2nd_grad=False),
    "selu":     util.EasyDict(func=lambda x, **_: tf.nn.selu(x),            def_alpha=None, def_gain=1.0,          cuda_idx=7, ref="y", zero_2nd_grad=False),
    "softplus": util.EasyDict(func=lambda x, **_: tf.nn.softplus(x),        def_alpha=None, def_gain=1.0,          cuda_idx=8, ref="y", zero_2nd_grad=False),
    "swish":    util.EasyDict(func=lambda x, **_: tf.nn.sigmoid(x) * x,     def_alpha=None, def_gain=np.sqrt(2),   cuda_idx=9, ref="x", zero_2nd_grad=False),
}

# ----------------------------------------------------------------------------------------------------


def _cuda_file():
    return os.path.splitext(__file__)[0] + ".cu"


def fused_bias_act(x, b=None, axis=1, act="linear", alpha=None, gain=None, clamp=None, impl=None):
    """Add bias `b` along `axis`, apply activation `act`, multiply by `gain`, clip to [-clamp, clamp].

    Args:
        x:     Tensor of any rank >= 1, float32 or float16: `[N, C]`, `[N, C, H, W]`, `[N, H, W, C]`, ...
        b:     Bias `[x.shape[axis]]`, or None for no bias.
        axis:  The axis of x that b runs along (0 <= axis < rank when b is given).
        act:   One of `activation_funcs`: linear, relu, lrelu, tanh, sigmoid, elu, selu, softplus, swish.
        alpha: Shape parameter of the activation (only lrelu uses it); None = the activation's default.
        gain:  Output scale; None = the activation's default (sqrt(2) for relu/lrelu/swish, else 1).
        clamp: None (no clipping) or a number >= 0: the output is clipped to [-clamp, clamp] and its
               gradient is 0 where clipped ('ref': strictly outside the range; 'cuda': where |y| >= clamp).
        impl:  'ref' (plain TF ops), 'cuda' (the custom op), or None to let `custom_ops` choose.

    Returns:
        Tensor shaped and typed like x.
    """
    if act not in activation_funcs:
        raise ValueError("fused_bias_act: unknown act %r; expected one of %s" % (act, ", ".join(activation_funcs)))
    if impl is None:
        from .. import custom_ops  # pylint: disable=import-outside-toplevel
        impl = custom_ops.choose_impl(_cuda_file())
    if impl not in ("ref", "cuda"):
        raise ValueError("fused_bias_act: impl must be 'ref', 'cuda' or None, not %r" % (impl,))

    x = tf.convert_to_tensor(x)
    b = None if b is None else tf.convert_to_tensor(b, dtype=x.dtype)
    _check_args(x, b, axis)
    spec = activation_funcs[act]
    alpha = spec.def_alpha if alpha is None else alpha
    gain = spec.def_gain if gain is None else gain
    if clamp is not None and not clamp >= 0:
        raise ValueError("fused_bias_act: clamp must be None or a number >= 0, got %r" % (clamp,))

    if impl == "ref":
        return _fused_bias_act_ref(x, b, axis, spec, alpha, gain, clamp)
    return _fused_bias_act_cuda(x, b, axis, spec, alpha, gain, clamp)


def _check_args(x, b, axis):
    rank = x.shape.ndims
    if rank is None or rank < 1:
        raise ValueError("fused_bias_act: x must have a known rank >= 1, got shape %s" % (x.shape,))
    if b is None:
        return
    if b.shape.ndims != 1:
        raise ValueError("fused_bias_act: b must be 1-D, got shape %s" % (b.shape,))
    if not 0 <= axis < rank:
        raise ValueError("fused_bias_act: axis must be in [0, %d) when b is given, got %d" % (rank, axis))
    channels = tf.compat.dimension_value(x.shape[axis])
    bias_len = tf.compat.dimension_value(b.shape[0])
    if channels is not None and bias_len is not None and channels != bias_len:
        raise ValueError("fused_bias_act: b has %d elements but x.shape[%d] is %d" % (bias_len, axis, channels))


def _bias_shape(rank, axis):
    """Shape that broadcasts a `[C]` bias along `axis` of a rank-`rank` tensor, e.g. [1, -1, 1, 1]."""
    return [-1 if i == axis else 1 for i in range(rank)]


# ----------------------------------------------------------------------------------------------------


def _fused_bias_act_ref(x, b, axis, spec, alpha, gain, clamp):
    """Plain TF ops; TF autodiff gives the derivatives (clip_by_value's is 0 strictly outside the range)."""
    rank = x.shape.ndims
    if b is not None:
        x = x + tf.reshape(b, _bias_shape(rank, axis))
    x = spec.func(x, alpha=alpha)
    if gain != 1:
        x = x * tf.cast(gain, x.dtype)
    if clamp is not None:
        limit = tf.cast(clamp, x.dtype)
        x = tf.clip_by_value(x, -limit, limit)
    return x


# ----------------------------------------------------------------------------------------------------


def _fused_bias_act_cuda(x, b, axis, spec, alpha, gain, clamp):
    """The `FusedBiasAct` op with custom gradients (first and second order).

    With s = x + b and y = gain * f(s), the op computes y (grad=0), g * gain * f'(s) (grad=1) and
    g * gain * f''(s) (grad=2) for an incoming gradient g; s comes from `ref` (see the .cu file).
    With a clamp, the op clips y and zeroes both derivatives where |y| >= clamp.
    """
    from .. import custom_ops  # pylint: disable=import-outside-toplevel
    plugin = custom_ops.get_plugin(_cuda_file())

    rank = x.shape.ndims
    has_bias = b is not None
    empty = tf.constant([], dtype=x.dtype)
    attrs = dict(axis=axis, act=spec.cuda_idx, alpha=float(alpha or 0), gain=float(gain),
                 clamp=-1.0 if clamp is None else float(clamp))

    def run_op(v, bias, ref, grad):
        out = plugin.fused_bias_act(x=v, b=bias, ref=ref, grad=grad, **attrs)
        out.set_shape(x.shape)
        return out

    def sum_to_bias(t):  # [x.shape] -> [C]
        return tf.reduce_sum(t, axis=[i for i in range(rank) if i != axis])

    def grads_for_inputs(ds):  # Gradient of s = x + b for the inputs of `forward`.
        return [ds, sum_to_bias(ds)] if has_bias else [ds]

    @tf.custom_gradient
    def forward(*inputs):  # inputs = (x, b) or (x,)
        bias = inputs[1] if has_bias else empty
        y = run_op(inputs[0], bias, empty, grad=0)
        # The kernel recovers s either from y, or (swish) from x plus the bias passed along with it.
        ref, ref_bias = (inputs[0], bias) if spec.ref == "x" else (y, empty)

        # Every tensor the inner functions read is an argument or computed from arguments: TF 2.x's
        # custom_gradient walks back from the outputs to the arguments and rejects functions that reach
        # variables (the network's weights) on the way.

        @tf.custom_gradient
        def times_derivative(g, ref, ref_bias):
            """g * gain * f'(s) where f' is constant in s: a linear self-adjoint map of g."""
            def grad(h):
                return times_derivative(h, ref, ref_bias), None, None  # Its own derivative: any order works.
            return run_op(g, ref_bias, ref, grad=1), grad

        @tf.custom_gradient
        def backward_nonlinear(g, *inputs_again):
            """(ds, [db]) for incoming gradient g; differentiable w.r.t. g and the inputs (x, b)."""
            del inputs_again  # Declared so that second-order gradients reach x and b (ref derives from them).
            ds = run_op(g, ref_bias, ref, grad=1)

            def grad2(*cotangents):
                h = cotangents[0] if cotangents[0] is not None else tf.zeros_like(g)
                if has_bias and cotangents[1] is not None:
                    h = h + tf.reshape(cotangents[1], _bias_shape(rank, axis))
                d_g = run_op(h, ref_bias, ref, grad=1)
                d_s = run_op(h, ref_bias, ref, grad=2) * g
                return [d_g] + grads_for_inputs(d_s)
            return grads_for_inputs(ds), grad2

        def backward(dy):
            if spec.zero_2nd_grad:
                return grads_for_inputs(times_derivative(dy, ref, ref_bias))
            return backward_nonlinear(dy, *inputs)
        return y, backward

    return forward(x, b) if has_bias else forward(x)


# The raw op is only reached by tf.gradients at third order, which is not supported.
try:
    @tf.RegisterGradient("FusedBiasAct")
    def _fused_bias_act_raw_grad(op, grad):  # pylint: disable=unused-argument
        raise NotImplementedError("fused_bias_act: derivatives beyond the second order are not supported (impl='cuda')")
except KeyError:  # Module reloaded: already registered.
    pass
