"""The losses of StyleGAN2 training.

Each has the signature `(G, D, opt, training_set, minibatch_size, ...) -> (loss, reg)`; the D losses also
take the `reals` and their `labels`. `loss` is per sample ([N, 1]); `reg` is a per-sample regularization
term ([N]) or None. The training loop adds `reg` to `loss`, or with lazy regularization optimizes it in a
phase of its own every few minibatches. The ADA losses (`G_ada_pathreg`, `D_ada_r1`) also take `aug`, the
training loop's `AdaptiveAugment`, which augments every image D sees. Networks run with `is_training=True`;
latents are standard normal `[N] + G.input_shapes[0][1:]`, and G losses draw labels with
`training_set.get_random_labels_tf`.

Random numbers: the functions below call `tf.random_normal` / `tf.random_uniform` through the `tf`
module at graph-building time on purpose. While the training loop builds its towers,
`training.resume.StepSeededRandomOps.active()` puts stateless ops seeded by (op number, training step)
in their place, which is what lets a resumed run draw the same numbers as an uninterrupted one.
Outside training they are TensorFlow's ordinary stateful ops.
"""

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf
from dnnlib.tflib.autosummary import autosummary


# ------------------------------------------------------------------------------------------------------
# Pieces shared by the losses.

def _fp32(x):
    return tf.cast(x, tf.float32)


def _latents(G, num):
    return tf.random_normal([num] + G.input_shapes[0][1:])


def _score(D, images, labels):
    return _fp32(D.get_output_for(images, labels, is_training=True))


def _score_new_fakes(G, D, training_set, minibatch_size):
    """D's scores of G's images of random latents and random labels."""
    latents = _latents(G, minibatch_size)
    labels = training_set.get_random_labels_tf(minibatch_size)
    return _score(D, G.get_output_for(latents, labels, is_training=True), labels)


def _score_reals_and_fakes(G, D, minibatch_size, reals, labels):
    """(real scores, fake scores, fakes) for a D loss; the fakes share the reals' labels."""
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    real_scores, fake_scores = _score(D, reals, labels), _score(D, fakes, labels)
    return autosummary("Loss/scores/real", real_scores), autosummary("Loss/scores/fake", fake_scores), fakes


def _squared_gradient_norms(opt, scores, images):
    """|d sum(scores) / d image|^2 of each image [N], the sum taken under the optimizer's loss scaling."""
    total = tf.reduce_sum(scores)
    if opt is not None:
        total = opt.apply_loss_scaling(total)
    grads = _fp32(tf.gradients(total, [images])[0])
    if opt is not None:
        grads = opt.undo_loss_scaling(grads)
    return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])


# ------------------------------------------------------------------------------------------------------
# WGAN and WGAN-GP (Arjovsky et al. 2017; Gulrajani et al. 2017).

def G_wgan(G, D, opt, training_set, minibatch_size):
    """loss = -D(G(z))."""
    del opt
    return -_score_new_fakes(G, D, training_set, minibatch_size), None


def _critic_loss(real_scores, fake_scores, wgan_epsilon):
    """D(G(z)) - D(x), plus a small drift penalty epsilon * D(x)^2 that keeps the scores near 0."""
    with tf.name_scope("EpsilonPenalty"):
        drift = autosummary("Loss/epsilon_penalty", tf.square(real_scores))
    return fake_scores - real_scores + drift * wgan_epsilon


def D_wgan(G, D, opt, training_set, minibatch_size, reals, labels, wgan_epsilon=0.001):
    """loss = D(G(z)) - D(x) + epsilon * D(x)^2."""
    del opt, training_set
    real_scores, fake_scores, _ = _score_reals_and_fakes(G, D, minibatch_size, reals, labels)
    return _critic_loss(real_scores, fake_scores, wgan_epsilon), None


def D_wgan_gp(G, D, opt, training_set, minibatch_size, reals, labels, wgan_lambda=10.0, wgan_epsilon=0.001,
              wgan_target=1.0):
    """D_wgan's loss; reg = lambda / target^2 * (|grad D(mix)| - target)^2, with `mix` a random point on
    the line between a real and a fake image."""
    del training_set
    real_scores, fake_scores, fakes = _score_reals_and_fakes(G, D, minibatch_size, reals, labels)
    loss = _critic_loss(real_scores, fake_scores, wgan_epsilon)
    with tf.name_scope("GradientPenalty"):
        where = tf.random_uniform([minibatch_size, 1, 1, 1], 0.0, 1.0, dtype=fakes.dtype)
        mixed = tflib.lerp(tf.cast(reals, fakes.dtype), fakes, where)
        mixed_scores = autosummary("Loss/scores/mixed", _score(D, mixed, labels))
        norms = autosummary("Loss/mixed_norms", tf.sqrt(_squared_gradient_norms(opt, mixed_scores, mixed)))
        reg = tf.square(norms - wgan_target) * (wgan_lambda / (wgan_target ** 2))
    return loss, reg


