"""StyleGAN2-ADA training control: the adaptive p (its speed, floor, r_t over D and R1 passes), the ADA losses
in the training loop with p in the tick lines, summaries and training state (an exact resume), and the
run_training.py options --cfg, --aug, --p, --target, --augpipe, --freezed and the transfer sources.

The training runs use the tiny config-f networks of tests/test_training.py and a one-transform stand-in for
the augmentation pipeline (`flip_augment`, passed by name: this module registers itself as
`training_ada_test_aug`), so they test the control and the loop, not the pipeline.
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
from training import training_loop as tl

from test_training import config_kwargs, data_dir, load_final, load_state, train  # noqa: F401  (fixture)

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
# Training with the ADA losses and p.

def _ada_kwargs(data_dir, result_dir, total_kimg, heuristic="rt"):
    """Tiny config-f with the ADA losses, flip_augment, p tuned after every minibatch of 8 by 8/(0.1*1000)."""
    kwargs = config_kwargs("config-f", data_dir, result_dir, total_kimg=total_kimg, minibatch_gpu=8)
    kwargs.G_loss_args = dict(func_name="training.loss.G_ada_pathreg")
    kwargs.D_loss_args = dict(func_name="training.loss.D_ada_r1", gamma=10.0)
    kwargs.augment_args = dict(apply_func="training_ada_test_aug.flip_augment", tune_heuristic=heuristic,
                               tune_target=0.0 if heuristic else 0.6, tune_kimg=0.1, initial_strength=0.05)
    kwargs.update(D_reg_interval=2, G_smoothing_rampup=0.05)
    return kwargs


def _augment_ticks(run_dir):
    with open(os.path.join(run_dir, "log.txt")) as f:
        lines = [line.split() for line in f if line.startswith("tick ")]
    return [(float(line[line.index("augment") + 1]), float(line[line.index("rt") + 1])) for line in lines]


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_ada_training_tunes_p_and_resumes_it_exactly(data_dir, tmp_path, monkeypatch):
    """4 minibatches of 8 in one go (with the counts of signs behind every r_t), or 2 + 2 resumed."""
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
    kwargs.update(resume_pkl=os.path.join(first, "network-snapshot-000000.pkl"), resume_state="auto")
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
    assert {"Progress/augment", "Progress/rt", "Loss/signs/real", "Loss/r1_penalty", "Loss/pl_penalty"} <= tags


def test_gs_half_life_ramps_up_with_the_images_shown():
    """ADA's EMA ramp-up: Gs's half-life is min(G_smoothing_kimg * 1000, images before the minibatch x ramp-up)."""
    graph = dnnlib.EasyDict(Gs_nimg_in="Gs_nimg_in", args=dnnlib.EasyDict(G_smoothing_kimg=10.0, G_smoothing_rampup=0.05))
    assert tl._TrainingGraph.feed_minibatch(graph, {"lod_in": 0}, 0) == {"lod_in": 0, "Gs_nimg_in": 0.0}
    assert tl._TrainingGraph.feed_minibatch(graph, {}, 64000)["Gs_nimg_in"] == pytest.approx(3200.0)
    assert tl._TrainingGraph.feed_minibatch(graph, {}, 10 ** 6)["Gs_nimg_in"] == 10000.0
    graph.Gs_nimg_in = None  # Without a ramp-up the feed is the schedule's.
    assert tl._TrainingGraph.feed_minibatch(graph, {"lod_in": 0}, 10 ** 6) == {"lod_in": 0}
