"""Benchmark: images/s of the feature extraction and of the generation inside FID.

Usage: python benchmarks/bench_metrics.py [--resolution 64] [--batch 8] [--repeats 3] [--feature-net PKL]

Times three things in one graph, as FID builds it: the feature network on uint8 real images
(`feature_net.run`, the real-statistics pass), Gs alone (random z -> images -> uint8), and the fake pass
(Gs -> uint8 -> feature network). Gs is a config-f generator with random weights at --resolution. Without
--feature-net (a path or URL of inception_v3_features.pkl) the feature network is a stand-in of ours: the
input resized to 299x299 and five strided 3x3 convolutions up to 2048 channels, average-pooled (far fewer
FLOPs than Inception-v3, so its numbers are an upper bound of the real pass). Runs on the GPU when
TensorFlow sees one, else on the CPU.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Hide placement notices of /gpu:0 pins on CPU-only machines.

import numpy as np  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from metrics import metric_base  # noqa: E402


def standin_inception(images_in, **_kwargs):
    """uint8-valued images [N, 3, H, W] -> [N, 2048]: resize to 299, 5 strided convolutions, average pool."""
    images_in.set_shape([None, 3, None, None])
    x = tf.transpose(tf.cast(images_in, tf.float32) / 127.5 - 1, [0, 2, 3, 1])  # NHWC: fastest on CPUs.
    x = tf.image.resize(x, [299, 299])
    channels = [3, 64, 128, 256, 512, 2048]
    for layer_idx in range(5):
        with tf.variable_scope("Conv%d" % layer_idx):
            w = tf.get_variable("weight", [3, 3, channels[layer_idx], channels[layer_idx + 1]],
                                initializer=tf.initializers.random_normal(0, 1 / np.sqrt(9 * channels[layer_idx])))
            x = tf.nn.relu(tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME"))
    return tf.reduce_mean(x, axis=[1, 2])


def median_seconds(func, repeats):
    func()  # Warm-up.
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=64, help="Gs resolution (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="images per session.run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default: %(default)s)")
    parser.add_argument("--feature-net", default=None, help="path or URL of inception_v3_features.pkl (default: a stand-in)")
    args = parser.parse_args()

    tflib.init_tf({"rnd.np_random_seed": 0})
    G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", num_channels=3,
                      resolution=args.resolution, label_size=0)
    Gs = G.clone("Gs")
    if args.feature_net:
        feature_net = metric_base.load_feature_net(args.feature_net)
        feature_name = os.path.basename(args.feature_net)
    else:
        feature_net = tflib.Network("StandinInception", func_name=standin_inception)
        feature_name = "stand-in (see --help)"

    latents = tf.random_normal([args.batch] + Gs.input_shape[1:])
    images_uint8 = tflib.convert_images_to_uint8(Gs.get_output_for(latents, None, is_validation=True))
    fake_features = feature_net.get_output_for(images_uint8)
    reals = np.random.RandomState(0).randint(0, 256, [args.batch, 3, args.resolution, args.resolution]).astype(np.uint8)

    device = "GPU" if tflib.custom_ops.list_gpu_compute_capabilities() else "CPU"
    print("device %s, Gs config-f %dx%d, feature network %s, batch %d" % (device, args.resolution, args.resolution,
                                                                          feature_name, args.batch))
    for label, func in [
            ("features of reals (feature_net.run)", lambda: feature_net.run(reals, num_gpus=1, assume_frozen=True)),
            ("generation alone (Gs -> uint8)", lambda: tflib.run(images_uint8)),
            ("fakes in FID (Gs -> uint8 -> features)", lambda: tflib.run(fake_features))]:
        seconds = median_seconds(func, args.repeats)
        print("%-42s %8.3f s/batch %9.1f images/s" % (label, seconds, args.batch / seconds), flush=True)


if __name__ == "__main__":
    main()
