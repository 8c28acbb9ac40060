"""Train the Fashion-MNIST classifier of the `*_fmnist` metrics (`metrics/fmnist_classifier.py`) on the 60,000
training images, print its accuracy on the 10,000 test images, and write it as a network pickle.

    python train_fmnist_classifier.py    # /usr/share/datasets/fashion-mnist -> networks/fmnist-classifier.pkl
"""

import argparse
import os
import sys
import time

import numpy as np

from dnnlib import cli

DEFAULT_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "networks", "fmnist-classifier.pkl")


def accuracy(classifier, images, labels, minibatch_size=1000):
    """Fraction of `images` (uint8 [N, 1, 32, 32]) whose largest logit is at their label (int [N])."""
    logits = classifier.run(images, minibatch_size=minibatch_size)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def train(mnist_dir, output, epochs, minibatch_size, learning_rate, seed):
    """Train `C_fmnist` with Adam on the cross-entropy, RandomState(seed) minibatch order, then save it."""
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel  (first: before TensorFlow)
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    import dataset_tool  # pylint: disable=import-outside-toplevel
    from metrics import fmnist_classifier  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel

    images, labels = dataset_tool.load_mnist(mnist_dir, "train")
    test_images, test_labels = dataset_tool.load_mnist(mnist_dir, "test")
    tflib.init_tf({"rnd.np_random_seed": seed, "rnd.tf_random_seed": seed})
    classifier = tflib.Network("C_fmnist", func_name=fmnist_classifier.C_fmnist)
    images_in = tf.placeholder(tf.uint8, [None, 1, fmnist_classifier.RESOLUTION, fmnist_classifier.RESOLUTION])
    labels_in = tf.placeholder(tf.int32, [None])
    logits = classifier.get_output_for(images_in)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels_in, logits=logits))
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, var_list=list(classifier.trainables.values()))
    tflib.init_uninitialized_vars()

    rnd = np.random.RandomState(seed)
    time_begin = time.time()
    for epoch in range(epochs):
        order = rnd.permutation(images.shape[0])
        losses = []
        for begin in range(0, len(order), minibatch_size):
            batch = order[begin:begin + minibatch_size]
            _, loss_value = tflib.run([train_op, loss], {images_in: images[batch], labels_in: labels[batch]})
            losses.append(loss_value)
        print("epoch %d/%d  loss %.4f  test accuracy %.4f  time %.0f s"
              % (epoch + 1, epochs, np.mean(losses), accuracy(classifier, test_images, test_labels),
                 time.time() - time_begin), flush=True)
    print("train accuracy %.4f, test accuracy %.4f" % (accuracy(classifier, images, labels),
                                                       accuracy(classifier, test_images, test_labels)))
    misc.save_pkl(classifier, output)
    print('Saved "%s" (%d bytes)' % (output, os.path.getsize(output)))


def main(argv=None):
    parser = cli.ArgumentParser(description="Train the Fashion-MNIST classifier of the *_fmnist metrics.")
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR, metavar="DIR",
                        help="folder of the Fashion-MNIST idx files (default: %(default)s)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, metavar="FILE",
                        help="network pickle to write (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=6, metavar="N", help="default: %(default)s")
    parser.add_argument("--minibatch-size", type=int, default=64, metavar="N", help="default: %(default)s")
    parser.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR", help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=1000, help="NumPy and TensorFlow seed (default: %(default)s)")
    args = parser.parse_args(argv)

    import dnnlib.tflib  # noqa: F401  pylint: disable=import-outside-toplevel  (first: it quiets TensorFlow's start-up)
    from training import dataset as dataset_module  # pylint: disable=import-outside-toplevel
    try:
        train(**vars(args))
    except dataset_module.DatasetError as e:
        return cli.report_error(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
