"""projector.Projector on the official tiny reference generator with a small stand-in distance network:
the projector's schedules and W statistics, the noise regularizer and renormalisation, and that
projecting an image the network generated converges."""

import importlib
import os
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import projector
from metrics import metric_base
from training import misc
from conftest import reference_dir
from reference_nets import assign_vars, load_meta

# The stand-in for LPIPS: a module of its own, because a Network pickle embeds (and on loading executes)
# the whole source of its build function's module. Pixels plus fixed random 3x3-convolution features,
# compared at full and half resolution.
STANDIN_MODULE = "projector_standin_distance"
NOISE_SHAPES = [(1, 1, 4, 4), (1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 16, 16), (1, 1, 16, 16)]  # noise0..4 of the tiny Gs
STANDIN_SOURCE = '''"""A stand-in for the LPIPS network in the projector tests."""

import numpy as np
import tensorflow.compat.v1 as tf


def standin_distance(images_a_in, images_b_in, num_channels=3, num_features=8, **_kwargs):
    """Two image batches [N, C, H, W] in [0, 255] -> [N]: mean squared difference of the pixels (scaled to
    [-1, 1]) and of tanh(3x3 convolution) features, at full and at half resolution."""
    images_a_in.set_shape([None, num_channels, None, None])
    images_b_in.set_shape([None, num_channels, None, None])
    shape = [3, 3, num_channels, num_features]
    weight = tf.get_variable("weight", shape, initializer=tf.constant_initializer(
        np.random.RandomState(7).normal(0, 0.5, shape).astype(np.float32)))
    total = 0.0
    a = tf.transpose(images_a_in, [0, 2, 3, 1]) / 127.5 - 1  # NHWC: convolutions on any CPU.
    b = tf.transpose(images_b_in, [0, 2, 3, 1]) / 127.5 - 1
    for _scale in range(2):
        features_a = tf.nn.tanh(tf.nn.conv2d(a, weight, [1, 1, 1, 1], "SAME"))
        features_b = tf.nn.tanh(tf.nn.conv2d(b, weight, [1, 1, 1, 1], "SAME"))
        total += tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3])
        total += tf.reduce_mean(tf.square(features_a - features_b), axis=[1, 2, 3])
        a = tf.nn.avg_pool(a, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        b = tf.nn.avg_pool(b, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    return tf.identity(total, name="distance")
'''


def standin_distance_net(module_dir, num_channels=3):
    """Build the stand-in distance Network (its module written to `module_dir` and imported)."""
    path = os.path.join(str(module_dir), STANDIN_MODULE + ".py")
    if not os.path.isfile(path):
        with open(path, "w") as f:
            f.write(STANDIN_SOURCE)
    if str(module_dir) not in sys.path:
        sys.path.insert(0, str(module_dir))
    module = importlib.import_module(STANDIN_MODULE)
    net = tflib.Network("StandinLPIPS", func_name=module.standin_distance, num_channels=num_channels)
    return net


def save_standin_distance_pkl(module_dir, pkl_path, num_channels=3):
    """The stand-in distance network as a pickle, as a user's --lpips-pkl file would be."""
    with tf.Graph().as_default(), tflib.create_session().as_default():
        misc.save_pkl(standin_distance_net(module_dir, num_channels), str(pkl_path))
    return str(pkl_path)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("standin")


def build_reference_Gs(name="tiny-Gskip-Dresnet"):
    """Only Gs of a reference folder (building G and D too would double the time)."""
    ref_dir = reference_dir()
    static_kwargs = load_meta(ref_dir, name)["G_static_kwargs"]
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan2.G_main", **static_kwargs)
    assign_vars(Gs, os.path.join(ref_dir, name, "vars_Gs.npz"))
    return Gs


@pytest.fixture(scope="module")
def shared(module_dir):
    """One graph and session for the module: the tiny Gs, the stand-in distance net and a Projector on them
    (default settings except 2000 W samples); tests set `num_steps` as they need."""
    if not os.path.isdir(reference_dir()):
        pytest.skip("reference numbers not found at %s" % reference_dir())
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1234)
        session = tflib.create_session(force_as_default=False)
        with session.as_default():
            Gs = build_reference_Gs()
            distance = standin_distance_net(module_dir)
            proj = projector.Projector(distance_net=distance, dlatent_avg_samples=2000)
            proj.set_network(Gs)
    yield dnnlib.EasyDict(graph=graph, session=session, Gs=Gs, distance=distance, proj=proj)
    session.close()


