"""Check the custom ops on this machine: which implementation is used, and whether it computes right.

Usage: python check_ops.py [--impl auto|ref|cuda] [--seed 0] [--sweep N [--onednn both|current]]

Builds the CUDA plugins when a GPU and nvcc are there (else says why the reference TF implementation
is used), then compares `fused_bias_act`, `upsample_2d`, `downsample_2d`, `upsample_conv_2d` and
`conv_downsample_2d` against a direct NumPy/SciPy computation of their definitions, and the CUDA
implementation against the reference one when both are available. Exits with status 1 on a mismatch.

`--sweep N` then also checks N random configurations of `upfirdn_2d` (value and gradient) and N of
`upsample_conv_2d` and of `conv_downsample_2d` (in both data layouts) against NumPy; with
`--onednn both` (the default for a sweep) it runs the sweep twice in subprocesses, with TensorFlow's
oneDNN optimisations on and off (TF_ENABLE_ONEDNN_OPTS is read when TensorFlow is imported).
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import scipy.signal

import dnnlib.tflib as tflib
import tensorflow.compat.v1 as tf
from dnnlib.tflib import custom_ops
from dnnlib.tflib.ops import fused_bias_act as fba_module
from dnnlib.tflib.ops import upfirdn_2d as upfirdn_module
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act
from dnnlib.tflib.ops.upfirdn_2d import conv_downsample_2d, downsample_2d, upsample_2d, upsample_conv_2d

FIR_1331 = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float64) / 64.0


def numpy_lrelu_bias(x, b):
    """[N, C, H, W] + b[C] -> leaky ReLU (0.2) times sqrt(2)."""
    y = x + b.reshape(1, -1, 1, 1)
    return np.where(y >= 0, y, 0.2 * y) * np.sqrt(2)


def numpy_fir(image, kernel, up, down, pad0, pad1):
    """One [H, W] image: zero-insert upsample, pad, true 2-D convolution, keep every `down`-th pixel."""
    h, w = image.shape
    upsampled = np.zeros([h * up, w * up])
    upsampled[::up, ::up] = image
    padded = np.pad(upsampled, [(pad0, pad1), (pad0, pad1)])
    return scipy.signal.convolve2d(padded, kernel, mode="valid")[::down, ::down]


def numpy_conv_same(x, w):
    """[N, Cin, H, W] correlated with w [k, k, Cin, Cout], zero padding k//2 ('SAME'): [N, Cout, H, W]."""
    k = w.shape[0]
    padded = np.pad(x, [(0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)])
    out = np.zeros([x.shape[0], w.shape[3], x.shape[2], x.shape[3]])
    for dy in range(k):
        for dx in range(k):
            patch = padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
            out += np.einsum("nchw,co->nohw", patch, w[dy, dx])
    return out


def numpy_per_image(x, fn):
    return np.stack([np.stack([fn(image) for image in images]) for images in x])


def expected_outputs(x, b, w):
    """What each checked call must return, computed from the definitions in float64."""
    up = lambda image: numpy_fir(image, FIR_1331 * 4, up=2, down=1, pad0=2, pad1=1)
    down = lambda image: numpy_fir(image, FIR_1331, up=1, down=2, pad0=1, pad1=1)
    # upsample_conv_2d = transposed 3x3 conv (stride 2), i.e. zero-insertion to 2H-1 followed by a
    # 'full' 3x3 correlation (2H+1), then the FIR filter with one pixel of padding (2H).
    # conv_downsample_2d = the FIR filter with two pixels of padding (H+1), then a strided 3x3 conv.
    zero_inserted = np.zeros([x.shape[0], x.shape[1], x.shape[2] * 2 - 1, x.shape[3] * 2 - 1])
    zero_inserted[:, :, ::2, ::2] = x
    upconv = numpy_conv_same(np.pad(zero_inserted, [(0, 0), (0, 0), (1, 1), (1, 1)]), w)
    upconv = numpy_per_image(np.pad(upconv, [(0, 0), (0, 0), (1, 1), (1, 1)]),
                             lambda image: scipy.signal.convolve2d(image, FIR_1331 * 4, mode="valid"))
    filtered = numpy_per_image(np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)]),
                               lambda image: scipy.signal.convolve2d(image, FIR_1331, mode="valid"))
    convdown = numpy_conv_same(filtered, w)[:, :, 1:-1:2, 1:-1:2]
    return {
        "fused_bias_act lrelu": numpy_lrelu_bias(x, b),
        "fused_bias_act clamp": np.clip(numpy_lrelu_bias(x, b), -0.5, 0.5),
        "upsample_2d": numpy_per_image(x, up),
        "downsample_2d": numpy_per_image(x, down),
        "upsample_conv_2d": upconv,
        "conv_downsample_2d": convdown,
    }


