"""The numerical cores of the metrics against numbers from the official code (pieces/metrics) and against
independent computations written here."""

import os

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import tensorflow.compat.v1 as tf

from metrics import metric_base
from metrics.frechet_inception_distance import feature_statistics, frechet_distance
from metrics.inception_score import inception_score
from metrics.kernel_inception_distance import kernel_inception_distance
from metrics.linear_separability import (classifier_file_name, conditional_entropy, label_entropy, most_confident,
                                         separability_entropy)
from metrics.metric_defaults import metric_defaults
from metrics.perceptual_path_length import filter_distances, path_length, slerp
from metrics.precision_recall import (DistanceBlock, inside_manifold, knn_precision_recall, knn_radii,
                                      pairwise_sq_distances_np)


@pytest.fixture(scope="module")
def ref_arrays():
    from conftest import reference_dir  # pylint: disable=import-outside-toplevel
    path = os.path.join(reference_dir(), "pieces", "metrics", "metrics.npz")
    if not os.path.isfile(path):
        pytest.skip("reference numbers not found at %s" % path)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


# ------------------------------------------------------------------------------------------------------
# FID

@pytest.mark.parametrize("case", ["fid_diff", "fid_same"])
def test_fid_matches_official(ref_arrays, case):
    real = ref_arrays["fid/real_features"]
    fake = ref_arrays["fid/fake_features"] if case == "fid_diff" else real
    mu_real, sigma_real = feature_statistics(real)
    mu_fake, sigma_fake = feature_statistics(fake)
    assert mu_real.dtype == np.float32 and sigma_real.dtype == np.float64
    np.testing.assert_array_equal(mu_real, ref_arrays[case + "/mu_real"])
    # float64 covariances agree to rounding: the last bit depends on the NumPy version's BLAS summation order.
    np.testing.assert_allclose(sigma_fake, ref_arrays[case + "/sigma_fake"], rtol=0, atol=1e-14)
    fid = frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)
    if case == "fid_diff":
        np.testing.assert_allclose(fid, 72.84393052051746, rtol=1e-10)
        np.testing.assert_allclose(fid, float(ref_arrays[case + "/fid"]), rtol=1e-10)
    else:
        assert abs(fid) < 1e-10  # Pure rounding noise around 0 (the official value is -6.6e-13).


def test_fid_independent_of_sqrtm(ref_arrays):
    """tr(sqrtm(S_f S_r)) = sum of the square roots of the eigenvalues of S_f S_r (real, >= 0)."""
    mu_r, sigma_r = feature_statistics(ref_arrays["fid/real_features"].astype(np.float64))
    mu_f, sigma_f = feature_statistics(ref_arrays["fid/fake_features"].astype(np.float64))
    eigenvalues = scipy.linalg.eigvals(sigma_f @ sigma_r)
    expected = np.sum((mu_f - mu_r) ** 2) + np.trace(sigma_f) + np.trace(sigma_r) - 2 * np.sum(np.sqrt(eigenvalues)).real
    np.testing.assert_allclose(frechet_distance(mu_r, sigma_r, mu_f, sigma_f), expected, rtol=1e-9)


def test_fid_diagonal_gaussians_closed_form():
    """For diagonal covariances A, B: FID = |mu1 - mu2|^2 + sum((sqrt(a) - sqrt(b))^2)."""
    rnd = np.random.RandomState(3)
    a, b = rnd.uniform(0.1, 4, 7), rnd.uniform(0.1, 4, 7)
    mu1, mu2 = rnd.randn(7), rnd.randn(7)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    np.testing.assert_allclose(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected, rtol=1e-12)
    assert abs(frechet_distance(mu1, np.diag(a), mu1, np.diag(a))) < 1e-12


# ------------------------------------------------------------------------------------------------------
# IS

def test_is_matches_official(ref_arrays):
    mean, std, scores = inception_score(ref_arrays["is/probs"], 10)
    np.testing.assert_allclose(scores.astype(np.float32), ref_arrays["is/scores"], rtol=3e-7, atol=0)  # float32 rounding
    np.testing.assert_allclose(mean, 2.385207414627075, rtol=1e-6)
    np.testing.assert_allclose(std, 0.1989603042602539, rtol=1e-6)


