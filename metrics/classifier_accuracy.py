"""Class accuracy of a conditional generator: the fraction of its images that a classifier of the real data
assigns to the class they were generated for (e.g. acc10k_fmnist with the Fashion-MNIST classifier)."""

import numpy as np

from metrics import metric_base


class ClassAccuracy(metric_base.ClassBalancedMetric):
    """Fraction of `num_images` generated images, every class equally often (image i of class i mod the number
    of classes), whose largest logit of the classifier `feature_net` is at the class asked for."""

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        self._require_conditional()
        classifier = self._load_feature_net(output_features=False)
        if classifier.output_shape[1] != self._label_size:
            raise metric_base.MetricError("metric %s: %s tells %d classes but the network takes %d labels"
                                          % (self.name, self.feature_nets()[0][0], classifier.output_shape[1],
                                             self._label_size))
        logits = self._compute_fake_features(Gs, Gs_kwargs, classifier, self.num_images, self.minibatch_per_gpu,
                                             num_gpus, desc="%s fakes" % self.name)
        asked = np.arange(self.num_images) % self._label_size
        self._report_result(float(np.mean(np.argmax(logits, axis=1) == asked)))