def build_calls(x, b, w, impl):
    """The same calls as `expected_outputs`, as TF expressions with the given implementation."""
    x, b, w = tf.constant(x, tf.float32), tf.constant(b, tf.float32), tf.constant(w, tf.float32)
    return {
        "fused_bias_act lrelu": fused_bias_act(x, b, act="lrelu", impl=impl),
        "fused_bias_act clamp": fused_bias_act(x, b, act="lrelu", clamp=0.5, impl=impl),
        "upsample_2d": upsample_2d(x, k=[1, 3, 3, 1], impl=impl),
        "downsample_2d": downsample_2d(x, k=[1, 3, 3, 1], impl=impl),
        "upsample_conv_2d": upsample_conv_2d(x, w, k=[1, 3, 3, 1], impl=impl),
        "conv_downsample_2d": conv_downsample_2d(x, w, k=[1, 3, 3, 1], impl=impl),
    }


# ------------------------------------------------------------------------------------------------------
# The random sweep.

SWEEP_CHUNK = 250  # Configurations per graph: small graphs build and optimise quickly.


def numpy_upfirdn_2d(x, k, upx, upy, downx, downy, padx0, padx1, pady0, pady1):
    """The definition on [major, H, W, minor] float64 arrays: zero insertion, pad (negative crops),
    true 2-D convolution with k, every down-th pixel."""
    major, height, width, minor = x.shape
    upsampled = np.zeros([major, height * upy, width * upx, minor])
    upsampled[:, ::upy, ::upx, :] = x
    padded = np.pad(upsampled, [(0, 0), (max(pady0, 0), max(pady1, 0)), (max(padx0, 0), max(padx1, 0)), (0, 0)])
    padded = padded[:, max(-pady0, 0): padded.shape[1] - max(-pady1, 0), max(-padx0, 0): padded.shape[2] - max(-padx1, 0)]
    if padded.shape[1] < k.shape[0] or padded.shape[2] < k.shape[1]:
        raise ValueError("empty output")  # scipy's 'valid' mode would swap image and kernel.
    images = padded.transpose(0, 3, 1, 2).reshape(major * minor, padded.shape[1], padded.shape[2])
    filtered = np.stack([scipy.signal.convolve2d(image, k, mode="valid") for image in images])
    filtered = filtered.reshape(major, minor, filtered.shape[1], filtered.shape[2]).transpose(0, 2, 3, 1)
    return filtered[:, ::downy, ::downx, :]


def random_upfirdn_case(rng):
    """x [major, H, W, minor], kernel and parameters (negative pads included) with a non-empty output."""
    while True:
        x = rng.randn(rng.randint(1, 3), rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 4))
        k = rng.rand(rng.randint(1, 7), rng.randint(1, 7)) + 0.1
        params = {name: int(rng.randint(1, 5)) for name in ("upx", "upy", "downx", "downy")}
        params.update({name: int(rng.randint(-3, 5)) for name in ("padx0", "padx1", "pady0", "pady1")})
        out_h = (x.shape[1] * params["upy"] + params["pady0"] + params["pady1"] - k.shape[0]) // params["downy"] + 1
        out_w = (x.shape[2] * params["upx"] + params["padx0"] + params["padx1"] - k.shape[1]) // params["downx"] + 1
        if out_h >= 1 and out_w >= 1:
            return x, k, params


