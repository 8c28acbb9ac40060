"""Running means of scalars for TensorBoard, collected from anywhere in the graph or from Python.

`autosummary(name, value)` accumulates `[count, sum, sum of squares]` of `value` into a float64
variable `Autosummary/<name>/accumulator`: TF values each time the returned op runs, Python values at
once. `save_summaries(file_writer, step)` writes the mean of every name since the previous save to the
event file and starts the accumulators over.

State is module-level, kept per graph (the accumulators live in the graph that was the default one when
they were created). Once a graph's summaries are finalized (first `save_summaries()`), no new TF
autosummaries can be added to that graph; new Python-valued names still can (a metric first evaluated
after the first save, as in a resumed run whose first tick is no snapshot tick). `reset()` forgets all
state, e.g. to train and then project in a new graph in one process (`tfutil.reset_tf()` calls it).
"""

import re
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np
import tensorflow.compat.v1 as tf

from . import tfutil
from .tfutil import TfExpression, TfExpressionEx

enable_custom_scalars = False
"""Also write `<name>` +- std margins and a custom-scalar layout (needs the `tensorboard` package)."""

_dtype = tf.float64
_name_regex = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


class _GraphState:
    """Autosummary state of one graph."""

    def __init__(self):
        self.accumulators = OrderedDict()  # name -> float64 variable [count, sum, sum_sq]
        self.python_updates = OrderedDict()  # name -> (assign_add op, [3] float64 placeholder)
        self.finalized = False
        self.layout = None  # custom-scalar layout summary, written by save_summaries() when it changes
        self.margin_names = []  # names with custom-scalar margins
        self.merge_op = None  # merged summary of the graph, created by save_summaries()
        self.layout_written = False


_states = weakref.WeakKeyDictionary()  # tf.Graph -> _GraphState


def reset() -> None:
    """Forget all autosummaries of all graphs (accumulators, finalized summaries)."""
    _states.clear()


def _get_state() -> _GraphState:
    graph = tf.get_default_graph()
    if graph not in _states:
        _states[graph] = _GraphState()
    return _states[graph]


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _name_regex.match(name):
        raise ValueError("autosummary: invalid name %r (use letters, digits, '_', '.', '-', separated by '/')"
                         % (name,))


def _get_accumulator(state: _GraphState, name: str, python_value: bool) -> tf.Variable:
    """The `[count, sum, sum_sq]` variable of `name`, created on first use outside any scope/dependency.
    After finalization only a Python-valued name can be new: its summary is added and the merge redone."""
    if name in state.accumulators:
        return state.accumulators[name]
    if state.finalized and not python_value:
        raise RuntimeError("autosummary: cannot create %r: summaries of this graph are already finalized "
                           "(call dnnlib.tflib.autosummary.reset() or use a new graph)" % name)
    # Small and read once per save: keep it on the CPU, away from any device/control scope of the caller.
    with tf.control_dependencies(None), tf.device("/cpu:0"), tfutil.absolute_name_scope("Autosummary/" + name):
        var = tf.Variable(tf.zeros([3], dtype=_dtype), trainable=False, name="accumulator")
    state.accumulators[name] = var
    if state.finalized:
        tfutil.init_uninitialized_vars([var])
        _add_summaries_of(state, name, var)
        state.merge_op = None  # save_summaries() merges again, now with this name.
    return var


def _moments_of_tensor(value: TfExpression) -> TfExpression:
    """`[count, sum, sum_sq]` (float64) of all elements of a tensor of any shape."""
    value = tf.cast(value, _dtype)
    count = tf.cast(tf.size(value), _dtype)
    return tf.stack([count, tf.reduce_sum(value), tf.reduce_sum(tf.square(value))])


def autosummary(name: str, value: TfExpressionEx, passthru: TfExpressionEx = None,
                condition: TfExpressionEx = True) -> TfExpressionEx:
    """Accumulate `value` (any shape; every element counts) under `name`.

    TF `value`: returns an identity of `passthru` (or of `value`) that accumulates `value` when it runs,
    only when `condition` (bool, Python or TF) is true. Python/NumPy `value`: accumulated at once (needs
    the default session); returns `passthru` (or `value`).
    """
    _check_name(name)
    state = _get_state()
    accumulator = _get_accumulator(state, name, python_value=not tfutil.is_tf_expression(value))
    if tfutil.is_tf_expression(value):
        return _accumulate_when_run(name, accumulator, value, value if passthru is None else passthru, condition)
    if tfutil.is_tf_expression(condition):
        raise TypeError("autosummary: %r: a Python value needs a Python condition" % name)
    if condition:
        _accumulate_now(state, name, accumulator, value)
    return value if passthru is None else passthru


def _accumulate_when_run(name: str, accumulator: tf.Variable, value: TfExpression, result: TfExpressionEx,
                         condition: TfExpressionEx) -> TfExpression:
    """An identity of `result` that adds the moments of `value` to `accumulator` whenever it runs and
    `condition` holds."""
    # The ops sit on the value's device; only the three moments travel to the accumulator.
    with tf.device(value.device), tf.name_scope("summary_%s" % name.replace("/", "_")):
        condition = tf.convert_to_tensor(condition, name="condition")
        moments = _moments_of_tensor(value)
        update_op = tf.cond(condition, lambda: tf.group(tf.assign_add(accumulator, moments, use_locking=True)),
                            tf.no_op)
        with tf.control_dependencies([update_op]):
            return tf.identity(result)


