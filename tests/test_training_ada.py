"""StyleGAN2-ADA training control: the adaptive p (its speed, floor, r_t over D and R1 passes), the ADA losses
in the training loop with p in the tick lines, summaries and training state (an exact --resume=latest), and
the run_training.py options --cfg, --aug, --p, --target, --augpipe, --freezed and the transfer sources.

The controller tests use a one-transform stand-in for the pipeline (`flip_augment`, passed by name: this
module registers itself as `training_ada_test_aug`); the training run uses `--cfg=auto` with the real
pipeline and networks, scaled down.
"""

import os
import pickle
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import run_training
from training import adaptive_augment
from training import loss
from training import training_loop as tl

import dataset_tool
from test_run_training_errors import write_training_state
from test_training import NO_GRAPPLER, load_final, load_state, train

sys.modules.setdefault("training_ada_test_aug", sys.modules[__name__])


def flip_augment(images, labels, strength=1):
    """Each image mirrored along W with probability `strength` (differentiable; step-seeded in training)."""
    chosen = tf.cast(tf.random_uniform([tf.shape(images)[0], 1, 1, 1]) < strength, images.dtype)
    return images + (tf.reverse(images, axis=[3]) - images) * chosen, labels


# ------------------------------------------------------------------------------------------------------
# The controller alone.

def _controller(sess, num_towers=2, **kwargs):
    """An AdaptiveAugment with `num_towers` towers reporting the scores fed to their placeholders."""
    aug = adaptive_augment.AdaptiveAugment(apply_func="training_ada_test_aug.flip_augment", **kwargs)
    aug.get_strength_var()
    scores = [tf.placeholder(tf.float32, [None, 1]) for _ in range(num_towers)]
    ops = [aug.report_real_scores(x) for x in scores]
    tflib.init_uninitialized_vars()
    return aug, scores, ops


def _report(sess, scores, ops, *values_per_tower):
    sess.run(ops, {x: np.reshape(values, [-1, 1]) for x, values in zip(scores, values_per_tower)})


def test_p_moves_up_when_d_is_sure_of_the_reals_and_down_otherwise(sess):
    aug, scores, ops = _controller(sess, tune_heuristic="rt", tune_target=0.6, tune_kimg=500)
    # Tower 0: 7 positive of 8; tower 1: 4 positive, 1 zero, 3 negative; then tower 0 again (an R1 pass).
    _report(sess, scores, ops, [2.0] * 7 + [-1.0], [0.5] * 4 + [0.0] + [-3.0] * 3)
    _report(sess, scores, ops, [1.0] * 8, [1.0] * 8)
    assert aug.tune(64) == pytest.approx((6 + 1 + 8 + 8) / 32.0)  # r_t = mean sign over all 32 scores
    step = 64 / 500000.0
    assert aug.strength == pytest.approx(step, rel=1e-12)
    assert sess.run(aug.get_strength_var()) == np.float32(step)
    _report(sess, scores, ops, [1.0] * 8, [1.0] * 8)
    aug.tune(64)
    assert aug.strength == pytest.approx(2 * step, rel=1e-12)
    # r_t 0.5 < 0.6: down by the same step; the accumulators restarted after each adjustment.
    _report(sess, scores, ops, [1.0] * 6 + [-1.0] * 2, [1.0] * 2 + [-1.0] * 6)
    assert aug.tune(64) == 0.0 and aug.strength == pytest.approx(step, rel=1e-12)
    _report(sess, scores, ops, [-1.0] * 8, [-1.0] * 8)
    aug.tune(128)  # Would be -step: p stops at 0.
    assert aug.strength == 0.0 and sess.run(aug.get_strength_var()) == 0.0
    assert aug.tune(64) == 0.0 and aug.strength == 0.0  # Nothing accumulated: r_t 0.
    assert aug.get_state() == dict(strength=0.0, last_rt=0.0, tune_kimg=500.0)


