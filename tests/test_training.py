"""Training on CPU at 16x16 with tiny networks: every config runs and writes snapshots that reload; the
schedule, lazy regularization and Adam beta adjustment; NaN stops; two towers = one tower; resume = no stop.

Loss functions defined here are passed by name (`tests.test_training.<name>` is not importable, so the
module registers itself as `training_test_losses`).
"""

import argparse
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import dataset_tool
import run_training
from training import loss
from training import misc
from training import resume
from training import training_loop as tl

from conftest import REPO_DIR, make_session

sys.modules.setdefault("training_test_losses", sys.modules[__name__])

TINY_NETS = dict(fmap_base=128, fmap_max=32, latent_size=32, dlatent_size=32, mapping_layers=2)
NO_GRAPPLER = {"graph_options.rewrite_options.disable_meta_optimizer": True}  # Faster first runs of big graphs.


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A 16x16 RGB dataset of 24 smooth random images (`tiny`), all levels of detail."""
    root = tmp_path_factory.mktemp("data")
    rnd = np.random.RandomState(123)
    base = rnd.rand(24, 3, 4, 4)
    images = np.kron(base, np.ones([1, 1, 4, 4])) * 200 + rnd.rand(24, 3, 16, 16) * 55
    with dataset_tool.TFRecordExporter(str(root / "tiny"), len(images), print_progress=False) as tfr:
        for image in images.astype(np.uint8):
            tfr.add_image(image)
    return str(root)


def config_kwargs(config_id, data_dir, result_dir, num_gpus=1, total_kimg=0.016, minibatch_size=8, minibatch_gpu=4):
    """run_training's kwargs for `config_id`, shrunk to tiny networks, small batches and quick ticks."""
    kwargs = run_training.build_training_kwargs(
        dataset="tiny", data_dir=data_dir, result_dir=result_dir, config_id=config_id, num_gpus=num_gpus,
        total_kimg=total_kimg, gamma=None, mirror_augment=True, metrics=[], minibatch_size=minibatch_size,
        minibatch_gpu=minibatch_gpu)
    kwargs.G_args.update(TINY_NETS)
    kwargs.D_args.update(fmap_base=128, fmap_max=32)
    if config_id == "config-a":
        kwargs.G_args.update(fmap_base=128, fmap_max=32)
    # Progressive configs: lod 1 at 0 images, 0.5 at 8, 0 from 16 on.
    kwargs.sched_args.update(tick_kimg_base=0.001, tick_kimg_dict={}, lod_training_kimg=0.004, lod_transition_kimg=0.008)
    kwargs.dataset_args.update(shuffle_mb=1, prefetch_mb=1)
    kwargs.grid_args = dict(size=(3, 2), layout="random")  # 6 images: no minibatch size of these tests
    kwargs.update(minibatch_repeats=1, image_snapshot_ticks=100, network_snapshot_ticks=1)
    kwargs.tf_config = dict(kwargs.tf_config, **NO_GRAPPLER)
    return kwargs


def train(kwargs, num_cpus=1):
    """submit_run in a fresh graph and session, seeded as init_tf would seed it; returns the run dir."""
    with tf.Graph().as_default():
        with make_session(num_cpus).as_default():
            np.random.seed(kwargs.tf_config["rnd.np_random_seed"])
            tf.set_random_seed(np.random.randint(1 << 31))
            submit_config = dnnlib.submit_run(**kwargs)
    return submit_config.run_dir


def load_final(run_dir, name="network-final.pkl"):
    """{network name: {var: value}} of a (G, D, Gs) pickle."""
    with tf.Graph().as_default(), tflib.create_session().as_default():
        nets = misc.load_pkl(os.path.join(run_dir, name))
        return {net.name: {key: var.eval() for key, var in net.vars.items()} for net in nets}


def load_state(run_dir, kimg=0):
    with open(os.path.join(run_dir, "training-state-%06d.pkl" % kimg), "rb") as f:
        return pickle.load(f)


# ------------------------------------------------------------------------------------------------------
# Schedule and data helpers (no training).

class _FakeSet:
    resolution_log2 = 5


