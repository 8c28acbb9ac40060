"""Standalone reproduction, with plain TensorFlow only, of a wrong result of oneDNN's CPU convolution.

A single-channel 'VALID' `tf.nn.conv2d` with stride 1 along y, a stride above 1 along x and a single
output column returns wrong values for every output row but the first when TensorFlow's oneDNN
optimisations are on (TF 2.21, 2-core AMD EPYC with AVX-512; the default on such CPUs). With
TF_ENABLE_ONEDNN_OPTS=0 the same graph is right. For a report upstream:

    python benchmarks/onednn_conv_stride_repro.py                          # oneDNN as TF defaults it
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/onednn_conv_stride_repro.py  # oneDNN off

It prints each case with TensorFlow's and NumPy's results and exits 1 if any differ.
`dnnlib/tflib/ops/upfirdn_2d.py` works around it (`_drop_strides_of_single_outputs`).
Graph mode only: eager `tf.nn.conv2d` returned the right values here.
"""

import itertools
import os
import sys

import numpy as np
import tensorflow as tf


def numpy_conv2d_valid(x, w, stride_y, stride_x):
    """[N, H, W, C] correlated with w [kh, kw, C, O], 'VALID', the given strides: [N, outH, outW, O]."""
    kernel_h, kernel_w = w.shape[:2]
    out_h = (x.shape[1] - kernel_h) // stride_y + 1
    out_w = (x.shape[2] - kernel_w) // stride_x + 1
    out = np.zeros([x.shape[0], out_h, out_w, w.shape[3]])
    for i, j in itertools.product(range(out_h), range(out_w)):
        window = x[:, i * stride_y: i * stride_y + kernel_h, j * stride_x: j * stride_x + kernel_w, :]
        out[:, i, j, :] = np.einsum("nhwc,hwco->no", window, w)
    return out


def run_conv2d_in_graph(x, w, stride_y, stride_x):
    """tf.nn.conv2d in a TF1-style graph and session (eager execution takes another kernel path)."""
    with tf.Graph().as_default():
        x_in = tf.compat.v1.placeholder(tf.float32, x.shape)
        y = tf.nn.conv2d(x_in, tf.constant(w), strides=[1, stride_y, stride_x, 1], padding="VALID")
        with tf.compat.v1.Session() as session:
            return session.run(y, {x_in: x})


def main():
    print("TensorFlow %s, TF_ENABLE_ONEDNN_OPTS=%s" % (tf.__version__, os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset)")))
    rng = np.random.RandomState(0)
    # (input H, W, kernel h, w, stride y, x): one output column each, then two controls.
    cases = [(5, 5, 4, 5, 1, 3), (3, 3, 1, 3, 1, 2), (8, 5, 2, 5, 1, 2), (5, 5, 4, 5, 1, 1), (5, 5, 4, 5, 3, 3)]
    failures = 0
    for height, width, kernel_h, kernel_w, stride_y, stride_x in cases:
        x = rng.randn(1, height, width, 1).astype(np.float32)
        w = rng.randn(kernel_h, kernel_w, 1, 1).astype(np.float32)
        got = run_conv2d_in_graph(x, w, stride_y, stride_x)
        want = numpy_conv2d_valid(x.astype(np.float64), w.astype(np.float64), stride_y, stride_x)
        ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-4)
        failures += not ok
        print("x %dx%d, kernel %dx%d, strides (%d, %d): %s\n    tensorflow %s\n    numpy      %s"
              % (height, width, kernel_h, kernel_w, stride_y, stride_x, "ok" if ok else "WRONG",
                 np.round(got.ravel(), 5), np.round(want.ravel(), 5)))
    print("%d of %d cases wrong" % (failures, len(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
