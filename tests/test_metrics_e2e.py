"""Every metric end to end on the CPU: a tiny StyleGAN2 Gs, a tiny TFRecord dataset, and small stand-in
feature networks (tests/test_metrics_standins.py) pickled here and loaded through file:// URLs."""

import os
import pickle
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import run_metrics
import test_metrics_standins as standins
from metrics import metric_base
from metrics.linear_separability import classifier_file_name
from metrics.metric_defaults import metric_defaults
from training import misc

# Whole evaluations (long), not TF-version specific: on TF 1.x (CI's second run) these are deselected.
pytestmark = pytest.mark.slow_on_tf1

RESOLUTION = 16
NUM_REALS = 40

# Small versions of every named metric.
SMALL_ARGS = {
    "fid50k": dict(num_images=48), "fid50k_full": dict(num_images=48),
    "is50k": dict(num_images=40, num_splits=4),
    "ppl_zfull": dict(num_samples=16), "ppl_wfull": dict(num_samples=16), "ppl_zend": dict(num_samples=16),
    "ppl_wend": dict(num_samples=16), "ppl2_wend": dict(num_samples=16),
    "ls": dict(num_samples=64, num_keep=32, attrib_indices=[0, 1]),
    "pr50k3": dict(num_images=40, row_batch_size=16, col_batch_size=16),
    "pr50k3_full": dict(num_images=40),
    "kid50k": dict(num_images=40, num_subsets=5, max_subset_size=20),
    "kid50k_full": dict(num_images=40, num_subsets=5, max_subset_size=20),
}
RESULT_SUFFIXES = {"is50k": ["_mean", "_std"], "ls": ["_z", "_w"], "pr50k3": ["_precision", "_recall"],
                   "pr50k3_full": ["_precision", "_recall"]}


def small_metric_args(name, **overrides):
    args = dnnlib.EasyDict(metric_defaults[name])
    args.update(SMALL_ARGS[name])
    args.update(overrides)
    return args


def _write_tfrecords(dataset_dir, images):
    """A dataset_tool-style directory: one .tfrecords per level, each level a 2x2 box average of the previous."""
    os.makedirs(dataset_dir)
    level = images.astype(np.float64)
    res_log2 = int(np.log2(images.shape[2]))
    while level.shape[2] >= 4:
        path = os.path.join(dataset_dir, "tiny-r%02d.tfrecords" % res_log2)
        with tf.io.TFRecordWriter(path) as writer:
            for image in np.rint(level).clip(0, 255).astype(np.uint8):
                feature = {"shape": tf.train.Feature(int64_list=tf.train.Int64List(value=image.shape)),
                           "data": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()]))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        level = level.reshape(level.shape[0], level.shape[1], level.shape[2] // 2, 2, level.shape[3] // 2, 2).mean(axis=(3, 5))
        res_log2 -= 1


def _real_images():
    """[NUM_REALS, 3, 16, 16] uint8: smooth random blobs, so that features differ from image to image."""
    rnd = np.random.RandomState(123)
    yy, xx = np.mgrid[0:RESOLUTION, 0:RESOLUTION] / RESOLUTION
    images = []
    for _ in range(NUM_REALS):
        cx, cy, radius = rnd.uniform(0.2, 0.8, 3)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.05 + radius * 0.1))
        colour = rnd.uniform(0, 255, [3, 1, 1])
        images.append(colour * blob[np.newaxis] + rnd.uniform(0, 30, [3, RESOLUTION, RESOLUTION]))
    return np.rint(np.stack(images)).clip(0, 255).astype(np.uint8)