def test_progressive_schedule_matches_formula():
    sched_args = dict(lod_initial_resolution=8, lod_training_kimg=600, lod_transition_kimg=600,
                      minibatch_size_dict={8: 256, 16: 128, 32: 64}, minibatch_gpu_dict={8: 32, 16: 16, 32: 8},
                      G_lrate_base=0.001, G_lrate_dict={32: 0.0015})
    s = tl.training_schedule(0, _FakeSet(), **sched_args)
    assert (s.lod, s.resolution, s.minibatch_size, s.minibatch_gpu, s.G_lrate, s.tick_kimg) == (2.0, 8, 256, 32, 0.001, 28)
    s = tl.training_schedule(900000, _FakeSet(), **sched_args)  # Halfway through the 8 -> 16 fade.
    assert s.lod == pytest.approx(1.5) and s.resolution == 16 and s.minibatch_size == 128
    s = tl.training_schedule(1200000, _FakeSet(), **sched_args)
    assert (s.lod, s.resolution, s.minibatch_size, s.tick_kimg) == (1.0, 16, 128, 24)
    s = tl.training_schedule(10 ** 7, _FakeSet(), **sched_args)
    assert (s.lod, s.resolution, s.minibatch_gpu, s.G_lrate, s.D_lrate) == (0.0, 32, 8, 0.0015, 0.002)
    s = tl.training_schedule(10 ** 7, _FakeSet())
    assert (s.lod, s.resolution, s.minibatch_size, s.minibatch_gpu, s.tick_kimg) == (0.0, 32, 32, 4, 20)


def test_process_reals_range_fade_and_upscale(sess):
    rnd = np.random.RandomState(0)
    images = rnd.randint(0, 256, size=[2, 3, 8, 8]).astype(np.uint8)
    lod = tf.placeholder(tf.float32, [])
    x, _ = tl.process_reals(tf.constant(images), tf.zeros([2, 0]), lod, False, [0, 255], [-1, 1])
    full = images / 127.5 - 1
    np.testing.assert_allclose(sess.run(x, {lod: 0.0}), full, atol=1e-5)
    half = full.reshape(2, 3, 4, 2, 4, 2).mean(axis=(3, 5))
    half_up = np.repeat(np.repeat(half, 2, axis=2), 2, axis=3)
    np.testing.assert_allclose(sess.run(x, {lod: 0.25}), 0.75 * full + 0.25 * half_up, atol=1e-5)
    # lod 1: the (already half-resolution) data is upscaled by nearest neighbour.
    np.testing.assert_allclose(sess.run(x, {lod: 1.0}), np.repeat(np.repeat(full, 2, axis=2), 2, axis=3), atol=1e-5)


def test_snapshot_grid_sizes():
    class Set:
        shape = [3, 32, 32]
        dtype = "uint8"
        label_size = 0
        label_dtype = "float32"

        def get_minibatch_np(self, num):
            return np.ones([num] + self.shape, np.uint8), np.zeros([num, 0], np.float32)

    size, reals, labels = misc.setup_snapshot_image_grid(Set(), size="8k")
    assert size == (32, 32) and reals.shape == (1024, 3, 32, 32) and labels.shape == (1024, 0)
    Set.shape = [3, 1024, 1024]
    assert misc.setup_snapshot_image_grid(Set(), size="8k")[0] == (7, 4)
    assert misc.setup_snapshot_image_grid(Set(), size="1080p")[0] == (3, 2)
    with pytest.raises(ValueError, match="size must be one of"):
        misc.setup_snapshot_image_grid(Set(), size="16k")


def test_step_seeded_random_ops_repeat_per_step_and_differ_between_steps(sess):
    ops = resume.StepSeededRandomOps(base_seed=7)
    with ops.active():
        a = tf.random_normal([3])
        b = tf.random_uniform([2], 1, 5, dtype=tf.int32)
    assert tf.random_normal is not ops.random_normal  # Restored after the block.
    a1, b1 = sess.run([a, b], {ops.step_in: 1})
    a1_again = sess.run(a, {ops.step_in: 1})
    a2 = sess.run(a, {ops.step_in: 2})
    np.testing.assert_array_equal(a1, a1_again)
    assert not np.allclose(a1, a2)
    assert np.all((b1 >= 1) & (b1 < 5))


def _run_log(rounds, minibatch_index):
    """The session.runs of one minibatch, as lists of op names (phases G_reg / D_reg every 2 / 4)."""
    phases = [tl.Phase("G", "G_step", "G_loss", prefetch_reals=True), tl.Phase("G_reg", "G_reg_step", interval=2),
              tl.Phase("D", "D_step", "D_loss", fetch_reals=True), tl.Phase("D_reg", "D_reg_step", interval=4)]
    state = resume.TrainingState()
    state.running_mb_counter = minibatch_index
    log = []

    def run(ops):
        log.append(list(ops) if isinstance(ops, list) else [ops])
        return [None, 0.5, None]

    tl._train_minibatch(phases, "fetch", "Gs_update", rounds, run, state, lambda name, value, nimg: None)
    return log, state


