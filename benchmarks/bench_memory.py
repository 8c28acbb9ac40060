"""Benchmark: memory of one training step (one tower) per config, resolution and minibatch per GPU.

Usage: python benchmarks/bench_memory.py [--config config-f] [--resolutions 32,64,128] [--minibatch-gpu 1,2,4]

Builds what one tower of the training loop builds (G, D, Gs at their real size; the config's G and D
losses with their regularizers; the Adam optimizers with lazy regularization; the Gs moving average),
then runs each of the four training ops once (G step, G regularization, D step, D regularization) and
reads TensorFlow's allocator statistics of the device it runs on (`tf.config.experimental
.get_memory_info`, peak since a reset before each op; each op's first run, as a training run's first
minibatch):

  persistent  bytes in use before the steps: weights of G, D, Gs and the Adam moments of G and D;
  peak        the highest peak of the four ops (persistent + activations + gradients + temporaries).

On a machine without GPU this measures TensorFlow's CPU allocator, a proxy for GPU memory: the same
tensors are allocated, but without cuDNN workspaces, the CUDA context and the BFC allocator's rounding,
and oneDNN's own scratch buffers are not counted. The graph is optimised by grappler as in training.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dnnlib  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
import run_training  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402


class _NoLabels:
    """What the losses need of a training set: an unconditional one."""
    label_size = 0

    @staticmethod
    def get_random_labels_tf(minibatch_size):
        return tf.zeros([minibatch_size, 0])


def _memory_device():
    return "GPU:0" if tflib.tfutil.has_gpu() else "CPU:0"


def measure(config_id, resolution, minibatch_gpu):
    """{'persistent': bytes, 'peak': bytes, 'ops': {op name: peak bytes}, 'params': number} for one tower."""
    kwargs = run_training.build_training_kwargs(
        dataset="bench", data_dir=None, result_dir="results", config_id=config_id, num_gpus=1, total_kimg=1,
        gamma=None, mirror_augment=False, metrics=[], minibatch_size=minibatch_gpu, minibatch_gpu=minibatch_gpu)
    lazy = kwargs.get("lazy_regularization", True)
    device = _memory_device()
    with tf.Graph().as_default(), tflib.create_session().as_default():
        tf.set_random_seed(1)
        shape = dict(num_channels=3, resolution=resolution, label_size=0)
        with tf.device("/" + device.lower()):
            G = tflib.Network("G", **shape, **kwargs.G_args)
            D = tflib.Network("D", **shape, **kwargs.D_args)
            Gs = G.clone("Gs")
            ratios = {"G": 4 / 5, "D": 16 / 17} if lazy else {"G": 1.0, "D": 1.0}
            opts = {}
            for name in ["G", "D"]:
                args = dict(learning_rate=0.002 * ratios[name], beta1=0.0, beta2=0.99 ** ratios[name], epsilon=1e-8)
                opts[name] = tflib.Optimizer(name="Train" + name, **args)
                opts[name + "_reg"] = tflib.Optimizer(name="Reg" + name, share=opts[name], **args)
            reals = tf.random_uniform([minibatch_gpu, 3, resolution, resolution], -1.0, 1.0)
            labels = tf.zeros([minibatch_gpu, 0])
            with tf.name_scope("G_loss"):
                G_loss, G_reg = dnnlib.util.call_func_by_name(G=G, D=D, opt=opts["G"], training_set=_NoLabels(),
                                                              minibatch_size=minibatch_gpu, **kwargs.G_loss_args)
            with tf.name_scope("D_loss"):
                D_loss, D_reg = dnnlib.util.call_func_by_name(G=G, D=D, opt=opts["D"], training_set=_NoLabels(),
                                                              minibatch_size=minibatch_gpu, reals=reals, labels=labels,
                                                              **kwargs.D_loss_args)
            for name, loss, reg, net in [("G", G_loss, G_reg, G), ("D", D_loss, D_reg, D)]:
                if reg is not None and lazy:
                    opts[name + "_reg"].register_gradients(tf.reduce_mean(reg * (4 if name == "G" else 16)),
                                                           net.trainables)
                elif reg is not None:
                    loss += reg
                opts[name].register_gradients(tf.reduce_mean(loss), net.trainables)
            ops = {"G step": opts["G"].apply_updates(), "G reg": opts["G_reg"].apply_updates(allow_no_op=True),
                   "D step": opts["D"].apply_updates(), "D reg": opts["D_reg"].apply_updates(allow_no_op=True)}
            ops["G step"] = tf.group(ops["G step"], Gs.setup_as_moving_average_of(G, beta=0.999))
        tflib.init_uninitialized_vars()
        params = sum(int(np.prod(var.shape.as_list())) for var in G.trainables.values()) + \
            sum(int(np.prod(var.shape.as_list())) for var in D.trainables.values())

        persistent = tf.config.experimental.get_memory_info(device)["current"]
        peaks = {}
        for name, op in ops.items():
            tf.config.experimental.reset_memory_stats(device)
            tflib.run(op)
            peaks[name] = tf.config.experimental.get_memory_info(device)["peak"]
    return dict(persistent=persistent, peak=max(peaks.values()), ops=peaks, params=params)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config-f", help="run_training config (default: %(default)s)")
    parser.add_argument("--resolutions", default="32,64,128", help="comma-separated (default: %(default)s)")
    parser.add_argument("--minibatch-gpu", default="2,4", help="comma-separated; configs d-f need >= 2 (the path length batch is half of it) (default: %(default)s)")
    args = parser.parse_args()
    device = _memory_device()
    print("device %s, TensorFlow %s, %s" % (device, tf.__version__, args.config))
    print("%-10s %-6s %-10s %-14s %-10s %-10s %s" % ("resolution", "mb/gpu", "params", "persistent MiB", "peak MiB",
                                                    "sec", "peak of each op (MiB)"))
    for resolution in [int(r) for r in args.resolutions.split(",")]:
        for minibatch_gpu in [int(m) for m in args.minibatch_gpu.split(",")]:
            start = time.time()
            result = measure(args.config, resolution, minibatch_gpu)
            print("%-10d %-6d %-10d %-14.0f %-10.0f %-10.0f %s" % (
                resolution, minibatch_gpu, result["params"], result["persistent"] / 2**20, result["peak"] / 2**20,
                time.time() - start, ", ".join("%s %.0f" % (k, v / 2**20) for k, v in result["ops"].items())),
                flush=True)


if __name__ == "__main__":
    main()