def test_is_independent():
    """One confident class per image, classes balanced: IS = number of classes; all images alike: IS = 1."""
    probs = np.full([40, 5], 1e-6)
    probs[np.arange(40), np.arange(40) % 5] = 1
    probs /= probs.sum(axis=1, keepdims=True)
    mean, std, _ = inception_score(probs, 1)
    np.testing.assert_allclose(mean, 5, rtol=1e-3)
    assert std == 0
    same = np.tile(np.float32([[0.2, 0.5, 0.3]]), [30, 1])
    np.testing.assert_allclose(inception_score(same, 3)[0], 1.0, rtol=1e-6)
    # Direct formula with scipy's KL divergence on one split.
    rnd = np.random.RandomState(0)
    p = rnd.dirichlet(np.ones(6), size=25)
    kl = [scipy.stats.entropy(row, p.mean(axis=0)) for row in p]
    np.testing.assert_allclose(inception_score(p, 1)[0], np.exp(np.mean(kl)), rtol=1e-12)


def test_is_zero_probabilities_give_no_nan():
    probs = np.float32([[1, 0], [0, 1], [1, 0], [0, 1]])
    mean, _std, _ = inception_score(probs, 1)
    np.testing.assert_allclose(mean, 2.0, rtol=1e-6)


# ------------------------------------------------------------------------------------------------------
# PPL

@pytest.mark.parametrize("case", ["ppl_n1000", "ppl_n97"])
def test_ppl_filter_matches_official(ref_arrays, case):
    distances = ref_arrays[case + "/all_distances"]
    np.testing.assert_array_equal(filter_distances(distances), ref_arrays[case + "/filtered_distances"])
    assert path_length(distances) == ref_arrays[case + "/ppl"]


def test_ppl_filter_independent():
    """lo = the sorted value at floor(0.01 (n-1)), hi = at ceil(0.99 (n-1)); keep lo <= d <= hi in order."""
    rnd = np.random.RandomState(7)
    for n in (5, 97, 1000, 1234):
        d = rnd.lognormal(2, 1, n).astype(np.float32)
        s = np.sort(d)
        lo, hi = s[int(np.floor(0.01 * (n - 1)))], s[int(np.ceil(0.99 * (n - 1)))]
        expected = [x for x in d if lo <= x <= hi]
        np.testing.assert_array_equal(filter_distances(d), expected)
        np.testing.assert_allclose(path_length(d), np.mean(np.float64(expected)), rtol=1e-5)


def test_slerp(sess):
    rnd = np.random.RandomState(1)
    a, b = rnd.randn(6, 9), rnd.randn(6, 9)
    t = rnd.uniform(0, 1, [6, 1])
    a_in, b_in, t_in = (tf.constant(v, tf.float64) for v in (a, b, t))
    out0, out1, out_t = sess.run([slerp(a_in, b_in, tf.zeros_like(t_in)), slerp(a_in, b_in, tf.ones_like(t_in)),
                                  slerp(a_in, b_in, t_in)])
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(out0, unit_a, atol=1e-12)
    np.testing.assert_allclose(out1, unit_b, atol=1e-9)
    angle_ab = np.arccos(np.sum(unit_a * unit_b, axis=1))
    np.testing.assert_allclose(np.arccos(np.clip(np.sum(unit_a * out_t, axis=1), -1, 1)), t[:, 0] * angle_ab, atol=1e-7)
    np.testing.assert_allclose(np.arccos(np.clip(np.sum(unit_b * out_t, axis=1), -1, 1)), (1 - t[:, 0]) * angle_ab, atol=1e-7)


# ------------------------------------------------------------------------------------------------------
# Precision and recall

def _exact_sq_distances(u, v):
    u = np.asarray(u, np.float16).astype(np.float64)
    v = np.asarray(v, np.float16).astype(np.float64)
    return np.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=2)