def test_fixed_p_and_apply(sess):
    aug, scores, ops = _controller(sess, num_towers=1, initial_strength=0.5)
    _report(sess, scores, ops, [1.0] * 4)
    assert aug.tune(64) == 1.0 and aug.strength == 0.5  # No heuristic: r_t is measured, p stays.
    images = tf.constant(np.arange(2 * 4, dtype=np.float32).reshape([2, 1, 1, 4]))
    augmented, _ = aug.apply(images, tf.zeros([2, 0]))
    assert augmented is not images and "Augment" in augmented.name
    both = np.stack([sess.run(augmented) for _ in range(40)])
    flipped = both[:, :, 0, 0, 0] == np.array([3.0, 7.0])  # Image 0 is [0..3], image 1 [4..7].
    assert 0.2 < flipped.mean() < 0.8  # p = 0.5 of each image (80 draws)
    aug.set_strength(1.0)
    np.testing.assert_array_equal(sess.run(augmented)[:, 0, 0], [[3, 2, 1, 0], [7, 6, 5, 4]])
    # No pipeline, or p fixed at 0: D sees the images as they are.
    for off in [adaptive_augment.AdaptiveAugment(), adaptive_augment.AdaptiveAugment(apply_func=flip_augment)]:
        assert off.apply(images, None)[0] is images
    with pytest.raises(ValueError, match="tune_heuristic"):
        adaptive_augment.AdaptiveAugment(tune_heuristic="rv")


# ------------------------------------------------------------------------------------------------------
# The ADA losses on stand-in networks: D(x) = sum(x * w), G(z) = v * z laid out as 1x2x2 images.

def double_augment(images, labels, strength=1):
    return images * (1.0 + strength), labels


class _LinearD:
    def __init__(self, weights):
        self.weights = tf.constant(weights, tf.float32)

    def get_output_for(self, images, labels, is_training=False):
        assert is_training
        return tf.reduce_sum(images * self.weights, axis=[1, 2, 3])[:, np.newaxis]


class _ScaleG:
    input_shapes = [[None, 4], [None, 0]]
    output_shape = [None, 1, 2, 2]

    def __init__(self):
        self.scale = tf.Variable(1.5, name="scale")
        self.latents_seen = []

    def get_output_for(self, latents, labels, is_training=False, return_dlatents=False):
        self.latents_seen.append(latents)
        dlatents = self.scale * latents[:, np.newaxis, :]
        images = tf.reshape(dlatents, [-1, 1, 2, 2])
        return (images, dlatents) if return_dlatents else images


class _NoLabels:
    @staticmethod
    def get_random_labels_tf(num):
        return tf.zeros([num, 0])


