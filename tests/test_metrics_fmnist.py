"""The shipped Fashion-MNIST classifier (networks/fmnist-classifier.pkl) on the real test images, and the
offline metrics in its features (fid10k_fmnist, kid10k_fmnist, pr10k3_fmnist, acc10k_fmnist, spread10k_fmnist)
end to end.
Needs the Debian package dataset-fashion-mnist (.ci/run installs it)."""

import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dataset_tool
import dnnlib
import dnnlib.tflib as tflib
import run_metrics
from metrics import class_spread, fmnist_classifier, metric_base
from metrics.frechet_inception_distance import feature_statistics, frechet_distance
from metrics.metric_defaults import metric_defaults
from test_dataset_tool import write_idx_gz
from training import misc

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
CLASSIFIER_PKL = metric_base.LOCAL_FEATURE_NETS["fmnist"][1]
FMNIST_METRICS = ["fid10k_fmnist", "kid10k_fmnist", "pr10k3_fmnist", "acc10k_fmnist", "spread10k_fmnist"]

needs_fmnist = pytest.mark.skipif(not os.path.isfile(os.path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz")),
                                  reason="Fashion-MNIST not installed at %s (apt-get install dataset-fashion-mnist)"
                                  % FMNIST_DIR)


@pytest.fixture(scope="module")
def real_test_split():
    """The first 2,000 real test images, uint8 [2000, 1, 32, 32], and their labels [2000]."""
    images, labels = dataset_tool.load_mnist(FMNIST_DIR, "test")
    return images[:2000], labels[:2000]


def box_blur_2x2(images):
    """Each pixel the mean of itself and its right, lower and lower-right neighbours (zeros past the edge)."""
    padded = np.pad(images.astype(np.float32), [(0, 0), (0, 0), (0, 1), (0, 1)])
    total = padded[:, :, :-1, :-1] + padded[:, :, 1:, :-1] + padded[:, :, :-1, 1:] + padded[:, :, 1:, 1:]
    return np.rint(total / 4).astype(np.uint8)


def fd(features_a, features_b):
    return frechet_distance(*(feature_statistics(features_a) + feature_statistics(features_b)))


@needs_fmnist
def test_classifier_loads_in_safe_mode_and_knows_the_test_set(sess, real_test_split):
    assert os.path.getsize(CLASSIFIER_PKL) < 1 << 20
    images, labels = real_test_split
    classifier = misc.load_pkl(CLASSIFIER_PKL)  # A local file: safe mode.
    assert classifier._build_func is fmnist_classifier.C_fmnist  # pylint: disable=protected-access
    assert classifier.input_shape == [None, 1, 32, 32] and classifier.output_shape == [None, 10]
    accuracy = np.mean(np.argmax(classifier.run(images, minibatch_size=1000), axis=1) == labels)
    assert accuracy >= 0.85


@needs_fmnist
def test_features_separate_real_from_blurred(sess, real_test_split):
    """Frechet distance of 1,000 real test images to 1,000 others: small; to those 2x2-box-blurred: far larger."""
    images, _ = real_test_split
    metric = dnnlib.util.call_func_by_name(**metric_defaults["fid10k_fmnist"])
    feature_net = metric._load_feature_net()  # pylint: disable=protected-access
    assert feature_net.output_shape == [None, 128]
    features = feature_net.run(images, minibatch_size=1000)
    blurred = feature_net.run(box_blur_2x2(images[1000:]), minibatch_size=1000)
    real_fd, blurred_fd = fd(features[:1000], features[1000:]), fd(features[:1000], blurred)
    assert real_fd < 5.0 and blurred_fd > 15.0 and blurred_fd > 4 * real_fd, (real_fd, blurred_fd)


def test_metrics_find_the_classifier_without_download(monkeypatch, tmp_path):
    """The start-up check of run_metrics.py and run_training.py: the shipped pickle, or a path given instead."""
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, "http://127.0.0.1:9/")  # Not looked at by these metrics.
    metric_base.check_feature_nets(FMNIST_METRICS)
    missing = str(tmp_path / "none.pkl")
    with pytest.raises(metric_base.MetricError) as info:
        metric_base.check_feature_nets([dict(metric_defaults["kid10k_fmnist"], feature_net_url=missing)])
    assert str(info.value).startswith("metric kid10k_fmnist needs the Fashion-MNIST classifier (%s), which does "
                                      "not exist" % missing)
    with pytest.raises(metric_base.MetricError, match="unknown feature_net 'mnist'"):
        dnnlib.util.call_func_by_name(**dict(metric_defaults["fid10k_fmnist"], feature_net="mnist"))


