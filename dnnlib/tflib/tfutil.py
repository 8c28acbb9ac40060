"""Session, variable and image helpers for TF1-style graph mode.

Everything goes through `tensorflow.compat.v1` with v2 behaviour disabled, so the same code runs on
TensorFlow 2.x wheels and on TensorFlow 1.15. Importing this module disables v2 behaviour, which
must happen before any graph is built (graph mode, ref variables, v1 TensorShape).
"""

import os
from typing import Any, Iterable, List, Union

import logging

import numpy as np
import tensorflow.compat.v1 as tf


def _disable_v2_behavior_quietly():
    # disable_v2_behavior() logs a deprecation warning about resource variables on every import.
    logger = logging.getLogger("tensorflow")
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        tf.disable_v2_behavior()
    finally:
        logger.setLevel(old_level)


_disable_v2_behavior_quietly()

TfExpression = Union[tf.Tensor, tf.Variable, tf.Operation]
"""A TensorFlow expression."""

TfExpressionEx = Union[TfExpression, int, float, np.ndarray]
"""A TensorFlow expression or a value that can be converted to one."""


def run(*args, **kwargs) -> Any:
    """Run the given expressions in the default session."""
    assert_tf_initialized()
    return tf.get_default_session().run(*args, **kwargs)


def is_tf_expression(x: Any) -> bool:
    """Is `x` a TensorFlow tensor, variable or operation?"""
    return isinstance(x, (tf.Tensor, tf.Variable, tf.Operation))


def shape_to_list(shape: Iterable[Any]) -> List[Union[int, None]]:
    """Convert a TensorShape (or a list of Dimensions) to a list of ints, None for unknown sizes."""
    return [getattr(dim, "value", dim) for dim in shape]


def flatten(x: TfExpressionEx) -> TfExpression:
    """Reshape to 1-D."""
    with tf.name_scope("Flatten"):
        return tf.reshape(x, [-1])


def log2(x: TfExpressionEx) -> TfExpression:
    """Logarithm in base 2."""
    with tf.name_scope("Log2"):
        return tf.log(x) * np.float32(1.0 / np.log(2.0))


def exp2(x: TfExpressionEx) -> TfExpression:
    """2 to the power x."""
    with tf.name_scope("Exp2"):
        return tf.exp(x * np.float32(np.log(2.0)))


def lerp(a: TfExpressionEx, b: TfExpressionEx, t: TfExpressionEx) -> TfExpressionEx:
    """Linear interpolation a + (b - a) * t (works on TF expressions and plain numbers alike)."""
    with tf.name_scope("Lerp"):
        return a + (b - a) * t


def lerp_clip(a: TfExpressionEx, b: TfExpressionEx, t: TfExpressionEx) -> TfExpression:
    """Linear interpolation with t clipped to [0, 1]."""
    with tf.name_scope("LerpClip"):
        return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


def absolute_name_scope(scope: str) -> tf.name_scope:
    """A name scope that is not nested inside the current one."""
    return tf.name_scope(scope + "/")


def absolute_variable_scope(scope: str, reuse: bool = None, **kwargs) -> tf.variable_scope:
    """A variable scope that is not nested inside the current one (and opens no name scope)."""
    return tf.variable_scope(tf.VariableScope(reuse, name=scope, **kwargs), auxiliary_name_scope=False)


# ----------------------------------------------------------------------------------------------------
# Session set-up.

_DEFAULT_TF_CONFIG = {
    "rnd.np_random_seed": None,  # Seed for NumPy's global RNG; None = leave it alone.
    "rnd.tf_random_seed": "auto",  # Graph-level TF seed; "auto" = draw it from NumPy's RNG.
    "env.TF_CPP_MIN_LOG_LEVEL": "1",  # 0 = all TF C++ logs, 1 = no info, 2 = no warnings, 3 = no errors.
    "graph_options.place_pruned_graph": True,  # Place only the ops a session.run() needs.
    "gpu_options.allow_growth": True,  # Grow GPU memory as needed instead of taking all of it.
    "allow_soft_placement": True,  # /gpu:N pins fall back to the CPU on machines without GPUs.
}