def _build_and_save(path, func, name, **kwargs):
    net = tflib.Network(name, func_name=func, **kwargs)
    misc.save_pkl(net, path)
    return net


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Dataset, Gs pickles and stand-in feature networks in a temp dir; the metrics pointed at them."""
    root = str(tmp_path_factory.mktemp("metrics"))
    e = dnnlib.EasyDict(root=root, reals=_real_images(), dataset_dir=os.path.join(root, "data", "tiny"),
                        nets_dir=os.path.join(root, "nets"), cache_dir=os.path.join(root, "cache"))
    _write_tfrecords(e.dataset_dir, e.reals)
    with open(os.path.join(e.dataset_dir, "tiny-rxx.labels"), "wb") as f:
        np.save(f, np.eye(4, dtype=np.float32)[np.arange(NUM_REALS) % 4])
    os.makedirs(e.nets_dir)
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", num_channels=3, resolution=RESOLUTION,
                          label_size=0, fmap_base=128, fmap_max=32, latent_size=32, dlatent_size=32,
                          mapping_fmaps=32, mapping_layers=2)
        Gs = G.clone("Gs")
        e.gs_pkl = os.path.join(root, "network-snapshot-000000.pkl")
        misc.save_pkl(Gs, e.gs_pkl)
        D = tflib.Network("D", func_name="training.networks_stylegan2.D_stylegan2", num_channels=3,
                          resolution=RESOLUTION, label_size=0, fmap_base=128, fmap_max=32)
        e.full_pkl = os.path.join(root, "network-full.pkl")
        misc.save_pkl((G, D, Gs), e.full_pkl)
        e.constant_gen_pkl = os.path.join(root, "constant-gen.pkl")
        _build_and_save(e.constant_gen_pkl, standins.constant_generator, "Gconst", resolution=RESOLUTION)
        _build_and_save(os.path.join(e.nets_dir, "inception_v3_features.pkl"), standins.inception_features, "Inc")
        _build_and_save(os.path.join(e.nets_dir, "inception_v3_softmax.pkl"), standins.inception_softmax, "IncSoft")
        _build_and_save(os.path.join(e.nets_dir, "vgg16.pkl"), standins.inception_features, "VGG", num_features=24)
        _build_and_save(os.path.join(e.nets_dir, "vgg16_zhang_perceptual.pkl"), standins.lpips_distance, "LPIPS")
        for attrib_idx in (0, 1):
            _build_and_save(os.path.join(e.nets_dir, classifier_file_name(attrib_idx)), standins.attribute_classifier,
                            "Classifier%d" % attrib_idx)
    e.dataset_args = dict(tfrecord_dir=e.dataset_dir, shuffle_mb=0)
    with pytest.MonkeyPatch().context() as patch:
        patch.setenv("STYLEGAN2_CACHE_DIR", e.cache_dir)
        patch.setenv(metric_base.METRICS_DIR_ENV, "file://" + e.nets_dir + "/")
        yield e


def _run_metric(env, args, run_dir, network_pkl=None, **run_kwargs):
    metric = dnnlib.util.call_func_by_name(**args)
    run_kwargs.setdefault("dataset_args", env.dataset_args)
    run_kwargs.setdefault("mirror_augment", False)
    run_kwargs.setdefault("num_gpus", 1)
    metric.run(network_pkl or env.gs_pkl, run_dir=run_dir, **run_kwargs)
    return metric


def _stand_in_features(net_file, images):
    """Run a stand-in feature network (loaded from its pickle) on uint8 images in a throwaway session."""
    with tf.Graph().as_default(), tflib.create_session().as_default():
        net = misc.load_pkl(net_file, allow_code_execution=True)
        return net.run(images)


# ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SMALL_ARGS))
def test_every_metric_writes_its_result_line(env, tmp_path, name):
    run_dir = str(tmp_path)
    metric = _run_metric(env, small_metric_args(name), run_dir)
    results = metric.get_results()
    suffixes = RESULT_SUFFIXES.get(name, [""])
    assert sorted(results) == sorted(name + suffix for suffix in suffixes)
    assert all(np.isfinite(value) for value in results.values())
    with open(os.path.join(run_dir, "metric-%s.txt" % name)) as f:
        lines = f.read().splitlines()
    assert len(lines) == 1
    pattern = r"^network-snapshot-000000 +time \S+( \S+)? +" + " +".join(
        re.escape(name + suffix) + r" (-?\d+\.\d+)" for suffix in suffixes) + "$"
    match = re.match(pattern, lines[0])
    assert match, lines[0]
    if name.startswith("fid") or name.startswith("ppl"):
        assert results[name] > 0
    if name == "is50k":
        assert 1 <= results["is50k_mean"] <= 10
    if name.startswith("pr50k3"):
        assert 0 <= results[name + "_precision"] <= 1 and 0 <= results[name + "_recall"] <= 1
    if name == "ls":
        assert 1 <= results["ls_z"] <= 4 and 1 <= results["ls_w"] <= 4  # 2^(sum of 2 entropies <= 1 bit)


def test_fid_real_statistics_cached_and_reused(env, tmp_path, monkeypatch):
    cache_dir = str(tmp_path / "cache")
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", cache_dir)
    args = small_metric_args("fid50k_full")
    _run_metric(env, args, str(tmp_path))
    cache_files = os.listdir(cache_dir)
    assert len(cache_files) == 1 and cache_files[0].endswith("-fid50k_full-tiny.npz")
    cache_file = os.path.join(cache_dir, cache_files[0])

    # The cached statistics are those of the stand-in features of all 40 dataset images.
    features = _stand_in_features(os.path.join(env.nets_dir, "inception_v3_features.pkl"), env.reals)
    with np.load(cache_file) as data:
        np.testing.assert_allclose(data["mu"], features.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(data["sigma"], np.cov(features, rowvar=False), rtol=1e-4, atol=1e-6)

    # A second run reads them instead of computing them again.
    mtime = os.stat(cache_file).st_mtime_ns

    def fail(*_args, **_kwargs):
        raise AssertionError("real features computed again")

    with monkeypatch.context() as patch:
        patch.setattr(metric_base.MetricBase, "_compute_real_features", fail)
        _run_metric(env, args, str(tmp_path))
    assert os.stat(cache_file).st_mtime_ns == mtime
    with open(os.path.join(str(tmp_path), "metric-fid50k_full.txt")) as f:
        assert len(f.read().splitlines()) == 2  # Appended.

    # Anything that changes the statistics gets its own entry: mirroring, the number of images.
    np.random.seed(77)
    _run_metric(env, args, str(tmp_path), mirror_augment=True)
    assert np.random.randint(1 << 30) == np.random.RandomState(77).randint(1 << 30)  # Global RNG left alone.
    mirrored_file = [name for name in os.listdir(cache_dir) if name != cache_files[0]][0]
    with np.load(os.path.join(cache_dir, mirrored_file)) as mirrored, np.load(cache_file) as plain:
        assert np.abs(mirrored["mu"] - plain["mu"]).max() > 1e-4  # Some images were flipped.
    _run_metric(env, small_metric_args("fid50k_full", max_reals=20), str(tmp_path))
    assert len(os.listdir(cache_dir)) == 3


def test_reals_in_file_order_repeating_when_too_few(env, tmp_path, monkeypatch):
    """num_reals=20 reads images 0..19 (last minibatch partial); 50 > 40 images repeats the dataset: 0..39, 0..9."""
    features = _stand_in_features(os.path.join(env.nets_dir, "inception_v3_features.pkl"), env.reals)
    for num_reals, expected in [(20, features[:20]), (50, np.concatenate([features, features[:10]]))]:
        cache_dir = str(tmp_path / ("cache%d" % num_reals))
        monkeypatch.setenv("STYLEGAN2_CACHE_DIR", cache_dir)
        _run_metric(env, small_metric_args("fid50k", num_images=8, num_reals=num_reals), str(tmp_path))
        with np.load(os.path.join(cache_dir, os.listdir(cache_dir)[0])) as data:
            np.testing.assert_allclose(data["mu"], expected.mean(axis=0), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(data["sigma"], np.cov(expected, rowvar=False), rtol=1e-4, atol=1e-6)


def test_two_gpu_towers_and_max_reals(env, tmp_path, monkeypatch):
    """num_gpus=2 (two towers on the CPU) with a last real minibatch that does not split evenly."""
    cache_dir = str(tmp_path / "cache")
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", cache_dir)
    metric = _run_metric(env, small_metric_args("fid50k_full", num_images=8, max_reals=37), str(tmp_path), num_gpus=2)
    assert metric.get_results()["fid50k_full"] > 0
    features = _stand_in_features(os.path.join(env.nets_dir, "inception_v3_features.pkl"), env.reals[:37])
    with np.load(os.path.join(cache_dir, os.listdir(cache_dir)[0])) as data:
        np.testing.assert_allclose(data["mu"], features.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_fid_and_is_of_a_constant_generator(env, tmp_path):
    """All fakes equal: FID = |mu_f - mu_r|^2 + tr(sigma_r), with mu_f the features of that one image; IS = 1."""
    fid = _run_metric(env, small_metric_args("fid50k_full", num_images=16), str(tmp_path),
                      network_pkl=env.constant_gen_pkl, allow_code_execution=True)
    with tf.Graph().as_default(), tflib.create_session().as_default():
        gen = misc.load_pkl(env.constant_gen_pkl, allow_code_execution=True)
        fake_image = gen.run(np.zeros([1, 4]), np.zeros([1, 0]),
                             output_transform=dict(func=tflib.convert_images_to_uint8))
    nets = os.path.join(env.nets_dir, "inception_v3_features.pkl")
    real_features = _stand_in_features(nets, env.reals).astype(np.float64)
    fake_feature = _stand_in_features(nets, fake_image)[0].astype(np.float64)
    expected = np.sum((fake_feature - real_features.mean(axis=0)) ** 2) + np.trace(np.cov(real_features, rowvar=False))
    np.testing.assert_allclose(fid.get_results()["fid50k_full"], expected, rtol=1e-4)

    inception_score = _run_metric(env, small_metric_args("is50k", num_images=16), str(tmp_path),
                                  network_pkl=env.constant_gen_pkl, allow_code_execution=True)
    np.testing.assert_allclose(inception_score.get_results()["is50k_mean"], 1.0, rtol=1e-5)


def test_feature_net_url_argument_overrides(env, tmp_path):
    """A file:// URL given to the metric wins over $STYLEGAN2_METRICS_DIR; a constant network gives FID 0."""
    const_pkl = os.path.join(str(tmp_path), "const.pkl")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        _build_and_save(const_pkl, standins.constant_features, "Const")
    metric = _run_metric(env, small_metric_args("fid50k", num_images=16, feature_net_url="file://" + const_pkl),
                         str(tmp_path))
    assert abs(metric.get_results()["fid50k"]) < 1e-6