# ------------------------------------------------------------------------------------------------------
# End to end, on a dataset of 200 real test images written by dataset_tool.py create_mnist --split=test.

def prototype_generator(latents_in, labels_in, prototypes=None, shift=0, channels=1, **_kwargs):
    """Class c -> prototypes[(c + shift) mod 10] (uint8 [10, 1, 32, 32]) in [-1, 1], tiled to `channels`."""
    latents_in.set_shape([None, 4])
    labels_in.set_shape([None, 10])
    images = tf.constant(np.asarray(prototypes, np.float32) / 127.5 - 1)
    classes = tf.argmax(labels_in, axis=1)
    result = tf.gather(images, (classes + shift) % 10) + 0 * tf.reduce_sum(latents_in)
    return tf.tile(result, [1, channels, 1, 1])


def sampling_generator(latents_in, labels_in, images_by_class=None, **_kwargs):
    """Class c -> one of images_by_class[c] (uint8 [10, K, 1, 32, 32]) picked by the latent, in [-1, 1]."""
    latents_in.set_shape([None, 4])
    labels_in.set_shape([None, 10])
    images = tf.constant(np.asarray(images_by_class, np.float32) / 127.5 - 1)
    picks = tf.cast(tf.abs(latents_in[:, 0]) * 1000, tf.int32) % images.shape[1]
    return tf.gather_nd(images, tf.stack([tf.cast(tf.argmax(labels_in, axis=1), tf.int32), picks], axis=1))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmnist")
    images, labels = dataset_tool.load_mnist(FMNIST_DIR, "test")
    source = root / "idx"
    source.mkdir()
    write_idx_gz(source / "t10k-images-idx3-ubyte.gz", images[:200, 0, 2:30, 2:30], 2051)
    write_idx_gz(source / "t10k-labels-idx1-ubyte.gz", labels[:200], 2049)
    dataset_tool.execute_cmdline(["dataset_tool.py", "create_mnist", str(root / "data" / "fmnist"), str(source),
                                  "--split=test"])
    e = dnnlib.EasyDict(root=root, data_dir=str(root / "data"), images=images, labels=labels)
    e.prototypes = images[[int(np.flatnonzero(labels == c)[0]) for c in range(10)]]
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", num_channels=1, resolution=32,
                          label_size=10, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16,
                          mapping_fmaps=16, mapping_layers=1)
        e.gs_pkl = str(root / "tiny-cond.pkl")
        misc.save_pkl(G, e.gs_pkl)
        for name, kwargs in [("proto", {}), ("shifted", dict(shift=1)), ("rgb", dict(channels=3))]:
            net = tflib.Network("P", func_name=prototype_generator, prototypes=e.prototypes, **kwargs)
            e[name + "_pkl"] = str(root / (name + ".pkl"))
            misc.save_pkl(net, e[name + "_pkl"])
        images_by_class = [images[:200][labels[:200] == c][:12] for c in range(10)]  # Every class has 12 or more.
        e.sampling_pkl = str(root / "sampling.pkl")
        misc.save_pkl(tflib.Network("S", func_name=sampling_generator, images_by_class=images_by_class),
                      e.sampling_pkl)
    with pytest.MonkeyPatch().context() as patch:
        patch.setenv("STYLEGAN2_CACHE_DIR", str(root / "cache"))
        yield e


