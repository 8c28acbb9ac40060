"""Small stand-ins for the metrics' feature networks (Inception, VGG16, LPIPS, attribute classifiers),
written as TF1-style build functions. The metric tests pickle them and load them back through file://
URLs; this file's text is embedded in those pickles and executed when they load. No tests here."""

import numpy as np
import tensorflow.compat.v1 as tf


def _trunk(images, scale, offset, num_out):
    """Float images [N, 3, H, W] -> [N, num_out]: images*scale+offset, area-resized to 8x8, a dense layer."""
    x = tf.cast(images, tf.float32) * scale + offset
    x = tf.transpose(x, [0, 2, 3, 1])  # NCHW -> NHWC for resizing.
    x = tf.image.resize_area(x, [8, 8])
    x = tf.reshape(x, [-1, 8 * 8 * 3])
    with tf.variable_scope("Trunk", reuse=tf.AUTO_REUSE):
        w = tf.get_variable("weight", [8 * 8 * 3, num_out], initializer=tf.initializers.random_normal(0, 0.125))
        b = tf.get_variable("bias", [num_out], initializer=tf.initializers.random_normal(0, 0.1))
    return tf.nn.tanh(tf.matmul(x, w) + b)


def inception_features(images_in, num_features=16, **_kwargs):
    """uint8-valued images [N, 3, H, W] in [0, 255] (any H, W) -> features [N, num_features]."""
    images_in.set_shape([None, 3, None, None])
    return tf.identity(_trunk(images_in, 1 / 127.5, -1.0, num_features), name="features")


def inception_softmax(images_in, num_classes=10, **_kwargs):
    """uint8-valued images [N, 3, H, W] -> class probabilities [N, num_classes]."""
    images_in.set_shape([None, 3, None, None])
    logits = _trunk(images_in, 1 / 127.5, -1.0, num_classes) * 4.0
    return tf.nn.softmax(logits, name="softmax")


def lpips_distance(images_a_in, images_b_in, **_kwargs):
    """Two float images [N, 3, H, W] in [0, 255] -> [N] mean squared difference of their features."""
    images_a_in.set_shape([None, 3, None, None])
    images_b_in.set_shape([None, 3, None, None])
    features_a = _trunk(images_a_in, 1 / 127.5, -1.0, 24)
    features_b = _trunk(images_b_in, 1 / 127.5, -1.0, 24)
    return tf.reduce_mean(tf.square(features_a - features_b), axis=1, name="distance")


def attribute_classifier(images_in, labels_in, **_kwargs):
    """Float images [N, 3, H, W] in [-1, 1] and empty labels [N, 0] -> one logit [N, 1]."""
    images_in.set_shape([None, 3, None, None])
    labels_in.set_shape([None, 0])
    return tf.identity(_trunk(images_in, 1.0, 0.0, 1) * 3.0, name="logit")


def constant_features(images_in, **_kwargs):
    """Images -> the same 4 features for every image (a degenerate network: FID of anything is 0)."""
    images_in.set_shape([None, 3, None, None])
    return tf.zeros([tf.shape(images_in)[0], 4]) + np.float32([1, 2, 3, 4])


def constant_generator(latents_in, labels_in, resolution=16, **_kwargs):
    """A 'generator' whose image [N, 3, R, R] in [-1, 1] is the same fixed pattern for every latent."""
    latents_in.set_shape([None, 4])
    labels_in.set_shape([None, 0])
    ramp = np.linspace(-0.9, 0.9, resolution, dtype=np.float32)
    pattern = np.stack([ramp[np.newaxis, :] * np.ones([resolution, 1], np.float32),
                        ramp[:, np.newaxis] * np.ones([1, resolution], np.float32),
                        np.full([resolution, resolution], 0.3, np.float32)])
    scale = tf.get_variable("scale", [], initializer=tf.initializers.ones())
    images = tf.zeros([tf.shape(latents_in)[0], 1, 1, 1]) + pattern[np.newaxis] * scale
    return tf.identity(images, name="images_out")
