"""Multi-device training step: gradient averaging, accumulation, loss scaling, skipping non-finite steps.

Usage: create an `Optimizer`, call `register_gradients(loss, vars)` once per loss and device (each tower
has its own copy of the variables on its own device), then `apply_updates()` once, which returns the
training op. Every device applies the same summed gradient to its own copy, so copies that start equal
stay equal.
"""

import itertools
from collections import OrderedDict
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.python.ops import collective_ops  # pylint: disable=no-name-in-module

from . import autosummary
from . import tfutil
from .tfutil import TfExpression, TfExpressionEx
from .. import util


# ----------------------------------------------------------------------------------------------------
# Cross-device sum.

_collective_group_keys = {}  # (tuple of device names, number of workers) -> group key
_collective_instance_keys = itertools.count(1)


def all_sum(tensors: List[TfExpression], num_workers: int = 1) -> List[TfExpression]:
    """Sum equally shaped tensors, one per device, with TF collective ops; returns the sum on each device.

    The group is the devices of `tensors` in this process, times `num_workers` worker processes that
    each make the same call (same devices, same order of calls) in their own graph: the sum is then over
    all len(tensors) * num_workers devices of the cluster. Group and instance keys come from counters, so
    every worker must build its collectives in the same order. (NCCL's `all_sum` gives wrong results on
    TF >= 1.15.)
    """
    if len(tensors) == 1 and num_workers == 1:
        return list(tensors)
    devices = tuple(tensor.device for tensor in tensors)
    if len(set(devices)) != len(devices) or "" in devices:
        raise ValueError("optimizer: all_sum needs one tensor per distinct, explicit device, got %s" % (devices,))
    if num_workers < 1:
        raise ValueError("optimizer: all_sum needs num_workers >= 1, got %r" % (num_workers,))
    group = (devices, num_workers)
    if group not in _collective_group_keys:
        _collective_group_keys[group] = len(_collective_group_keys) + 1
    group_key = _collective_group_keys[group]
    instance_key = next(_collective_instance_keys)

    sums = []
    for tensor in tensors:
        with tf.device(tensor.device):
            sums.append(collective_ops.all_reduce(tensor, group_size=len(tensors) * num_workers,
                                                  group_key=group_key, instance_key=instance_key,
                                                  merge_op="Add", final_op="Id"))
    return sums


def _sum_grads_across_devices(grads_per_device: List[List[TfExpression]],
                              num_workers: int = 1) -> List[List[TfExpression]]:
    """`grads_per_device[device][var]` -> the same structure, each gradient summed over devices (of all
    `num_workers` workers).

    All gradients of a device are packed into one flat vector so that one collective does the job.
    """
    if len(grads_per_device) == 1 and num_workers == 1:
        return grads_per_device
    shapes = [grad.shape for grad in grads_per_device[0]]
    sizes = [int(np.prod(tfutil.shape_to_list(shape))) for shape in shapes]
    flats = []
    for grads in grads_per_device:
        with tf.device(grads[0].device):
            flats.append(tf.concat([tf.reshape(grad, [-1]) for grad in grads], axis=0))
    summed_flats = all_sum(flats, num_workers)
    summed = []
    for flat in summed_flats:
        with tf.device(flat.device):
            pieces = tf.split(flat, sizes, axis=0)
            summed.append([tf.reshape(piece, shape) for piece, shape in zip(pieces, shapes)])
    return summed


# ----------------------------------------------------------------------------------------------------

class _DeviceState:
    """What an Optimizer keeps for one device between `register_gradients()` and `apply_updates()`."""

    def __init__(self, name: str, index: int, optimizer: Any, loss_scaling_var: Union[tf.Variable, None]):
        self.name = name
        self.index = index
        self.optimizer = optimizer  # The underlying optimizer, possibly shared with other Optimizers.
        self.loss_scaling_var = loss_scaling_var  # log2 of the loss scale; None without loss scaling.
        self.grad_raw = OrderedDict()  # var -> [gradient of each register_gradients() call]


def _assign_by_condition(pred: TfExpression, var: tf.Variable, value_if_true: TfExpression,
                         value_if_false: TfExpression) -> tf.Operation:
    """An op that writes one of two values into `var`, chosen by the boolean `pred` when it runs."""
    return tf.cond(pred, lambda: tf.group(tf.assign(var, value_if_true)),
                   lambda: tf.group(tf.assign(var, value_if_false)))