def run_metric(env, name, network_pkl, num_gpus=1, **overrides):
    metric = dnnlib.util.call_func_by_name(**dict(metric_defaults[name], **overrides))
    metric.run(network_pkl, dataset_args=dict(tfrecord_dir="fmnist", shuffle_mb=0), data_dir=env.data_dir,
               mirror_augment=False, log_results=False, allow_code_execution=True, num_gpus=num_gpus)
    return metric.get_results()


@needs_fmnist
@pytest.mark.slow_on_tf1
def test_class_accuracy_asks_every_class_equally(env, sess):
    """The classifier recognises each prototype, so a generator that draws class c's prototype for label c
    scores 1 exactly when every image gets the class it was asked for; one that draws class c + 1's scores 0."""
    classifier = misc.load_pkl(CLASSIFIER_PKL)
    assert list(np.argmax(classifier.run(env.prototypes), axis=1)) == list(range(10))
    assert run_metric(env, "acc10k_fmnist", env.proto_pkl, num_images=250, minibatch_per_gpu=16) == {"acc10k_fmnist": 1.0}
    assert run_metric(env, "acc10k_fmnist", env.shifted_pkl, num_images=250, minibatch_per_gpu=16) == {"acc10k_fmnist": 0.0}
    # The balanced classes give each prototype 25 times: FD against the 200 reals = that of the prototypes, 25
    # each; also with two GPU towers (on the CPU here) and a last minibatch cut short.
    feature_net = classifier.clone(return_features=True)
    expected = fd(feature_net.run(np.repeat(env.prototypes, 25, axis=0)), feature_net.run(env.images[:200]))
    for num_gpus in (1, 2):
        fid = run_metric(env, "fid10k_fmnist", env.proto_pkl, num_gpus=num_gpus, num_images=250,
                         minibatch_per_gpu=16)["fid10k_fmnist"]
        np.testing.assert_allclose(fid, expected, rtol=1e-3)
    with pytest.raises(metric_base.MetricError, match=r"takes images of shape \[1, 32, 32\].*generated images are "
                                                      r"\[3, 32, 32\]"):
        run_metric(env, "fid10k_fmnist", env.rgb_pkl, num_images=20)


@needs_fmnist
@pytest.mark.slow_on_tf1
def test_fid_of_a_tiny_conditional_stylegan2(env):
    """A conditional 32x32 1-channel StyleGAN2 generator's images go into the classifier as they are."""
    fid = run_metric(env, "fid10k_fmnist", env.gs_pkl, num_images=100, minibatch_per_gpu=50)["fid10k_fmnist"]
    assert fid > 5.0  # An untrained network is far from the real images (real halves: about 2, blurred: 25).


