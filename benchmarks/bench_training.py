"""Benchmark: training speed (sec/kimg) of run_training's configs and peak memory, on a synthetic dataset.

Usage: python benchmarks/bench_training.py [--config config-f] [--resolutions 32,64] [--minibatch 8]
           [--minibatch-gpu 4] [--minibatches 4] [--num-gpus 1] [--fmap-base N] [--fmap-max N]
           [--tf-config KEY=VALUE,...] [--bfloat16]

For each resolution: writes a dataset of random images, runs the full training loop (run_training's
configuration at its real network size; no metrics, no image snapshots) for --minibatches minibatches
with a tick after each, and prints the median sec/kimg of the ticks after the first (the first one pays
for graph construction), the peak host memory (max RSS of this process so far) and the peak GPU memory
(0 without a GPU). Runs on the GPU when TensorFlow sees one, else on the CPU.
"""

import argparse
import os
import re
import resource
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dnnlib  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
from dnnlib.tflib import precision  # noqa: E402
import dataset_tool  # noqa: E402
import run_training  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402


def write_dataset(path, resolution, num_images=64):
    rnd = np.random.RandomState(0)
    with dataset_tool.TFRecordExporter(path, num_images, print_progress=False) as tfr:
        for _ in range(num_images):
            tfr.add_image(rnd.randint(0, 256, size=[3, resolution, resolution]).astype(np.uint8))


def training_kwargs(config_id, resolution, minibatch, minibatch_gpu, minibatches, num_gpus, work_dir,
                    fmap_base=None, fmap_max=None):
    """submit_run's kwargs for `minibatches` minibatches of run_training's configuration on a synthetic dataset
    (written into `work_dir`), with a tick after each minibatch and no metrics or snapshots."""
    data_dir = os.path.join(work_dir, "data")
    write_dataset(os.path.join(data_dir, "bench%d" % resolution), resolution)
    kwargs = run_training.build_training_kwargs(
        dataset="bench%d" % resolution, data_dir=data_dir, result_dir=os.path.join(work_dir, "results"),
        config_id=config_id, num_gpus=num_gpus, total_kimg=minibatch * minibatches / 1000.0, gamma=None,
        mirror_augment=False, metrics=[], minibatch_size=minibatch, minibatch_gpu=minibatch_gpu,
        fmap_base=fmap_base, fmap_max=fmap_max)
    kwargs.sched_args.update(tick_kimg_base=minibatch / 2000.0, tick_kimg_dict={})
    kwargs.dataset_args.update(shuffle_mb=16, prefetch_mb=16)
    kwargs.grid_args = dict(size=(2, 2), layout="random")
    kwargs.update(minibatch_repeats=1, image_snapshot_ticks=None, network_snapshot_ticks=None)
    return kwargs


def bench(config_id, resolution, minibatch, minibatch_gpu, minibatches, num_gpus, work_dir, fmap_base=None,
          fmap_max=None, tf_config=None):
    kwargs = training_kwargs(config_id, resolution, minibatch, minibatch_gpu, minibatches, num_gpus, work_dir,
                             fmap_base, fmap_max)
    kwargs.tf_config.update(tf_config or {})
    tflib.reset_tf()
    submit_config = dnnlib.submit_run(**kwargs)
    with open(os.path.join(submit_config.run_dir, "log.txt")) as f:
        ticks = [line for line in f if line.startswith("tick ")]
    sec_per_kimg = [float(re.search(r"sec/kimg (\S+)", line).group(1)) for line in ticks]
    gpu_mem = max(float(re.search(r"gpumem (\S+)", line).group(1)) for line in ticks)
    return float(np.median(sec_per_kimg[1:])), gpu_mem


def parse_tf_config(text):
    """'a.b=1,c=2' -> {'a.b': 1, 'c': 2} (integer values where they parse)."""
    config = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        config[key] = int(value) if value.lstrip("-").isdigit() else value
    return config


def enable_bfloat16_or_exit(prog):
    """`--bfloat16`: bfloat16 convolutions and matrix products, or exit with `<prog>: error: <why not>`."""
    try:
        precision.set_bfloat16(True)
    except RuntimeError as e:
        sys.exit("%s: error: %s" % (prog, e))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config-f")
    parser.add_argument("--resolutions", default="32,64")
    parser.add_argument("--minibatch", type=int, default=8)
    parser.add_argument("--minibatch-gpu", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--num-gpus", type=int, default=1)
    parser.add_argument("--fmap-base", type=int, default=None, help="G and D fmap_base (default: the config's)")
    parser.add_argument("--fmap-max", type=int, default=None, help="G and D fmap_max (default: the config's)")
    parser.add_argument("--tf-config", type=parse_tf_config, default={}, metavar="KEY=VALUE,...",
                        help="tflib.init_tf options, e.g. inter_op_parallelism_threads=1,intra_op_parallelism_threads=2")
    parser.add_argument("--bfloat16", action="store_true", help="convolutions and matrix products in bfloat16")
    args = parser.parse_args()
    if args.bfloat16:
        enable_bfloat16_or_exit(parser.prog)

    device = "GPU" if tflib.tfutil.has_gpu() else "CPU (%d cores)" % os.cpu_count()
    print("device: %s, TF %s, config %s, minibatch %d (%d per tower), %d tower(s), fmap_base %s, fmap_max %s%s%s"
          % (device, tf.__version__, args.config, args.minibatch, args.minibatch_gpu, args.num_gpus,
             args.fmap_base or "default", args.fmap_max or "default", ", bfloat16" if args.bfloat16 else "",
             "".join(", %s=%s" % item for item in args.tf_config.items())))
    work_dir = tempfile.mkdtemp(prefix="bench_training_")
    results = []
    try:
        for resolution in [int(r) for r in args.resolutions.split(",")]:
            sec_per_kimg, gpu_mem = bench(args.config, resolution, args.minibatch, args.minibatch_gpu,
                                          args.minibatches, args.num_gpus, work_dir, args.fmap_base, args.fmap_max,
                                          args.tf_config)
            peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            results.append((resolution, sec_per_kimg, peak_rss_gb, gpu_mem))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print()
    print("%-10s %-10s %-12s %-22s %s" % ("config", "resolution", "sec/kimg", "peak host mem (GB)", "peak GPU mem (GB)"))
    for resolution, sec_per_kimg, peak_rss_gb, gpu_mem in results:
        print("%-10s %-10d %-12.1f %-22.2f %.2f" % (args.config, resolution, sec_per_kimg, peak_rss_gb, gpu_mem))


if __name__ == "__main__":
    main()