@pytest.fixture
def tiny(shared):
    """`shared`, with its graph and session the defaults for the test."""
    with shared.graph.as_default(), shared.session.as_default():
        yield shared


def _generated_target(Gs, seed):
    """The official project-generated-images target: z and noise maps from RandomState(seed), psi 1."""
    rnd = np.random.RandomState(seed)
    z = rnd.randn(1, *Gs.input_shape[1:])
    noise_vars = [var for name, var in Gs.components.synthesis.vars.items() if name.startswith("noise")]
    tflib.set_vars({var: rnd.randn(*var.shape.as_list()) for var in noise_vars})
    return Gs.run(z, None, randomize_noise=False, truncation_psi=1.0)


# ------------------------------------------------------------------------------------------------------
# Schedules, computed here from the projector's formulas.

def _spec_learning_rate(t):
    ramp = min(1.0, (1.0 - t) / 0.25)
    ramp = 0.5 - 0.5 * np.cos(np.pi * ramp)
    ramp *= min(1.0, t / 0.05)
    return 0.1 * ramp


def _spec_noise_strength(t, w_std):
    return w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2


def test_defaults_are_the_official_ones():
    proj = projector.Projector()
    assert (proj.num_steps, proj.dlatent_avg_samples, proj.initial_learning_rate, proj.initial_noise_factor,
            proj.lr_rampdown_length, proj.lr_rampup_length, proj.noise_ramp_length, proj.regularize_noise_weight,
            proj.verbose, proj.clone_net, proj.w_plus) == (1000, 10000, 0.1, 0.05, 0.25, 0.05, 0.75, 1e5, False,
                                                           True, False)
    assert projector.LPIPS_URL == ("https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/"
                                   "vgg16_zhang_perceptual.pkl")
    with pytest.raises(TypeError, match="no attribute 'num_stepz'"):
        projector.Projector(num_stepz=10)


def test_schedule_functions_at_given_steps():
    # Landmarks: 0 at the start, ramp-up to step 50, flat 0.1 until 750, cosine down to 0 at 1000.
    assert projector.learning_rate_at(0.0) == 0.0
    assert projector.learning_rate_at(0.025) == pytest.approx(0.05)
    assert projector.learning_rate_at(0.05) == pytest.approx(0.1)
    assert projector.learning_rate_at(0.5) == pytest.approx(0.1)
    assert projector.learning_rate_at(0.875) == pytest.approx(0.05)
    assert projector.learning_rate_at(1.0) == 0.0
    assert projector.noise_strength_at(0.0, 2.0) == pytest.approx(0.1)
    assert projector.noise_strength_at(0.375, 2.0) == pytest.approx(0.025)
    assert projector.noise_strength_at(0.75, 2.0) == 0.0 and projector.noise_strength_at(0.9, 2.0) == 0.0
    for step in [0, 1, 10, 49, 50, 51, 300, 749, 750, 751, 800, 900, 999, 1000]:
        t = step / 1000
        assert projector.learning_rate_at(t) == pytest.approx(_spec_learning_rate(t), abs=1e-12)
        assert projector.noise_strength_at(t, 1.7) == pytest.approx(_spec_noise_strength(t, 1.7), abs=1e-12)


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_steps_feed_the_scheduled_values_and_w_statistics(tiny):
    proj, Gs = tiny.proj, tiny.Gs
    proj.num_steps = 40

    # W statistics, computed here: layer 0 of the mapping output for RandomState(123) latents.
    latents = np.random.RandomState(123).randn(2000, 32)
    w = Gs.components.mapping.run(latents, None)[:, 0, :].astype(np.float64)  # [N, C]
    w_avg = w.mean(axis=0)
    w_std = np.sqrt(np.sum((w - w_avg) ** 2) / 2000)
    np.testing.assert_allclose(proj._dlatent_avg[0, 0], w_avg, rtol=1e-5, atol=1e-6)
    assert proj._dlatent_std == pytest.approx(w_std, rel=1e-5)

    proj.start(_generated_target(Gs, 3))
    assert proj.get_cur_step() == 0
    np.testing.assert_allclose(proj.get_dlatents(), np.tile(w_avg, [1, 6, 1]), rtol=1e-5, atol=1e-6)
    proj.step()
    # Step 0 has learning rate 0: w does not move (the w noise only perturbs that step's image).
    np.testing.assert_allclose(proj.get_dlatents(), np.tile(w_avg, [1, 6, 1]), rtol=1e-5, atol=1e-6)
    while proj.get_cur_step() < proj.num_steps:
        proj.step()
    assert proj.get_cur_step() == 40 and len(proj.history) == 40
    for step, record in enumerate(proj.history):
        t = step / 40
        assert record.step == step + 1
        assert record.learning_rate == pytest.approx(_spec_learning_rate(t), abs=1e-12)
        assert record.noise_strength == pytest.approx(_spec_noise_strength(t, w_std), rel=1e-5, abs=1e-12)
    assert np.abs(proj.get_dlatents() - w_avg).max() > 1e-3  # Later steps do move w.
    proj.step()  # Past the end: nothing happens.
    assert proj.get_cur_step() == 40