def _sanitize_tf_config(config_dict: dict = None) -> dict:
    cfg = dict(_DEFAULT_TF_CONFIG)
    if config_dict is not None:
        cfg.update(config_dict)
    return cfg


def init_tf(config_dict: dict = None) -> None:
    """Create a default session with the given config, unless one already exists.

    Config keys (dotted): `rnd.np_random_seed`, `rnd.tf_random_seed` ('auto' or an int),
    `env.<NAME>` (environment variables, set only if unset), and any field of `tf.ConfigProto`
    such as `gpu_options.allow_growth`, `allow_soft_placement` or `device_count.CPU` (a map entry).
    """
    if tf.get_default_session() is not None:
        return

    cfg = _sanitize_tf_config(config_dict)
    np_random_seed = cfg["rnd.np_random_seed"]
    if np_random_seed is not None:
        np.random.seed(np_random_seed)
    tf_random_seed = cfg["rnd.tf_random_seed"]
    if tf_random_seed == "auto":
        tf_random_seed = np.random.randint(1 << 31)
    if tf_random_seed is not None:
        tf.set_random_seed(tf_random_seed)

    for key, value in cfg.items():
        fields = key.split(".")
        if fields[0] == "env":
            assert len(fields) == 2
            if fields[1] not in os.environ:
                os.environ[fields[1]] = str(value)

    create_session(cfg, force_as_default=True)


def assert_tf_initialized() -> None:
    """Raise if no default session exists (call `init_tf()` first)."""
    if tf.get_default_session() is None:
        raise RuntimeError("No default TensorFlow session found. Please call dnnlib.tflib.init_tf().")


def create_config_proto(config_dict: dict = None) -> tf.ConfigProto:
    """A tf.ConfigProto with tflib's defaults and the ConfigProto fields of `config_dict` (dotted keys, as
    for `init_tf`; the `rnd.*` and `env.*` keys are not ConfigProto fields and are skipped)."""
    cfg = _sanitize_tf_config(config_dict)
    config_proto = tf.ConfigProto()
    for key, value in cfg.items():
        fields = key.split(".")
        if fields[0] in ("rnd", "env"):
            continue
        obj = config_proto
        for field in fields[:-1]:
            obj = getattr(obj, field)
        if hasattr(obj, "get_or_create") or (hasattr(obj, "keys") and not hasattr(obj, "ListFields")):
            obj[fields[-1]] = value  # A map field, e.g. "device_count.CPU": 2 (two logical CPU devices).
        else:
            setattr(obj, fields[-1], value)
    return config_proto


def create_session(config_dict: dict = None, force_as_default: bool = False, target: str = "",
                   config_proto: tf.ConfigProto = None) -> tf.Session:
    """Create a session with the given config (same keys as `init_tf`), or with `config_proto` as it is.

    `target` is the server to run on ('' = in this process; a `tf.distribute.Server`'s target for
    multi-worker training). With `force_as_default=True` the session becomes the default one for good,
    not only inside a `with` block.
    """
    if config_proto is None:
        config_proto = create_config_proto(config_dict)
    session = tf.Session(target, config=config_proto)
    if force_as_default:
        # Enter the session's default context and never leave it: this is what
        # "the default session" of a process means in tflib.
        session._default_session = session.as_default()  # pylint: disable=protected-access
        session._default_session.enforce_nesting = False  # pylint: disable=protected-access
        session._default_session.__enter__()  # pylint: disable=protected-access
    return session


def reset_tf(config_dict: dict = None) -> tf.Session:
    """Close the default session, start a new default graph and a new default session.

    Lets one process do several independent things (for example train, then project) in clean
    graphs. Autosummaries are reset too, as they belong to the old graph.
    """
    old_session = tf.get_default_session()
    if old_session is not None:
        context = getattr(old_session, "_default_session", None)
        if context is not None:
            context.__exit__(None, None, None)
        old_session.close()
    tf.reset_default_graph()
    from . import autosummary  # pylint: disable=import-outside-toplevel
    autosummary.reset()
    init_tf(config_dict)
    return tf.get_default_session()


# ----------------------------------------------------------------------------------------------------
# Variables.

