"""Multi-device training step: gradient averaging, accumulation, loss scaling, skipping non-finite steps.

Usage: create an `Optimizer`, call `register_gradients(loss, vars)` once per loss and device (each tower
has its own copy of the variables on its own device), then `apply_updates()` once, which returns the
training op. Every device applies the same summed gradient to its own copy, so copies that start equal
stay equal.
"""

import itertools
from collections import OrderedDict
from typing import Any, Dict, List, Union

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
        self.name = name
        self.learning_rate = learning_rate
        self.minibatch_multiplier = minibatch_multiplier
        self.id = self.name.replace("/", ".")
        self.scope = tf.get_default_graph().unique_name(self.id)
        self.optimizer_class = util.get_obj_by_name(tf_optimizer) if isinstance(tf_optimizer, str) else tf_optimizer
        self.optimizer_kwargs = dict(kwargs)
        self.use_loss_scaling = use_loss_scaling
        self.loss_scaling_init = loss_scaling_init
        self.loss_scaling_inc = loss_scaling_inc
        self.loss_scaling_dec = loss_scaling_dec
        self.report_mem_usage = report_mem_usage
        self.num_workers = int(num_workers)
        if self.num_workers < 1:
            raise ValueError("Optimizer %r: num_workers must be >= 1, got %r" % (name, num_workers))

        self._updates_applied = False
        self._devices = OrderedDict()  # device name -> per-device state (see _get_device)
        self._grad_shapes = None  # shapes of the registered vars, identical for every call
        self._shared_optimizers = OrderedDict()  # device name -> underlying optimizer

        if share is not None:
            if not isinstance(share, Optimizer):
                raise TypeError("Optimizer %r: share must be an Optimizer, got %r" % (name, type(share)))
            assert self.optimizer_class is share.optimizer_class, "Optimizer %r: share= needs the same tf_optimizer" % name
            assert _same_value(self.learning_rate, share.learning_rate), \
                "Optimizer %r: share= needs the same learning_rate" % name
            assert self.optimizer_kwargs == share.optimizer_kwargs, "Optimizer %r: share= needs the same kwargs" % name
            assert self.num_workers == share.num_workers, "Optimizer %r: share= needs the same num_workers" % name
            self._shared_optimizers = share._shared_optimizers  # pylint: disable=protected-access

    def _get_device(self, device_name: str):
        """Per-device state: underlying optimizer, loss scaling var, gradients."""
        if device_name in self._devices:
            return self._devices[device_name]

        device = util.EasyDict(name=device_name)
        device.index = len(self._devices)
        device.optimizer = None  # underlying optimizer, possibly shared with other Optimizers
        device.loss_scaling_var = None  # log2 of the loss scale
        device.grad_raw = OrderedDict()  # var -> [grad of each registration]
        device.grad_clean = OrderedDict()  # var -> averaged, fp32, unscaled, summed over devices
        device.grad_acc_vars = OrderedDict()  # var -> accumulator var
        device.grad_acc_count = None  # number of accumulated runs
        device.grad_acc = OrderedDict()  # var -> accumulated gradient including this run

        if device_name not in self._shared_optimizers:
            optimizer_name = self.scope.replace("/", "_") + "_opt%d" % len(self._shared_optimizers)
            self._shared_optimizers[device_name] = self.optimizer_class(
                name=optimizer_name, learning_rate=self.learning_rate, **self.optimizer_kwargs)
        device.optimizer = self._shared_optimizers[device_name]

        if self.use_loss_scaling:
            with tfutil.absolute_name_scope(self.scope + "/Device%d" % device.index), \
                    tf.device(device_name), tf.control_dependencies(None):
                device.loss_scaling_var = tf.Variable(np.float32(self.loss_scaling_init), trainable=False,
                                                      name="loss_scaling_var")

        self._devices[device_name] = device
        return device

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
        all_ops = []

        if allow_no_op and not self._devices:
            with tfutil.absolute_name_scope(self.scope):
                return tf.no_op(name="TrainingOp")
        if not self._devices:
            raise RuntimeError("Optimizer %r: apply_updates() without register_gradients() "
                               "(pass allow_no_op=True to allow it)" % self.name)

        # Average the registrations, cast to fp32, undo loss scaling, per device.
        for device in self._devices.values():
            with tfutil.absolute_name_scope(self.scope + "/ProcessGrads%d" % device.index), tf.device(device.name):
                for var, grads in device.grad_raw.items():
                    real_grads = [tf.cast(grad, tf.float32) for grad in grads if grad is not None]
                    if not real_grads:
                        grad = tf.zeros(var.shape, dtype=tf.float32)
                    elif len(real_grads) == 1:
                        grad = real_grads[0]
                    else:
                        grad = tf.add_n(real_grads)
                    scale = tf.constant(1.0 / len(grads) / len(self._devices) / self.num_workers, dtype=tf.float32)
                    if self.minibatch_multiplier is not None:
                        scale /= tf.cast(self.minibatch_multiplier, tf.float32)
                    if self.use_loss_scaling:
                        scale *= tfutil.exp2(-device.loss_scaling_var)
                    device.grad_clean[var] = grad * scale

        # Sum across devices (and workers).
        if len(self._devices) > 1 or self.num_workers > 1:
            with tfutil.absolute_name_scope(self.scope + "/SumAcrossDevices"):
                devices = list(self._devices.values())
                summed = _sum_grads_across_devices([list(device.grad_clean.values()) for device in devices],
                                                   self.num_workers)
                for device, grads in zip(devices, summed):
                    device.grad_clean = OrderedDict(zip(device.grad_clean.keys(), grads))

        # Per device: accumulate, then apply when the accumulation is complete and all grads are finite.
        for device in self._devices.values():
            with tfutil.absolute_name_scope(self.scope + "/ApplyGrads%d" % device.index), tf.device(device.name):
                if self.minibatch_multiplier is None:
                    acc_ok = tf.constant(True, name="acc_ok")
                    device.grad_acc = OrderedDict(device.grad_clean)
                else:
                    acc_ok = self._accumulate_gradients(device, all_ops)

                grads_finite = [tf.reduce_all(tf.is_finite(grad)) for grad in device.grad_acc.values()]
                all_ok = tf.reduce_all(tf.stack([acc_ok] + grads_finite), name="all_ok")
                grads_and_vars = [(tf.cast(grad, var.dtype.base_dtype), var) for var, grad in device.grad_acc.items()]
                apply_op = lambda grads_and_vars=grads_and_vars, device=device: tf.group(  # noqa: E731
                    device.optimizer.apply_gradients(grads_and_vars))
                all_ops.append(tf.cond(all_ok, apply_op, tf.no_op))

                ls_update_op = tf.no_op()
                if self.use_loss_scaling:
                    ls_var = device.loss_scaling_var
                    ls_inc = lambda ls_var=ls_var: tf.group(tf.assign_add(ls_var, self.loss_scaling_inc))  # noqa: E731
                    ls_dec = lambda ls_var=ls_var: tf.group(tf.assign_sub(ls_var, self.loss_scaling_dec))  # noqa: E731
                    ls_update = lambda all_ok=all_ok, ls_inc=ls_inc, ls_dec=ls_dec: tf.group(  # noqa: E731
                        tf.cond(all_ok, ls_inc, ls_dec))
                    ls_update_op = tf.cond(acc_ok, ls_update, tf.no_op)
                    all_ops.append(ls_update_op)

                if device.index == len(self._devices) - 1:
                    learning_rate = tf.cast(self.learning_rate, tf.float32)
                    all_ops.append(autosummary.autosummary(self.id + "/learning_rate", learning_rate))
                    overflow = tf.cast(tf.logical_not(all_ok), tf.float32)
                    all_ops.append(autosummary.autosummary(self.id + "/overflow_frequency", overflow,
                                                           condition=acc_ok))
                    if self.use_loss_scaling:
                        with tf.control_dependencies([ls_update_op]):  # Report the updated scale.
                            all_ops.append(autosummary.autosummary(self.id + "/loss_scaling_log2",
                                                                   tf.identity(device.loss_scaling_var)))

        with tfutil.absolute_name_scope(self.scope):
            return tf.group(*all_ops, name="TrainingOp")

    def _accumulate_gradients(self, device, all_ops: list) -> TfExpression:
        """Add this run's gradients to the accumulators; returns whether this run completes the minibatch.

        Sets `device.grad_acc` to the accumulated gradients including this run; the accumulators and the
        counter go back to zero on the completing run.
        """
        with tf.control_dependencies(None):
            for index, var in enumerate(device.grad_clean.keys()):
                device.grad_acc_vars[var] = tf.Variable(tf.zeros(var.shape, dtype=tf.float32), trainable=False,
                                                        name="grad_acc_var%d" % index)
            device.grad_acc_count = tf.Variable(tf.zeros([], dtype=tf.float32), trainable=False,
                                                name="grad_acc_count")

        count_cur = device.grad_acc_count + 1.0
        acc_ok = tf.greater_equal(count_cur, tf.cast(self.minibatch_multiplier, tf.float32), name="acc_ok")
        count_inc = lambda: tf.group(tf.assign(device.grad_acc_count, count_cur))  # noqa: E731
        count_reset = lambda: tf.group(tf.assign(device.grad_acc_count, tf.zeros([])))  # noqa: E731
        all_ops.append(tf.cond(acc_ok, count_reset, count_inc))

        for var, grad in device.grad_clean.items():
            acc_var = device.grad_acc_vars[var]
            acc_cur = acc_var + grad
            device.grad_acc[var] = acc_cur
            with tf.control_dependencies([acc_cur]):  # Read the old value before writing.
                acc_inc = lambda acc_var=acc_var, acc_cur=acc_cur: tf.group(tf.assign(acc_var, acc_cur))  # noqa: E731
                acc_reset = lambda acc_var=acc_var: tf.group(tf.assign(acc_var, tf.zeros_like(acc_var)))  # noqa: E731
                all_ops.append(tf.cond(acc_ok, acc_reset, acc_inc))
        return acc_ok

    def reset_optimizer_state(self) -> None:
        """Re-initialize the state of the underlying optimizers (e.g. Adam moments) on all devices."""
        tfutil.assert_tf_initialized()
        tfutil.run([var.initializer for device in self._devices.values() for var in device.optimizer.variables()])

    def get_loss_scaling_var(self, device: str) -> Union[tf.Variable, None]:
        """The log2 loss scale variable of `device` (a device name), None without loss scaling."""
        return self._get_device(device).loss_scaling_var

    def apply_loss_scaling(self, value: TfExpression) -> TfExpression:
        """`value * 2**s` with the scale of `value`'s device (identity without loss scaling)."""
        assert tfutil.is_tf_expression(value)
        if not self.use_loss_scaling:
            return value
        return value * tfutil.exp2(self.get_loss_scaling_var(value.device))

    def undo_loss_scaling(self, value: TfExpression) -> TfExpression:
        """`value * 2**-s` with the scale of `value`'s device (identity without loss scaling)."""
        assert tfutil.is_tf_expression(value)
        if not self.use_loss_scaling:
            return value
        return value * tfutil.exp2(-self.get_loss_scaling_var(value.device))


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
    if not tf.config.experimental.list_physical_devices("GPU"):
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
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.all_state_vars = []
        self._slots = {}  # var -> (m, v, t)

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