def test_pr_distances_float16(ref_arrays, sess):
    """Our float16 distances (NumPy model and TF block) are the exact ones up to float16 rounding; the
    official numbers (another TF version's float16 matmul) agree to the same precision. TF 1.15's CPU
    float16 matmul rounds like the official one (one of the 40000 entries 1.1 off), so the TF block gets
    the official numbers' tolerance there."""
    del sess
    ref, ev = ref_arrays["pr/ref_features"], ref_arrays["pr/eval_features"]
    exact = _exact_sq_distances(ref, ev)
    official = ref_arrays["pr/pairwise_ref_eval"].astype(np.float64)
    ours_np = pairwise_sq_distances_np(ref, ev)
    ours_tf = DistanceBlock(64, num_gpus=1)(ref, ev)
    assert ours_np.dtype == np.float16 and ours_tf.dtype == np.float16
    np.testing.assert_allclose(ours_np.astype(np.float64), exact, rtol=2e-3, atol=0.5)
    tf_tolerance = dict(rtol=2e-3, atol=0.5) if not tf.VERSION.startswith("1.") else dict(rtol=5e-3, atol=1.5)
    np.testing.assert_allclose(ours_tf.astype(np.float64), exact, **tf_tolerance)
    for ours in (ours_np.astype(np.float64), ours_tf.astype(np.float64)):
        np.testing.assert_allclose(ours, official, rtol=5e-3, atol=1.5)
    np.testing.assert_allclose(official, exact, rtol=5e-3, atol=1.5)


def test_pr_manifold_logic_matches_official(ref_arrays):
    """Fed the official distances and radii, membership is exactly the official per-sample result."""
    official = ref_arrays["pr/pairwise_ref_eval"]  # [ref, eval]
    ref_radii = ref_arrays["pr_b10000/ref_manifold_D"][:, 0]
    eval_radii = ref_arrays["pr_b10000/eval_manifold_D"][:, 0]
    index = np.arange(200)[:, np.newaxis]  # "Features" that are row numbers into the official matrix.

    def eval_vs_ref(rows, cols):
        return official[cols[:, 0]][:, rows[:, 0]].T

    def ref_vs_eval(rows, cols):
        return official[rows[:, 0]][:, cols[:, 0]]

    for batch in (10000, 64):
        precision = inside_manifold(index, index, ref_radii, eval_vs_ref, batch, batch)
        recall = inside_manifold(index, index, eval_radii, ref_vs_eval, batch, batch)
        np.testing.assert_array_equal(precision, ref_arrays["pr_b10000/precision"][:, 0] == 1)
        np.testing.assert_array_equal(recall, ref_arrays["pr_b10000/recall"][:, 0] == 1)
    np.testing.assert_array_equal(ref_arrays["pr_b64/precision"], ref_arrays["pr_b10000/precision"])


def test_pr_radii_and_result_close_to_official(ref_arrays, sess):
    del sess
    ref, ev = ref_arrays["pr/ref_features"], ref_arrays["pr/eval_features"]
    block = DistanceBlock(64, num_gpus=2)  # Two column halves (on the CPU here).
    for batch in (10000, 64):
        key = "pr_b%d" % batch
        for distance_fn in (pairwise_sq_distances_np, block):
            radii = knn_radii(ref, 3, distance_fn, batch, batch).astype(np.float64)
            np.testing.assert_allclose(radii, ref_arrays[key + "/ref_manifold_D"][:, 0], rtol=5e-3, atol=1.5)
            # Radius = 3rd nearest other sample, from exact distances.
            exact = np.sort(_exact_sq_distances(ref, ref), axis=1)[:, 3]
            np.testing.assert_allclose(radii, exact, rtol=2e-3, atol=0.5)
            precision, recall = knn_precision_recall(ref, ev, 3, distance_fn, batch, batch)
            # One sample of 200 sits on a ball's border, where float16 rounding decides (official: 0.725).
            assert abs(precision - float(ref_arrays[key + "/knn_precision"][0])) <= 0.0051
            assert abs(recall - float(ref_arrays[key + "/knn_recall"][0])) <= 0.0051


