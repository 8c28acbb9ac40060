"""Benchmark: images/s of `Gs.run` for config-e or config-f generators (random weights) at several resolutions.

Usage: python benchmarks/bench_generator.py [--config config-f] [--resolutions 64,256] [--batch 8] [--repeats 3]
           [--fmap-base N] [--fmap-max N] [--tf-config KEY=VALUE,...] [--bfloat16]

Prints one line per resolution: parameters, seconds per batch (median of --repeats after one warm-up
batch), images/s and the peak GPU memory so far (0 on a CPU). Runs on the GPU when TensorFlow sees one, else
on the CPU; the custom ops use whichever implementation `dnnlib.tflib.custom_ops` chooses (printed once).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from dnnlib.tflib import custom_ops  # noqa: E402
import run_training  # noqa: E402
from bench_training import enable_bfloat16_or_exit, parse_tf_config  # noqa: E402


def run_kwargs():
    """The keyword arguments of every timed `Gs.run` call: truncation 0.5, random noise, uint8 NHWC output."""
    return dict(truncation_psi=0.5, randomize_noise=True,
                output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))


def median_seconds_per_run(Gs, batch, repeats):
    """Median seconds of `repeats` Gs.run calls of `batch` images (uint8 output), after one warm-up call."""
    latents = np.random.RandomState(0).randn(batch, *Gs.input_shape[1:])
    Gs.run(latents, None, **run_kwargs())  # Warm-up: graph construction, kernel selection.
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        Gs.run(latents, None, **run_kwargs())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def build_generator(resolution, tf_config=None, **width_kwargs):
    """A StyleGAN2 Gs (random weights, seed 0) at `resolution`, with `fmap_base` / `fmap_max` from
    `width_kwargs` where given, in a fresh graph and session (`tf_config`: more tflib.init_tf options);
    returns (Gs, number of parameters)."""
    tflib.reset_tf(dict({"rnd.np_random_seed": 0}, **(tf_config or {})))
    G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", num_channels=3,
                      resolution=resolution, label_size=0, **width_kwargs)
    Gs = G.clone("Gs")
    num_params = sum(int(np.prod(var.shape.as_list())) for var in Gs.trainables.values())
    return Gs, num_params


def bench_resolution(resolution, batch, repeats, tf_config=None, **width_kwargs):
    """Build a StyleGAN2 G at `resolution` (see `build_generator`); returns (params, median seconds per batch)."""
    Gs, num_params = build_generator(resolution, tf_config, **width_kwargs)
    return num_params, median_seconds_per_run(Gs, batch, repeats)


def width_kwargs_of(config, fmap_base, fmap_max):
    """G's `fmap_base` / `fmap_max` keyword arguments: the given ones, else `config`'s fmap_base."""
    config_fmap_base = run_training._networks_of(config)[0].get("fmap_base")  # pylint: disable=protected-access
    return {name: value for name, value in [("fmap_base", fmap_base or config_fmap_base), ("fmap_max", fmap_max)]
            if value is not None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=["config-e", "config-f"], default="config-f",
                        help="config-e: half of config-f's feature maps (default: %(default)s)")
    parser.add_argument("--resolutions", default="64,256", help="comma-separated (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="images per Gs.run call (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per resolution (default: %(default)s)")
    parser.add_argument("--fmap-base", type=int, default=None, help="G's fmap_base (default: config-f's)")
    parser.add_argument("--fmap-max", type=int, default=None, help="G's fmap_max (default: config-f's)")
    parser.add_argument("--tf-config", type=parse_tf_config, default={}, metavar="KEY=VALUE,...",
                        help="tflib.init_tf options, e.g. inter_op_parallelism_threads=1")
    parser.add_argument("--bfloat16", action="store_true", help="convolutions and matrix products in bfloat16")
    args = parser.parse_args()
    if args.bfloat16:
        enable_bfloat16_or_exit(parser.prog)
    width_kwargs = width_kwargs_of(args.config, args.fmap_base, args.fmap_max)

    gpus = custom_ops.list_gpu_compute_capabilities()
    print("TensorFlow %s on %s%s%s" % (tf.VERSION, "GPU (compute capability %d.%d)" % gpus[0] if gpus else
                                       "CPU (%d cores)" % os.cpu_count(), ", bfloat16" if args.bfloat16 else "",
                                       "".join(", %s=%s" % item for item in args.tf_config.items())))
    print("%-10s %-12s %-14s %-10s %s" % ("resolution", "G params", "s/batch", "images/s", "peak GPU mem (GB)"))
    for resolution in [int(r) for r in args.resolutions.split(",")]:
        num_params, seconds = bench_resolution(resolution, args.batch, args.repeats, args.tf_config, **width_kwargs)
        print("%-10s %-12d %-14.3f %-10.2f %.2f" % ("%dx%d" % (resolution, resolution), num_params, seconds,
                                                  args.batch / seconds, tflib.tfutil.peak_gpu_mem_gb()))


if __name__ == "__main__":
    main()