def test_one_minibatch_runs_the_due_phases_then_gs():
    log, state = _run_log(rounds=1, minibatch_index=0)
    assert log == [["G_step", "G_loss", "fetch"], ["G_reg_step"], ["D_step", "D_loss"], ["D_reg_step"], ["Gs_update"]]
    assert (state.running_mb_counter, state.num_fetches) == (1, 1)
    log, _ = _run_log(rounds=1, minibatch_index=2)
    assert log == [["G_step", "G_loss", "fetch"], ["G_reg_step"], ["D_step", "D_loss"], ["Gs_update"]]
    # Gradient accumulation over 2 rounds: each D round trains on reals of its own.
    log, state = _run_log(rounds=2, minibatch_index=1)
    assert log == [["G_step", "G_loss"], ["G_step", "G_loss", "fetch"], ["D_step", "D_loss"], ["fetch"],
                   ["D_step", "D_loss"], ["Gs_update"]]
    assert state.num_fetches == 2


def test_training_state_file_round_trip(sess, tmp_path):
    with tf.variable_scope("state_test"):
        var = tf.Variable(np.arange(3, dtype=np.float32), name="v")
    sess.run(var.initializer)
    state = resume.TrainingState(cur_nimg=40, random_base_seed=11)
    state.cur_tick, state.random_step, state.data_config, state.num_fetches = 4, 17, (8, 0), 5
    np.random.seed(1)
    path = str(tmp_path / "training-state-000000.pkl")
    state.save(path, [var])
    expected_draw = np.random.rand()
    loaded = resume.TrainingState.load(path)
    assert (loaded.cur_nimg, loaded.cur_tick, loaded.random_step, loaded.random_base_seed) == (40, 4, 17, 11)
    sess.run(tf.assign(var, tf.zeros([3])))
    np.random.seed(2)
    loaded.restore([var])
    np.testing.assert_array_equal(sess.run(var), [0, 1, 2])
    assert np.random.rand() == expected_draw
    with pytest.raises(ValueError, match="does not fit this graph"):
        resume.TrainingState.load(path).restore([])
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable training state file"):
        resume.TrainingState.load(str(tmp_path / "bad.pkl"))


# ------------------------------------------------------------------------------------------------------
# Test losses with fixed latents: row block i goes to tower i (read from the name scope "GPU<i>/...").

FIXED_LATENTS = np.random.RandomState(99).randn(64, 32).astype(np.float32)


def _fixed_latents(minibatch_size):
    tower = int(tf.get_default_graph().get_name_scope().split("/")[0][3:])
    start = tower * minibatch_size
    return tf.slice(tf.constant(FIXED_LATENTS), tf.stack([start, 0]), tf.stack([minibatch_size, 32]))


def G_fixed(G, D, opt, training_set, minibatch_size):
    latents = _fixed_latents(minibatch_size)
    fake_scores = D.get_output_for(G.get_output_for(latents, tf.zeros([minibatch_size, 0]), is_training=True),
                                   tf.zeros([minibatch_size, 0]), is_training=True)
    return tf.nn.softplus(-fake_scores), None


def D_fixed_r1(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    latents = _fixed_latents(minibatch_size)
    fakes = G.get_output_for(latents, labels, is_training=True)
    real_scores = D.get_output_for(reals, labels, is_training=True)
    fake_scores = D.get_output_for(fakes, labels, is_training=True)
    grads = tf.gradients(tf.reduce_sum(real_scores), [reals])[0]
    reg = tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) * (gamma * 0.5)
    return tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores), reg


def _counting(reg, name):
    """reg, counting its evaluations in a non-trainable variable (kept in the training state)."""
    with tf.control_dependencies(None):
        counter = tf.Variable(0.0, trainable=False, name=name)
    with tf.control_dependencies([tf.assign_add(counter, 1.0)]):
        return tf.identity(reg)


def G_counting_pathreg(G, D, opt, training_set, minibatch_size):
    g_loss, g_reg = loss.G_logistic_ns_pathreg(G, D, opt, training_set, minibatch_size)
    return g_loss, _counting(g_reg, "G_reg_count")


def D_counting_r1(G, D, opt, training_set, minibatch_size, reals, labels, gamma=10.0):
    d_loss, d_reg = loss.D_logistic_r1(G, D, opt, training_set, minibatch_size, reals, labels, gamma=gamma)
    return d_loss, _counting(d_reg, "D_reg_count")


def G_nan_after_3(G, D, opt, training_set, minibatch_size):
    g_loss, g_reg = loss.G_logistic_ns(G, D, opt, training_set, minibatch_size)
    with tf.control_dependencies(None):
        calls = tf.Variable(0.0, trainable=False, name="calls")
    calls_now = tf.assign_add(calls, 1.0)
    return g_loss + tf.where(calls_now > 3.0, np.float32(np.nan), 0.0), g_reg