def test_pr_brute_force_on_exact_features(sess):
    """Small integer features (exact in float16): blocked results equal a direct double loop."""
    del sess
    rnd = np.random.RandomState(11)
    ref = rnd.randint(-3, 4, size=[37, 5]).astype(np.float32)
    ev = (rnd.randint(-3, 4, size=[29, 5]) + rnd.randint(0, 2, size=[29, 5])).astype(np.float32)
    k = 3

    def radii_of(x):
        return np.array([sorted(np.sum((x - row) ** 2, axis=1))[k] for row in x])

    def fraction_inside(samples, centres, radii):
        return np.mean([any(np.sum((c - s) ** 2) <= r for c, r in zip(centres, radii)) for s in samples])

    expected = (fraction_inside(ev, ref, radii_of(ref)), fraction_inside(ref, ev, radii_of(ev)))
    np.testing.assert_array_equal(knn_radii(ref, k, pairwise_sq_distances_np, 7, 5), radii_of(ref))
    for distance_fn in (pairwise_sq_distances_np, DistanceBlock(5, num_gpus=1)):
        assert knn_precision_recall(ref, ev, k, distance_fn, 7, 5) == expected
        assert knn_precision_recall(ref, ev, k, distance_fn, 1000, 1000) == expected


# ------------------------------------------------------------------------------------------------------
# KID

