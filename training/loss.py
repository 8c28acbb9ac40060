"""Loss functions of StyleGAN2 training (SPEC §5).

Every function has the signature `(G, D, opt, training_set, minibatch_size, ...) -> (loss, reg)`:
`loss` is a per-sample [N, 1] tensor, `reg` a per-sample regularization term [N] (or None). The training
loop either adds `reg` to `loss` or, with lazy regularization, optimizes it separately every few steps.
Networks are called with `is_training=True`. Latents are standard normal `[N] + G.input_shapes[0][1:]`;
G losses draw labels with `training_set.get_random_labels_tf(N)`.
"""

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf
from dnnlib.tflib.autosummary import autosummary


def _fp32(*values):
    values = [tf.cast(value, tf.float32) for value in values]
    return values if len(values) >= 2 else values[0]


def _apply_loss_scaling(opt, value):
    return value if opt is None else opt.apply_loss_scaling(value)


def _undo_loss_scaling(opt, value):
    return value if opt is None else opt.undo_loss_scaling(value)


def _generate_fakes(G, training_set, minibatch_size):
    """Fake images [N, C, H, W] from random latents and labels, and those labels [N, label_size]."""
    latents = tf.random_normal([minibatch_size] + G.input_shapes[0][1:])
    labels = training_set.get_random_labels_tf(minibatch_size)
    fake_images_out = G.get_output_for(latents, labels, is_training=True)
    return fake_images_out, labels


# ------------------------------------------------------------------------------------------------------
# WGAN and WGAN-GP (Gulrajani et al. 2017).

def G_wgan(G, D, opt, training_set, minibatch_size):
    """loss = -D(G(z))."""
    del opt
    fake_images_out, labels = _generate_fakes(G, training_set, minibatch_size)
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    loss = -fake_scores_out
    return loss, None


def D_wgan(G, D, opt, training_set, minibatch_size, reals, labels, wgan_epsilon=0.001):
    """loss = D(G(z)) - D(x) + epsilon * D(x)^2."""
    del opt
    latents = tf.random_normal([minibatch_size] + G.input_shapes[0][1:])
    fake_images_out = G.get_output_for(latents, labels, is_training=True)
    real_scores_out = _fp32(D.get_output_for(reals, labels, is_training=True))
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    real_scores_out = autosummary("Loss/scores/real", real_scores_out)
    fake_scores_out = autosummary("Loss/scores/fake", fake_scores_out)
    loss = fake_scores_out - real_scores_out
    with tf.name_scope("EpsilonPenalty"):
        epsilon_penalty = autosummary("Loss/epsilon_penalty", tf.square(real_scores_out))
    loss += epsilon_penalty * wgan_epsilon
    return loss, None


def D_wgan_gp(G, D, opt, training_set, minibatch_size, reals, labels, wgan_lambda=10.0, wgan_epsilon=0.001,
              wgan_target=1.0):
    """WGAN loss; reg = lambda / target^2 * (|grad D(mix)| - target)^2 at random mixes of reals and fakes."""
    latents = tf.random_normal([minibatch_size] + G.input_shapes[0][1:])
    fake_images_out = G.get_output_for(latents, labels, is_training=True)
    real_scores_out = _fp32(D.get_output_for(reals, labels, is_training=True))
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    real_scores_out = autosummary("Loss/scores/real", real_scores_out)
    fake_scores_out = autosummary("Loss/scores/fake", fake_scores_out)
    loss = fake_scores_out - real_scores_out
    with tf.name_scope("EpsilonPenalty"):
        epsilon_penalty = autosummary("Loss/epsilon_penalty", tf.square(real_scores_out))
    loss += epsilon_penalty * wgan_epsilon

    with tf.name_scope("GradientPenalty"):
        mixing_factors = tf.random_uniform([minibatch_size, 1, 1, 1], 0.0, 1.0, dtype=fake_images_out.dtype)
        mixed_images_out = tflib.lerp(tf.cast(reals, fake_images_out.dtype), fake_images_out, mixing_factors)
        mixed_scores_out = _fp32(D.get_output_for(mixed_images_out, labels, is_training=True))
        mixed_scores_out = autosummary("Loss/scores/mixed", mixed_scores_out)
        mixed_loss = _apply_loss_scaling(opt, tf.reduce_sum(mixed_scores_out))
        mixed_grads = _undo_loss_scaling(opt, _fp32(tf.gradients(mixed_loss, [mixed_images_out])[0]))
        mixed_norms = tf.sqrt(tf.reduce_sum(tf.square(mixed_grads), axis=[1, 2, 3]))
        mixed_norms = autosummary("Loss/mixed_norms", mixed_norms)
        gradient_penalty = tf.square(mixed_norms - wgan_target)
    reg = gradient_penalty * (wgan_lambda / (wgan_target ** 2))
    return loss, reg


# ------------------------------------------------------------------------------------------------------
# Non-saturating logistic loss with R1/R2 (Goodfellow et al. 2014; Mescheder et al. 2018).

def G_logistic(G, D, opt, training_set, minibatch_size):
    """Saturating loss = -softplus(D(G(z))) (log(1 - sigmoid(D(G(z)))))."""
    del opt
    fake_images_out, labels = _generate_fakes(G, training_set, minibatch_size)
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    loss = -tf.nn.softplus(fake_scores_out)
    return loss, None


def G_logistic_ns(G, D, opt, training_set, minibatch_size):
    """Non-saturating loss = softplus(-D(G(z))) (-log(sigmoid(D(G(z)))))."""
    del opt
    fake_images_out, labels = _generate_fakes(G, training_set, minibatch_size)
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    loss = tf.nn.softplus(-fake_scores_out)
    return loss, None