def test_ada_losses_see_augmented_images_and_take_r1_before_the_augmentation(sess):
    """With D(aug(x)) = sum(2x * w): R1 = gamma/2 * |2w|^2 (w.r.t. the un-augmented reals), the G loss
    gradient reaches G through the augmentation, and path length reuses the first half of G's latents."""
    aug = adaptive_augment.AdaptiveAugment(apply_func=double_augment, initial_strength=1.0)
    w = np.array([[[1.0, -2.0], [0.5, 3.0]]], np.float32)
    G, D = _ScaleG(), _LinearD(w)
    reals = tf.constant(np.random.RandomState(0).randn(3, 1, 2, 2), tf.float32)
    d_loss, d_reg = loss.D_ada_r1(G, D, None, _NoLabels(), 3, reals, tf.zeros([3, 0]), aug, gamma=4.0)
    fakes = G.latents_seen[0] * 1.5
    g_loss, g_reg = loss.G_ada_pathreg(G, D, None, _NoLabels(), 4, aug, pl_weight=1.0)
    tflib.init_uninitialized_vars()
    fakes_v, reals_v, d_loss_v, d_reg_v = sess.run([fakes, reals, d_loss, d_reg])
    score = lambda x: np.sum(2 * np.reshape(x, [-1, 1, 2, 2]) * w, axis=(1, 2, 3))  # noqa: E731
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = softplus(score(fakes_v)) + softplus(-score(reals_v))
    np.testing.assert_allclose(d_loss_v[:, 0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_reg_v, [2.0 * np.sum((2 * w) ** 2)] * 3, rtol=1e-6)  # Not 2 * |w|^2.
    sess.run(aug.stat_ops)
    assert aug.tune(3) == pytest.approx(np.mean(np.sign(score(reals_v))))

    latents, pl_latents, g_loss_v, grad, g_reg_v = sess.run(
        [G.latents_seen[1], G.latents_seen[2], g_loss, tf.gradients(tf.reduce_sum(g_loss), [G.scale])[0], g_reg])
    np.testing.assert_array_equal(pl_latents, latents[:2])
    fake_scores = score(1.5 * latents)
    np.testing.assert_allclose(g_loss_v[:, 0], softplus(-fake_scores), rtol=1e-5, atol=1e-6)
    # d/dv softplus(-D(aug(v z))) = -D(aug(z)) * sigmoid(-D(aug(v z))).
    np.testing.assert_allclose(grad, np.sum(-fake_scores / 1.5 / (1 + np.exp(fake_scores))), rtol=1e-4)
    assert g_reg_v.shape == (2,)
    _, zero_reg = loss.G_ada_pathreg(G, D, None, _NoLabels(), 4, aug, pl_weight=0)
    np.testing.assert_array_equal(sess.run(zero_reg), [0.0, 0.0])


# ------------------------------------------------------------------------------------------------------
# Training with the ADA losses and p.

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """`tiny`: 16 smooth random RGB images of 8x8."""
    root = tmp_path_factory.mktemp("data")
    rnd = np.random.RandomState(321)
    images = np.kron(rnd.rand(16, 3, 2, 2), np.ones([1, 1, 4, 4])) * 200 + rnd.rand(16, 3, 8, 8) * 55
    with dataset_tool.TFRecordExporter(str(root / "tiny"), len(images), print_progress=False) as tfr:
        for image in images.astype(np.uint8):
            tfr.add_image(image)
    return str(root)


def _ada_kwargs(data_dir, result_dir, total_kimg):
    """`--cfg=auto` (ADA networks, losses, EMA ramp-up) scaled down to tiny networks and minibatches of 8,
    with the pipeline `blit` (the geometric resampling, cheaper than bgc); p tuned after every minibatch by
    8 / (0.1 * 1000) toward r_t = 0, from 0.05."""
    kwargs = run_training.build_training_kwargs(
        dataset="tiny", data_dir=data_dir, result_dir=result_dir, config_id=None, num_gpus=1, total_kimg=total_kimg,
        gamma=None, mirror_augment=False, metrics=[], minibatch_size=8, fmap_base=128, fmap_max=32, latent_size=32,
        cfg="auto", resolution=8, augpipe="blit")
    assert kwargs.sched_args.minibatch_gpu_base == 8 and kwargs.G_smoothing_rampup == 0.05
    kwargs.augment_args.update(tune_target=0.0, tune_kimg=0.1, initial_strength=0.05)
    kwargs.G_loss_args.pl_weight = 0  # A smaller graph: the G regularization phase steps on zeros.
    kwargs.sched_args.update(tick_kimg_base=0.001)  # A tick line after every minibatch.
    kwargs.dataset_args.update(shuffle_mb=1, prefetch_mb=1)
    kwargs.grid_args = dict(size=(3, 2), layout="random")
    kwargs.update(minibatch_repeats=1, image_snapshot_ticks=100, network_snapshot_ticks=100, D_reg_interval=2)
    kwargs.tf_config = dict(kwargs.tf_config, **NO_GRAPPLER)
    return kwargs


def _augment_ticks(run_dir):
    with open(os.path.join(run_dir, "log.txt")) as f:
        lines = [line.split() for line in f if line.startswith("tick ")]
    return [(float(line[line.index("augment") + 1]), float(line[line.index("rt") + 1])) for line in lines]


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_ada_training_tunes_p_and_resumes_it_exactly(data_dir, tmp_path, monkeypatch):
    """4 minibatches of 8 in one go (with the counts of signs behind every r_t), or 2, then 2 more after
    --resume=latest."""
    counts = []
    take = adaptive_augment.AdaptiveAugment._take_accumulated  # pylint: disable=protected-access

    def recording(self):
        counts.append(take(self))
        return counts[-1]

    monkeypatch.setattr(adaptive_augment.AdaptiveAugment, "_take_accumulated", recording)
    full = train(_ada_kwargs(data_dir, str(tmp_path / "full"), total_kimg=0.032))
    monkeypatch.undo()
    # One adjustment per minibatch: D's 8 augmented reals, plus 8 more in the R1 passes of minibatches 0 and 2.
    assert [int(count) for count, _ in counts] == [16, 8, 16, 8]
    ticks = _augment_ticks(full)
    rts = [total / count for count, total in counts]
    np.testing.assert_allclose([rt for _, rt in ticks], rts, atol=6e-4)  # As printed, %.3f.
    # Target 0: p goes up by 8 / 100 after each minibatch whose r_t > 0, down otherwise, never below 0.
    p = 0.05
    for rt in rts:
        p = max(p + np.sign(rt) * 0.08, 0.0)
    assert ticks[-1][0] == pytest.approx(p, abs=6e-4) and load_state(full)["augment"]["strength"] == pytest.approx(p)
    state = load_state(full)
    assert [name for name in state["vars"] if name.startswith("Augment/")] == \
        ["Augment/strength:0", "Augment/rt_accumulator0:0"]
    assert state["vars"]["Augment/strength:0"] == np.float32(p)

    first = train(_ada_kwargs(data_dir, str(tmp_path / "part"), total_kimg=0.016))
    kwargs = _ada_kwargs(data_dir, str(tmp_path / "part"), total_kimg=0.032)
    args = dnnlib.EasyDict(resume="latest", result_dir=str(tmp_path / "part"), allow_code_execution=None,
                           resume_kimg=None)
    kwargs.update(run_training._resume_args(args, kwargs.submit_config.run_desc,  # pylint: disable=protected-access
                                            kwargs.augment_args))
    assert kwargs.resume_pkl == os.path.join(first, "network-final.pkl") and kwargs.augment_args.tune_kimg == 0.1
    resumed = train(kwargs)
    assert _augment_ticks(first) + _augment_ticks(resumed) == ticks
    a, b = load_final(full), load_final(resumed)
    for net in ["G", "D", "Gs"]:
        for key in a[net]:
            np.testing.assert_allclose(b[net][key], a[net][key], rtol=1e-5, atol=1e-7, err_msg="%s/%s" % (net, key))
    assert load_state(resumed)["augment"] == state["augment"]
    events = [name for name in os.listdir(full) if name.startswith("events.out.tfevents")]
    tags = set()
    for event in tf.train.summary_iterator(os.path.join(full, events[0])):
        tags.update(value.tag for value in event.summary.value)
    assert {"Progress/augment", "Progress/rt", "Loss/signs/real", "Loss/r1_penalty"} <= tags


def test_gs_half_life_ramps_up_with_the_images_shown():
    """ADA's EMA ramp-up: Gs's half-life is min(G_smoothing_kimg * 1000, images before the minibatch x ramp-up)."""
    args = dnnlib.EasyDict(G_smoothing_kimg=10.0, G_smoothing_rampup=0.05)
    graph = dnnlib.EasyDict(Gs_nimg_in="Gs_nimg_in", args=args)
    assert tl._TrainingGraph.feed_minibatch(graph, {"lod_in": 0}, 0) == {"lod_in": 0, "Gs_nimg_in": 0.0}
    assert tl._TrainingGraph.feed_minibatch(graph, {}, 64000)["Gs_nimg_in"] == pytest.approx(3200.0)
    assert tl._TrainingGraph.feed_minibatch(graph, {}, 10 ** 6)["Gs_nimg_in"] == 10000.0
    graph.Gs_nimg_in = None  # Without a ramp-up the feed is the schedule's.
    assert tl._TrainingGraph.feed_minibatch(graph, {"lod_in": 0}, 10 ** 6) == {"lod_in": 0}


def test_transfer_needs_the_same_image_shape():
    G = dnnlib.EasyDict(output_shape=[None, 3, 16, 16])
    tl._check_transfer_shapes(G, dnnlib.EasyDict(output_shape=[None, 3, 16, 16]), "ffhq.pkl")
    with pytest.raises(ValueError, match=r"ffhq\.pkl makes images of 3x256x256 \(channels, height, width\), the "
                                         r"dataset has 3x16x16: transfer learning needs the same resolution"):
        tl._check_transfer_shapes(G, dnnlib.EasyDict(output_shape=[None, 3, 256, 256]), "ffhq.pkl")


# ------------------------------------------------------------------------------------------------------
# run_training.py: the ADA presets and options (nothing trains).

def test_auto_preset_follows_resolution_and_gpus():
    for resolution, gpus, mb, gamma, ema, mbstd in [(64, 1, 32, 0.0256, 10, 4), (256, 1, 16, 0.8192, 5, 4),
                                                    (1024, 8, 32, 6.5536, 10, 4), (16, 2, 64, 0.0008, 20, 4)]:
        spec = run_training.ada_preset("auto", resolution, gpus)
        assert (spec.mb, spec.mbstd, spec.ref_gpus, spec.ramp, spec.map) == (mb, mbstd, gpus, 0.05, 2)
        assert spec.gamma == pytest.approx(gamma) and spec.ema == pytest.approx(ema)
    assert run_training.ada_preset("auto", 512, 1).fmaps == 1 and run_training.ada_preset("auto", 256, 1).fmaps == 0.5
    assert run_training.ada_preset("auto", 1024, 1).lrate == 0.002
    assert run_training.ada_preset("auto", 512, 1).lrate == 0.0025


def _build(cfg="auto", resolution=16, **extra):
    args = dict(dataset="ds", data_dir="data", result_dir="results", config_id=None, num_gpus=1, total_kimg=None,
                gamma=None, mirror_augment=False, metrics=[], cfg=cfg, resolution=resolution)
    args.update(extra)
    return run_training.build_training_kwargs(**args)


def test_ada_presets_and_their_overrides():
    k = _build("paper256", aug="noaug")
    assert k.G_args == dict(func_name="training.networks.G_main", mapping_layers=8, fmap_base=8192, fmap_max=512,
                            num_fp16_res=4, conv_clamp=256)
    assert k.D_args == dict(func_name="training.networks.D_main", mbstd_group_size=8, fmap_base=8192, fmap_max=512,
                            num_fp16_res=4, conv_clamp=256)
    assert k.G_loss_args == dict(func_name="training.loss.G_ada_pathreg")
    assert k.D_loss_args == dict(func_name="training.loss.D_ada_r1", gamma=1)
    assert k.sched_args == dict(G_lrate_base=0.0025, D_lrate_base=0.0025, minibatch_size_base=64, minibatch_gpu_base=8,
                                tick_kimg_base=4, tick_kimg_dict={})
    assert (k.G_smoothing_kimg, k.G_smoothing_rampup, k.total_kimg) == (20, None, 25000)
    assert k.G_opt_args == dict(beta1=0.0, beta2=0.99, epsilon=1e-8) and k.augment_args == {}
    assert k.submit_config.run_desc == "stylegan2-ds-1gpu-paper256-noaug"
    c = _build("cifar", aug="noaug", freezed=3)
    assert c.G_loss_args.pl_weight == 0 and c.G_args.style_mixing_prob is None and c.D_args.architecture == "orig"
    assert (c.total_kimg, c.G_smoothing_kimg, c.G_smoothing_rampup) == (100000, 500, 0.05)
    assert c.sched_args.minibatch_gpu_base == 32
    assert c.D_args.freeze_layers == 3 and c.submit_config.run_desc == "stylegan2-ds-1gpu-cifar-noaug-freezed3"
    o = _build("stylegan2", aug="noaug", total_kimg=50, gamma=0.5, minibatch_size=8, fmap_base=256, fmap_max=64,
               latent_size=32, mapping_layers=2, cond=True, mirror_augment=True, num_gpus=2)
    assert (o.total_kimg, o.D_loss_args.gamma) == (50, 0.5)
    assert (o.sched_args.minibatch_size_base, o.sched_args.minibatch_gpu_base) == (8, 1)
    assert (o.G_args.fmap_base, o.D_args.fmap_max, o.G_args.latent_size, o.G_args.dlatent_size) == (256, 64, 32, 32)
    assert o.G_args.mapping_layers == 2 and o.dataset_args.max_label_size == "full" and o.mirror_augment
    assert o.submit_config.run_desc == "stylegan2-ds-cond-2gpu-stylegan2-noaug"
    # config-a..f keep their losses and have no augmentation unless asked.
    f = run_training.build_training_kwargs("ds", "data", "results", "config-f", 1, 100, None, False, [])
    assert "augment_args" not in f and f.D_loss_args.func_name == "training.loss.D_logistic_r1"


def test_augmentation_options_in_kwargs():
    from training import augment  # pylint: disable=import-outside-toplevel
    k = _build()
    assert k.augment_args == dict(apply_func="training.augment.augment_pipeline",
                                  apply_args=augment.augpipe_specs["bgc"], tune_heuristic="rt", tune_target=0.6,
                                  tune_kimg=500)
    assert k.submit_config.run_desc == "stylegan2-ds-1gpu-auto1-ada-bgc"
    k = _build(aug="fixed", p=0.5, augpipe="bgcfnc")
    assert k.augment_args == dict(apply_func="training.augment.augment_pipeline",
                                  apply_args=augment.augpipe_specs["bgcfnc"], initial_strength=0.5)
    assert k.submit_config.run_desc == "stylegan2-ds-1gpu-auto1-fixed-p0.5-bgcfnc"
    k = _build(target=0.7, augpipe="blit")
    assert k.augment_args.tune_target == 0.7
    assert k.submit_config.run_desc == "stylegan2-ds-1gpu-auto1-ada-target0.7-blit"
    e = run_training.build_training_kwargs("ds", "data", "results", "config-e", 1, 100, None, False, [], aug="ada")
    assert (e.G_loss_args.func_name, e.D_loss_args) == ("training.loss.G_ada_pathreg",
                                                        dict(func_name="training.loss.D_ada_r1", gamma=100))
    assert e.submit_config.run_desc == "stylegan2-ds-1gpu-config-e-ada-bgc"


def test_ada_command_line_errors(data_dir, tmp_path, capsys):
    base = ["--data-dir", data_dir, "--dataset", "tiny", "--result-dir", str(tmp_path), "--metrics", "none"]
    cases = [
        (["--cfg", "paper128"], "--cfg: unknown preset 'paper128' (valid: auto, stylegan2, paper256"),
        (["--cfg", "auto", "--config", "config-f"], "--cfg: an ADA preset replaces --config"),
        (["--cfg", "auto", "--aug", "adarv"], "--aug: unknown mode 'adarv' (valid: ada, noaug, fixed)"),
        (["--cfg", "auto", "--p", "0.3"], "--p: only with --aug=fixed"),
        (["--cfg", "auto", "--aug", "fixed"], "--aug=fixed: needs --p"),
        (["--cfg", "auto", "--aug", "fixed", "--p", "1.5"], "--p: must be in [0, 1], got 1.5"),
        (["--cfg", "auto", "--aug", "noaug", "--target", "0.5"], "--target: only with --aug=ada"),
        (["--cfg", "auto", "--target", "-0.1"], "--target: must be in [0, 1], got -0.1"),
        (["--cfg", "auto", "--aug", "noaug", "--augpipe", "bgc"], "--augpipe: not with --aug=noaug"),
        (["--cfg", "auto", "--augpipe", "bgx"], "--augpipe: unknown pipeline 'bgx'"),
        (["--cfg", "auto", "--freezed", "-1"], "--freezed: must be >= 0, got -1"),
        (["--freezed", "2"], "--freezed: needs an ADA --cfg preset"),
        (["--config", "config-c", "--aug", "ada"], "--aug=ada: augmentation needs config-e, config-f or an ADA --cfg"),
        (["--cfg", "stylegan2", "--minibatch-size", "8"],
         "--minibatch-gpu: stylegan2's path length regularization runs on half the per-GPU batch, so it must be at "
         "least 2, got 1"),
    ]
    for extra, message in cases:
        assert run_training.main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("run_training.py: error: ") and message in err and err.count("\n") == 1, err
    assert os.listdir(str(tmp_path)) == []  # No run dir for a failed start.


def test_resume_sources_and_the_speed_of_p(tmp_path, monkeypatch, capsys):
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    from dnnlib.tflib import network_pickle  # pylint: disable=import-outside-toplevel
    checked = []
    monkeypatch.setattr(network_pickle, "check", lambda path, allow_code_execution=None: checked.append(path))
    args = dnnlib.EasyDict(resume="ffhq256", result_dir=str(tmp_path), allow_code_execution=None, resume_kimg=None)
    augment_args = dict(tune_heuristic="rt", tune_kimg=500)
    found = run_training._resume_args(args, "desc", augment_args)  # pylint: disable=protected-access
    url = pretrained_networks.transfer_learning_sources["ffhq256"]
    assert url.endswith("/transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl") and checked == [url]
    assert found == dict(resume_pkl=url, resume_kimg=0.0, resume_with_new_nets=True, G_smoothing_rampup=None,
                         resume_allow_code_execution=None)
    assert augment_args["tune_kimg"] == 100 and "Transfer learning from ffhq256" in capsys.readouterr().out
    # A snapshot with its training state continues p (and its tune_kimg) from the state; a bare pickle restarts.
    for name in ["network-snapshot-000008.pkl", "network-snapshot-000012.pkl"]:
        (tmp_path / name).write_bytes(b"")
    write_training_state(tmp_path / "training-state-000008.pkl", cur_nimg=8000)  # Read by run_training's check.
    for name, tune_kimg in [("network-snapshot-000008.pkl", 500), ("network-snapshot-000012.pkl", 100)]:
        augment_args = dict(tune_heuristic="rt", tune_kimg=500)
        args.resume = str(tmp_path / name)
        found = run_training._resume_args(args, "desc", augment_args)  # pylint: disable=protected-access
        assert found["resume_state"] == "auto" and augment_args["tune_kimg"] == tune_kimg
