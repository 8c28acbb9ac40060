"""Benchmark: images/s of `Gs.run` with the networks running in NCHW and in NHWC (random weights).

Usage: python benchmarks/bench_data_format.py [--resolution 32] [--fmap-max 512] [--batch 4] [--repeats 3]
                                              [--layouts NCHW,NHWC] [--modconv grouped,nonfused]

A config-f generator (skip architecture, fmap_base 16384) at a small resolution, built once per
(layout, modulated convolution) pair in a fresh graph. Prints seconds per batch (median of --repeats
after one warm-up batch) and images/s. NCHW on a CPU needs oneDNN (on by default through dnnlib.tflib).
Modulated convolution 'grouped' is the fused form as one grouped convolution (what the networks use on
GPUs; forced here, where grouped convolutions run), 'nonfused' scales the activations (used on CPUs).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from training import networks_stylegan2  # noqa: E402
from bench_generator import median_seconds_per_run  # noqa: E402


def bench(layout, grouped, resolution, fmap_max, batch, repeats):
    """Median seconds per Gs.run call of `batch` images."""
    networks_stylegan2.use_grouped_conv = lambda: grouped
    fused_modconv = grouped
    tflib.reset_tf({"rnd.np_random_seed": 0})
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan2.G_main", num_channels=3, resolution=resolution,
                       label_size=0, fmap_max=fmap_max, data_format=layout, fused_modconv=fused_modconv)
    return median_seconds_per_run(Gs, batch, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=32, help="output resolution (default: %(default)s)")
    parser.add_argument("--fmap-max", type=int, default=512, help="feature maps cap (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=4, help="images per Gs.run call (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per setting (default: %(default)s)")
    parser.add_argument("--layouts", default="NCHW,NHWC", help="comma-separated (default: %(default)s)")
    parser.add_argument("--modconv", default="grouped,nonfused", help="comma-separated (default: %(default)s)")
    args = parser.parse_args()

    gpu = networks_stylegan2._gpu_visible()
    print("TensorFlow %s on %s; automatic layout: %s; grouped convolutions: %s"
          % (tf.VERSION, "GPU" if gpu else "CPU (%d cores)" % os.cpu_count(), networks_stylegan2.resolve_data_format(),
             "yes" if networks_stylegan2.grouped_conv_supported() else "no"))
    print("config-f G at %dx%d, fmap_max %d, batch %d" % (args.resolution, args.resolution, args.fmap_max, args.batch))
    print("%-8s %-10s %-10s %s" % ("layout", "modconv", "s/batch", "images/s"))
    for layout in args.layouts.split(","):
        for modconv in args.modconv.split(","):
            if modconv not in ("grouped", "nonfused"):
                raise SystemExit("bench_data_format: --modconv takes 'grouped' and/or 'nonfused', got %r" % modconv)
            if modconv == "grouped" and not networks_stylegan2.grouped_conv_supported():
                print("%-8s %-10s (grouped convolutions do not run here)" % (layout, modconv))
                continue
            seconds = bench(layout, modconv == "grouped", args.resolution, args.fmap_max, args.batch, args.repeats)
            print("%-8s %-10s %-10.3f %.2f" % (layout, modconv, seconds, args.batch / seconds))


if __name__ == "__main__":
    main()