def _autocorrelation_penalty(noise):
    """The noise regulariser for one [1, 1, H, W] map, in NumPy."""
    total = 0.0
    v = noise.astype(np.float64)
    while True:
        total += np.mean(v * np.roll(v, 1, axis=3)) ** 2 + np.mean(v * np.roll(v, 1, axis=2)) ** 2
        size = v.shape[2]
        if size <= 8:
            return total
        v = v.reshape(1, 1, size // 2, 2, size // 2, 2).mean(axis=(3, 5))


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_loss_is_distance_plus_weighted_noise_regularization(tiny):
    proj = tiny.proj
    proj.num_steps = 10
    proj.start(_generated_target(tiny.Gs, 1))
    noises = proj.get_noises()
    assert [n.shape for n in noises] == NOISE_SHAPES
    proj.step()
    record = proj.history[0]
    expected_reg = sum(_autocorrelation_penalty(n) for n in noises)
    assert expected_reg > 1e-6  # Random maps have some autocorrelation: the term is not trivially 0.
    assert record.loss - record.distance == pytest.approx(1e5 * expected_reg, rel=1e-3)


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_noise_maps_stay_zero_mean_unit_variance(tiny):
    proj = tiny.proj
    proj.num_steps = 20
    proj.start(_generated_target(tiny.Gs, 2))
    start = proj.get_noises()
    for _ in range(20):
        proj.step()
        for noise in proj.get_noises():
            assert abs(noise.mean()) < 1e-5
            assert noise.std() == pytest.approx(1.0, abs=1e-4)
    # They are optimised, not only renormalised: far from the random start.
    assert all(np.abs(a - b).max() > 1e-2 for a, b in zip(start, proj.get_noises()))


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_projecting_a_generated_image_converges(tiny):
    proj, Gs = tiny.proj, tiny.Gs
    proj.num_steps = 100
    target = _generated_target(Gs, 5)
    proj.start(target)
    start_images = proj.get_images()  # w_avg with the random initial noise maps.
    while proj.get_cur_step() < proj.num_steps:
        proj.step()
    distances = np.array([record.distance for record in proj.history])

    # Steadily lower: the mean distance of each block of 20 steps is below the previous block's. The end is
    # not 0: the noise maps, drawn anew, do not become the target's within 100 steps (and are regularised).
    block_means = distances.reshape(5, 20).mean(axis=1)
    assert np.all(np.diff(block_means) < 0), block_means
    assert distances[-1] < 0.3 * distances[0], (distances[0], distances[-1])
    # And closer in plain pixels too, not only under the distance network.
    final_images = proj.get_images()
    start_mse = np.mean((start_images - target) ** 2)
    final_mse = np.mean((final_images - target) ** 2)
    assert final_mse < 0.35 * start_mse, (start_mse, final_mse)

    # The images are those of the projected dlatents and noise maps, through the network (a fresh clone),
    # and the caller's network is untouched (clone_net: its noise maps are still the seed's).
    dlatents, noises = proj.get_dlatents(), proj.get_noises()
    assert dlatents.shape == (1, 6, 32)
    np.testing.assert_array_equal(dlatents, np.tile(dlatents[:, :1], [1, 6, 1]))  # One shared w.
    rnd = np.random.RandomState(5)
    rnd.randn(1, 32)
    np.testing.assert_array_equal(Gs.get_var("G_synthesis/noise0"), rnd.randn(1, 1, 4, 4).astype(np.float32))
    synthesis = Gs.components.synthesis
    noise_vars = [var for name, var in synthesis.vars.items() if name.startswith("noise")]
    tflib.set_vars(dict(zip(noise_vars, noises)))
    images = synthesis.run(dlatents, randomize_noise=False)
    np.testing.assert_allclose(images, final_images, atol=1e-5)


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_run_returns_dlatents_noises_images(tiny):
    proj = tiny.proj
    proj.num_steps = 3
    result = proj.run(_generated_target(tiny.Gs, 4))
    assert proj.get_cur_step() == 3 and len(proj.history) == 3
    assert sorted(result.keys()) == ["dlatents", "images", "noises"]
    assert result.dlatents.shape == (1, 6, 32) and result.images.shape == (1, 3, 16, 16)
    assert [n.shape for n in result.noises] == NOISE_SHAPES
    np.testing.assert_array_equal(result.images, proj.get_images())


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_w_plus_optimises_one_w_per_layer(tiny):
    proj = projector.Projector(distance_net=tiny.distance, dlatent_avg_samples=500, w_plus=True, clone_net=False,
                               num_steps=40)
    proj.set_network(tiny.Gs)
    assert proj._graph.dlatents_var.shape.as_list() == [1, 6, 32]
    result = proj.run(_generated_target(tiny.Gs, 6))
    per_layer_spread = np.abs(result.dlatents - result.dlatents[:, :1]).max(axis=2)[0]
    assert np.all(per_layer_spread[1:] > 1e-3), per_layer_spread
    assert proj.history[-1].distance < 0.5 * proj.history[0].distance


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_grayscale_network(sess, reference, module_dir):
    Gs = build_reference_Gs("tiny-gray")
    proj = projector.Projector(num_steps=3, dlatent_avg_samples=200, clone_net=False,
                               distance_net=standin_distance_net(module_dir, num_channels=1))
    proj.set_network(Gs)
    result = proj.run(_generated_target(Gs, 0))
    assert result.images.shape == (1, 1, 16, 16)
    assert proj.history[-1].distance < proj.history[0].distance


def test_downsampling_to_256():
    images = np.random.RandomState(0).rand(2, 3, 1024, 1024).astype(np.float32)
    small = metric_base.downsample_for_feature_net(images, 256)
    assert small.shape == (2, 3, 256, 256)
    np.testing.assert_allclose(small[1, 2, 10, 20], images[1, 2, 40:44, 80:84].mean(), rtol=1e-5)
    np.testing.assert_array_equal(metric_base.downsample_for_feature_net(images[:, :, :256, :256], 256), images[:, :, :256, :256])
    with tf.Graph().as_default(), tf.Session() as session:
        small_tf = session.run(metric_base.downsample_for_feature_net(tf.constant(images[:, :, :512, :512]), 256))
    np.testing.assert_allclose(small_tf, images[:, :, :512, :512].reshape(2, 3, 256, 2, 256, 2).mean(axis=(3, 5)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_images_larger_than_the_distance_resolution_are_downsampled(tiny, monkeypatch):
    """As 512x512 images reach LPIPS at 256x256: here the 16x16 network with the limit set to 8."""
    monkeypatch.setattr(projector, "LPIPS_RESOLUTION", 8)
    proj = projector.Projector(distance_net=tiny.distance, dlatent_avg_samples=100, clone_net=False, num_steps=2)
    proj.set_network(tiny.Gs)
    assert proj._graph.target_images_var.shape.as_list() == [1, 3, 8, 8]
    target = np.random.RandomState(1).uniform(-1, 1, [1, 3, 16, 16]).astype(np.float32)
    proj.start(target)
    expected = ((target + 1) * 127.5).reshape(1, 3, 8, 2, 8, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(tflib.run(proj._graph.target_images_var), expected, rtol=1e-5, atol=1e-3)
    # The distance compares the box-downsampled image [0, 255] with that target.
    images = proj.get_images()
    assert images.shape == (1, 3, 16, 16)
    images_small = ((images + 1) * 127.5).reshape(1, 3, 8, 2, 8, 2).mean(axis=(3, 5))
    expected_distance = tiny.distance.run(images_small, expected)
    np.testing.assert_allclose(tflib.run(proj._graph.dist, {proj._graph.noise_in: 0}), expected_distance, rtol=1e-4)
    assert expected_distance[0] > 0.01


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_bad_inputs(tiny, tmp_path, monkeypatch):
    proj, Gs = tiny.proj, tiny.Gs
    with pytest.raises(ValueError, match=r"target images must be \[1, 3, 16, 16\].*got \[1, 3, 8, 8\]"):
        proj.start(np.zeros([1, 3, 8, 8]))
    with pytest.raises(ValueError, match="minibatch_size=1 only"):
        projector.Projector().set_network(Gs, minibatch_size=2)

    missing = str(tmp_path / "missing.pkl")
    with pytest.raises(misc.NetworkPickleError, match="missing.pkl: no such file"):
        projector.Projector(distance_net=missing).set_network(Gs)
    not_a_distance = str(tmp_path / "synthesis.pkl")
    misc.save_pkl(Gs.components.synthesis, not_a_distance)
    with pytest.raises(misc.NetworkPickleError, match="takes two image batches"):
        projector.load_distance_net(not_a_distance)

    # An LPIPS URL that cannot be downloaded: one line naming it and how to use a local copy.
    monkeypatch.setattr(dnnlib.util, "_RETRY_FIRST_DELAY_S", 0.0)
    monkeypatch.setattr(dnnlib.util, "_RETRY_MAX_DELAY_S", 0.0)
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", str(tmp_path / "cache"))
    url = "http://127.0.0.1:9/metrics/vgg16_zhang_perceptual.pkl"
    with pytest.raises(misc.NetworkPickleError) as info:
        projector.load_distance_net(url)
    message = str(info.value)
    assert "\n" not in message and url in message and "--lpips-pkl=PATH" in message

    # The default location: the official URL, or $STYLEGAN2_METRICS_DIR's copy.
    monkeypatch.delenv("STYLEGAN2_METRICS_DIR", raising=False)
    assert projector.default_lpips_location() == projector.LPIPS_URL
    monkeypatch.setenv("STYLEGAN2_METRICS_DIR", str(tmp_path))
    assert projector.default_lpips_location() == os.path.join(str(tmp_path), "vgg16_zhang_perceptual.pkl")


@pytest.mark.slow_on_tf1  # optimisation runs (long), not TF-version specific: TF 2.x only in CI
def test_conditional_network_projects_in_w_with_statistics_of_all_classes(sess, reference, module_dir):
    Gs = build_reference_Gs("tiny-cond4")
    proj = projector.Projector(num_steps=3, dlatent_avg_samples=200, clone_net=False,
                               distance_net=standin_distance_net(module_dir))
    proj.set_network(Gs)
    latents = np.random.RandomState(123).randn(200, 32)
    w_avg = {c: Gs.components.mapping.run(latents[c::4], np.eye(4)[[c] * 50])[:, 0, :].mean(axis=0) for c in range(4)}
    assert np.abs(w_avg[0] - w_avg[1]).max() > 1e-3  # The classes map differently...
    np.testing.assert_allclose(proj._dlatent_avg[0, 0], np.mean(list(w_avg.values()), axis=0), rtol=1e-5, atol=1e-6)
    target = Gs.run(np.random.RandomState(0).randn(1, 32), np.eye(4)[[2]], randomize_noise=False)
    result = proj.run(target)  # ...and the projection itself needs no label.
    assert result.images.shape == (1, 3, 16, 16)
    assert proj.history[-1].distance < proj.history[0].distance