# ------------------------------------------------------------------------------------------------------
# Logistic losses with R1/R2 (Goodfellow et al. 2014; Mescheder et al. 2018).

def G_logistic(G, D, opt, training_set, minibatch_size):
    """Saturating: loss = -softplus(D(G(z))), i.e. log(1 - sigmoid(D(G(z))))."""
    del opt
    return -tf.nn.softplus(_score_new_fakes(G, D, training_set, minibatch_size)), None


def G_logistic_ns(G, D, opt, training_set, minibatch_size):
    """Non-saturating: loss = softplus(-D(G(z))), i.e. -log(sigmoid(D(G(z))))."""
    del opt
    return tf.nn.softplus(-_score_new_fakes(G, D, training_set, minibatch_size)), None


def _logistic_d_loss(G, D, opt, minibatch_size, reals, labels, penalize=None, gamma=10.0):
    """softplus(D(G(z))) + softplus(-D(x)); with `penalize` ('reals' or 'fakes') also
    reg = gamma / 2 * |grad of D at those images|^2."""
    real_scores, fake_scores, fakes = _score_reals_and_fakes(G, D, minibatch_size, reals, labels)
    loss = tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)
    if penalize is None:
        return loss, None
    scores, images = (real_scores, reals) if penalize == "reals" else (fake_scores, fakes)
    with tf.name_scope("GradientPenalty"):
        penalty = autosummary("Loss/gradient_penalty", _squared_gradient_norms(opt, scores, images))
    return loss, penalty * (gamma * 0.5)


def D_logistic(G, D, opt, training_set, minibatch_size, reals, labels):
    """loss = softplus(D(G(z))) + softplus(-D(x))."""
    del training_set
    return _logistic_d_loss(G, D, opt, minibatch_size, reals, labels)


