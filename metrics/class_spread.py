"""Within-class spread of a conditional generator: how varied its images of each class are, in a classifier's
features, relative to the real images of the same class (e.g. spread10k_fmnist; 1 = as varied as the real data,
near 0 = one image per class, i.e. mode collapse that class accuracy and FID can miss)."""

import numpy as np

from metrics import metric_base


def mean_class_spread(features, classes, num_classes):
    """Mean over the classes present of sqrt(trace of the class's feature covariance), i.e. the RMS distance
    of a class's features [N, D] to their class mean; classes [N] in [0, num_classes)."""
    spreads = []
    for class_idx in range(num_classes):
        class_features = features[classes == class_idx].astype(np.float64)
        if len(class_features) < 2:
            continue
        centered = class_features - class_features.mean(axis=0)
        spreads.append(np.sqrt(np.sum(np.square(centered)) / (len(class_features) - 1)))
    if not spreads:
        raise ValueError("no class has two or more images")
    return float(np.mean(spreads))


class ClassSpread(metric_base.ClassBalancedMetric):
    """Within-class spread of `num_images` generated images (every class equally often) divided by that of
    every real image of the dataset (with its labels), both by `mean_class_spread` in the features of
    `feature_net`. Reports the ratio, and the two spreads with suffixes `_fakes` and `_reals`."""

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        self._require_conditional()
        features_net = self._load_feature_net()
        url = self.feature_nets()[0][1]
        reals = self._cached_reals(lambda: self._real_spread(features_net, num_gpus), num_reals="all",
                                   feature_net=metric_base.feature_net_identity(url))
        fake_features = self._compute_fake_features(Gs, Gs_kwargs, features_net, self.num_images,
                                                    self.minibatch_per_gpu, num_gpus, desc="%s fakes" % self.name)
        fake_classes = np.arange(self.num_images) % self._label_size
        fake_spread = mean_class_spread(fake_features, fake_classes, self._label_size)
        real_spread = float(reals["spread"])
        self._report_result(fake_spread / real_spread)
        self._report_result(fake_spread, suffix="_fakes")
        self._report_result(real_spread, suffix="_reals")

    def _real_spread(self, features_net, num_gpus):
        """{'spread': mean_class_spread of every real image, by its dataset label}."""
        self._get_dataset_obj()  # MetricError unless the dataset has as many labels as the network takes.
        features, classes = [], []
        for images, labels in self._iterate_reals(self.minibatch_per_gpu * num_gpus, "all", with_labels=True):
            features.append(metric_base.run_on_gpus(features_net, images, num_gpus))
            classes.append(np.argmax(labels, axis=1))
        if not features:
            raise metric_base.MetricError("metric %s: dataset %s yielded no images" % (self.name, self._dataset_dir()))
        spread = mean_class_spread(np.concatenate(features), np.concatenate(classes), self._label_size)
        return dict(spread=np.float64(spread))
