"""A small CNN classifier of Fashion-MNIST images, the offline feature network of the `*_fmnist` metrics.

`C_fmnist` is a `dnnlib.tflib.Network` build function: pickles of it load in safe mode (it is one of
`network_pickle.KNOWN_BUILD_MODULES`). `train_fmnist_classifier.py` trains it and writes
`networks/fmnist-classifier.pkl`.
"""

import numpy as np

import dnnlib.tflib  # noqa: F401  Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

NUM_CLASSES = 10
RESOLUTION = 32  # Fashion-MNIST's 28x28 images zero-padded, as `dataset_tool.py create_mnist` writes them.


def _weight(name, shape, fan_in):
    """A float32 variable of He-normal initial values (std sqrt(2 / fan_in))."""
    return tf.get_variable(name, shape=shape, initializer=tf.initializers.random_normal(0, np.sqrt(2.0 / fan_in)))


def _bias(name, size):
    return tf.get_variable(name, shape=[size], initializer=tf.initializers.zeros())


def _conv_relu_pool(x, fmaps_out):
    """NHWC [N, H, W, C] -> [N, H/2, W/2, fmaps_out]: 3x3 convolution, bias, ReLU, 2x2 max-pooling."""
    fmaps_in = int(x.shape[3])
    w = _weight("weight", [3, 3, fmaps_in, fmaps_out], fan_in=9 * fmaps_in)
    x = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + _bias("bias", fmaps_out)
    return tf.nn.max_pool(tf.nn.relu(x), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")


def _dense(x, size):
    w = _weight("weight", [int(x.shape[1]), size], fan_in=int(x.shape[1]))
    return tf.matmul(x, w) + _bias("bias", size)


def C_fmnist(images_in, return_features=False, fmaps=(16, 32, 64), feature_size=128, num_classes=NUM_CLASSES,
             **_kwargs):
    """Images [N, 1, 32, 32] in [0, 255] (uint8 values, as the metrics give them) -> class logits
    [N, num_classes], or with `return_features` the ReLU features of the penultimate layer [N, feature_size].

    Three 3x3 convolutions of `fmaps` channels, each followed by 2x2 max-pooling, a dense layer of
    `feature_size` and the output layer. It computes in NHWC, which every TensorFlow and device supports.
    """
    images_in.set_shape([None, 1, RESOLUTION, RESOLUTION])
    x = tf.cast(images_in, tf.float32) * (2.0 / 255.0) - 1.0
    x = tf.transpose(x, [0, 2, 3, 1])
    for layer_idx, fmaps_out in enumerate(fmaps):
        with tf.variable_scope("Conv%d" % layer_idx):
            x = _conv_relu_pool(x, fmaps_out)
    x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
    with tf.variable_scope("Features"):
        features = tf.nn.relu(_dense(x, feature_size))
    with tf.variable_scope("Output"):
        logits = _dense(features, num_classes)
    return tf.identity(features if return_features else logits, name="features" if return_features else "logits")