# ------------------------------------------------------------------------------------------------------
# Training runs.

def check_run_outputs(run_dir, config_id, num_minibatches):
    """The files of a finished run, its tick lines, and its snapshot and state that reload."""
    for name in ["reals.png", "fakes_init.png", "fakes000000.png", "network-snapshot-000000.pkl",
                 "training-state-000000.pkl", "network-final.pkl", "log.txt"]:
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(run_dir))
    with open(os.path.join(run_dir, "log.txt")) as f:
        ticks = [line for line in f if line.startswith("tick ")]
    assert len(ticks) == num_minibatches and "kimg 0.0" in ticks[-1] and "minibatch 8" in ticks[-1]

    nets = load_final(run_dir)
    assert set(nets) == {"G", "D", "Gs"}
    # Trained: G moved away from its start, which Gs (a slow moving average: beta = 0.5 ** (8 / 10000) per
    # minibatch) still nearly holds.
    weights = [k for k in nets["G"] if k.endswith("weight")]
    assert max(np.max(np.abs(nets["G"][k] - nets["Gs"][k])) for k in weights) > 1e-3
    state = load_state(run_dir)
    assert state["cur_nimg"] == 8 * num_minibatches and state["cur_tick"] == num_minibatches - 1
    if config_id in ["config-a", "config-b", "config-c", "config-d"]:
        assert ["lod 1.00", "lod 0.50", "lod 0.00"] == [line.split("lod ")[1][:4].join(["lod ", ""]) for line in ticks]
        assert nets["G"]["lod"] == 0.0 and nets["D"]["lod"] == 0.0 and state["prev_lod"] == 0.0
    has_pl_mean = any(name.endswith("pl_mean:0") for name in state["vars"])
    assert has_pl_mean == (config_id in ["config-d", "config-e", "config-f"])


_TRAIN_IN_A_FRESH_PROCESS = """
import sys
sys.path.insert(0, "tests")
from test_training import config_kwargs, train
train(config_kwargs("config-f", sys.argv[1], sys.argv[2], total_kimg=0.016))
"""


