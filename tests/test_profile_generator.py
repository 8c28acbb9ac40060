"""benchmarks/profile_generator.py: the floating-point work it counts for each kind of convolution, and one
real profile of a small generator."""

import importlib.util
import os
import re
import subprocess
import sys

import tensorflow.compat.v1 as tf

from conftest import REPO_DIR

BENCHMARKS_DIR = os.path.join(REPO_DIR, "benchmarks")


def load_profile_generator():
    sys.path.insert(0, BENCHMARKS_DIR)
    try:
        spec = importlib.util.spec_from_file_location("profile_generator",
                                                      os.path.join(BENCHMARKS_DIR, "profile_generator.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCHMARKS_DIR)
    return module


def test_conv_flops_counts_two_per_multiply_add(sess):
    profile_generator = load_profile_generator()
    images = tf.placeholder(tf.float32, [None, 8, 8, 3])
    conv = tf.nn.conv2d(images, tf.zeros([3, 3, 3, 5]), strides=[1, 1, 1, 1], padding="SAME")
    transposed = tf.nn.conv2d_transpose(conv, tf.zeros([3, 3, 4, 5]), output_shape=[2, 17, 17, 4],
                                        strides=[1, 2, 2, 1], padding="VALID")
    depthwise = tf.nn.depthwise_conv2d(transposed, tf.zeros([4, 4, 4, 1]), strides=[1, 1, 1, 1], padding="VALID")
    # Batch 2 (unknown in the graph, so taken from the argument); every output value of the 3x3 convolution
    # is 27 multiply-adds; every value of the transposed one's 8x8x5 input meets 3x3x4 output taps; every
    # output value of the depthwise one, 14x14x4 of them, is 16 multiply-adds.
    assert profile_generator.conv_flops(conv.op, 2) == 2 * 2 * (8 * 8 * 5) * (3 * 3 * 3)
    assert profile_generator.conv_flops(transposed.op, 2) == 2 * 2 * (8 * 8 * 5) * (3 * 3 * 4)
    assert profile_generator.conv_flops(depthwise.op, 2) == 2 * 2 * (14 * 14 * 4) * (4 * 4)
    unknown = tf.nn.conv2d(tf.placeholder(tf.float32, [None, None, None, 3]), tf.zeros([3, 3, 3, 5]),
                           strides=[1, 1, 1, 1], padding="SAME")
    assert profile_generator.conv_flops(unknown.op, 2) is None


def test_profile_of_a_small_generator():
    result = subprocess.run([sys.executable, os.path.join(BENCHMARKS_DIR, "profile_generator.py"),
                             "--resolution", "16", "--fmap-base", "256", "--fmap-max", "64", "--batch", "2",
                             "--runs", "2", "--top", "40"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"traced: 2 Gs\.run calls, [0-9.]+ s wall per batch", out), out
    # The 3x3 convolutions of a 16x16 G with 64, 64 and 32 feature maps at 4, 8 and 16 (batch 2):
    # 4x4/Conv, 8x8/Conv1, 16x16/Conv1 and the two transposed ones of 8x8/Conv0_up and 16x16/Conv0_up.
    three_by_three = 2 * 2 * 9 * (16 * 64 * 64 + 64 * 64 * 64 + 256 * 32 * 32 + 16 * 64 * 64 + 64 * 64 * 32)
    total_gflop = float(re.search(r"convolutions: ([0-9.]+) GFLOP per batch", out).group(1))
    assert three_by_three / 1e9 - 0.0005 <= total_gflop < 1.2 * three_by_three / 1e9, out
    node_rows = [line.split() for line in out.splitlines() if "/G_synthesis/" in line]
    rows = {row[-1]: row for row in node_rows}
    # Once each: the 5 above, 3 ToRGB, the blurs after the 2 transposed ones, the 2 upsamplings of the RGB skips.
    assert len(rows) == len(node_rows) == 12, out
    assert abs(float(rows["Gs/_Run/Gs/G_synthesis/16x16/Conv1/Conv2D"][1]) - 2 * 2 * 256 * 32 * 32 * 9 / 1e9) <= 0.0005
    assert rows["Gs/_Run/Gs/G_synthesis/8x8/Conv0_up/conv2d_transpose"][3] == "Conv2DBackpropInput"
