"""Session, variable and image helpers for TF1-style graph mode.

Everything goes through `tensorflow.compat.v1` with v2 behaviour disabled, so the same code runs on
TensorFlow 2.x wheels and on TensorFlow 1.15. Importing this module disables v2 behaviour, which
must happen before any graph is built (graph mode, ref variables, v1 TensorShape).
"""

import contextlib
import functools
import logging
import os
from typing import Any, Iterable, List, Union

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from . import precision


@contextlib.contextmanager
def tf_warnings_quiet():
    """TensorFlow's Python logger at ERROR within the block: for the deprecation notices that TensorFlow logs
    about its own internals, or about calls that must stay as they are to run on both TF 1.15 and 2.x."""
    logger = logging.getLogger("tensorflow")
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old_level)


with tf_warnings_quiet():  # disable_v2_behavior() warns about resource variables on every import.
    tf.disable_v2_behavior()

_EXPRESSION_CLASSES = (tf.Tensor, tf.Variable, tf.Operation)

# Type hints: a graph value, and anything that converts to one.
TfExpression = Union[_EXPRESSION_CLASSES]
TfExpressionEx = Union[int, float, np.ndarray, TfExpression]


def _session_or_raise() -> tf.Session:
    session = tf.get_default_session()
    if session is None:
        raise RuntimeError("No default TensorFlow session found. Please call dnnlib.tflib.init_tf().")
    return session


def assert_tf_initialized() -> None:
    """Raise if no default session exists (call `init_tf()` first)."""
    _session_or_raise()


def run(*args, **kwargs) -> Any:
    """`Session.run` of the default session (same arguments and result)."""
    return _session_or_raise().run(*args, **kwargs)


def is_tf_expression(x: Any) -> bool:
    """Is `x` a TensorFlow tensor, variable or operation?"""
    return isinstance(x, _EXPRESSION_CLASSES)


def shape_to_list(shape: Iterable[Any]) -> List[Union[int, None]]:
    """Convert a TensorShape (or a list of Dimensions) to a list of ints, None for unknown sizes."""
    return [getattr(dim, "value", dim) for dim in shape]


# ----------------------------------------------------------------------------------------------------
# Elementwise math, each in its own name scope so that graphs read well in TensorBoard.

_LN2 = np.float32(np.log(2.0))
_INV_LN2 = np.float32(1.0 / np.log(2.0))


def _named(scope_name):
    """Decorator: run the function inside `tf.name_scope(scope_name)`."""
    def decorate(func):
        @functools.wraps(func)
        def in_scope(*args, **kwargs):
            with tf.name_scope(scope_name):
                return func(*args, **kwargs)
        return in_scope
    return decorate


@_named("Flatten")
def flatten(x):
    """Any shape -> [N] (all elements, row-major order)."""
    return tf.reshape(x, [-1])


@_named("Log2")
def log2(x):
    """Base-2 logarithm, elementwise."""
    return tf.log(x) * _INV_LN2


@_named("Exp2")
def exp2(x):
    """2**x, elementwise."""
    return tf.exp(x * _LN2)


@_named("Lerp")
def lerp(a, b, t):
    """a + (b - a) * t; also works on plain numbers (then no graph op is made)."""
    return a + (b - a) * t


@_named("LerpClip")
def lerp_clip(a, b, t):
    """a + (b - a) * t with t clipped to [0, 1]."""
    return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


def absolute_name_scope(scope: str) -> tf.name_scope:
    """A name scope that is not nested inside the current one."""
    # A trailing slash makes TensorFlow take the name as it is instead of appending it.
    return tf.name_scope("%s/" % scope)


def absolute_variable_scope(scope: str, reuse: bool = None, **kwargs) -> tf.variable_scope:
    """A variable scope that is not nested inside the current one (and opens no name scope)."""
    return tf.variable_scope(tf.VariableScope(reuse, name=scope, **kwargs), auxiliary_name_scope=False)


# ----------------------------------------------------------------------------------------------------
# Session set-up. Keys are dotted: "rnd.*" and "env.*" are handled here, all others are ConfigProto
# fields.

_DEFAULT_TF_CONFIG = {
    "rnd.np_random_seed": None,  # Seed for NumPy's global RNG; None = leave it alone.
    "rnd.tf_random_seed": "auto",  # Graph-level TF seed; "auto" = draw it from NumPy's RNG.
    "env.TF_CPP_MIN_LOG_LEVEL": "1",  # 0 = all TF C++ logs, 1 = no info, 2 = no warnings, 3 = no errors.
    "graph_options.place_pruned_graph": True,  # Place only the ops a session.run() needs.
    "gpu_options.allow_growth": True,  # Grow GPU memory as needed instead of taking all of it.
    "allow_soft_placement": True,  # /gpu:N pins fall back to the CPU on machines without GPUs.
}
_NON_PROTO_GROUPS = ("rnd", "env")