@pytest.mark.slow_on_tf1  # a training run: minutes on TF 1.15 with 2 cores
def test_training_prints_no_tensorflow_deprecation_notices(data_dir, tmp_path):
    # TensorFlow logs a deprecation notice once per process for each deprecated function called (tf.div was).
    result = subprocess.run([sys.executable, "-c", _TRAIN_IN_A_FRESH_PROCESS, data_dir, str(tmp_path)],
                            cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Finished training" in result.stdout
    assert "deprecat" not in result.stderr.lower() and "Traceback" not in result.stderr, result.stderr


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
@pytest.mark.parametrize("config_id", ["config-a", "config-b", "config-c", "config-d", "config-e"])
def test_every_config_trains_and_writes_snapshots_that_reload(config_id, data_dir, tmp_path):
    """(config-f: in the resume test.)"""
    run_dir = train(config_kwargs(config_id, data_dir, str(tmp_path), total_kimg=0.024))
    check_run_outputs(run_dir, config_id, num_minibatches=3)


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_nan_loss_stops_with_message_and_keeps_last_good_snapshot(data_dir, tmp_path, capsys):
    kwargs = config_kwargs("config-f", data_dir, str(tmp_path), total_kimg=0.08, minibatch_gpu=8)
    kwargs.G_loss_args = dict(func_name="training_test_losses.G_nan_after_3")
    kwargs.metric_arg_list = [dict(func_name="metrics.metric_base.DummyMetric", name="dummy")]
    with pytest.raises(tl.TrainingDivergedError, match=r"the G loss became nan at kimg 0\.032.*network-snapshot-000000\.pkl"):
        train(kwargs)
    run_dir = os.path.join(str(tmp_path), sorted(os.listdir(str(tmp_path)))[-1])
    assert not os.path.exists(os.path.join(run_dir, "network-final.pkl"))
    good = load_final(run_dir, "network-snapshot-000000.pkl")
    assert all(np.all(np.isfinite(v)) for net in good.values() for v in net.values())
    assert load_state(run_dir)["cur_nimg"] == 24  # The snapshot of the last tick before the NaN.
    assert "the G loss became nan" in capsys.readouterr().out
    # Every snapshot (ticks 0, 1, 2) was followed by the metrics, run on the pickle in a fresh graph.
    with open(os.path.join(run_dir, "metric-dummy.txt")) as f:
        lines = f.read().splitlines()
    assert len(lines) == 3 and all(line.startswith("network-snapshot-000000") and "dummy" in line for line in lines)


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_failing_metric_is_logged_and_training_finishes(data_dir, tmp_path, monkeypatch):
    """A metric whose feature network cannot be downloaded (past the start-up check, e.g. the cache was
    cleared) fails at every snapshot in one line; the other metrics and the training go on."""
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", str(tmp_path / "cache"))
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    kwargs = config_kwargs("config-e", data_dir, str(tmp_path / "runs"), total_kimg=0.016, minibatch_gpu=8)
    url = "http://stylegan2-test.invalid/metrics/inception_v3_features.pkl"
    kwargs.metric_arg_list = [dict(run_training.metric_defaults["fid50k"], num_images=8, feature_net_url=url),
                              dict(func_name="metrics.metric_base.DummyMetric", name="dummy")]
    run_dir = train(kwargs)
    assert set(load_final(run_dir)) == {"G", "D", "Gs"}
    with open(os.path.join(run_dir, "log.txt")) as f:
        failures = [line.rstrip("\n") for line in f if line.startswith("metric ")]
    reason = "Could not download %s: ConnectionError" % url
    assert len(failures) == 2 and all(line.startswith("metric fid50k failed at kimg 0: " + reason) for line in failures)
    assert failures[0].endswith("not retried: the host name does not resolve; training continues, retried at the "
                                "next snapshot")
    assert failures[1].endswith("; run_metrics.py can evaluate the snapshot later")  # The last snapshot.
    with open(os.path.join(run_dir, "metric-dummy.txt")) as f:
        assert len(f.read().splitlines()) == 2  # After each of the 2 snapshots, in spite of fid50k.
    assert not os.path.exists(os.path.join(run_dir, "metric-fid50k.txt"))


def test_metric_networks_are_checked_before_the_run_dir(data_dir, tmp_path, monkeypatch, capsys):
    cache_dir = str(tmp_path / "cache")
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", cache_dir)
    monkeypatch.setenv("STYLEGAN2_METRICS_DIR", "http://stylegan2-test.invalid/metrics/")
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    submitted = []
    monkeypatch.setattr(dnnlib, "submit_run", lambda **kwargs: submitted.append(kwargs))
    base = ["--data-dir", data_dir, "--dataset", "tiny", "--result-dir", str(tmp_path / "results")]
    assert run_training.main(base) == 2  # --metrics defaults to fid50k.
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "run_training.py: error: metric fid50k needs the Inception network "
        "(http://stylegan2-test.invalid/metrics/inception_v3_features.pkl), which is not in the cache (%s) and "
        "cannot be downloaded (the host name does not resolve" % cache_dir)
    assert "; use --metrics=none, put a copy in the cache as " in err
    assert not os.path.exists(str(tmp_path / "results")) and not submitted

    assert run_training.main(base + ["--metrics", "none"]) == 0
    assert submitted[-1]["metric_arg_list"] == []
    # A copy in the cache, where the message says, is enough.
    url = "http://stylegan2-test.invalid/metrics/inception_v3_features.pkl"
    os.makedirs(cache_dir)
    with open(os.path.join(cache_dir, dnnlib.util.cache_file_prefix(url) + "inception_v3_features.pkl"), "wb") as f:
        f.write(b"a copy")
    assert run_training.main(base) == 0
    assert [args["name"] for args in submitted[-1]["metric_arg_list"]] == ["fid50k"]


