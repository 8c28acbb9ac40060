"""Check the custom ops on this machine: which implementation is used, and whether it computes right.

Usage: python check_ops.py [--impl auto|ref|cuda] [--seed 0]

Builds the CUDA plugins when a GPU and nvcc are there (else says why the reference TF implementation
is used), then compares `fused_bias_act`, `upsample_2d`, `downsample_2d`, `upsample_conv_2d` and
`conv_downsample_2d` against a direct NumPy/SciPy computation of their definitions, and the CUDA
implementation against the reference one when both are available. Exits with status 1 on a mismatch.
"""

import argparse
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
        "upsample_2d": upsample_2d(x, k=[1, 3, 3, 1], impl=impl),
        "downsample_2d": downsample_2d(x, k=[1, 3, 3, 1], impl=impl),
        "upsample_conv_2d": upsample_conv_2d(x, w, k=[1, 3, 3, 1], impl=impl),
        "conv_downsample_2d": conv_downsample_2d(x, w, k=[1, 3, 3, 1], impl=impl),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["auto", "ref", "cuda"], default="auto",
                        help="implementation to check (default: the automatic choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random test data")
    args = parser.parse_args()

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
    if failures:
        print("%d check(s) failed." % failures)
        return 1
    print("All checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
