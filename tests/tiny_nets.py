"""Small build functions for the Network tests, written like the StyleGAN2 networks (TF1 graph style).

This file's text is embedded in the pickles the tests write, as the official code embeds its network
module.
"""

import numpy as np
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib


def dense_net(x_in, labels_in, num_in=4, num_out=3, hidden=5, scale=1.0, **_kwargs):
    """[N, num_in] and [N, 2] -> [N, num_out]: a two-layer MLP with a label term."""
    x_in.set_shape([None, num_in])
    labels_in.set_shape([None, 2])
    with tf.variable_scope("Dense0"):
        w = tf.get_variable("weight", [num_in, hidden], initializer=tf.initializers.random_normal())
        b = tf.get_variable("bias", [hidden], initializer=tf.initializers.random_normal())
        x = tf.nn.leaky_relu(tf.matmul(x_in, w) + b, alpha=0.2)
    with tf.variable_scope("Output"):
        w = tf.get_variable("weight", [hidden, num_out], initializer=tf.initializers.random_normal())
        b = tf.get_variable("bias", [num_out], initializer=tf.initializers.random_normal())
        x = tf.matmul(x, w) + b
    with tf.variable_scope("LabelProj"):
        w = tf.get_variable("weight", [2, num_out], initializer=tf.initializers.random_normal())
        x += tf.matmul(labels_in, w)
    calls = tf.get_variable("calls", [], initializer=tf.initializers.zeros(), trainable=False)
    return tf.identity(x * scale, name="scores_out")


def outer_net(latents_in, is_template_graph=False, components=dnnlib.EasyDict(), num_in=4, **kwargs):
    """[N, num_in] -> ([N, 3], [N, 3]): a component network plus an own variable, like G_main."""
    if "inner" not in components:
        components.inner = tflib.Network("Tiny_inner", func_name=globals()["dense_net"], num_in=num_in, **kwargs)
    offset = tf.get_variable("offset", [3], initializer=tf.initializers.constant(0.5), trainable=False)
    labels = tf.zeros([tf.shape(latents_in)[0], 2])
    inner_out = components.inner.get_output_for(latents_in, labels)
    out = tf.identity(inner_out + offset, name="images_out")
    doubled = tf.identity(out * 2, name="doubled_out")
    return out, doubled


def unshaped_net(x_in, **_kwargs):
    """Forgets to set its input shape: Network must refuse it."""
    return x_in * 2


def scale_inputs(*inputs, factor=1.0):
    """An input transform for Network.run: multiply every input by `factor`."""
    return [x * factor for x in inputs]