def _accumulate_now(state: _GraphState, name: str, accumulator: tf.Variable, value: Any) -> None:
    """Add the moments of a Python/NumPy value at once, through an assign op made once per name."""
    if name not in state.python_updates:
        tfutil.assert_tf_initialized()
        tfutil.init_uninitialized_vars([accumulator])
        with tf.control_dependencies(None), tf.device("/cpu:0"), \
                tfutil.absolute_name_scope("Autosummary/" + name + "/python"):
            moments_in = tf.placeholder(_dtype, [3], name="moments")
            state.python_updates[name] = (tf.assign_add(accumulator, moments_in, use_locking=True), moments_in)
    update_op, moments_in = state.python_updates[name]
    array = np.asarray(value, dtype=np.float64)
    tfutil.run(update_op, {moments_in: [array.size, np.sum(array), np.sum(np.square(array))]})


def finalize_autosummaries():
    """Create the summary ops of the default graph: `<name>` = mean since the last save.

    Evaluating them also zeroes the accumulators. No new TF autosummaries can be added to the graph
    afterwards. Returns the custom-scalar layout summary when `enable_custom_scalars` is set and
    `tensorboard` is installed, else None. Calling it again returns the same layout.
    """
    state = _get_state()
    if state.finalized:
        return state.layout
    tfutil.assert_tf_initialized()
    state.finalized = True
    tfutil.init_uninitialized_vars(list(state.accumulators.values()))

    for name, var in state.accumulators.items():
        _add_summaries_of(state, name, var)
    return state.layout


def _add_summaries_of(state: _GraphState, name: str, var: tf.Variable) -> None:
    """The summary `<name>` = mean of `var` since the last save (evaluating it zeroes `var`), and its
    custom-scalar margins when enabled (the layout is then made anew)."""
    with tf.control_dependencies(None), tf.device("/cpu:0"), \
            tfutil.absolute_name_scope("Autosummary/" + name + "/finalize"):
        # Compute the results into new tensors, then zero the variable (an identity of a ref
        # variable would share its buffer and see the zeros), then emit the summaries.
        mean = var[1] / var[0]  # NaN when nothing was accumulated.
        std = tf.sqrt(tf.maximum(var[2] / var[0] - tf.square(mean), 0.0))
        with tf.control_dependencies([mean, std]):
            reset_op = tf.assign(var, tf.zeros([3], dtype=_dtype))
        with tf.control_dependencies([reset_op]):
            # Raw op with a fixed tag: tf.summary.scalar would rename the tag if an op of that name exists.
            _add_scalar_summary(name, mean)
            if enable_custom_scalars and _has_tensorboard():
                _add_scalar_summary("xCustomScalars/" + name + "/margin_lo", mean - std)
                _add_scalar_summary("xCustomScalars/" + name + "/margin_hi", mean + std)
                state.margin_names.append(name)
                state.layout = _make_custom_scalar_layout(state.margin_names)
                state.layout_written = False


def _add_scalar_summary(tag: str, value: TfExpression) -> None:
    summary = tf.raw_ops.ScalarSummary(tags=tf.constant(tag), values=tf.cast(value, tf.float32), name="summary")
    tf.add_to_collection(tf.GraphKeys.SUMMARIES, summary)


def _has_tensorboard() -> bool:
    try:
        import tensorboard.summary.v1  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        return True
    except ImportError:
        return False


def _make_custom_scalar_layout(names):
    """One TensorBoard category per first name component, one mean +- std chart per name."""
    from tensorboard.plugins.custom_scalar import layout_pb2  # pylint: disable=import-outside-toplevel
    from tensorboard.summary.v1 import custom_scalar_pb  # pylint: disable=import-outside-toplevel

    categories = OrderedDict()
    for name in names:
        category = name.split("/")[0]
        chart = name[len(category) + 1:] or category
        margin = layout_pb2.MarginChartContent(series=[layout_pb2.MarginChartContent.Series(
            value=name, lower="xCustomScalars/" + name + "/margin_lo", upper="xCustomScalars/" + name + "/margin_hi")])
        categories.setdefault(category, []).append(layout_pb2.Chart(title=chart, margin=margin))
    layout = layout_pb2.Layout(category=[layout_pb2.Category(title=title, chart=charts)
                                         for title, charts in categories.items()])
    return custom_scalar_pb(layout)


def save_summaries(file_writer: tf.summary.FileWriter, global_step: int = None) -> None:
    """Write the means since the previous call (and all other summaries of the graph), then reset them.

    Finalizes the autosummaries of the default graph on the first call.
    """
    tfutil.assert_tf_initialized()
    state = _get_state()
    if state.merge_op is None:
        layout = finalize_autosummaries()
        if layout is not None and not state.layout_written:
            file_writer.add_summary(layout)
            state.layout_written = True
        with tf.control_dependencies(None), tf.device(None):
            state.merge_op = tf.summary.merge_all()
        if state.merge_op is None:  # No summaries at all in this graph.
            state.merge_op = tf.no_op(name="Autosummary/nothing_to_merge")
    if isinstance(state.merge_op, tf.Operation):
        return
    file_writer.add_summary(tfutil.run(state.merge_op), global_step)