def numpy_resampling_conv(x, w, fir, factor, gain, up):
    """upsample_conv_2d (up=True) or conv_downsample_2d of [N, C, H, W] x from their definitions."""
    fir = np.outer(fir, fir) / np.sum(np.outer(fir, fir))
    conv_size = w.shape[0]
    nhwc = x.transpose(0, 2, 3, 1)
    if up:
        # Transposed convolution = zero insertion, then a 'full' correlation with w.
        inserted = numpy_upfirdn_2d(nhwc, np.ones([1, 1]), factor, factor, 1, 1, 0, 0, 0, 0)[:, :-(factor - 1) or None, :-(factor - 1) or None]
        inserted = np.pad(inserted, [(0, 0), (conv_size - 1, conv_size - 1), (conv_size - 1, conv_size - 1), (0, 0)])
        y = numpy_correlate_valid(inserted, w, 1)
        p = (fir.shape[0] - factor) - (conv_size - 1)
        y = numpy_upfirdn_2d(y, fir * gain * factor ** 2, 1, 1, 1, 1, (p + 1) // 2 + factor - 1, p // 2 + 1,
                             (p + 1) // 2 + factor - 1, p // 2 + 1)
    else:
        p = (fir.shape[0] - factor) + (conv_size - 1)
        y = numpy_upfirdn_2d(nhwc, fir * gain, 1, 1, 1, 1, (p + 1) // 2, p // 2, (p + 1) // 2, p // 2)
        y = numpy_correlate_valid(y, w, factor)
    return y.transpose(0, 3, 1, 2)


def numpy_correlate_valid(x, w, stride):
    """[N, H, W, C] correlated with w [k, k, C, O], 'VALID', the same stride along y and x."""
    size = w.shape[0]
    out_h, out_w = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.zeros([x.shape[0], out_h, out_w, w.shape[3]])
    for dy in range(size):
        for dx in range(size):
            patch = x[:, dy: dy + (out_h - 1) * stride + 1: stride, dx: dx + (out_w - 1) * stride + 1: stride]
            out += np.einsum("nhwc,co->nhwo", patch, w[dy, dx])
    return out


def random_resampling_case(rng):
    """x [N, C, H, W], conv weights, 1-D FIR kernel, factor, gain and direction of one resampling
    convolution with a non-empty output, and that output from the definition."""
    while True:
        x = rng.randn(rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 8), rng.randint(1, 8))
        conv_size = rng.randint(1, 5)
        w = rng.randn(conv_size, conv_size, x.shape[1], rng.randint(1, 4))
        fir, factor, gain, up = rng.rand(rng.randint(1, 6)) + 0.1, int(rng.randint(1, 4)), rng.uniform(0.5, 2), rng.randint(2)
        try:
            expected = numpy_resampling_conv(x, w, fir, factor, gain, bool(up))
        except ValueError:  # The image is smaller than a kernel: no output.
            continue
        if expected.size:
            return x, w, fir, factor, gain, bool(up), expected


def build_sweep_chunk(rng, count, impl):
    """[(name, TF expression, NumPy expectation)] for `count` random configurations of each checked op."""
    checks = []
    for _ in range(count):
        x, k, params = random_upfirdn_case(rng)
        x_in = tf.constant(x, tf.float32)
        y = upfirdn_module.upfirdn_2d(x_in, k, impl=impl, **params)
        weights = rng.randn(*y.shape.as_list())
        # With L = sum(weights * y), dL/dx is the adjoint operator applied to the weights.
        gradient = tf.gradients(tf.reduce_sum(y * weights.astype(np.float32)), [x_in])[0]
        expected_gradient = numpy_adjoint_upfirdn_2d(weights, x.shape, k, params)
        label = "upfirdn_2d %s kernel %s %s" % (list(x.shape), list(k.shape), params)
        checks += [(label, y, numpy_upfirdn_2d(x, k, **params)), (label + " gradient", gradient, expected_gradient)]
        x, w, fir, factor, gain, up, expected = random_resampling_case(rng)
        op = upsample_conv_2d if up else conv_downsample_2d
        for data_format in ("NCHW", "NHWC"):
            x_in = x if data_format == "NCHW" else x.transpose(0, 2, 3, 1)
            y = op(tf.constant(x_in, tf.float32), tf.constant(w, tf.float32), k=fir, factor=factor, gain=gain,
                   data_format=data_format, impl=impl)
            if data_format == "NHWC":
                y = tf.transpose(y, [0, 3, 1, 2])
            checks.append(("%s %s x %s w %s fir %d factor %d" % (op.__name__, data_format, list(x.shape), list(w.shape),
                                                                  len(fir), factor), y, expected))
    return checks


def numpy_adjoint_upfirdn_2d(dy, x_shape, k, params):
    """dL/dx of L = sum(dy * upfirdn_2d(x)), column by column of the dense per-image operator."""
    major, height, width, minor = x_shape
    basis = np.eye(height * width).reshape(height * width, height, width, 1)
    responses = numpy_upfirdn_2d(basis, k, **params).reshape(height * width, -1)  # [inH*inW, outH*outW]
    dy_images = dy.transpose(0, 3, 1, 2).reshape(major, minor, -1)
    dx = np.einsum("io,mco->mci", responses, dy_images)
    return dx.reshape(major, minor, height, width).transpose(0, 2, 3, 1)


def run_sweep(num_configs, seed, impl):
    """Check `num_configs` random configurations of each op; returns the number of mismatches."""
    rng = np.random.RandomState(seed)
    failures = checked = 0
    for start in range(0, num_configs, SWEEP_CHUNK):
        with tf.Graph().as_default(), tflib.create_session().as_default():
            checks = build_sweep_chunk(rng, min(SWEEP_CHUNK, num_configs - start), impl)
            results = tflib.run([expression for _, expression, _ in checks])
        for (label, _, expected), result in zip(checks, results):
            checked += 1
            error = float(np.max(np.abs(result - expected))) if result.shape == expected.shape else float("inf")
            if not error <= 1e-4 * max(1.0, float(np.max(np.abs(expected)))):
                failures += 1
                print("MISMATCH %s: max abs error %.3g" % (label, error))
    print("Sweep (TF_ENABLE_ONEDNN_OPTS=%s, impl %s): %d random configurations per op, %d results checked, %d mismatches."
          % (os.environ.get("TF_ENABLE_ONEDNN_OPTS"), impl, num_configs, checked, failures))
    return failures


def run_sweep_with_and_without_onednn(argv):
    """Run this script's sweep in two subprocesses, oneDNN on and off; 1 if either finds a mismatch."""
    status = 0
    for onednn in ("1", "0"):
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn)
        status |= subprocess.call([sys.executable, os.path.abspath(__file__)] + argv + ["--onednn", "current"], env=env)
    return 1 if status else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["auto", "ref", "cuda"], default="auto",
                        help="implementation to check (default: the automatic choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random test data")
    parser.add_argument("--sweep", type=int, default=0, metavar="N",
                        help="also check N random configurations of upfirdn_2d, upsample_conv_2d, conv_downsample_2d")
    parser.add_argument("--onednn", choices=["both", "current"], default="both",
                        help="sweep with TF's oneDNN optimisations on and off (subprocesses), or as this process has them")
    args = parser.parse_args()
    if args.sweep and args.onednn == "both":
        return run_sweep_with_and_without_onednn(sys.argv[1:])

    tflib.init_tf()
    print("TensorFlow %s, NumPy %s" % (tf.VERSION, np.__version__))
    gpus = custom_ops.list_gpu_compute_capabilities()
    print("GPUs: %s" % (", ".join("compute capability %d.%d" % c for c in gpus) if gpus else "none"))
    print("nvcc: %s" % (custom_ops.find_nvcc() or "not found"))

    if args.impl == "auto":
        impls = {custom_ops.choose_impl(fba_module.__file__.replace(".py", ".cu")),
                 custom_ops.choose_impl(upfirdn_module.__file__.replace(".py", ".cu"))}
    else:
        impls = {args.impl}
    if "cuda" in impls:
        impls.add("ref")  # Also compare the two.
    print("Implementations checked: %s" % ", ".join(sorted(impls)))

    rnd = np.random.RandomState(args.seed)
    x = rnd.randn(2, 3, 8, 8)
    b = rnd.randn(3)
    w = rnd.randn(3, 3, 3, 4)
    expected = expected_outputs(x, b, w)
    results = {impl: tflib.run(build_calls(x, b, w, impl)) for impl in sorted(impls)}

    failures = 0
    print()
    print("%-22s %-6s %-14s %s" % ("op", "impl", "max abs error", "result"))
    for name, exp in expected.items():
        for impl, outputs in sorted(results.items()):
            error = float(np.max(np.abs(outputs[name] - exp)))
            ok = outputs[name].shape == exp.shape and error < 1e-4 * max(1.0, float(np.max(np.abs(exp))))
            failures += not ok
            print("%-22s %-6s %-14.3g %s" % (name, impl, error, "ok" if ok else "MISMATCH"))
    print()
    if args.sweep:
        failures += run_sweep(args.sweep, args.seed, "ref" if impls == {"ref"} else "cuda")
    if failures:
        print("%d check(s) failed." % failures)
        return 1
    print("All checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