def test_kid_equals_unbiased_mmd_when_subsets_are_whole_sets():
    rnd = np.random.RandomState(5)
    real = rnd.randn(12, 4)
    fake = rnd.randn(12, 4) * 1.3 + 0.4

    def kernel(x, y):
        return (np.dot(x, y) / 4 + 1) ** 3

    m = 12
    xx = sum(kernel(fake[i], fake[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kernel(real[i], real[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(kernel(fake[i], real[j]) for i in range(m) for j in range(m)) / (m * m)
    expected = xx + yy - 2 * xy
    kid = kernel_inception_distance(real, fake, num_subsets=3, max_subset_size=100, rnd=np.random.RandomState(0))
    np.testing.assert_allclose(kid, expected, rtol=1e-10)


def test_kid_small_for_same_distribution_large_for_shift():
    rnd = np.random.RandomState(6)
    real = rnd.randn(400, 8)
    same = rnd.randn(400, 8)
    shifted = rnd.randn(400, 8) + 1.0
    kid_same = kernel_inception_distance(real, same, 20, 100, rnd=np.random.RandomState(1))
    kid_shifted = kernel_inception_distance(real, shifted, 20, 100, rnd=np.random.RandomState(1))
    assert abs(kid_same) < 0.02 < kid_shifted


# ------------------------------------------------------------------------------------------------------
# LS

def test_conditional_entropy_independent():
    rnd = np.random.RandomState(8)
    for _ in range(5):
        joint = rnd.dirichlet(np.ones(4)).reshape(2, 2)
        expected = scipy.stats.entropy(joint.ravel(), base=2) - scipy.stats.entropy(joint.sum(axis=1), base=2)
        np.testing.assert_allclose(conditional_entropy(joint), expected, rtol=1e-6, atol=1e-7)
    assert conditional_entropy([[0.5, 0], [0, 0.5]]) == 0
    np.testing.assert_allclose(conditional_entropy([[0.25, 0.25], [0.25, 0.25]]), 1.0)
    np.testing.assert_allclose(conditional_entropy([[0.5, 0.5], [0, 0]]), 1.0)  # Empty rows count 0.


def test_label_entropy_and_svm():
    targets = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    assert label_entropy(targets, targets) == 0
    np.testing.assert_allclose(label_entropy(np.zeros(8, int), targets), 1.0)
    rnd = np.random.RandomState(9)
    inputs = rnd.randn(400, 6)
    direction = rnd.randn(6)
    margin = inputs @ direction
    confident = np.stack([1 / (1 + np.exp(-3 * margin)), 1 / (1 + np.exp(3 * margin))], axis=1)
    assert separability_entropy(inputs, confident, 200) < 0.05  # Linearly separable.
    coin = rnd.uniform(0, 1, 400)
    random_labels = np.stack([coin, 1 - coin], axis=1)
    assert separability_entropy(inputs, random_labels, 200) > 0.8  # Unrelated to the inputs.
    one_class = np.tile([[0.9, 0.1]], [50, 1])
    assert separability_entropy(inputs[:50], one_class, 20) == 0


def test_most_confident_is_stable():
    predictions = np.array([[0.6, 0.4], [0.1, 0.9], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_array_equal(most_confident(predictions, 4), [1, 3, 0, 2])
    assert classifier_file_name(0) == "celebahq-classifier-00-male.pkl"
    assert classifier_file_name(39) == "celebahq-classifier-39-wearing-necktie.pkl"


# ------------------------------------------------------------------------------------------------------
# Defaults, feature-network locations, result lines

def test_metric_defaults_official_table():
    d = metric_defaults
    assert d.fid50k == dict(name="fid50k", func_name="metrics.frechet_inception_distance.FID", num_images=50000,
                            minibatch_per_gpu=8)
    assert d.is50k == dict(name="is50k", func_name="metrics.inception_score.IS", num_images=50000, num_splits=10,
                           minibatch_per_gpu=8)
    for name, space, sampling, crop in [("ppl_zfull", "z", "full", True), ("ppl_wfull", "w", "full", True),
                                        ("ppl_zend", "z", "end", True), ("ppl_wend", "w", "end", True),
                                        ("ppl2_wend", "w", "end", False)]:
        assert d[name] == dict(name=name, func_name="metrics.perceptual_path_length.PPL", num_samples=50000,
                               epsilon=1e-4, space=space, sampling=sampling, crop=crop, minibatch_per_gpu=4,
                               Gs_overrides=dict(dtype="float32", mapping_dtype="float32"))
    assert d.ls.func_name == "metrics.linear_separability.LS"
    assert (d.ls.num_samples, d.ls.num_keep, list(d.ls.attrib_indices), d.ls.minibatch_per_gpu) == (200000, 100000, list(range(40)), 4)
    assert d.pr50k3 == dict(name="pr50k3", func_name="metrics.precision_recall.PR", num_images=50000, nhood_size=3,
                            minibatch_per_gpu=8, row_batch_size=10000, col_batch_size=10000)
    assert (d.kid50k.num_images, d.kid50k.num_subsets, d.kid50k.max_subset_size) == (50000, 100, 1000)
    assert d.fid50k_full.num_reals == "all" and d.fid50k_full.num_images == 50000
    assert (d.kid50k_full.num_reals, d.kid50k_full.max_reals) == ("all", 1000000)
    assert (d.pr50k3_full.num_reals, d.pr50k3_full.max_reals) == ("all", 200000)
    import dnnlib  # pylint: disable=import-outside-toplevel
    for args in d.values():
        cls = dnnlib.util.get_obj_by_name(args.func_name)
        assert issubclass(cls, metric_base.MetricBase)


def test_feature_net_url(monkeypatch, tmp_path):
    monkeypatch.delenv(metric_base.METRICS_DIR_ENV, raising=False)
    assert metric_base.feature_net_url("vgg16.pkl") == \
        "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/vgg16.pkl"
    assert metric_base.feature_net_url("vgg16.pkl", "/x/my.pkl") == "/x/my.pkl"
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, str(tmp_path))
    assert metric_base.feature_net_url("vgg16.pkl") == os.path.join(str(tmp_path), "vgg16.pkl")
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, "file:///data/nets/")
    assert metric_base.feature_net_url("vgg16.pkl") == "file:///data/nets/vgg16.pkl"
    assert metric_base.feature_net_url("vgg16.pkl", "http://h/v.pkl") == "http://h/v.pkl"


def test_result_line_format():
    metric = metric_base.DummyMetric(name="fid50k")
    metric._network_pkl = "/runs/00003/network-snapshot-000123.pkl"  # pylint: disable=protected-access
    metric._eval_time = 75.0  # pylint: disable=protected-access
    metric._report_result(12.3456789)  # pylint: disable=protected-access
    metric._report_result(0.5, suffix="_std")  # pylint: disable=protected-access
    line = metric.get_result_str()
    assert line == "network-snapshot-000123        time 1m 15s       fid50k 12.3457    fid50k_std 0.5000"
    metric._network_pkl = "a-very-long-network-file-name-0123456789.pkl"  # pylint: disable=protected-access
    assert metric.get_result_str().startswith("...twork-file-name-0123456789  time")
    assert metric.get_results() == {"fid50k": 12.3456789, "fid50k_std": 0.5}