def _D_logistic_scores(G, D, minibatch_size, reals, labels):
    latents = tf.random_normal([minibatch_size] + G.input_shapes[0][1:])
    fake_images_out = G.get_output_for(latents, labels, is_training=True)
    real_scores_out = _fp32(D.get_output_for(reals, labels, is_training=True))
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    real_scores_out = autosummary("Loss/scores/real", real_scores_out)
    fake_scores_out = autosummary("Loss/scores/fake", fake_scores_out)
    return real_scores_out, fake_scores_out, fake_images_out


def D_logistic(G, D, opt, training_set, minibatch_size, reals, labels):
    """loss = softplus(D(G(z))) + softplus(-D(x))."""
    del opt, training_set
    real_scores_out, fake_scores_out, _ = _D_logistic_scores(G, D, minibatch_size, reals, labels)
    loss = tf.nn.softplus(fake_scores_out) + tf.nn.softplus(-real_scores_out)
    return loss, None


def D_logistic_r1(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    """D_logistic; reg = gamma/2 * |d sum(D(x)) / dx|^2 per real image [N]."""
    del training_set
    real_scores_out, fake_scores_out, _ = _D_logistic_scores(G, D, minibatch_size, reals, labels)
    loss = tf.nn.softplus(fake_scores_out) + tf.nn.softplus(-real_scores_out)
    reg = _gradient_penalty(opt, real_scores_out, reals) * (gamma * 0.5)
    return loss, reg


def D_logistic_r2(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    """D_logistic; reg = gamma/2 * |d sum(D(G(z))) / dG(z)|^2 per fake image [N]."""
    del training_set
    real_scores_out, fake_scores_out, fake_images_out = _D_logistic_scores(G, D, minibatch_size, reals, labels)
    loss = tf.nn.softplus(fake_scores_out) + tf.nn.softplus(-real_scores_out)
    reg = _gradient_penalty(opt, fake_scores_out, fake_images_out) * (gamma * 0.5)
    return loss, reg


def _gradient_penalty(opt, scores_out, images):
    """|d sum(scores) / d images|^2 per image [N] (under the optimizer's loss scaling), autosummarised."""
    with tf.name_scope("GradientPenalty"):
        scaled_sum = _apply_loss_scaling(opt, tf.reduce_sum(scores_out))
        grads = _undo_loss_scaling(opt, _fp32(tf.gradients(scaled_sum, [images])[0]))
        gradient_penalty = tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])
        return autosummary("Loss/gradient_penalty", gradient_penalty)


# ------------------------------------------------------------------------------------------------------
# Non-saturating logistic loss with path length regularization (StyleGAN2, section 3.2).

def G_logistic_ns_pathreg(G, D, opt, training_set, minibatch_size, pl_minibatch_shrink=2, pl_decay=0.01,
                          pl_weight=2.0):
    """G_logistic_ns; reg = pl_weight * (|J_w^T y| - a)^2 on a batch of N // pl_minibatch_shrink.

    y ~ N(0, I) / sqrt(H * W); the length is the root mean over layers of the squared gradient norm;
    a is `pl_mean`, an exponential moving average of the lengths (decay `pl_decay`) kept in a
    non-trainable variable that is not part of any network (so not in the pickle).
    """
    del opt
    latents = tf.random_normal([minibatch_size] + G.input_shapes[0][1:])
    labels = training_set.get_random_labels_tf(minibatch_size)
    fake_images_out, fake_dlatents_out = G.get_output_for(latents, labels, is_training=True, return_dlatents=True)
    fake_scores_out = _fp32(D.get_output_for(fake_images_out, labels, is_training=True))
    loss = tf.nn.softplus(-fake_scores_out)

    with tf.name_scope("PathReg"):
        # A smaller batch of its own (default half): the penalty needs a second G pass only then.
        if pl_minibatch_shrink > 1:
            pl_minibatch = minibatch_size // pl_minibatch_shrink
            pl_latents = tf.random_normal([pl_minibatch] + G.input_shapes[0][1:])
            pl_labels = training_set.get_random_labels_tf(pl_minibatch)
            fake_images_out, fake_dlatents_out = G.get_output_for(pl_latents, pl_labels, is_training=True,
                                                                  return_dlatents=True)

        # The noise scale makes the expected |J^T y| independent of the image resolution.
        num_pixels = np.prod(G.output_shape[2:])
        pl_noise = tf.random_normal(tf.shape(fake_images_out)) / np.sqrt(num_pixels)
        pl_grads = tf.gradients(tf.reduce_sum(fake_images_out * pl_noise), [fake_dlatents_out])[0]
        pl_lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(pl_grads), axis=2), axis=1))
        pl_lengths = autosummary("Loss/pl_lengths", pl_lengths)

        with tf.control_dependencies(None):
            pl_mean_var = tf.Variable(name="pl_mean", trainable=False, initial_value=0.0, dtype=tf.float32)
        pl_mean = pl_mean_var + pl_decay * (tf.reduce_mean(pl_lengths) - pl_mean_var)
        pl_update = tf.assign(pl_mean_var, pl_mean)
        with tf.control_dependencies([pl_update]):
            pl_penalty = tf.square(pl_lengths - pl_mean)
            pl_penalty = autosummary("Loss/pl_penalty", pl_penalty)
        reg = pl_penalty * pl_weight
    return loss, reg