class Optimizer:
    """A wrapper of a `tf.train.Optimizer` for several devices, with gradient accumulation and loss scaling.

    Args:
        name: Name of the training op and prefix of the autosummaries (`<name>/learning_rate`, ...).
        tf_optimizer: Name of the underlying optimizer class, e.g. "tf.train.AdamOptimizer".
        learning_rate: Python number or TF expression (e.g. a placeholder).
        minibatch_multiplier: Number of `apply_updates()` runs whose gradients are accumulated before a
            step (number or TF expression), or None to step every run.
        share: Another Optimizer whose underlying per-device optimizers (and so Adam state) are shared.
        use_loss_scaling: Multiply the loss by 2**s before differentiating (s per device, a variable).
        loss_scaling_init, loss_scaling_inc, loss_scaling_dec: Initial s; s += inc after a finite step,
            s -= dec after a skipped one.
        report_mem_usage: Autosummarize the GPU memory in use (`<name>/mem_usage_gb`) if a GPU exists.
        num_workers: Number of worker processes that build this same Optimizer in their own graphs (multi-
            worker training): gradients are averaged over the devices of all of them. 1 = this process only.
        **kwargs: Passed to the underlying optimizer (e.g. beta1, beta2, epsilon).
    """

    def __init__(self, name: str = "Train", tf_optimizer: str = "tf.train.AdamOptimizer",
                 learning_rate: TfExpressionEx = 0.001, minibatch_multiplier: TfExpressionEx = None,
                 share: "Optimizer" = None, use_loss_scaling: bool = False, loss_scaling_init: float = 64.0,
                 loss_scaling_inc: float = 0.0005, loss_scaling_dec: float = 1.0,
                 report_mem_usage: bool = False, num_workers: int = 1, **kwargs):
        if int(num_workers) < 1:
            raise ValueError("Optimizer %r: num_workers must be >= 1, got %r" % (name, num_workers))
        if isinstance(tf_optimizer, str):
            tf_optimizer = util.get_obj_by_name(tf_optimizer)
        self.name = name
        self.id = name.replace("/", ".")  # Autosummary prefix and name scope of the gradient ops.
        self.scope = tf.get_default_graph().unique_name(self.id)
        self.optimizer_class = tf_optimizer
        self.optimizer_kwargs = dict(kwargs)
        self.learning_rate = learning_rate
        self.num_workers = int(num_workers)
        self.minibatch_multiplier = minibatch_multiplier
        self.report_mem_usage = report_mem_usage
        self.use_loss_scaling = use_loss_scaling
        self.loss_scaling_init, self.loss_scaling_inc, self.loss_scaling_dec = \
            loss_scaling_init, loss_scaling_inc, loss_scaling_dec

        self._updates_applied = False
        self._devices = OrderedDict()  # device name -> _DeviceState
        self._grad_shapes = None  # Shapes of the registered vars, identical for every call.
        self._shared_optimizers = OrderedDict()  # device name -> underlying optimizer
        if share is not None:
            self._share_underlying_optimizers(share)

    def _share_underlying_optimizers(self, other: "Optimizer") -> None:
        """Use the per-device underlying optimizers of `other` (they must be built the same way)."""
        if not isinstance(other, Optimizer):
            raise TypeError("Optimizer %r: share must be an Optimizer, got %r" % (self.name, type(other)))
        same = [("tf_optimizer", self.optimizer_class is other.optimizer_class),
                ("learning_rate", _same_value(self.learning_rate, other.learning_rate)),
                ("kwargs", self.optimizer_kwargs == other.optimizer_kwargs),
                ("num_workers", self.num_workers == other.num_workers)]
        for what, ok in same:
            assert ok, "Optimizer %r: share= needs the same %s" % (self.name, what)
        self._shared_optimizers = other._shared_optimizers  # pylint: disable=protected-access

    def _get_device(self, device_name: str) -> _DeviceState:
        """The state of `device_name`, created on first use."""
        if device_name not in self._devices:
            index = len(self._devices)
            if device_name not in self._shared_optimizers:
                optimizer_name = "%s_opt%d" % (self.scope.replace("/", "_"), len(self._shared_optimizers))
                self._shared_optimizers[device_name] = self.optimizer_class(
                    name=optimizer_name, learning_rate=self.learning_rate, **self.optimizer_kwargs)
            loss_scaling_var = None
            if self.use_loss_scaling:
                with tfutil.absolute_name_scope("%s/Device%d" % (self.scope, index)), \
                        tf.device(device_name), tf.control_dependencies(None):
                    loss_scaling_var = tf.Variable(np.float32(self.loss_scaling_init), trainable=False,
                                                   name="loss_scaling_var")
            self._devices[device_name] = _DeviceState(device_name, index, self._shared_optimizers[device_name],
                                                      loss_scaling_var)
        return self._devices[device_name]

    def register_gradients(self, loss: TfExpression, trainable_vars: Union[List, Dict]) -> None:
        """Add the gradients of `loss` (any shape; summed) w.r.t. `trainable_vars` (list, or name -> var dict).

        The vars must live on the loss's device; every call must pass vars of the same shapes, in the
        same order.
        """
        assert not self._updates_applied, "Optimizer %r: register_gradients() after apply_updates()" % self.name
        if not tfutil.is_tf_expression(loss):
            raise TypeError("Optimizer %r: loss must be a TF expression, got %r" % (self.name, type(loss)))
        if isinstance(trainable_vars, dict):
            trainable_vars = list(trainable_vars.values())  # e.g. Network.trainables
        trainable_vars = list(trainable_vars)
        if not trainable_vars or not all(tfutil.is_tf_expression(var) for var in trainable_vars):
            raise TypeError("Optimizer %r: trainable_vars must be a non-empty list or dict of variables" % self.name)
        for var in trainable_vars:
            if var.device != loss.device:
                raise ValueError("Optimizer %r: var %s is on device %r, the loss on %r"
                                 % (self.name, var.name, var.device, loss.device))

        shapes = [tfutil.shape_to_list(var.shape) for var in trainable_vars]
        if self._grad_shapes is None:
            self._grad_shapes = shapes
        if shapes != self._grad_shapes:
            raise ValueError("Optimizer %r: every register_gradients() call needs vars of the same shapes" % self.name)
        device = self._get_device(loss.device)

        with tf.name_scope(self.id + "_grad"), tf.device(device.name):
            deps = []
            if self.report_mem_usage:
                mem_usage_gb = _gpu_mem_usage_gb(device.name)
                if mem_usage_gb is not None:
                    deps.append(autosummary.autosummary(self.id + "/mem_usage_gb", mem_usage_gb))
            with tf.control_dependencies(deps):
                loss = self.apply_loss_scaling(tf.cast(loss, tf.float32))
                grads = device.optimizer.compute_gradients(loss, trainable_vars,
                                                           gate_gradients=tf.train.Optimizer.GATE_NONE)
        for grad, var in grads:
            device.grad_raw.setdefault(var, []).append(grad)

    def apply_updates(self, allow_no_op: bool = False) -> tf.Operation:
        """The training op: sum the registered gradients and take one step with them (see module doc)."""
        assert not self._updates_applied, "Optimizer %r: apply_updates() called twice" % self.name
        self._updates_applied = True
        if not self._devices:
            if not allow_no_op:
                raise RuntimeError("Optimizer %r: apply_updates() without register_gradients() "
                                   "(pass allow_no_op=True to allow it)" % self.name)
            with tfutil.absolute_name_scope(self.scope):
                return tf.no_op(name="TrainingOp")

        devices = list(self._devices.values())
        grads_per_device = self._sum_over_devices([self._normalized_gradients(device) for device in devices])
        step_ops = []
        for device, grads in zip(devices, grads_per_device):
            step_ops += self._device_step(device, grads, report=device is devices[-1])
        with tfutil.absolute_name_scope(self.scope):
            return tf.group(*step_ops, name="TrainingOp")

    def _normalized_gradients(self, device: _DeviceState) -> "OrderedDict":
        """var -> fp32 gradient of `device`, with the registrations summed and then divided by everything
        that multiplied it: the number of registrations, devices, workers and accumulated runs, and the
        loss scale. Summing these over all devices gives the mean gradient of the whole minibatch."""
        normalized = OrderedDict()
        with tfutil.absolute_name_scope("%s/ProcessGrads%d" % (self.scope, device.index)), tf.device(device.name):
            for var, grads in device.grad_raw.items():
                present = [tf.cast(grad, tf.float32) for grad in grads if grad is not None]
                if len(present) > 1:
                    total = tf.add_n(present)
                else:
                    total = present[0] if present else tf.zeros(var.shape, dtype=tf.float32)
                normalized[var] = total * self._gradient_scale(device, len(grads))
        return normalized

    def _gradient_scale(self, device: _DeviceState, num_registrations: int) -> TfExpression:
        factor = tf.constant(1.0 / num_registrations / len(self._devices) / self.num_workers, dtype=tf.float32)
        if self.minibatch_multiplier is not None:
            factor /= tf.cast(self.minibatch_multiplier, tf.float32)
        if self.use_loss_scaling:
            factor *= tfutil.exp2(-device.loss_scaling_var)
        return factor

    def _sum_over_devices(self, grads_per_device: List["OrderedDict"]) -> List["OrderedDict"]:
        """Each device's gradients replaced by their sum over all devices (of all workers)."""
        if len(grads_per_device) == 1 and self.num_workers == 1:
            return grads_per_device
        with tfutil.absolute_name_scope(self.scope + "/SumAcrossDevices"):
            sums = _sum_grads_across_devices([list(grads.values()) for grads in grads_per_device],
                                             self.num_workers)
        return [OrderedDict(zip(grads.keys(), summed)) for grads, summed in zip(grads_per_device, sums)]

    def _device_step(self, device: _DeviceState, grads: "OrderedDict", report: bool) -> List[tf.Operation]:
        """Ops of one device: accumulate, then update the vars when the accumulation is complete and every
        gradient is finite; adjust the loss scale; with `report`, the autosummaries."""
        ops = []
        with tfutil.absolute_name_scope("%s/ApplyGrads%d" % (self.scope, device.index)), tf.device(device.name):
            if self.minibatch_multiplier is None:
                acc_ok = tf.constant(True, name="acc_ok")
            else:
                acc_ok, grads = self._accumulate_gradients(grads, ops)
            finite = [tf.reduce_all(tf.is_finite(grad)) for grad in grads.values()]
            all_ok = tf.reduce_all(tf.stack([acc_ok] + finite), name="all_ok")
            grads_and_vars = [(tf.cast(grad, var.dtype.base_dtype), var) for var, grad in grads.items()]
            ops.append(tf.cond(all_ok, lambda: tf.group(device.optimizer.apply_gradients(grads_and_vars)), tf.no_op))

            scale_update = None
            if self.use_loss_scaling:
                scale_update = tf.cond(acc_ok, lambda: self._loss_scale_update(device.loss_scaling_var, all_ok),
                                       tf.no_op)
                ops.append(scale_update)
            if report:
                ops += self._summaries(device, acc_ok, all_ok, scale_update)
        return ops

    def _loss_scale_update(self, log2_scale: tf.Variable, all_ok: TfExpression) -> tf.Operation:
        """Grow the scale after a finite step, shrink it after a skipped one."""
        return tf.group(tf.cond(all_ok, lambda: tf.group(tf.assign_add(log2_scale, self.loss_scaling_inc)),
                                lambda: tf.group(tf.assign_sub(log2_scale, self.loss_scaling_dec))))

    def _summaries(self, device: _DeviceState, acc_ok: TfExpression, all_ok: TfExpression,
                   scale_update: Union[tf.Operation, None]) -> List[tf.Operation]:
        skipped = tf.cast(tf.logical_not(all_ok), tf.float32)
        ops = [autosummary.autosummary(self.id + "/learning_rate", tf.cast(self.learning_rate, tf.float32)),
               autosummary.autosummary(self.id + "/overflow_frequency", skipped, condition=acc_ok)]
        if scale_update is not None:
            with tf.control_dependencies([scale_update]):  # Report the scale after this step's update.
                ops.append(autosummary.autosummary(self.id + "/loss_scaling_log2",
                                                   tf.identity(device.loss_scaling_var)))
        return ops

    def _accumulate_gradients(self, grads: "OrderedDict", ops: list) -> Tuple[TfExpression, "OrderedDict"]:
        """Add this run's gradients to accumulator variables; appends the update ops to `ops`.

        Returns (whether this run completes the minibatch, var -> accumulated gradient including this run).
        The accumulators and the run counter go back to zero on the completing run.
        """
        with tf.control_dependencies(None):
            acc_vars = [tf.Variable(tf.zeros(var.shape, dtype=tf.float32), trainable=False, name="grad_acc_var%d" % i)
                        for i, var in enumerate(grads)]
            runs = tf.Variable(tf.zeros([], dtype=tf.float32), trainable=False, name="grad_acc_count")

        runs_now = runs + 1.0
        acc_ok = tf.greater_equal(runs_now, tf.cast(self.minibatch_multiplier, tf.float32), name="acc_ok")
        ops.append(_assign_by_condition(acc_ok, runs, tf.zeros([]), runs_now))
        totals = OrderedDict()
        for acc_var, (var, grad) in zip(acc_vars, grads.items()):
            totals[var] = acc_var + grad
            # The sum must read the accumulator before the assignment below overwrites it.
            with tf.control_dependencies([totals[var]]):
                ops.append(_assign_by_condition(acc_ok, acc_var, tf.zeros_like(acc_var), totals[var]))
        return acc_ok, totals

    def reset_optimizer_state(self) -> None:
        """Re-initialize the state of the underlying optimizers (e.g. Adam moments) on all devices."""
        state_vars = [var for device in self._devices.values() for var in device.optimizer.variables()]
        tfutil.run([var.initializer for var in state_vars])

    def get_loss_scaling_var(self, device: str) -> Union[tf.Variable, None]:
        """The log2 loss scale variable of `device` (a device name), None without loss scaling."""
        return self._get_device(device).loss_scaling_var

    def _times_loss_scale(self, value: TfExpression, invert: bool) -> TfExpression:
        assert tfutil.is_tf_expression(value)
        if not self.use_loss_scaling:
            return value
        log2_scale = self.get_loss_scaling_var(value.device)
        return value * tfutil.exp2(-log2_scale if invert else log2_scale)

    def apply_loss_scaling(self, value: TfExpression) -> TfExpression:
        """`value * 2**s` with the scale of `value`'s device (identity without loss scaling)."""
        return self._times_loss_scale(value, invert=False)

    def undo_loss_scaling(self, value: TfExpression) -> TfExpression:
        """`value * 2**-s` with the scale of `value`'s device (identity without loss scaling)."""
        return self._times_loss_scale(value, invert=True)