@needs_fmnist
@pytest.mark.slow_on_tf1
def test_run_metrics_cli_fmnist_metrics(env, monkeypatch):
    """All four metric names through run_metrics.py (on the prototype generator: a cheap network to build)."""
    small = dict(num_images=200, minibatch_per_gpu=50)
    monkeypatch.setitem(metric_defaults, "fid10k_fmnist", dict(metric_defaults["fid10k_fmnist"], **small))
    monkeypatch.setitem(metric_defaults, "kid10k_fmnist", dict(metric_defaults["kid10k_fmnist"], num_subsets=10,
                                                               max_subset_size=100, **small))
    monkeypatch.setitem(metric_defaults, "pr10k3_fmnist", dict(metric_defaults["pr10k3_fmnist"], **small))
    monkeypatch.setitem(metric_defaults, "acc10k_fmnist", dict(metric_defaults["acc10k_fmnist"], **small))
    monkeypatch.setitem(metric_defaults, "spread10k_fmnist", dict(metric_defaults["spread10k_fmnist"], **small))
    fake_batches = []
    generate_fakes_expr = metric_base.MetricBase._generate_fakes_expr
    monkeypatch.setattr(metric_base.MetricBase, "_generate_fakes_expr",
                        lambda self, *args: fake_batches.append(self.name) or generate_fakes_expr(self, *args))
    result_dir = env.root / "results"
    assert run_metrics.main(["--network", env.proto_pkl, "--dataset", "fmnist", "--data-dir", env.data_dir,
                             "--metrics", ",".join(FMNIST_METRICS), "--result-dir", str(result_dir),
                             "--allow-code-execution"]) == 0
    run_dir = result_dir / os.listdir(str(result_dir))[0]
    values = {}
    for name in FMNIST_METRICS:
        line = (run_dir / ("metric-%s.txt" % name)).read_text().strip()
        values.update((key, float(value)) for key, value in re.findall(r" (%s\S*) (-?\d+\.\d+)" % name, line))
    assert sorted(values) == sorted(["fid10k_fmnist", "kid10k_fmnist", "pr10k3_fmnist_precision",
                                     "pr10k3_fmnist_recall", "acc10k_fmnist", "spread10k_fmnist",
                                     "spread10k_fmnist_fakes", "spread10k_fmnist_reals"])
    assert values["fid10k_fmnist"] > 5.0 and values["kid10k_fmnist"] > 0 and values["acc10k_fmnist"] == 1.0
    # One image per class: no spread at all (mode collapse), against a real spread of several feature units.
    assert values["spread10k_fmnist"] == 0 and values["spread10k_fmnist_fakes"] == 0
    assert values["spread10k_fmnist_reals"] > 1
    # The 200 fakes' features are computed once for FID, KID, PR and spread, once more as logits for accuracy.
    assert fake_batches == ["fid10k_fmnist", "acc10k_fmnist"]
    # 10 distinct images, 20 copies each: each lies in the ball of a real neighbour or not at all (precision a
    # multiple of 1/10); their own balls have radius 0, so only reals equal to a prototype are covered.
    assert values["pr10k3_fmnist_precision"] * 10 == pytest.approx(round(values["pr10k3_fmnist_precision"] * 10))
    assert values["pr10k3_fmnist_recall"] <= 10 / 200


def test_mean_class_spread_is_the_root_trace_of_each_class_covariance():
    rnd = np.random.RandomState(0)
    classes = rnd.randint(0, 3, size=300)
    scales = np.array([1.0, 2.0, 0.5])
    features = rnd.randn(300, 5) * scales[classes][:, None] + classes[:, None] * 10  # Class means far apart.
    expected = np.mean([np.sqrt(np.trace(np.cov(features[classes == c], rowvar=False))) for c in range(3)])
    assert class_spread.mean_class_spread(features, classes, 4) == pytest.approx(expected, rel=1e-12)  # Class 3: none.
    assert class_spread.mean_class_spread(features, classes, 3) == pytest.approx(np.sqrt(5) * 3.5 / 3, rel=0.1)


@needs_fmnist
@pytest.mark.slow_on_tf1
def test_within_class_spread_of_real_samples_is_near_one(env, sess):
    """A generator that draws real images of the class asked for (12 per class) is about as varied as the 200
    reals; the reals' spread is that of their features grouped by label."""
    feature_net = misc.load_pkl(CLASSIFIER_PKL).clone(return_features=True)
    real_features = feature_net.run(env.images[:200])
    expected_reals = class_spread.mean_class_spread(real_features, env.labels[:200], 10)
    results = run_metric(env, "spread10k_fmnist", env.sampling_pkl, num_images=300, minibatch_per_gpu=32)
    assert results["spread10k_fmnist_reals"] == pytest.approx(expected_reals, rel=1e-4)
    assert 0.8 < results["spread10k_fmnist"] < 1.1
    assert results["spread10k_fmnist"] == pytest.approx(results["spread10k_fmnist_fakes"] / expected_reals, rel=1e-4)