def _tower_kwargs(data_dir, result_dir, num_gpus):
    kwargs = config_kwargs("config-f", data_dir, result_dir, num_gpus=num_gpus, total_kimg=0.016,
                           minibatch_size=8, minibatch_gpu=8 // num_gpus)
    kwargs.G_args.update(style_mixing_prob=None, randomize_noise=False)
    kwargs.D_args.update(mbstd_group_size=0)
    kwargs.G_loss_args = dict(func_name="training_test_losses.G_fixed")
    kwargs.D_loss_args = dict(func_name="training_test_losses.D_fixed_r1")
    opt = dict(tf_optimizer="tf.train.GradientDescentOptimizer")
    kwargs.update(G_opt_args=opt, D_opt_args=opt, mirror_augment=False, network_snapshot_ticks=100)
    return kwargs


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_two_towers_update_like_one_tower(data_dir, tmp_path):
    one = load_final(train(_tower_kwargs(data_dir, str(tmp_path / "one"), 1), num_cpus=1))
    two = load_final(train(_tower_kwargs(data_dir, str(tmp_path / "two"), 2), num_cpus=2))
    for net in ["G", "D", "Gs"]:
        for key, value in one[net].items():
            if key == "dlatent_avg":
                continue  # Not an optimizer update: each tower tracks the mean w of its own half-batch.
            np.testing.assert_allclose(two[net][key], value, rtol=1e-4, atol=1e-6, err_msg="%s/%s" % (net, key))
    # The step was a real one: G differs from Gs (which barely moved from the common start).
    assert max(np.max(np.abs(one["G"][k] - one["Gs"][k])) for k in one["G"] if k.endswith("weight")) > 1e-4


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_bfloat16_training_updates_like_float32(data_dir, tmp_path, monkeypatch):
    """--bfloat16: the same deterministic steps (R1's second-order gradient included) with the convolutions and
    matrix products in bfloat16 move the weights as float32 does, to bfloat16's precision. Compared: the second
    minibatch's step (weights after two minibatches minus after one) of each precision."""
    from dnnlib.tflib import precision  # pylint: disable=import-outside-toplevel
    if not precision.bfloat16_supported():
        pytest.skip("this TensorFlow build has no bfloat16 convolutions on this machine")
    steps = {}
    for enabled in [False, True]:
        monkeypatch.setenv(precision.ENV_VAR, "1" if enabled else "0")
        after = []
        for num_minibatches in [1, 2]:
            kwargs = _tower_kwargs(data_dir, str(tmp_path / str(enabled)), 1)
            kwargs.update(total_kimg=0.008 * num_minibatches)
            after.append(load_final(train(kwargs)))
        steps[enabled] = {net: {key: after[1][net][key] - after[0][net][key] for key in after[0][net]
                                if key.endswith("weight")} for net in ["G", "D"]}
    for net in ["G", "D"]:
        errors = [np.abs(steps[True][net][key] - step).max() / np.abs(step).max()
                  for key, step in steps[False][net].items()
                  if np.abs(step).max() > 1e-6]  # Not the mapping's steps at lrmul 0.01: float32 rounding.
        assert len(errors) > 5 and 0 < max(errors) < 0.1, (net, errors)


def _counting_kwargs(data_dir, result_dir, total_kimg):
    kwargs = config_kwargs("config-f", data_dir, result_dir, total_kimg=total_kimg, minibatch_gpu=8)
    kwargs.update(G_reg_interval=2, D_reg_interval=4)
    kwargs.G_loss_args = dict(func_name="training_test_losses.G_counting_pathreg")
    kwargs.D_loss_args = dict(func_name="training_test_losses.D_counting_r1", gamma=10.0)
    return kwargs


def _tick_kwargs(data_dir, result_dir):
    """config-f with G_reg_interval 2 and D_reg_interval 4 (counting its regularization passes), 6
    minibatches of 8, a tick every 2 (at 8, 24, 40 and 48 images), snapshots at ticks 0 and 3."""
    kwargs = _counting_kwargs(data_dir, result_dir, total_kimg=0.048)
    kwargs.sched_args.update(tick_kimg_base=0.016)
    kwargs.update(network_snapshot_ticks=100)
    return kwargs


def _tick_numbers(run_dir):
    with open(os.path.join(run_dir, "log.txt")) as f:
        return [int(line.split()[1]) for line in f if line.startswith("tick ")]


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_abort_then_resume_latest_continues_like_an_uninterrupted_run(data_dir, tmp_path, monkeypatch, capsys):
    """6 minibatches in one go, or stopped by abort.txt after 2 and continued with --resume=latest."""
    full = train(_tick_kwargs(data_dir, str(tmp_path / "full")))
    assert _tick_numbers(full) == [0, 1, 2, 3]
    for name in ["reals.png", "fakes_init.png", "fakes000000.png", "network-snapshot-000000.pkl",
                 "training-state-000000.pkl", "network-final.pkl", "training-state-final.pkl"]:
        assert os.path.isfile(os.path.join(full, name)), name
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(full))

    def abort_after_16_images(*args):
        train_minibatch(*args)
        if args[5].cur_nimg == 16:  # Halfway through tick 1, as a user's abort.txt would come.
            open(dnnlib.make_run_dir_path("abort.txt"), "w").close()

    train_minibatch = tl._train_minibatch
    monkeypatch.setattr(tl, "_train_minibatch", abort_after_16_images)
    capsys.readouterr()
    stopped = train(_tick_kwargs(data_dir, str(tmp_path / "part")))
    monkeypatch.undo()
    assert "abort.txt found: stopping at kimg 0.0" in capsys.readouterr().out
    assert _tick_numbers(stopped) == [0]  # Stopped right after the minibatch, not at the end of its tick.
    assert set(load_final(stopped)) == {"G", "D", "Gs"}
    with open(os.path.join(stopped, "training-state-final.pkl"), "rb") as f:
        stop_state = pickle.load(f)
    assert (stop_state["cur_nimg"], stop_state["cur_tick"], stop_state["tick_start_nimg"]) == (16, 0, 8)

    # --resume=latest takes network-final.pkl (16 images), not network-snapshot-000000.pkl (8 images).
    args = argparse.Namespace(resume="latest", result_dir=str(tmp_path / "part"), allow_code_execution=None,
                              resume_kimg=None)
    kwargs = _tick_kwargs(data_dir, str(tmp_path / "part"))
    kwargs.update(run_training._resume_args(args, kwargs.submit_config.run_desc))  # pylint: disable=protected-access
    assert kwargs.resume_pkl == os.path.join(stopped, "network-final.pkl")
    assert "network-final.pkl of run %s (where that run stopped)" % os.path.basename(stopped) in capsys.readouterr().out
    resumed = train(kwargs)
    assert _tick_numbers(resumed) == [1, 2, 3]
    with open(os.path.join(resumed, "log.txt")) as f:
        assert "Resuming the training state from" in f.read()

    # Lazy regularization: minibatches 0..5 run the G reg on 0, 2, 4 and the D reg on 0, 4 (the resumed
    # run does the G reg of minibatch 2 and the D reg of minibatch 4).
    states = []
    for run_dir in (full, resumed):
        with open(os.path.join(run_dir, "training-state-final.pkl"), "rb") as f:
            states.append(pickle.load(f))
    values = states[0]["vars"]
    assert [v for k, v in values.items() if k.endswith("G_reg_count:0")] == [3]
    assert [v for k, v in values.items() if k.endswith("D_reg_count:0")] == [2]
    # Adam's beta2 power (starts at beta2, times beta2 per step): G steps 6 (loss) + 3 (reg) times with
    # beta2 = 0.99 ** (2/3), D 6 + 2 times with 0.99 ** (4/5). beta1 = 0 stays 0 (0 ** ratio).
    beta2_powers = sorted(float(v) for k, v in values.items() if "beta2_power" in k)
    expected = sorted([(0.99 ** (2 / 3)) ** (9 + 1), (0.99 ** (4 / 5)) ** (8 + 1)])
    np.testing.assert_allclose(beta2_powers, expected, rtol=1e-5)
    assert all(float(v) == 0.0 for k, v in values.items() if "beta1_power" in k)

    # The resumed run ends where the uninterrupted one did: networks and the whole training state.
    a, b = load_final(full), load_final(resumed)
    for net in ["G", "D", "Gs"]:
        for key in a[net]:
            np.testing.assert_allclose(b[net][key], a[net][key], rtol=1e-5, atol=1e-7, err_msg="%s/%s" % (net, key))
    assert states[0]["cur_nimg"] == 48 and any(name.endswith("pl_mean:0") for name in values)
    for key in ["cur_nimg", "cur_tick", "tick_start_nimg", "random_step", "running_mb_counter", "num_fetches"]:
        assert states[1][key] == states[0][key], key
    for key in states[0]["vars"]:
        np.testing.assert_allclose(states[1]["vars"][key], states[0]["vars"][key], rtol=1e-5, atol=1e-7, err_msg=key)


