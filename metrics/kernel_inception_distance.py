"""Kernel Inception Distance (KID, Binkowski et al. 2018, as computed by StyleGAN2-ADA): the unbiased
MMD^2 with the polynomial kernel k(x, y) = (x.y / D + 1)^3 between Inception-v3 features of real and
generated images, averaged over random subsets."""

import numpy as np

from metrics import metric_base
from metrics.frechet_inception_distance import FEATURE_NET_FILE


def kernel_inception_distance(real_features, fake_features, num_subsets, max_subset_size, rnd=None):
    """Mean unbiased MMD^2 over `num_subsets` pairs of random subsets (without replacement) of size
    m = min(N_real, N_fake, max_subset_size). rnd: a np.random.RandomState (default: NumPy's global RNG)."""
    rnd = rnd if rnd is not None else np.random
    real_features = np.asarray(real_features, dtype=np.float64)
    fake_features = np.asarray(fake_features, dtype=np.float64)
    num_features = real_features.shape[1]
    m = min(real_features.shape[0], fake_features.shape[0], max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 real and 2 generated samples, got %d and %d"
                         % (real_features.shape[0], fake_features.shape[0]))
    total = 0.0
    for _subset_idx in range(num_subsets):
        x = fake_features[rnd.choice(fake_features.shape[0], m, replace=False)]
        y = real_features[rnd.choice(real_features.shape[0], m, replace=False)]
        k_xx_yy = (x @ x.T / num_features + 1) ** 3 + (y @ y.T / num_features + 1) ** 3
        k_xy = (x @ y.T / num_features + 1) ** 3
        # Sum over i != j of k(x_i, x_j) + k(y_i, y_j), over m (m - 1) pairs; all m^2 pairs for k(x_i, y_j).
        total += (k_xx_yy.sum() - np.diag(k_xx_yy).sum()) / (m - 1) - k_xy.sum() * 2 / m
    return float(total / num_subsets / m)


class KID(metric_base.MetricBase):
    """KID of `num_images` generated images against real images (num_reals, max_reals, feature_net_url,
    feature_net and class_balanced as in FID)."""

    FEATURE_NET = ("the Inception network", FEATURE_NET_FILE)

    def __init__(self, num_images, minibatch_per_gpu, num_subsets=100, max_subset_size=1000, num_reals=None,
                 max_reals=None, feature_net_url=None, **kwargs):
        super().__init__(**kwargs)
        self.num_images = num_images
        self.minibatch_per_gpu = minibatch_per_gpu
        self.num_subsets = num_subsets
        self.max_subset_size = max_subset_size
        self.num_reals = num_reals if num_reals is not None else num_images
        self.max_reals = max_reals
        self.feature_net_url = feature_net_url

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        url = self.feature_nets()[0][1]
        inception = self._load_feature_net()
        minibatch_size = self.minibatch_per_gpu * num_gpus

        def compute_real_features():
            return dict(features=self._compute_real_features(inception, self.num_reals, self.max_reals, minibatch_size,
                                                             num_gpus, desc="%s reals" % self.name))

        reals = self._cached_reals(compute_real_features, num_reals=self.num_reals, max_reals=self.max_reals,
                                   feature_net=metric_base.feature_net_identity(url))
        fake_features = self._compute_fake_features(Gs, Gs_kwargs, inception, self.num_images, self.minibatch_per_gpu,
                                                    num_gpus, desc="%s fakes" % self.name)
        kid = kernel_inception_distance(reals["features"], fake_features, self.num_subsets, self.max_subset_size)
        self._report_result(kid, fmt="%-10.6f")
