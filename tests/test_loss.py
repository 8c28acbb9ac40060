"""training.loss: the official numbers on the tiny reference network (fed random draws), and the other
losses against their formulas computed here with NumPy from the networks' own outputs."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
from training import loss

from reference_nets import build_reference_networks


class _NoLabels:
    label_size = 0

    def get_random_labels_tf(self, minibatch_size):
        return tf.zeros([minibatch_size, 0])


class _StubG:
    """Stands in for G: returns fixed images for any latents (as the reference harness did)."""

    def __init__(self, images, latent_size=32):
        self.images = images
        self.input_shapes = [[None, latent_size], [None, 0]]
        self.output_shape = [None] + list(images.shape[1:])

    def get_output_for(self, latents, labels, **kwargs):
        del latents, labels, kwargs
        return self.images


def _feed_random_normal(monkeypatch, arrays):
    """Replace tf.random_normal by fixed tensors, returned in call order (the shapes must match)."""
    queue = [np.asarray(a, np.float32) for a in arrays]

    def fake_random_normal(shape, *args, **kwargs):
        del args, kwargs
        value = tf.constant(queue.pop(0))
        return tf.reshape(value, shape)

    monkeypatch.setattr(tf, "random_normal", fake_random_normal)
    return queue


def _load(reference, name):
    path = os.path.join(reference, "pieces", "losses", name)
    if not os.path.isfile(path):
        pytest.skip("%s not found" % path)
    return np.load(path)


def test_d_logistic_and_r1_match_official(sess, reference, monkeypatch):
    ref = _load(reference, "r1_dlogistic.npz")
    _, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    reals = tf.placeholder(tf.float32, [8, 3, 16, 16])
    labels = tf.zeros([8, 0])
    G = _StubG(tf.constant(ref["fakes"]))
    _feed_random_normal(monkeypatch, [np.zeros([8, 32]), np.zeros([8, 32])])

    d_loss, d_reg = loss.D_logistic(G, D, None, None, 8, reals, labels)
    r1_loss, r1_reg = loss.D_logistic_r1(G, D, None, None, 8, reals, labels, gamma=10.0)
    assert d_reg is None
    real_scores = D.get_output_for(reals, labels, is_training=True)
    real_grads = tf.gradients(tf.reduce_sum(real_scores), [reals])[0]
    tflib.init_uninitialized_vars()
    out = sess.run([d_loss, r1_loss, r1_reg, real_grads], {reals: ref["reals"]})

    np.testing.assert_allclose(out[0], ref["D_logistic_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[1], ref["r1_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[3], ref["r1_real_grads"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(out[2], ref["r1_reg"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(out[2], ref["r1_gradient_penalty"] * 5.0, rtol=1e-3)


@pytest.mark.slow_on_tf1  # formula checks (long): TF 2.x only in CI; the official-number checks run on TF 1.15
def test_r2_penalizes_gradient_wrt_fakes(sess, reference, monkeypatch):
    ref = _load(reference, "r1_dlogistic.npz")
    _, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    reals = tf.constant(ref["reals"])
    fakes = tf.placeholder(tf.float32, [8, 3, 16, 16])
    labels = tf.zeros([8, 0])
    _feed_random_normal(monkeypatch, [np.zeros([8, 32])])
    r2_loss, r2_reg = loss.D_logistic_r2(_StubG(fakes), D, None, None, 8, reals, labels, gamma=4.0)
    fake_grads = tf.gradients(tf.reduce_sum(D.get_output_for(fakes, labels, is_training=True)), [fakes])[0]
    tflib.init_uninitialized_vars()
    out_loss, out_reg, grads = sess.run([r2_loss, r2_reg, fake_grads], {fakes: ref["fakes"]})
    # Swapping the roles of the reference's reals and fakes gives the official R1 number's structure:
    # here the gradient is w.r.t. the fakes.
    np.testing.assert_allclose(out_loss, ref["D_logistic_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_reg, 2.0 * np.sum(np.square(grads), axis=(1, 2, 3)), rtol=1e-5)
    assert out_reg.shape == (8,) and np.all(out_reg > 0)


def test_pathreg_matches_official(sess, reference, monkeypatch):
    ref = _load(reference, "pathreg.npz")
    G, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    G = G.clone("G_pathreg", style_mixing_prob=None, randomize_noise=False)
    _feed_random_normal(monkeypatch, [ref["latents"], ref["pl_latents"], ref["pl_noise_y"]])

    g_loss, g_reg = loss.G_logistic_ns_pathreg(G, D, None, _NoLabels(), 8, pl_minibatch_shrink=2,
                                               pl_decay=0.01, pl_weight=2.0)
    pl_mean_vars = [v for v in tf.global_variables() if v.name.endswith("pl_mean:0")]
    assert len(pl_mean_vars) == 1 and not pl_mean_vars[0] in tf.trainable_variables()
    assert not any("pl_mean" in name for name in G.vars)  # Not part of the network (nor of its pickle).
    tflib.init_uninitialized_vars()
    out_loss, out_reg = sess.run([g_loss, g_reg])
    pl_mean_after = sess.run(pl_mean_vars[0])

    np.testing.assert_allclose(out_loss, ref["G_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pl_mean_after, ref["pl_mean_after"], rtol=1e-4)
    np.testing.assert_allclose(out_reg, ref["pl_reg"], rtol=1e-3, atol=1e-7)

    # A second evaluation moves pl_mean 1% of the way to the (same) mean length.
    sess.run(g_reg)
    expected = pl_mean_after + 0.01 * (np.mean(ref["pl_lengths"]) - pl_mean_after)
    np.testing.assert_allclose(sess.run(pl_mean_vars[0]), expected, rtol=1e-4)


@pytest.mark.slow_on_tf1  # formula checks (long): TF 2.x only in CI; the official-number checks run on TF 1.15
def test_generator_losses_and_wgan_follow_their_formulas(sess, reference, monkeypatch):
    ref = _load(reference, "r1_dlogistic.npz")
    G, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    G = G.clone("G_fixed", style_mixing_prob=None, randomize_noise=False)
    latents = np.random.RandomState(5).randn(8, 32)
    labels = tf.zeros([8, 0])
    reals = tf.constant(ref["reals"])

    _feed_random_normal(monkeypatch, [latents] * 6)
    fakes = G.get_output_for(tf.constant(latents, tf.float32), labels, is_training=True)
    fake_scores_t = D.get_output_for(fakes, labels, is_training=True)
    real_scores_t = D.get_output_for(reals, labels, is_training=True)
    g_ns, _ = loss.G_logistic_ns(G, D, None, _NoLabels(), 8)
    g_sat, _ = loss.G_logistic(G, D, None, _NoLabels(), 8)
    g_wgan, _ = loss.G_wgan(G, D, None, _NoLabels(), 8)
    d_wgan, d_wgan_reg = loss.D_wgan(G, D, None, _NoLabels(), 8, reals, labels, wgan_epsilon=0.01)
    tflib.init_uninitialized_vars()
    fake_scores, real_scores, out = sess.run([fake_scores_t, real_scores_t, [g_ns, g_sat, g_wgan, d_wgan]])

    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    np.testing.assert_allclose(out[0], softplus(-fake_scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1], -softplus(fake_scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[2], -fake_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[3], fake_scores - real_scores + 0.01 * real_scores ** 2, rtol=1e-5, atol=1e-6)
    assert d_wgan_reg is None


@pytest.mark.slow_on_tf1  # formula checks (long): TF 2.x only in CI; the official-number checks run on TF 1.15
def test_wgan_gp_penalty_at_mixed_images(sess, reference, monkeypatch):
    ref = _load(reference, "r1_dlogistic.npz")
    _, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    reals = tf.constant(ref["reals"])
    fakes = tf.constant(ref["fakes"])
    labels = tf.zeros([8, 0])
    mix = np.random.RandomState(7).uniform(size=[8, 1, 1, 1]).astype(np.float32)
    _feed_random_normal(monkeypatch, [np.zeros([8, 32])])
    monkeypatch.setattr(tf, "random_uniform", lambda shape, *a, **k: tf.constant(mix))
    _, reg = loss.D_wgan_gp(_StubG(fakes), D, None, None, 8, reals, labels, wgan_lambda=10.0, wgan_target=2.0)

    mixed = tf.constant(ref["reals"] + (ref["fakes"] - ref["reals"]) * mix)
    grads = tf.gradients(tf.reduce_sum(D.get_output_for(mixed, labels, is_training=True)), [mixed])[0]
    tflib.init_uninitialized_vars()
    out_reg, out_grads = sess.run([reg, grads])
    norms = np.sqrt(np.sum(np.square(out_grads), axis=(1, 2, 3)))
    np.testing.assert_allclose(out_reg, (norms - 2.0) ** 2 * 10.0 / 4.0, rtol=1e-4)


@pytest.mark.slow_on_tf1  # formula checks (long): TF 2.x only in CI; the official-number checks run on TF 1.15
def test_loss_scaling_is_undone_in_r1(sess, reference, monkeypatch):
    ref = _load(reference, "r1_dlogistic.npz")
    _, D, _ = build_reference_networks(reference, "tiny-Gskip-Dresnet")
    reals = tf.constant(ref["reals"])
    labels = tf.zeros([8, 0])
    _feed_random_normal(monkeypatch, [np.zeros([8, 32])])
    opt = tflib.Optimizer(name="TestD", use_loss_scaling=True, loss_scaling_init=10.0)
    _, reg = loss.D_logistic_r1(_StubG(tf.constant(ref["fakes"])), D, opt, None, 8, reals, labels)
    tflib.init_uninitialized_vars()
    np.testing.assert_allclose(sess.run(reg), ref["r1_reg"], rtol=1e-3, atol=1e-6)
