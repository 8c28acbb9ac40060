"""dnnlib.tflib.precision: bfloat16 convolutions and matrix products, off by default.

Where this TensorFlow build can run them (TF 2.x with oneDNN): the ops really run in bfloat16, gradients
reach the float32 variables, and the official reference generators' images stay within the tolerance the
README states (mean |difference| <= 1.5% and max <= 8% of the reference images' standard deviation).
Elsewhere (TF 1.15's CPU kernels): switching it on fails with a one-line reason and changes nothing.
"""

import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import precision
from conftest import REPO_DIR, make_session
from reference_nets import build_ada_reference_networks, build_reference_networks

MEAN_TOLERANCE = 0.015  # of the reference images' std
MAX_TOLERANCE = 0.08


@pytest.fixture(autouse=True)
def bfloat16_off(monkeypatch):
    monkeypatch.setenv(precision.ENV_VAR, "0")


def skip_without_bfloat16():
    if not precision.bfloat16_supported():
        pytest.skip("this TensorFlow build has no bfloat16 convolutions on this machine")


def conv_and_matmul(x_value, w_value):
    """A convolution and a matrix product through precision.compute: (outputs, gradients, op dtypes)."""
    x = tf.constant(x_value)
    w = tf.Variable(w_value)
    conv = precision.compute(tf.nn.conv2d, x, w, strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC")
    product = precision.compute(tf.matmul, tf.reshape(conv, [-1, 4]), tf.reshape(w, [-1, 4])[:4])
    grad = tf.gradients(tf.reduce_sum(tf.square(product)), [w])[0]
    dtypes = {op.type: op.get_attr("T") for op in tf.get_default_graph().get_operations()
              if op.type in ("Conv2D", "MatMul")}
    tflib.init_uninitialized_vars()
    return tflib.run([conv, product, grad]), dtypes


def test_off_by_default_is_float32_exactly():
    rnd = np.random.RandomState(0)
    x_value, w_value = rnd.randn(2, 5, 5, 4).astype(np.float32), rnd.randn(3, 3, 4, 4).astype(np.float32)
    assert not precision.bfloat16_enabled()
    with tf.Graph().as_default(), make_session(1).as_default():
        (conv, _, _), dtypes = conv_and_matmul(x_value, w_value)
        want = tflib.run(tf.nn.conv2d(x_value, w_value, strides=[1, 1, 1, 1], padding="SAME"))
    assert dtypes == {"Conv2D": tf.float32, "MatMul": tf.float32}
    np.testing.assert_array_equal(conv, want)


def test_bfloat16_ops_outputs_and_gradients():
    skip_without_bfloat16()
    rnd = np.random.RandomState(1)
    x_value, w_value = rnd.randn(2, 5, 5, 4).astype(np.float32), rnd.randn(3, 3, 4, 4).astype(np.float32)
    results = {}
    for enabled in [False, True]:
        precision.set_bfloat16(enabled)
        with tf.Graph().as_default(), make_session(1).as_default():
            results[enabled], dtypes = conv_and_matmul(x_value, w_value)
        want_dtype = tf.bfloat16 if enabled else tf.float32
        assert dtypes == {"Conv2D": want_dtype, "MatMul": want_dtype}
    for name, exact, rounded in zip(["conv", "matmul", "gradient"], results[False], results[True]):
        assert rounded.dtype == np.float32, name
        assert not np.array_equal(exact, rounded), name  # It really ran in bfloat16...
        relative = np.abs(rounded - exact).max() / np.abs(exact).max()
        assert relative < 0.03, "%s: %.4f" % (name, relative)  # ...with bfloat16's 8-bit mantissa.


@pytest.mark.parametrize("folder", ["tiny-Gskip-Dresnet", "ada-uncond32"])
def test_reference_generators_within_tolerance(reference, folder):
    skip_without_bfloat16()
    precision.set_bfloat16(True)
    tflib.reset_tf()
    if folder.startswith("ada"):
        _, _, Gs = build_ada_reference_networks(reference, folder)
        want = np.load(os.path.join(reference, folder, "gen_psi1.npy"))
    else:
        _, _, Gs = build_reference_networks(reference, folder)
        want = np.load(os.path.join(reference, folder, "pklnoise_psi1.npy"))
    z = np.load(os.path.join(reference, folder, "z.npy"))
    got = Gs.run(z, np.zeros([len(z), 0], np.float32), randomize_noise=False, truncation_psi=1.0)
    relative = np.abs(got - want) / want.std()
    assert 0 < relative.mean() <= MEAN_TOLERANCE and relative.max() <= MAX_TOLERANCE, \
        "mean %.4f, max %.4f" % (relative.mean(), relative.max())


def test_unsupported_build_fails_with_one_line_and_changes_nothing(monkeypatch):
    monkeypatch.setattr(precision, "_supported_cache", [False])
    with pytest.raises(RuntimeError, match="bfloat16: this TensorFlow build cannot run") as error:
        precision.set_bfloat16(True)
    assert "\n" not in str(error.value)
    assert not precision.bfloat16_enabled() and os.environ[precision.ENV_VAR] == "0"


def _generator_pngs(args, result_dir):
    """run_generator.py generate-images in a subprocess with `args`: {file name: uint8 image}."""
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.join(REPO_DIR, "run_generator.py"), "generate-images", "--seeds=0-1",
               "--class=3", "--truncation-psi=1", "--result-dir=" + str(result_dir)] + args
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = os.path.join(str(result_dir), os.listdir(str(result_dir))[0])
    return {name: np.asarray(PIL.Image.open(os.path.join(run_dir, name))).astype(np.int32)
            for name in sorted(os.listdir(run_dir)) if name.endswith(".png")}


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_run_generator_bfloat16_flag_on_the_default_network(tmp_path):
    skip_without_bfloat16()
    exact = _generator_pngs([], tmp_path / "float32")
    rounded = _generator_pngs(["--bfloat16"], tmp_path / "bfloat16")
    assert sorted(exact) == sorted(rounded) == ["seed0000.png", "seed0001.png"]
    diffs = np.stack([np.abs(exact[name] - rounded[name]) for name in exact])
    # The shipped network's images, in uint8 levels: mostly equal, a few levels apart at most.
    assert 0 < diffs.mean() <= 1.0 and diffs.max() <= 24, (diffs.mean(), diffs.max())


def test_run_generator_bfloat16_where_unsupported_is_a_one_line_error_without_run_dir(tmp_path, capsys, monkeypatch):
    import run_generator
    monkeypatch.setattr(precision, "_supported_cache", [False])
    result_dir = tmp_path / "results"
    assert run_generator.main(["generate-images", "--seeds=0", "--bfloat16", "--result-dir=" + str(result_dir)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "bfloat16: this TensorFlow build cannot run" in errors[0], errors
    assert not result_dir.exists()