def test_unreachable_feature_net_url_gives_one_line_error(env, tmp_path, monkeypatch):
    monkeypatch.setattr(dnnlib.util, "_RETRY_FIRST_DELAY_S", 0.0)
    monkeypatch.setattr(dnnlib.util, "_RETRY_MAX_DELAY_S", 0.0)
    url = "http://127.0.0.1:9/x.pkl"
    with pytest.raises(misc.NetworkPickleError) as info:
        _run_metric(env, small_metric_args("fid50k", feature_net_url=url), str(tmp_path))
    message = str(info.value)
    assert url in message and "\n" not in message


def test_dataset_args_from_training_run_dir(env, tmp_path):
    """Without dataset_args, the metric reads the dataset and mirroring of the training run in run_dir."""
    run_dir = str(tmp_path)
    submit_config = dict(run_func_kwargs=dict(dataset_args=dict(tfrecord_dir="tiny"), mirror_augment=True))
    with open(os.path.join(run_dir, "submit_config.pkl"), "wb") as f:
        pickle.dump(submit_config, f)
    metric = dnnlib.util.call_func_by_name(**small_metric_args("kid50k"))
    metric.run(env.full_pkl, run_dir=run_dir, data_dir=os.path.dirname(env.dataset_dir))
    assert metric._mirror_augment is True  # pylint: disable=protected-access
    assert metric._dataset_args == dict(tfrecord_dir="tiny", shuffle_mb=0)  # pylint: disable=protected-access
    assert os.path.isfile(os.path.join(run_dir, "metric-kid50k.txt"))