def init_uninitialized_vars(target_vars: List[tf.Variable] = None) -> None:
    """Run the initializers of those `target_vars` (default: all global variables) not yet initialized."""
    assert_tf_initialized()
    if target_vars is None:
        target_vars = tf.global_variables()

    test_vars = []
    test_ops = []
    with tf.control_dependencies(None):  # Ignore the surrounding control dependencies.
        for var in target_vars:
            assert is_tf_expression(var)
            op_name = var.name.replace(":0", "/IsVariableInitialized:0")
            try:
                test_op = tf.get_default_graph().get_tensor_by_name(op_name)
            except KeyError:
                with absolute_name_scope(var.name.split(":")[0]):
                    test_op = tf.is_variable_initialized(var)
            test_vars.append(var)
            test_ops.append(test_op)

    if not test_ops:
        return
    initialized = run(test_ops)
    init_ops = [var.initializer for var, is_init in zip(test_vars, initialized) if not is_init]
    if init_ops:
        run(init_ops)


def set_vars(var_to_value_dict: dict) -> None:
    """Assign NumPy values to variables: `{tf.Variable: value}`.

    Each variable gets one `<var>/setter` assign op fed through a `new_value` placeholder, created on
    first use and reused afterwards, so repeated calls do not grow the graph.
    """
    assert_tf_initialized()
    ops = []
    feed_dict = {}
    for var, value in var_to_value_dict.items():
        assert is_tf_expression(var)
        try:
            setter = tf.get_default_graph().get_tensor_by_name(var.name.replace(":0", "/setter:0"))
        except KeyError:
            with absolute_name_scope(var.name.split(":")[0]):
                with tf.control_dependencies(None):
                    placeholder = tf.placeholder(var.dtype, var.shape, "new_value")
                    setter = tf.assign(var, placeholder, name="setter")
        ops.append(setter)
        feed_dict[setter.op.inputs[1]] = value
    if ops:
        run(ops, feed_dict)


def create_var_with_large_initial_value(initial_value: np.ndarray, *args, **kwargs) -> tf.Variable:
    """Create a variable initialised with a large NumPy array without baking it into the graph."""
    assert_tf_initialized()
    assert isinstance(initial_value, np.ndarray)
    zeros = tf.zeros(initial_value.shape, initial_value.dtype)
    var = tf.Variable(zeros, *args, **kwargs)
    set_vars({var: initial_value})
    return var


# ----------------------------------------------------------------------------------------------------
# Images.

def convert_images_from_uint8(images, drange=(-1, 1), nhwc_to_nchw=False):
    """uint8 images [0, 255] -> float32 in `drange`, optionally NHWC -> NCHW."""
    images = tf.cast(images, tf.float32)
    if nhwc_to_nchw:
        images = tf.transpose(images, [0, 3, 1, 2])
    return images * ((drange[1] - drange[0]) / 255) + drange[0]


def convert_images_to_uint8(images, drange=(-1, 1), nchw_to_nhwc=False, shrink=1):
    """Float images in `drange` -> uint8 [0, 255], rounding half up and clamping.

    Optionally average-pools by `shrink` first (NCHW input) and transposes NCHW -> NHWC.
    """
    images = tf.cast(images, tf.float32)
    if shrink > 1:
        # Pool in NHWC: the only layout every CPU kernel (and TF 1.15) has.
        ksize = [1, shrink, shrink, 1]
        images = tf.transpose(images, [0, 2, 3, 1])
        images = tf.nn.avg_pool(images, ksize=ksize, strides=ksize, padding="VALID", data_format="NHWC")
        if not nchw_to_nhwc:
            images = tf.transpose(images, [0, 3, 1, 2])
    elif nchw_to_nhwc:
        images = tf.transpose(images, [0, 2, 3, 1])
    scale = 255 / (drange[1] - drange[0])
    images = images * scale + (0.5 - drange[0] * scale)
    return tf.saturate_cast(images, tf.uint8)


def has_gpu() -> bool:
    """Does TensorFlow see at least one GPU? (Lists physical devices; creates no session.)"""
    config = getattr(tf, "config", None)
    list_devices = getattr(getattr(config, "experimental", None), "list_physical_devices", None)
    if list_devices is not None:
        return len(list_devices("GPU")) > 0
    from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
    return any(d.device_type == "GPU" for d in device_lib.list_local_devices())
