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


@pytest.mark.parametrize("tf_optimizer,kwargs", [
    ("tf.train.AdamOptimizer", ADAM_KWARGS),
    ("tf.train.GradientDescentOptimizer", {}),
])
def test_gradient_accumulation_equals_one_big_step(tf_optimizer, kwargs):
    rng = np.random.RandomState(2)
    init_values = random_init_values(rng)
    with tf.Graph().as_default():
        x_in = tf.placeholder(tf.float32, [None, 4])
        y_in = tf.placeholder(tf.float32, [None, 1])
        multiplier_in = tf.placeholder(tf.int32, [])
        acc_vars = make_model_vars("Acc", "/cpu:0", init_values)
        acc_opt = Optimizer("TrainAcc", tf_optimizer, learning_rate=0.05, minibatch_multiplier=multiplier_in,
                            **kwargs)
        with tf.device("/cpu:0"):
            acc_opt.register_gradients(model_loss(acc_vars, x_in, y_in), acc_vars)
        acc_train_op = acc_opt.apply_updates()

        big_vars = make_model_vars("Big", "/cpu:0", init_values)
        big_opt = Optimizer("TrainBig", tf_optimizer, learning_rate=0.05, **kwargs)
        with tf.device("/cpu:0"):
            big_opt.register_gradients(model_loss(big_vars, x_in, y_in), big_vars)
        big_train_op = big_opt.apply_updates()

        with make_session(1).as_default():
            tflib.init_uninitialized_vars()
            for _step in range(2):
                x, y = random_batch(rng, 16)
                before = get_values(acc_vars)
                for sub in range(4):
                    rows = slice(sub * 4, sub * 4 + 4)
                    tflib.run(acc_train_op, {x_in: x[rows], y_in: y[rows], multiplier_in: 4})
                    if sub < 3:
                        assert_vars_close(get_values(acc_vars), before, atol=0)  # No step before the 4th run.
                tflib.run(big_train_op, {x_in: x, y_in: y})
                assert_vars_close(get_values(acc_vars), get_values(big_vars), atol=1e-6)
                assert max(np.max(np.abs(get_values(acc_vars)[key] - before[key])) for key in before) > 1e-3


def test_non_finite_gradients_skip_update_and_lower_loss_scale():
    with tf.Graph().as_default():
        x_in = tf.placeholder(tf.float32, [3])
        multiplier_in = tf.placeholder(tf.float32, [])
        w = tf.Variable([1.0, 2.0, 3.0], name="w")
        opt = Optimizer("TrainLS", "tf.train.GradientDescentOptimizer", learning_rate=0.25,
                        minibatch_multiplier=multiplier_in, use_loss_scaling=True,
                        loss_scaling_init=3.0, loss_scaling_inc=0.5, loss_scaling_dec=1.0)
        opt.register_gradients(tf.reduce_sum(w * x_in), [w])  # d loss / d w = x.
        train_op = opt.apply_updates()
        ls_var = opt.get_loss_scaling_var(w.device)
        scaled = opt.apply_loss_scaling(tf.constant(1.5))
        unscaled = opt.undo_loss_scaling(tf.constant(1.5))

        with make_session(1).as_default():
            tflib.init_uninitialized_vars()
            assert tflib.run(ls_var) == 3.0
            np.testing.assert_allclose(tflib.run([scaled, unscaled]), [1.5 * 8, 1.5 / 8], rtol=1e-6)

            tflib.run(train_op, {x_in: [1.0, np.inf, 0.0], multiplier_in: 1})
            np.testing.assert_array_equal(tflib.run(w), [1.0, 2.0, 3.0])
            assert tflib.run(ls_var) == 2.0
            tflib.run(train_op, {x_in: [np.nan, 0.0, 0.0], multiplier_in: 1})
            np.testing.assert_array_equal(tflib.run(w), [1.0, 2.0, 3.0])
            assert tflib.run(ls_var) == 1.0

            tflib.run(train_op, {x_in: [4.0, -8.0, 0.5], multiplier_in: 1})
            np.testing.assert_allclose(tflib.run(w), [1.0 - 1.0, 2.0 + 2.0, 3.0 - 0.125], rtol=1e-6)
            assert tflib.run(ls_var) == 1.5

            # While accumulating, the scale only moves on the run that completes the minibatch.
            tflib.run(train_op, {x_in: [np.inf, 0.0, 0.0], multiplier_in: 2})
            assert tflib.run(ls_var) == 1.5
            tflib.run(train_op, {x_in: [1.0, 1.0, 1.0], multiplier_in: 2})
            assert tflib.run(ls_var) == 0.5
            np.testing.assert_allclose(tflib.run(w), [0.0, 4.0, 2.875], rtol=1e-6)