def test_conditional_generator_gets_dataset_labels(env, tmp_path):
    cond_pkl = str(tmp_path / "conditional.pkl")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", num_channels=3, resolution=RESOLUTION,
                          label_size=4, fmap_base=128, fmap_max=32, latent_size=32, dlatent_size=32,
                          mapping_fmaps=32, mapping_layers=2)
        misc.save_pkl(G, cond_pkl)  # A lone network is taken as Gs.
    metric = _run_metric(env, small_metric_args("fid50k", num_images=16), str(tmp_path), network_pkl=cond_pkl)
    assert metric.get_results()["fid50k"] > 0
    with pytest.raises(metric_base.MetricError, match="takes 4 labels but dataset .* gives 2"):
        _run_metric(env, small_metric_args("fid50k", num_images=16), str(tmp_path), network_pkl=cond_pkl,
                    dataset_args=dict(env.dataset_args, max_label_size=2))


def test_metrics_without_dataset(env, tmp_path):
    """FID needs real images; IS and PPL of an unconditional generator run without a dataset."""
    with pytest.raises(metric_base.MetricError, match="needs a dataset"):
        _run_metric(env, small_metric_args("fid50k"), str(tmp_path), dataset_args=None)
    metric = _run_metric(env, small_metric_args("ppl_wend", num_samples=8), str(tmp_path), dataset_args=None)
    assert metric.get_results()["ppl_wend"] > 0


