"""tfutil: sessions and seeds, variable helpers, image conversion."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from conftest import REPO_DIR


def _run_python(code):
    """Run `code` in a fresh interpreter (init_tf changes process-wide state); returns stdout."""
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_init_tf_seeds_soft_placement_and_v1_graph_mode():
    out = _run_python("""
        import numpy as np
        import dnnlib.tflib as tflib
        import tensorflow.compat.v1 as tf
        assert not tf.executing_eagerly()
        tflib.init_tf({"rnd.np_random_seed": 123, "rnd.tf_random_seed": "auto"})
        expected_tf_seed = np.random.RandomState(123).randint(1 << 31)
        session = tf.get_default_session()
        assert session is not None and session.graph is tf.get_default_graph()
        assert tf.get_default_graph().seed == expected_tf_seed, tf.get_default_graph().seed
        tflib.init_tf({"rnd.np_random_seed": 999})  # A second call keeps the existing session.
        assert tf.get_default_session() is session
        # Soft placement: a /gpu:1 pin runs on the CPU of a machine without GPUs.
        with tf.device("/gpu:1"):
            y = tf.constant([1.0, 2.0]) * 3
        print([float(v) for v in tflib.run(y)])
        # The default session survives leaving any scope; tfutil.run uses it.
        print(tf.Variable(1.0).shape.dims[0:0] == [], session._config.allow_soft_placement,
              session._config.gpu_options.allow_growth, session._config.graph_options.place_pruned_graph)
        # Dimension objects of the v1 TensorShape, as the network code expects.
        print(tf.placeholder(tf.float32, [None, 3]).shape[1].value)
        # reset_tf: a new graph and a new default session.
        old_graph = tf.get_default_graph()
        new_session = tflib.reset_tf({"rnd.tf_random_seed": 5})
        assert tf.get_default_graph() is not old_graph and tf.get_default_session() is new_session
        assert tf.get_default_graph().seed == 5
        print("ok")
    """)
    assert out.split("\n")[:4] == ["[3.0, 6.0]", "True True True True", "3", "ok"]


def test_init_tf_sets_env_only_if_unset():
    out = _run_python("""
        import os
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        os.environ["MY_TEST_VAR"] = "keep"
        import dnnlib.tflib as tflib
        tflib.init_tf({"env.MY_TEST_VAR": "replace", "env.OTHER_TEST_VAR": 7})
        print(os.environ["TF_CPP_MIN_LOG_LEVEL"], os.environ["MY_TEST_VAR"], os.environ["OTHER_TEST_VAR"])
    """)
    assert out.strip() == "1 keep 7"


def test_create_session_sets_map_fields_of_the_config():
    with tf.Graph().as_default():
        session = tflib.create_session({"device_count.CPU": 2, "intra_op_parallelism_threads": 1})
        assert session._config.device_count["CPU"] == 2 and session._config.intra_op_parallelism_threads == 1
        devices = [device.name for device in session.list_devices()]
        assert any(name.endswith("/device:CPU:1") for name in devices), devices
        session.close()


def test_assert_tf_initialized_without_session():
    with tf.Graph().as_default():
        assert tf.get_default_session() is None
        with pytest.raises(RuntimeError, match="init_tf"):
            tflib.assert_tf_initialized()


def test_set_vars_reuses_setter_and_init_uninitialized_vars(sess):
    a = tf.get_variable("a", [2, 3], initializer=tf.initializers.ones())
    b = tf.get_variable("b", [], initializer=tf.initializers.constant(4.0))
    tflib.init_uninitialized_vars()
    tflib.set_vars({a: np.arange(6).reshape(2, 3), b: -1.5})
    np.testing.assert_array_equal(sess.run(a), np.arange(6).reshape(2, 3))
    assert sess.run(b) == -1.5
    num_ops = len(tf.get_default_graph().get_operations())
    tflib.set_vars({a: np.zeros([2, 3])})
    assert len(tf.get_default_graph().get_operations()) == num_ops  # The setter was reused.
    np.testing.assert_array_equal(sess.run(a), np.zeros([2, 3]))

    c = tf.get_variable("c", [], initializer=tf.initializers.constant(2.0))
    tflib.init_uninitialized_vars([a, c])  # Initialises c, leaves a's value alone.
    assert sess.run(c) == 2.0
    np.testing.assert_array_equal(sess.run(a), np.zeros([2, 3]))

    big = np.random.RandomState(0).randn(300, 400).astype(np.float32)
    var = tflib.create_var_with_large_initial_value(big, name="big")
    np.testing.assert_array_equal(sess.run(var), big)
    graph_bytes = tf.get_default_graph().as_graph_def().ByteSize()
    assert graph_bytes < big.nbytes // 10  # The value was fed, not baked into the graph.


def test_math_helpers(sess):
    x = tf.constant([1.0, 8.0, 0.5])
    np.testing.assert_allclose(sess.run(tflib.log2(x)), [0.0, 3.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(sess.run(tflib.exp2(x)), [2.0, 256.0, np.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(sess.run(tflib.lerp(x, 2 * x, 0.25)), [1.25, 10.0, 0.625], rtol=1e-6)
    np.testing.assert_allclose(sess.run(tflib.lerp_clip(x, 2 * x, 3.0)), [2.0, 16.0, 1.0], rtol=1e-6)
    assert tflib.lerp(1.0, 3.0, 0.5) == 2.0  # Plain numbers too.
    assert sess.run(tflib.flatten(tf.ones([2, 3, 4]))).shape == (24,)
    assert tflib.shape_to_list(tf.placeholder(tf.float32, [None, 3, 4]).shape) == [None, 3, 4]
    assert tflib.is_tf_expression(x) and not tflib.is_tf_expression(np.ones(2))
    with tflib.absolute_name_scope("Outer"):
        with tflib.absolute_name_scope("Abs"):
            assert tf.constant(0.0, name="c").name == "Abs/c:0"
    with tf.variable_scope("V1"):
        with tflib.absolute_variable_scope("V2"):
            assert tf.get_variable("w", []).name == "V2/w:0"


def test_convert_images_to_and_from_uint8(sess):
    # Round half up, then clamp: s = 255/2, offset 0.5 + 127.5.
    images = np.array([-1.5, -1.0, -1 + 0.5 / 127.5, -1 + 0.49 / 127.5, 0.0, 1.0, 2.0], np.float32).reshape(1, 1, 1, 7)
    expected = np.array([0, 0, 1, 0, 128, 255, 255], np.uint8).reshape(1, 1, 1, 7)
    np.testing.assert_array_equal(sess.run(tflib.convert_images_to_uint8(images)), expected)
    np.testing.assert_array_equal(sess.run(tflib.convert_images_to_uint8(images * 5 + 5, drange=[0, 10])), expected)

    rnd = np.random.RandomState(1)
    nchw = rnd.uniform(-1, 1, [2, 3, 4, 6]).astype(np.float32)
    nhwc = sess.run(tflib.convert_images_to_uint8(nchw, nchw_to_nhwc=True))
    assert nhwc.shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(nhwc, np.floor(nchw.transpose(0, 2, 3, 1) * 127.5 + 128).astype(np.uint8))
    # shrink: 2x2 average pooling first.
    pooled = nchw.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    shrunk = sess.run(tflib.convert_images_to_uint8(nchw, shrink=2))
    np.testing.assert_array_equal(shrunk, np.floor(pooled * 127.5 + 128).astype(np.uint8))
    shrunk_nhwc = sess.run(tflib.convert_images_to_uint8(nchw, shrink=2, nchw_to_nhwc=True))
    np.testing.assert_array_equal(shrunk_nhwc, shrunk.transpose(0, 2, 3, 1))

    as_uint8 = rnd.randint(0, 256, [2, 4, 6, 3]).astype(np.uint8)
    floats = sess.run(tflib.convert_images_from_uint8(as_uint8, nhwc_to_nchw=True))
    np.testing.assert_allclose(floats, as_uint8.transpose(0, 3, 1, 2) / 127.5 - 1, atol=1e-6)
    back = sess.run(tflib.convert_images_to_uint8(floats))
    np.testing.assert_array_equal(back, as_uint8.transpose(0, 3, 1, 2))