def test_share_uses_the_same_adam_state():
    lr, beta1, beta2, eps = 0.1, 0.5, 0.99, 1e-8
    with tf.Graph().as_default():
        w = tf.Variable([1.0, -2.0], name="w")
        opt_a = Optimizer("TrainA", learning_rate=lr, beta1=beta1, beta2=beta2, epsilon=eps)
        opt_b = Optimizer("TrainB", learning_rate=lr, share=opt_a, beta1=beta1, beta2=beta2, epsilon=eps)
        opt_a.register_gradients(tf.reduce_sum(w * [3.0, 1.0]), [w])  # grad [3, 1]
        opt_b.register_gradients(tf.reduce_sum(w * [-1.0, 2.0]), [w])  # grad [-1, 2]
        train_a, train_b = opt_a.apply_updates(), opt_b.apply_updates()
        slot_names = [var.name for var in tf.global_variables() if var.name.startswith("w/")]
        assert len(slot_names) == 2  # One m and one v for w, not two of each.

        with make_session(1).as_default():
            tflib.init_uninitialized_vars()
            tflib.run(train_a)
            tflib.run(train_b)
            w_value = tflib.run(w)
            opt_a.reset_optimizer_state()
            assert all(not np.any(value) for value in tflib.run([tf.get_default_graph().get_tensor_by_name(name)
                                                                 for name in slot_names]))

    expected = numpy_adam([1.0, -2.0], [[3.0, 1.0], [-1.0, 2.0]], lr, beta1, beta2, eps)
    np.testing.assert_allclose(w_value, expected, rtol=1e-6)
    unshared = numpy_adam(numpy_adam([1.0, -2.0], [[3.0, 1.0]], lr, beta1, beta2, eps), [[-1.0, 2.0]], lr, beta1, beta2, eps)
    assert np.max(np.abs(expected - unshared)) > 1e-3  # The check above can tell shared from separate state.


