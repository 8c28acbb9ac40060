"""Benchmark: the cost of the ADA augmentation pipeline per minibatch, forward and forward+backward.

Usage: python benchmarks/bench_augment.py [--sizes 32x32,256x8] [--presets bgc,bgcfnc] [--strengths 0,0.5]
                                          [--channels 3] [--repeats 5] [--device cpu|gpu]

--sizes lists RESOLUTIONxBATCH pairs. For each size and preset one graph is built, with p in a variable,
on random NCHW images in [-1, 1]. Prints milliseconds per minibatch (median of --repeats after one
warm-up run) for the augmented images alone ("forward") and for them plus the gradient of a weighted
sum with respect to the input images ("fwd+bwd", what training G through the pipeline adds).
The device is the GPU when TensorFlow sees one, else the CPU.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from training import augment  # noqa: E402


def median_ms(run, repeats):
    """Median milliseconds of `repeats` calls of run(), after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def bench(preset, resolution, batch, channels, strengths, repeats, device):
    """{p: (forward ms, forward+backward ms)} for one preset and size, in a fresh graph."""
    tflib.reset_tf({"rnd.np_random_seed": 0})
    rng = np.random.RandomState(0)
    with tf.device(device):
        images = tf.Variable(rng.uniform(-1, 1, [batch, channels, resolution, resolution]).astype(np.float32))
        strength = tf.Variable(0.0, trainable=False)
        out, _ = augment.augment_pipeline(images, None, strength=strength, **augment.augpipe_specs[preset])
        weights = rng.randn(batch, channels, resolution, resolution).astype(np.float32)
        grad = tf.gradients(tf.reduce_sum(out * weights), images)[0]
    tflib.init_uninitialized_vars()
    results = {}
    for p in strengths:
        tflib.set_vars({strength: p})
        results[p] = (median_ms(lambda: tflib.run(out.op), repeats), median_ms(lambda: tflib.run(grad.op), repeats))
    return results


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        resolution, _, batch = item.partition("x")
        if not (resolution.isdigit() and batch.isdigit()):
            raise argparse.ArgumentTypeError("sizes are RESOLUTIONxBATCH, e.g. 32x32; got %r" % item)
        sizes.append((int(resolution), int(batch)))
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default="32x32,256x8",
                        help="RESOLUTIONxBATCH pairs, comma-separated (default: %(default)s)")
    parser.add_argument("--presets", default="bgc,bgcfnc",
                        help="--augpipe presets, comma-separated: %s (default: %%(default)s)"
                             % ", ".join(augment.augpipe_specs))
    parser.add_argument("--strengths", default="0,0.2,1", help="values of p, comma-separated (default: %(default)s)")
    parser.add_argument("--channels", type=int, default=3, choices=[1, 3], help="image channels (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per setting (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None,
                        help="where the pipeline runs (default: gpu if TensorFlow sees one, else cpu)")
    args = parser.parse_args()
    presets = args.presets.split(",")
    unknown = [name for name in presets if name not in augment.augpipe_specs]
    if unknown:
        parser.error("unknown preset(s): %s" % ", ".join(unknown))
    strengths = [float(p) for p in args.strengths.split(",")]
    device = args.device or ("gpu" if tflib.has_gpu() else "cpu")
    if device == "gpu" and not tflib.has_gpu():
        parser.error("--device gpu: TensorFlow sees no GPU")

    print("TensorFlow %s on %s" % (tf.VERSION, "GPU" if device == "gpu" else "CPU (%d cores)" % os.cpu_count()))
    print("%-8s %-8s %-6s %-6s %-14s %s" % ("preset", "size", "batch", "p", "forward ms", "fwd+bwd ms"))
    for resolution, batch in args.sizes:
        for preset in presets:
            results = bench(preset, resolution, batch, args.channels, strengths, args.repeats, "/%s:0" % device)
            for p, (forward, backward) in results.items():
                print("%-8s %-8s %-6d %-6g %-14.1f %.1f" % (preset, "%dx%d" % (resolution, resolution), batch, p,
                                                            forward, backward))


if __name__ == "__main__":
    main()