# ------------------------------------------------------------------------------------------------------
# run_training.py: configurations and the command line (without training).

def test_configs_follow_table_1_and_2():
    def kwargs(config_id, **extra):
        return run_training.build_training_kwargs("ds", "data", "results", config_id, 1, 100, None, False, [], **extra)

    f, e, d, a = kwargs("config-f"), kwargs("config-e"), kwargs("config-d"), kwargs("config-a")
    assert "fmap_base" not in f.G_args and e.G_args.fmap_base == e.D_args.fmap_base == 8192
    assert (f.D_loss_args.gamma, e.D_loss_args.gamma) == (10, 100)
    assert f.G_loss_args.func_name.endswith("G_logistic_ns_pathreg") and f.D_loss_args.func_name.endswith("D_logistic_r1")
    assert f.G_opt_args == dict(beta1=0.0, beta2=0.99, epsilon=1e-8)
    assert (f.sched_args.minibatch_size_base, f.sched_args.minibatch_gpu_base, f.sched_args.G_lrate_base) == (32, 4, 0.002)
    assert d.sched_args.lod_initial_resolution == 8 and d.G_args.synthesis_func == "G_synthesis_stylegan_revised"
    assert d.D_args.func_name.endswith("D_stylegan") and d.sched_args.minibatch_size_dict[16] == 128
    assert kwargs("config-c").G_loss_args.func_name.endswith("G_logistic_ns") and "lazy_regularization" not in kwargs("config-c")
    assert kwargs("config-b").lazy_regularization is False
    assert a.G_args.func_name.endswith("networks_stylegan.G_style") and a.D_args.func_name.endswith("D_basic")
    variant = kwargs("config-e-Gresnet-Dorig")
    assert (variant.G_args.architecture, variant.D_args.architecture) == ("resnet", "orig")
    assert variant.submit_config.run_desc == "stylegan2-ds-1gpu-config-e-Gresnet-Dorig"
    mb = kwargs("config-d", minibatch_size=16, minibatch_gpu=2)
    assert (mb.sched_args.minibatch_size_base, mb.sched_args.minibatch_gpu_base) == (16, 2)
    assert mb.sched_args.minibatch_size_dict == {} and mb.sched_args.minibatch_gpu_dict == {}
    assert f.tf_config == {"rnd.np_random_seed": 1000} and f.grid_args == dict(size="8k", layout="random")
    small = kwargs("config-f", fmap_base=2048, fmap_max=64, latent_size=64, mapping_layers=4, snapshot_ticks=1,
                   cond=True)
    assert (small.G_args.fmap_base, small.D_args.fmap_base, small.G_args.fmap_max, small.D_args.fmap_max) == (2048,) * 2 + (64,) * 2
    assert (small.G_args.latent_size, small.G_args.dlatent_size, small.G_args.mapping_fmaps, small.G_args.mapping_layers) == (64, 64, 64, 4)
    assert small.image_snapshot_ticks == small.network_snapshot_ticks == 1
    assert small.dataset_args.max_label_size == "full" and small.submit_config.run_desc == "stylegan2-ds-cond-1gpu-config-f"
    assert "max_label_size" not in f.dataset_args