def numpy_adam(w, grads, lr, beta1, beta2, eps):
    """Adam steps (Kingma & Ba, epsilon outside the bias correction); `grads`: list, or function of w."""
    w = np.array(w, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    num_steps = len(grads) if isinstance(grads, list) else 4
    for t in range(1, num_steps + 1):
        grad = np.asarray(grads[t - 1] if isinstance(grads, list) else grads(w), dtype=np.float64)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        w = w - lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (np.sqrt(v) + eps)
    return w


@pytest.mark.parametrize("tf_optimizer", ["tf.train.AdamOptimizer", "dnnlib.tflib.optimizer.SimpleAdam", SimpleAdam])
def test_adam_matches_numpy(tf_optimizer):
    rng = np.random.RandomState(3)
    x = rng.normal(size=[16, 3])
    y = rng.normal(size=[16])
    w0 = rng.normal(size=[3])
    lr, beta1, beta2, eps = 0.01, 0.8, 0.95, 1e-6
    with tf.Graph().as_default():
        w = tf.Variable(w0.astype(np.float32), name="w")
        lr_in = tf.placeholder(tf.float32, [])
        opt = Optimizer("TrainNp", tf_optimizer, learning_rate=lr_in, beta1=beta1, beta2=beta2, epsilon=eps)
        residual = tf.reduce_sum(w * x.astype(np.float32), axis=1) - y.astype(np.float32)
        opt.register_gradients(tf.reduce_mean(tf.square(residual)), [w])
        train_op = opt.apply_updates()
        with make_session(1).as_default():
            tflib.init_uninitialized_vars()
            for _step in range(4):
                tflib.run(train_op, {lr_in: lr})
            w_tf = tflib.run(w)
            opt.reset_optimizer_state()
            tflib.run(train_op, {lr_in: lr})  # After a reset the step is a first Adam step again.
            w_after_reset = tflib.run(w)

    mse_grad = lambda w: 2 * x.T @ (x @ w - y) / len(y)  # noqa: E731
    w_np = numpy_adam(w0, mse_grad, lr, beta1, beta2, eps)
    np.testing.assert_allclose(w_tf, w_np, rtol=0, atol=1e-6)
    assert np.max(np.abs(w_np - w0)) > 0.03
    w_np_reset = numpy_adam(w_tf.astype(np.float64), [mse_grad(w_tf.astype(np.float64))], lr, beta1, beta2, eps)
    np.testing.assert_allclose(w_after_reset, w_np_reset, rtol=0, atol=1e-6)


def test_learning_rate_and_overflow_autosummaries():
    with tf.Graph().as_default():
        w = tf.Variable([1.0], name="w")
        x_in = tf.placeholder(tf.float32, [1])
        lr_in = tf.placeholder(tf.float32, [])
        opt = Optimizer("Train/G", "tf.train.GradientDescentOptimizer", learning_rate=lr_in, use_loss_scaling=True)
        opt.register_gradients(tf.reduce_sum(w * x_in), [w])
        train_op = opt.apply_updates()
        names = list(autosummary._get_state().accumulators.keys())  # pylint: disable=protected-access
        assert names == ["Train.G/learning_rate", "Train.G/overflow_frequency", "Train.G/loss_scaling_log2"]
        with make_session(1).as_default():
            tflib.init_uninitialized_vars()
            for lr, x in [(0.5, 1.0), (1.5, np.inf), (1.0, 2.0), (1.0, np.nan)]:
                tflib.run(train_op, {lr_in: lr, x_in: [x]})
            acc = dict(zip(names, tflib.run([autosummary._get_state().accumulators[n] for n in names])))
    np.testing.assert_allclose(acc["Train.G/learning_rate"], [4, 4.0, 0.25 + 2.25 + 1 + 1])
    np.testing.assert_allclose(acc["Train.G/overflow_frequency"], [4, 2, 2])
    # The loss scale is summarized after its update: 64.0005, 63.0005, 63.001, 62.001.
    np.testing.assert_allclose(acc["Train.G/loss_scaling_log2"][:2], [4, 252.003], rtol=1e-6)


def test_clear_errors_and_no_op():
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            w = tf.Variable([1.0, 2.0], name="w")
            w3 = tf.Variable([1.0, 2.0, 3.0], name="w3")
        with tf.device("/cpu:1"):
            loss_cpu1 = tf.reduce_sum(w * 2.0)
        with tf.device("/cpu:0"):
            loss = tf.reduce_sum(w * 2.0)
            loss3 = tf.reduce_sum(w3)

        opt = Optimizer("TrainErr", report_mem_usage=True)  # No GPU here: no memory summary, no error.
        with pytest.raises(ValueError, match="device"):
            opt.register_gradients(loss_cpu1, [w])
        opt.register_gradients(loss, {"w": w})
        with pytest.raises(ValueError, match="same shapes"):
            opt.register_gradients(loss3, [w3])
        opt.apply_updates()
        with pytest.raises(AssertionError, match="apply_updates"):
            opt.apply_updates()

        with pytest.raises(AssertionError, match="learning_rate"):
            Optimizer("TrainShare", learning_rate=0.5, share=opt)
        with pytest.raises(AssertionError, match="kwargs"):
            Optimizer("TrainShare", share=opt, beta1=0.0)
        with pytest.raises(ImportError):
            Optimizer("TrainBad", "tf.train.NoSuchOptimizer")

        assert Optimizer("TrainEmpty").apply_updates(allow_no_op=True).type == "NoOp"
        with pytest.raises(RuntimeError, match="register_gradients"):
            Optimizer("TrainEmpty2").apply_updates()


def test_all_sum_over_two_cpus():
    with tf.Graph().as_default():
        tensors, tensors_times_10 = [], []
        for index in range(2):
            with tf.device("/cpu:%d" % index):
                tensors.append(tf.constant([[1.0, 2.0], [3.0, 4.0]]) * (index + 1.0))
                tensors_times_10.append(tensors[-1] * 10.0)
        sums = all_sum(tensors)
        sums_again = all_sum(tensors_times_10)  # A second collective in the same graph.
        assert [tensor.device for tensor in sums] == ["/device:CPU:0", "/device:CPU:1"]
        with make_session(2).as_default():
            results = tflib.run(sums + sums_again)
    expected = np.array([[3.0, 6.0], [9.0, 12.0]])
    for result, scale in zip(results, [1, 1, 10, 10]):
        np.testing.assert_array_equal(result, expected * scale)
