"""Inception Score (IS): exp of the mean KL divergence between p(y|x) and p(y) of the Inception-v3
softmax outputs (1008 classes) of generated images, over `num_splits` splits; reports mean and std."""

import numpy as np

from metrics import metric_base

FEATURE_NET_FILE = "inception_v3_softmax.pkl"


def inception_score(probs, num_splits):
    """[N, classes] softmax outputs -> (mean, std, scores [num_splits]).

    Split i is probs[i*N//num_splits : (i+1)*N//num_splits] (unequal sizes when N % num_splits != 0).
    Arithmetic in the dtype of `probs` (float32 in the metric), std with ddof 0.
    """
    probs = np.asarray(probs)
    num_images = probs.shape[0]
    # Zero probabilities contribute 0 * log 0 = 0; clamp so that they do not give NaN.
    log_probs = np.log(np.maximum(probs, np.finfo(probs.dtype).tiny))
    scores = []
    for split_idx in range(num_splits):
        part = probs[split_idx * num_images // num_splits:(split_idx + 1) * num_images // num_splits]
        log_part = log_probs[split_idx * num_images // num_splits:(split_idx + 1) * num_images // num_splits]
        log_marginal = np.log(np.mean(part, axis=0, keepdims=True))
        kl = np.sum(part * (log_part - log_marginal), axis=1)
        scores.append(np.exp(np.mean(kl)))
    scores = np.array(scores)
    return np.mean(scores), np.std(scores), scores


class IS(metric_base.MetricBase):
    """IS of `num_images` generated images; results `<name>_mean` and `<name>_std`."""

    FEATURE_NET = ("the Inception softmax network", FEATURE_NET_FILE)

    def __init__(self, num_images, num_splits, minibatch_per_gpu, feature_net_url=None, **kwargs):
        super().__init__(**kwargs)
        self.num_images, self.minibatch_per_gpu = num_images, minibatch_per_gpu
        self.num_splits = num_splits
        self.feature_net_url = feature_net_url

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        url = self.feature_nets()[0][1]
        inception = metric_base.load_feature_net(url)
        probs = self._compute_fake_features(Gs, Gs_kwargs, inception, self.num_images, self.minibatch_per_gpu,
                                            num_gpus, desc="%s fakes" % self.name)
        mean, std, _scores = inception_score(probs, self.num_splits)
        self._report_result(float(mean), suffix="_mean")
        self._report_result(float(std), suffix="_std")