def test_command_line_errors_are_one_line(data_dir, tmp_path, capsys):
    base = ["--data-dir", data_dir, "--dataset", "tiny", "--result-dir", str(tmp_path)]
    cases = [
        (["--config", "config-g"], "--config: unknown config 'config-g'"),
        (["--num-gpus", "3"], "--num-gpus: must be 1, 2, 4 or 8"),
        (["--minibatch-size", "30"], "--minibatch-size: 30 is not a multiple of --minibatch-gpu (4) x --num-gpus (1)"),
        (["--metrics", "fid1k"], "--metrics: unknown metric 'fid1k'"),
        (["--minibatch-size", "8", "--minibatch-gpu", "1"], "--minibatch-gpu: config-f's path length regularization"),
        (["--resume", "latest"], "--resume=latest: no network-snapshot-*.pkl"),
        (["--resume", str(tmp_path / "nope.pkl")], "--resume: %s: no such file" % (tmp_path / "nope.pkl")),
    ]
    for extra, message in cases:
        assert run_training.main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("run_training.py: error: ") and message in err and err.count("\n") == 1, err
    assert run_training.main(["--data-dir", str(tmp_path / "no"), "--dataset", "tiny"]) == 2
    assert "--data-dir: " in capsys.readouterr().err
    assert os.listdir(str(tmp_path)) == []  # No run dir for a failed start.


def test_resume_latest_picks_newest_run_and_snapshot_with_state(tmp_path):
    desc = "stylegan2-tiny-1gpu-config-f"
    for run, files in [("00000-" + desc, ["network-snapshot-000004.pkl", "training-state-000004.pkl"]),
                       ("00001-" + desc, ["network-snapshot-000008.pkl", "training-state-000008.pkl",
                                          "network-snapshot-000012.pkl"]),
                       ("00002-stylegan2-tiny-1gpu-config-e", ["network-snapshot-000020.pkl"])]:
        os.makedirs(str(tmp_path / run))
        for name in files:
            (tmp_path / run / name).write_bytes(b"")
    assert run_training.find_resume_pkl(str(tmp_path), desc) == str(tmp_path / ("00001-" + desc) / "network-snapshot-000008.pkl")
    assert resume.find_latest_snapshot(str(tmp_path / "00002-stylegan2-tiny-1gpu-config-e")).endswith("000020.pkl")


@pytest.mark.slow_on_tf1  # training runs: minutes each on TF 1.15 with 2 cores
def test_dry_run_prints_configuration_and_network_tables(data_dir, tmp_path, capsys):
    with tf.Graph().as_default(), make_session(1).as_default():
        assert run_training.main(["--data-dir", data_dir, "--dataset", "tiny", "--config", "config-e",
                                  "--metrics", "none", "--result-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "'run_desc': 'stylegan2-tiny-1gpu-config-e'" in out and "'gamma': 100" in out
    assert "G_synthesis/16x16/ToRGB" in out and "16x16/FromRGB" in out and "Dry run: nothing trained." in out
    assert os.listdir(str(tmp_path)) == []