# ------------------------------------------------------------------------------------------------------
# run_metrics.py

def _cli(env, tmp_path, *extra):
    return run_metrics.main(["--network", env.gs_pkl, "--dataset", "tiny", "--data-dir",
                             os.path.dirname(env.dataset_dir), "--result-dir", str(tmp_path / "results")] + list(extra))


def test_run_metrics_cli(env, tmp_path, monkeypatch):
    monkeypatch.setitem(metric_defaults, "fid50k", small_metric_args("fid50k", num_images=16))
    monkeypatch.setitem(metric_defaults, "ppl_wend", small_metric_args("ppl_wend", num_samples=8))
    assert _cli(env, tmp_path, "--metrics", "fid50k,ppl_wend", "--mirror-augment", "true") == 0
    run_dirs = os.listdir(str(tmp_path / "results"))
    assert len(run_dirs) == 1 and run_dirs[0].endswith("-run-metrics")
    run_dir = tmp_path / "results" / run_dirs[0]
    fid_line = (run_dir / "metric-fid50k.txt").read_text().strip()
    ppl_line = (run_dir / "metric-ppl_wend.txt").read_text().strip()
    assert re.match(r"^network-snapshot-000000 +time .* fid50k \d+\.\d+$", fid_line)
    assert re.match(r"^network-snapshot-000000 +time .* ppl_wend \d+\.\d+$", ppl_line)
    log = (run_dir / "log.txt").read_text()
    assert fid_line in log and ppl_line in log


def test_run_metrics_cli_goes_on_past_a_failing_metric(env, tmp_path, capsys, monkeypatch):
    """The first metric fails during its evaluation: the second still runs and writes its result, and the
    command ends with exit status 1 and one error line naming the metric that failed and why."""
    monkeypatch.setitem(metric_defaults, "fid50k", small_metric_args("fid50k", num_images=16))
    monkeypatch.setitem(metric_defaults, "ppl_wend", small_metric_args("ppl_wend", num_samples=8))

    def fail(*_args, **_kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(dnnlib.util.get_obj_by_name(metric_defaults["fid50k"]["func_name"]), "_evaluate", fail)
    assert _cli(env, tmp_path, "--metrics", "fid50k,ppl_wend") == 1
    err = capsys.readouterr().err.strip()
    error_lines = [line for line in err.splitlines() if ": error: " in line]  # The others are ppl's progress.
    assert error_lines == [err.splitlines()[-1]] and err.endswith(": error: fid50k failed: MemoryError: out of memory")
    run_dir = tmp_path / "results" / os.listdir(str(tmp_path / "results"))[0]
    assert re.match(r"^network-snapshot-000000 +time .* ppl_wend \d+\.\d+$",
                    (run_dir / "metric-ppl_wend.txt").read_text().strip())
    assert not (run_dir / "metric-fid50k.txt").exists()


def test_run_metrics_cli_errors(env, tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "nope.pkl")
    assert run_metrics.main(["--network", missing, "--dataset", "tiny", "--data-dir",
                             os.path.dirname(env.dataset_dir), "--result-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and missing in err

    assert _cli(env, tmp_path, "--dataset", "no-such-dataset") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-dataset" in err

    with pytest.raises(SystemExit):
        _cli(env, tmp_path, "--metrics", "fid50k,bogus")
    assert "bogus" in capsys.readouterr().err

    assert not os.path.exists(str(tmp_path / "r"))  # The bad network made no run dir.

    # A feature network that cannot be downloaded: one line naming it, at once, and no run dir.
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, "http://127.0.0.1:9/")
    monkeypatch.setitem(metric_defaults, "fid50k", small_metric_args("fid50k", num_images=16))
    assert _cli(env, tmp_path, "--metrics", "fid50k") == 1
    err = capsys.readouterr().err
    message = err[err.index(": error: ") + len(": error: "):]
    assert message.startswith("metric fid50k needs the Inception network "
                              "(http://127.0.0.1:9/inception_v3_features.pkl), which is not in the cache")
    assert err.count("\n") == 1
    assert "; leave the metric out of --metrics, put a copy in the cache as" in message
    assert not os.path.exists(str(tmp_path / "results"))
