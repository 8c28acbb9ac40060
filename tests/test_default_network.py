"""The network that ships with the code: the default of run_generator.py and run_projector.py.

It was trained with run_training.py on the 60,000 Fashion-MNIST training images (see the README). The tests
check that it is what the README says it is, and the quality targets of the README in this project's own
offline metrics (the features of networks/fmnist-classifier.pkl), against the 10,000 real test images: 10,000
samples at truncation 1, every class equally often. Needs the Debian package dataset-fashion-mnist.
"""

import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import dataset_tool
import dnnlib
import dnnlib.tflib as tflib
import pretrained_networks
from metrics import metric_base
from metrics.metric_defaults import metric_defaults
from training import misc
from conftest import REPO_DIR

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
CLASSIFIER_PKL = metric_base.LOCAL_FEATURE_NETS["fmnist"][1]
# The Frechet distance, in the classifier's features, of the 60,000 real training images blurred by a 2x2 box
# filter against the 10,000 real test images (README, "Metrics that need no download"): the FD target.
BLURRED_REALS_FD = 25.0

needs_fmnist = pytest.mark.skipif(not os.path.isfile(os.path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz")),
                                  reason="Fashion-MNIST not installed at %s (apt-get install dataset-fashion-mnist)"
                                  % FMNIST_DIR)


def test_default_network_is_a_small_conditional_fashion_mnist_network():
    assert os.path.basename(pretrained_networks.DEFAULT_NETWORK) == "stylegan2-fmnist32-cond.pkl"
    assert os.path.getsize(pretrained_networks.DEFAULT_NETWORK) < 4 << 20  # A few MB at most.
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G, D, Gs = misc.load_pkl(pretrained_networks.DEFAULT_NETWORK)  # Safe mode: it needs no embedded code.
        assert Gs.input_shapes == [[None, 64], [None, 10]] and Gs.output_shape == [None, 1, 32, 32]
        assert D.input_shapes == [[None, 1, 32, 32], [None, 10]]
        assert Gs.static_kwargs == G.static_kwargs


@needs_fmnist
@pytest.mark.slow_on_tf1  # About a minute; the metrics' TF 1.15 behaviour is tested in test_metrics_fmnist.py.
def test_default_network_meets_the_quality_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", str(tmp_path / "cache"))
    dataset_tool.execute_cmdline(["dataset_tool.py", "create_mnist", str(tmp_path / "fmnist-test"), FMNIST_DIR,
                                  "--split=test"])

    def evaluate(names):
        """The metrics `names` of one draw of 10,000 samples, against the test images: {result name: value}."""
        group = metric_base.MetricGroup([metric_defaults[name] for name in names])
        group.run(pretrained_networks.DEFAULT_NETWORK, data_dir=str(tmp_path),
                  dataset_args=dict(tfrecord_dir="fmnist-test"), mirror_augment=False, log_results=False,
                  Gs_kwargs=dict(is_validation=True, truncation_psi=1.0))
        results = {}
        for metric in group.metrics:
            results.update(metric.get_results())
        return results

    results = evaluate(["fid10k_fmnist", "pr10k3_fmnist", "acc10k_fmnist", "spread10k_fmnist"])
    print(results)
    # The targets (README, "The default network").
    assert results["acc10k_fmnist"] >= 0.8  # Recognised as the class asked for (chance: 0.1).
    assert results["pr10k3_fmnist_precision"] >= 0.7
    # Recall varies between draws of the 10,000 samples (0.500-0.527 in 17 draws, mean 0.514, standard
    # deviation 0.007), so its target is checked on the mean of four draws.
    recalls = [results["pr10k3_fmnist_recall"]]
    recalls += [evaluate(["pr10k3_fmnist"])["pr10k3_fmnist_recall"] for _ in range(3)]
    print("recalls", recalls)
    assert np.mean(recalls) >= 0.5
    assert results["fid10k_fmnist"] <= BLURRED_REALS_FD
    assert results["spread10k_fmnist"] >= 0.8  # Within-class variety relative to the real test images'.


@needs_fmnist
@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_quick_start_grid_has_a_row_per_class(tmp_path):
    """The README's first command: no --network, no --class; seed s is drawn in class s mod 10 and the grid
    has a row per class. The classifier recognises the classes asked for in most of the 40 images."""
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, os.path.join(REPO_DIR, "run_generator.py"), "generate-images",
                             "--seeds=0-39", "--truncation-psi=1", "--grid", "--result-dir=" + str(tmp_path)],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "00000-generate-images"
    images = np.stack([np.asarray(PIL.Image.open(str(run_dir / ("seed%04d.png" % seed)))) for seed in range(40)])
    grid = np.asarray(PIL.Image.open(str(run_dir / "grid.png")))
    assert images.shape == (40, 32, 32) and grid.shape == (10 * 32, 4 * 32)
    np.testing.assert_array_equal(grid[7 * 32:8 * 32, 2 * 32:3 * 32], images[27])  # Class 7, third column.
    with tf.Graph().as_default(), tflib.create_session().as_default():
        logits = misc.load_pkl(CLASSIFIER_PKL).run(images[:, np.newaxis])
    correct = np.argmax(logits, axis=1) == np.arange(40) % 10
    assert np.mean(correct) >= 0.8, correct