def D_logistic_r1(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    """D_logistic; reg = gamma/2 * |d sum(D(x)) / dx|^2 per real image [N]."""
    del training_set
    return _logistic_d_loss(G, D, opt, minibatch_size, reals, labels, penalize="reals", gamma=gamma)


def D_logistic_r2(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    """D_logistic; reg = gamma/2 * |d sum(D(G(z))) / dG(z)|^2 per fake image [N]."""
    del training_set
    return _logistic_d_loss(G, D, opt, minibatch_size, reals, labels, penalize="fakes", gamma=gamma)


# ------------------------------------------------------------------------------------------------------
# Path length regularization (StyleGAN2, section 3.2).

def _path_lengths(G, images, dlatents):
    """|J_w^T y| per image, y ~ N(0, I) / sqrt(H * W): the root of the mean over the dlatent layers of
    the squared gradient norm. Dividing y by sqrt(pixels) keeps the lengths alike at every resolution."""
    pixels = np.prod(G.output_shape[2:])
    probe = tf.random_normal(tf.shape(images)) / np.sqrt(pixels)
    grads = tf.gradients(tf.reduce_sum(images * probe), [dlatents])[0]
    per_layer = tf.reduce_sum(tf.square(grads), axis=2)
    return tf.sqrt(tf.reduce_mean(per_layer, axis=1))


def _path_length_penalty(G, images, dlatents, pl_decay):
    """(|J_w^T y| - a)^2 per image [N], where `a` is `pl_mean`, the moving average of the lengths (decay
    `pl_decay`), kept in a non-trainable variable outside the networks (so not pickled) and updated before
    the penalty is computed. Creates `pl_mean` in the caller's name scope."""
    lengths = autosummary("Loss/pl_lengths", _path_lengths(G, _fp32(images), dlatents))
    with tf.control_dependencies(None):
        pl_mean_var = tf.Variable(name="pl_mean", trainable=False, initial_value=0.0, dtype=tf.float32)
    pl_mean = pl_mean_var + pl_decay * (tf.reduce_mean(lengths) - pl_mean_var)
    with tf.control_dependencies([tf.assign(pl_mean_var, pl_mean)]):
        return autosummary("Loss/pl_penalty", tf.square(lengths - pl_mean))


def G_logistic_ns_pathreg(G, D, opt, training_set, minibatch_size, pl_minibatch_shrink=2, pl_decay=0.01,
                          pl_weight=2.0):
    """G_logistic_ns; reg = pl_weight * (|J_w^T y| - a)^2 on a batch of N // pl_minibatch_shrink
    (`_path_length_penalty`)."""
    del opt
    latents = _latents(G, minibatch_size)
    labels = training_set.get_random_labels_tf(minibatch_size)
    images, dlatents = G.get_output_for(latents, labels, is_training=True, return_dlatents=True)
    loss = tf.nn.softplus(-_score(D, images, labels))

    with tf.name_scope("PathReg"):
        if pl_minibatch_shrink > 1:
            # A smaller batch of its own: the penalty's second G pass costs less.
            num = minibatch_size // pl_minibatch_shrink
            pl_latents = _latents(G, num)
            pl_labels = training_set.get_random_labels_tf(num)
            images, dlatents = G.get_output_for(pl_latents, pl_labels, is_training=True, return_dlatents=True)
        penalty = _path_length_penalty(G, images, dlatents, pl_decay)
    return loss, penalty * pl_weight


# ------------------------------------------------------------------------------------------------------
# StyleGAN2-ADA: the logistic losses with R1 and path length regularization, D seeing every image (real
# or fake) through the augmentation `aug` (a training.adaptive_augment.AdaptiveAugment).

def _score_augmented(D, aug, images, labels):
    """D's scores of the augmented images; the gradient flows back through the augmentation."""
    images, labels = aug.apply(images, labels)
    return _score(D, images, labels)


def G_ada_pathreg(G, D, opt, training_set, minibatch_size, aug, pl_minibatch_shrink=2, pl_decay=0.01,
                  pl_weight=2.0):
    """loss = softplus(-D(aug(G(z, c)))) per sample [N, 1]; reg = pl_weight * (|J_w^T y| - a)^2 as in
    `G_logistic_ns_pathreg`, but on the first N // pl_minibatch_shrink of the same latents and labels
    (reg [N // shrink]; zeros when pl_weight is 0, so the regularization step still runs)."""
    del opt
    latents = _latents(G, minibatch_size)
    labels = training_set.get_random_labels_tf(minibatch_size)
    fakes = G.get_output_for(latents, labels, is_training=True)
    fake_scores = autosummary("Loss/scores/fake", _score_augmented(D, aug, fakes, labels))
    fake_scores = autosummary("Loss/signs/fake", tf.sign(fake_scores), passthru=fake_scores)
    loss = tf.nn.softplus(-fake_scores)

    with tf.name_scope("PathReg"):
        num = minibatch_size // pl_minibatch_shrink
        if pl_weight == 0:
            return loss, tf.zeros([num])
        images, dlatents = G.get_output_for(latents[:num], labels[:num], is_training=True, return_dlatents=True)
        penalty = _path_length_penalty(G, images, dlatents, pl_decay)
    return loss, penalty * pl_weight


def D_ada_r1(G, D, opt, training_set, minibatch_size, reals, labels, aug, gamma=10.0):
    """loss = softplus(D(aug(G(z, c')))) + softplus(-D(aug(x))) per sample [N, 1], with c' random labels;
    reg = gamma / 2 * |d sum(D(aug(x))) / dx|^2 [N], the gradient taken w.r.t. the reals before the
    augmentation. Reports the scores of the augmented reals to `aug` (r_t)."""
    fake_labels = training_set.get_random_labels_tf(minibatch_size)
    fakes = G.get_output_for(_latents(G, minibatch_size), fake_labels, is_training=True)
    fake_scores = autosummary("Loss/scores/fake", _score_augmented(D, aug, fakes, fake_labels))
    real_scores = autosummary("Loss/scores/real", _score_augmented(D, aug, reals, labels))
    aug.report_real_scores(real_scores)
    real_scores = autosummary("Loss/signs/real", tf.sign(real_scores), passthru=real_scores)
    loss = tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)
    with tf.name_scope("GradientPenalty"):
        penalty = autosummary("Loss/r1_penalty", _squared_gradient_norms(opt, real_scores, reals))
    return loss, penalty * (gamma * 0.5)
