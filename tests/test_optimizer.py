"""dnnlib.tflib.optimizer: multi-device sums, gradient accumulation, loss scaling, shared state, Adam numbers."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import autosummary
from dnnlib.tflib.optimizer import Optimizer, SimpleAdam, all_sum
from conftest import make_session

ADAM_KWARGS = dict(beta1=0.5, beta2=0.99, epsilon=1e-8)


def make_model_vars(name, device, init_values):
    """Variables of a small MLP (`W1 [4, 8]`, `b1 [8]`, `W2 [8, 1]`) on `device`, as a name -> var dict."""
    with tf.device(device), tf.name_scope(name + "/"):
        return {key: tf.Variable(value, name=key) for key, value in init_values.items()}


def model_loss(model_vars, x, y):
    """Mean squared error of `tanh(x W1 + b1) W2` against `y`; x: [N, 4], y: [N, 1]."""
    hidden = tf.tanh(tf.matmul(x, model_vars["W1"]) + model_vars["b1"])
    return tf.reduce_mean(tf.square(tf.matmul(hidden, model_vars["W2"]) - y))


def random_init_values(rng):
    return {"W1": rng.normal(size=[4, 8]).astype(np.float32),
            "b1": rng.normal(size=[8]).astype(np.float32) * 0.1,
            "W2": rng.normal(size=[8, 1]).astype(np.float32)}


def random_batch(rng, n):
    return rng.normal(size=[n, 4]).astype(np.float32), rng.normal(size=[n, 1]).astype(np.float32)


def get_values(model_vars):
    return {key: value for key, value in zip(model_vars.keys(), tflib.run(list(model_vars.values())))}


def assert_vars_close(a, b, atol):
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("tf_optimizer,kwargs", [
    ("tf.train.AdamOptimizer", ADAM_KWARGS),
    ("tf.train.GradientDescentOptimizer", {}),
])
def test_two_towers_equal_one_tower_on_whole_batch(tf_optimizer, kwargs):
    rng = np.random.RandomState(1)
    init_values = random_init_values(rng)
    with tf.Graph().as_default():
        x_in = tf.placeholder(tf.float32, [8, 4])
        y_in = tf.placeholder(tf.float32, [8, 1])
        towers = [make_model_vars("Tower", "/cpu:0", init_values),
                  make_model_vars("Tower_shadow", "/cpu:1", init_values)]
        opt = Optimizer("TrainTowers", tf_optimizer, learning_rate=0.05, **kwargs)
        for index, tower_vars in enumerate(towers):
            with tf.device("/cpu:%d" % index):
                half = slice(index * 4, index * 4 + 4)
                opt.register_gradients(model_loss(tower_vars, x_in[half], y_in[half]), tower_vars)
        train_op = opt.apply_updates()

        single = make_model_vars("Single", "/cpu:0", init_values)
        single_opt = Optimizer("TrainSingle", tf_optimizer, learning_rate=0.05, **kwargs)
        with tf.device("/cpu:0"):
            single_opt.register_gradients(model_loss(single, x_in, y_in), single)
        single_train_op = single_opt.apply_updates()

        op_types = {op.type for op in tf.get_default_graph().get_operations()}
        assert any(op_type.startswith("CollectiveReduce") for op_type in op_types)
        assert not any("Nccl" in op_type for op_type in op_types)

        with make_session(2).as_default():
            tflib.init_uninitialized_vars()
            for _step in range(3):
                x, y = random_batch(rng, 8)
                tflib.run(train_op, {x_in: x, y_in: y})
                tflib.run(single_train_op, {x_in: x, y_in: y})
            tower0, tower1, single_values = get_values(towers[0]), get_values(towers[1]), get_values(single)
    assert_vars_close(tower0, tower1, atol=0)
    assert_vars_close(tower0, single_values, atol=1e-6)
    assert max(np.max(np.abs(tower0[key] - init_values[key])) for key in init_values) > 1e-3  # It did train.
