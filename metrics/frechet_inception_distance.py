"""Fréchet Inception Distance (FID): the Fréchet distance between Gaussians fitted to the Inception-v3
pool features (2048-d) of real and of generated images."""

import warnings

import numpy as np
import scipy.linalg

from metrics import metric_base

FEATURE_NET_FILE = "inception_v3_features.pkl"


def feature_statistics(features):
    """[N, D] features -> (mean [D] in the features' dtype, covariance [D, D] float64, as np.cov)."""
    features = np.asarray(features)
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake):
    """||mu_fake - mu_real||^2 + tr(sigma_fake + sigma_real - 2 sqrtm(sigma_fake sigma_real)), real part."""
    m = np.square(mu_fake - mu_real).sum()
    # sqrtm without `disp=` (deprecated in SciPy 1.16+; every version returns the matrix alone by default).
    # Singular products (e.g. fewer images than features) only warn, as disp=False kept quiet upstream.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        s = scipy.linalg.sqrtm(np.dot(sigma_fake, sigma_real))
    if not np.all(np.isfinite(s)):
        # Older SciPy (1.7, with TF 1.15) gives NaN for nearly nilpotent products, e.g. when all fakes are one
        # image. tr(sqrtm(A B)) is the sum of the square roots of the eigenvalues of A B (real, >= 0 here).
        eigenvalues = scipy.linalg.eigvals(np.dot(sigma_fake, sigma_real))
        trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues.real, 0, None)))
        return float(m + np.trace(sigma_fake) + np.trace(sigma_real) - 2 * trace_sqrt)
    dist = m + np.trace(sigma_fake + sigma_real - 2 * s)
    return float(np.real(dist))


class FID(metric_base.MetricBase):
    """FID of `num_images` generated images against real images.

    num_reals: None = `num_images` real images (the dataset repeats if it is smaller, as the official
        fid50k), an int = that many, 'all' = every image of the dataset once (fid50k_full).
    max_reals: with num_reals='all', use at most this many.
    feature_net_url: a path or URL of the Inception pickle instead of the official one (see
        `metric_base.feature_net_url`), or of the classifier named by `feature_net`.
    feature_net, class_balanced: see `metric_base.MetricBase` (e.g. feature_net='fmnist': the features
        of this project's Fashion-MNIST classifier instead of Inception's).
    """

    FEATURE_NET = ("the Inception network", FEATURE_NET_FILE)

    def __init__(self, num_images, minibatch_per_gpu, num_reals=None, max_reals=None, feature_net_url=None, **kwargs):
        super().__init__(**kwargs)
        self.num_images = num_images
        self.minibatch_per_gpu = minibatch_per_gpu
        self.num_reals = num_reals if num_reals is not None else num_images
        self.max_reals = max_reals
        self.feature_net_url = feature_net_url

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        url = self.feature_nets()[0][1]
        inception = self._load_feature_net()
        minibatch_size = self.minibatch_per_gpu * num_gpus

        def compute_real_statistics():
            features = self._compute_real_features(inception, self.num_reals, self.max_reals, minibatch_size,
                                                   num_gpus, desc="%s reals" % self.name)
            mu, sigma = feature_statistics(features)
            return dict(mu=mu, sigma=sigma)

        reals = self._cached_reals(compute_real_statistics, num_reals=self.num_reals, max_reals=self.max_reals,
                                   feature_net=metric_base.feature_net_identity(url))
        fake_features = self._compute_fake_features(Gs, Gs_kwargs, inception, self.num_images, self.minibatch_per_gpu,
                                                    num_gpus, desc="%s fakes" % self.name)
        mu_fake, sigma_fake = feature_statistics(fake_features)
        self._report_result(frechet_distance(reals["mu"], reals["sigma"], mu_fake, sigma_fake))