def _same_value(a: Any, b: Any) -> bool:
    """The same TF expression object, or equal Python values."""
    if tfutil.is_tf_expression(a) or tfutil.is_tf_expression(b):
        return a is b
    return a == b


def _gpu_mem_usage_gb(device_name: str) -> Union[TfExpression, None]:
    """A TF scalar with the GPU memory in use (GiB) of the GPU of `device_name`, None without a GPU."""
    spec = tf.DeviceSpec.from_string(device_name or "")
    if spec.device_type is not None and spec.device_type.upper() != "GPU":
        return None
    if not hasattr(tf.config.experimental, "get_memory_info"):  # TF < 2.5
        return None
    if not tfutil.has_gpu():
        return None
    gpu = "GPU:%d" % (spec.device_index or 0)

    def current_bytes():
        return np.float32(tf.config.experimental.get_memory_info(gpu)["current"] / 2**30)

    return tf.py_func(current_bytes, [], tf.float32, stateful=True, name="mem_usage_gb")


# ----------------------------------------------------------------------------------------------------

class SimpleAdam:
    """A small Adam usable as `tf_optimizer` ("dnnlib.tflib.optimizer.SimpleAdam"); same steps as TF's Adam.

    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  t += 1;
    var -= lr * sqrt(1-b2^t) / (1-b1^t) * m / (sqrt(v) + epsilon)
    """

    def __init__(self, name: str = "Adam", learning_rate: TfExpressionEx = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8):
        self.name = name
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.learning_rate = learning_rate
        self._slots = {}  # var -> (m, v, t)
        self.all_state_vars = []  # Every m, v and t, for variables() and reset_optimizer_state().

    def variables(self) -> List[tf.Variable]:
        return self.all_state_vars

    def compute_gradients(self, loss: TfExpression, var_list: List[tf.Variable],
                          gate_gradients=tf.train.Optimizer.GATE_NONE):
        assert gate_gradients == tf.train.Optimizer.GATE_NONE
        return list(zip(tf.gradients(loss, var_list), var_list))

    def apply_gradients(self, grads_and_vars) -> tf.Operation:
        with tf.name_scope(self.name):
            update_ops = []
            for grad, var in grads_and_vars:
                m, v, t = self._get_slots(var)
                t_new = tf.assign_add(t, 1.0)
                m_new = tf.assign(m, self.beta1 * m + (1.0 - self.beta1) * grad)
                v_new = tf.assign(v, self.beta2 * v + (1.0 - self.beta2) * tf.square(grad))
                lr = tf.cast(self.learning_rate, tf.float32) * tf.sqrt(1.0 - tf.pow(self.beta2, t_new)) \
                    / (1.0 - tf.pow(self.beta1, t_new))
                update_ops.append(tf.assign_sub(var, lr * m_new / (tf.sqrt(v_new) + self.epsilon)))
            return tf.group(*update_ops)

    def _get_slots(self, var: tf.Variable):
        """m, v and step count of `var`, created on first use outside any control flow."""
        if var not in self._slots:
            var_name = var.name.split(":")[0]
            with tf.control_dependencies(None), tf.device(var.device), \
                    tfutil.absolute_name_scope(var_name + "/" + self.name):
                m = tf.Variable(tf.zeros(var.shape, dtype=tf.float32), trainable=False, name="m")
                v = tf.Variable(tf.zeros(var.shape, dtype=tf.float32), trainable=False, name="v")
                t = tf.Variable(tf.zeros([], dtype=tf.float32), trainable=False, name="t")
            self._slots[var] = (m, v, t)
            self.all_state_vars += [m, v, t]
        return self._slots[var]