def _with_defaults(config_dict: dict = None) -> dict:
    return {**_DEFAULT_TF_CONFIG, **(config_dict or {})}


def _seed_random_generators(np_seed, tf_seed) -> None:
    if np_seed is not None:
        np.random.seed(np_seed)
    if tf_seed == "auto":
        # Drawn after the NumPy seeding, so that a fixed NumPy seed fixes the graph seed as well.
        tf_seed = np.random.randint(1 << 31)
    if tf_seed is not None:
        tf.set_random_seed(tf_seed)


def _set_env_defaults(cfg: dict) -> None:
    """Export the `env.NAME` entries that the environment does not already define."""
    for key, value in cfg.items():
        group, _, name = key.partition(".")
        if group == "env":
            assert name and "." not in name, "bad environment key %r" % key
            os.environ.setdefault(name, str(value))


def init_tf(config_dict: dict = None) -> None:
    """Create a default session with the given config, unless one already exists.

    Config keys (dotted): `rnd.np_random_seed`, `rnd.tf_random_seed` ('auto' or an int),
    `env.<NAME>` (environment variables, set only if unset), and any field of `tf.ConfigProto`
    such as `gpu_options.allow_growth`, `allow_soft_placement` or `device_count.CPU` (a map entry).
    """
    if tf.get_default_session() is None:
        cfg = _with_defaults(config_dict)
        _seed_random_generators(cfg["rnd.np_random_seed"], cfg["rnd.tf_random_seed"])
        _set_env_defaults(cfg)
        create_session(cfg, force_as_default=True)


def _set_proto_field(proto, path: List[str], value) -> None:
    """proto.a.b.c = value for path ["a", "b", "c"]; a map field takes the last part as its key."""
    parent = functools.reduce(getattr, path[:-1], proto)
    is_message = hasattr(parent, "ListFields")
    is_map = hasattr(parent, "get_or_create") or (hasattr(parent, "keys") and not is_message)
    if is_map:
        parent[path[-1]] = value  # e.g. "device_count.CPU": 2 gives two logical CPU devices.
    else:
        setattr(parent, path[-1], value)


def create_config_proto(config_dict: dict = None) -> tf.ConfigProto:
    """A tf.ConfigProto with tflib's defaults and the ConfigProto fields of `config_dict` (dotted keys, as
    for `init_tf`; the `rnd.*` and `env.*` keys are not ConfigProto fields and are skipped)."""
    proto = tf.ConfigProto()
    for key, value in _with_defaults(config_dict).items():
        path = key.split(".")
        if path[0] not in _NON_PROTO_GROUPS:
            _set_proto_field(proto, path, value)
    if precision.bfloat16_enabled():
        # Grappler's remapper fails on the bfloat16 training graph (it logs an error and leaves the graph as
        # it was), so it is not run there at all.
        proto.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
    return proto


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
        # Enter the default-session context and never leave it: the session stays the default outside
        # any `with` block. The context is kept on the session so that reset_tf() can leave it.
        context = session.as_default()
        context.enforce_nesting = False
        context.__enter__()
        session._default_session = context  # pylint: disable=protected-access
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

def _per_variable_tensor(var: tf.Variable, suffix: str, build) -> tf.Tensor:
    """The tensor `<var>/<suffix>:0` of the default graph, made by `build()` the first time.

    Helper ops live in the variable's own name scope and outside any control dependencies, so later
    calls find them by name and the graph does not grow with every call.
    """
    assert is_tf_expression(var)
    var_scope = var.name.split(":")[0]
    try:
        return tf.get_default_graph().get_tensor_by_name("%s/%s:0" % (var_scope, suffix))
    except KeyError:
        pass
    with absolute_name_scope(var_scope), tf.control_dependencies(None):
        return build()


def _is_initialized_flag(var: tf.Variable) -> tf.Tensor:
    return _per_variable_tensor(var, "IsVariableInitialized", lambda: tf.is_variable_initialized(var))


def _setter(var: tf.Variable) -> tf.Tensor:
    """`var`'s assign op; feed its `op.inputs[1]` (the `new_value` placeholder) with the value."""
    def build():
        return tf.assign(var, tf.placeholder(var.dtype, var.shape, "new_value"), name="setter")
    return _per_variable_tensor(var, "setter", build)


