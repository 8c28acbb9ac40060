"""The network that ships with the code: the default of run_generator.py and run_projector.py.

It was trained with run_training.py on scikit-learn's digits (see the README). The test checks that it is
what the README says it is, and that it learned its task: a classifier fitted here on the real digits
recognises the digit the network was asked to draw.
"""

import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
import pretrained_networks
from training import misc
from conftest import REPO_DIR


def test_default_network_is_a_small_conditional_digits_network():
    assert os.path.isfile(pretrained_networks.DEFAULT_NETWORK)
    assert os.path.getsize(pretrained_networks.DEFAULT_NETWORK) < 4 << 20  # A few MB at most.
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G, D, Gs = misc.load_pkl(pretrained_networks.DEFAULT_NETWORK)  # Safe mode: it needs no embedded code.
        assert Gs.input_shapes == [[None, 64], [None, 10]] and Gs.output_shape == [None, 1, 32, 32]
        assert D.input_shapes == [[None, 1, 32, 32], [None, 10]]
        assert G.static_kwargs.fmap_max == 32 and Gs.static_kwargs == G.static_kwargs


def _digit_classifier():
    """Logistic regression on the real 8x8 digits (0..16), as scikit-learn ships them."""
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    digits = datasets.load_digits()
    return linear_model.LogisticRegression(max_iter=2000).fit(digits.data, digits.target)


def test_generated_digits_are_the_asked_classes(tmp_path):
    num_per_class = 20
    # The command line with no --network: the default one (class 3 here; all classes in-process below).
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, os.path.join(REPO_DIR, "run_generator.py"), "generate-images",
                             "--seeds=0-%d" % (num_per_class - 1), "--class=3", "--truncation-psi=0.7",
                             "--noise-mode=const", "--result-dir=" + str(tmp_path)], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "00000-generate-images"
    cli_images = np.stack([np.asarray(PIL.Image.open(str(run_dir / ("seed%04d.png" % seed))))
                           for seed in range(num_per_class)])
    assert cli_images.shape == (num_per_class, 32, 32) and cli_images.dtype == np.uint8

    images = {}
    with tf.Graph().as_default(), tflib.create_session().as_default():
        _G, _D, Gs = misc.load_pkl(pretrained_networks.DEFAULT_NETWORK)
        for class_idx in range(10):
            latents = np.stack([np.random.RandomState(seed).randn(64) for seed in range(num_per_class)])
            labels = np.eye(10, dtype=np.float32)[[class_idx] * num_per_class]
            images[class_idx] = Gs.run(latents, labels, truncation_psi=0.7, randomize_noise=False,
                                       output_transform=dict(func=tflib.convert_images_to_uint8))[:, 0]
    # The command line made the same images as Gs.run here (same z per seed, the stored noise maps).
    assert np.abs(cli_images.astype(np.int32) - images[3].astype(np.int32)).max() <= 1

    # 32x32 [0, 255] -> 8x8 [0, 16] (4x4 box average), as the classifier's training data.
    classifier = _digit_classifier()
    predicted = {}
    for class_idx, batch in images.items():
        small = batch.reshape(num_per_class, 8, 4, 8, 4).mean(axis=(2, 4)) * (16.0 / 255.0)
        predicted[class_idx] = classifier.predict(small.reshape(num_per_class, 64))
    accuracy = np.mean([np.mean(predicted[c] == c) for c in range(10)])
    print("accuracy per class:", {c: float(np.mean(predicted[c] == c)) for c in range(10)})
    assert accuracy > 0.8, accuracy  # Chance is 0.1.