def init_uninitialized_vars(target_vars: List[tf.Variable] = None) -> None:
    """Run the initializers of those `target_vars` (default: all global variables) not yet initialized."""
    session = _session_or_raise()
    candidates = list(tf.global_variables() if target_vars is None else target_vars)
    flags = [_is_initialized_flag(var) for var in candidates]
    if flags:
        pending = [var.initializer for var, ready in zip(candidates, session.run(flags)) if not ready]
        if pending:
            session.run(pending)


def set_vars(var_to_value_dict: dict) -> None:
    """Assign NumPy values to variables: `{tf.Variable: value}`.

    Each variable gets one `<var>/setter` assign op fed through a `new_value` placeholder, created on
    first use and reused afterwards, so repeated calls do not grow the graph.
    """
    session = _session_or_raise()
    assignments = [(_setter(var), value) for var, value in var_to_value_dict.items()]
    if assignments:
        session.run([op for op, _ in assignments], {op.op.inputs[1]: value for op, value in assignments})


def create_var_with_large_initial_value(initial_value: np.ndarray, *args, **kwargs) -> tf.Variable:
    """Create a variable initialised with a large NumPy array without baking it into the graph."""
    _session_or_raise()
    assert isinstance(initial_value, np.ndarray)
    # The graph holds only a zeros op; the real value is fed once through the setter.
    var = tf.Variable(tf.zeros(initial_value.shape, initial_value.dtype), *args, **kwargs)
    set_vars({var: initial_value})
    return var


# ----------------------------------------------------------------------------------------------------
# Images.

_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]


def convert_images_from_uint8(images, drange=(-1, 1), nhwc_to_nchw=False):
    """uint8 images [0, 255] -> float32 in `drange`, optionally NHWC -> NCHW."""
    low, high = drange
    x = tf.cast(images, tf.float32)
    x = tf.transpose(x, _NHWC_TO_NCHW) if nhwc_to_nchw else x
    return x * ((high - low) / 255) + low


def convert_images_to_uint8(images, drange=(-1, 1), nchw_to_nhwc=False, shrink=1):
    """Float images in `drange` -> uint8 [0, 255], rounding half up and clamping.

    Optionally average-pools by `shrink` first (NCHW input) and transposes NCHW -> NHWC.
    """
    x = tf.cast(images, tf.float32)
    channels_last = False
    if shrink > 1:
        # Pool in NHWC: the only layout every CPU kernel (and TF 1.15) has.
        window = [1, shrink, shrink, 1]
        x = tf.nn.avg_pool(tf.transpose(x, _NCHW_TO_NHWC), ksize=window, strides=window, padding="VALID",
                           data_format="NHWC")
        channels_last = True
    if channels_last != nchw_to_nhwc:
        x = tf.transpose(x, _NCHW_TO_NHWC if nchw_to_nhwc else _NHWC_TO_NCHW)
    low, high = drange
    gain = 255 / (high - low)
    # Adding 0.5 before the truncating cast rounds half up; saturate_cast clamps to [0, 255].
    return tf.saturate_cast(x * gain + (0.5 - low * gain), tf.uint8)


def has_gpu() -> bool:
    """Does TensorFlow see at least one GPU? (Lists physical devices; creates no session.)"""
    config = getattr(tf, "config", None)
    list_devices = getattr(getattr(config, "experimental", None), "list_physical_devices", None)
    if list_devices is not None:
        return len(list_devices("GPU")) > 0
    from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
    return any(d.device_type == "GPU" for d in device_lib.list_local_devices())


def peak_gpu_mem_gb() -> float:
    """Peak memory TensorFlow's allocator has held on GPU:0 since the start, in GiB; 0 without a GPU or
    where TensorFlow cannot tell (TF < 2.5)."""
    try:
        if has_gpu():
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30
    except (AttributeError, ValueError, RuntimeError):
        pass
    return 0.0


@_named("Erfinv")
def erfinv(y):
    """Inverse error function, elementwise, for y in (-1, 1); same dtype as y.

    `tf.math.erfinv` where it exists (TF >= 2.0); TF 1.15 has only the internal `special_math` version.
    """
    if hasattr(tf.math, "erfinv"):
        return tf.math.erfinv(y)
    from tensorflow.python.ops.distributions import special_math  # pylint: disable=import-outside-toplevel
    return special_math.erfinv(y)
