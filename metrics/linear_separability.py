"""Linear separability (LS) of the latent spaces Z and W: for each of 40 CelebA-HQ attributes, a classifier
labels generated images; a linear SVM fitted on the latents of the most confident half predicts those
labels; the score is 2^(sum over attributes of the conditional entropy H(classifier label | SVM label))."""

import collections

import numpy as np

import dnnlib.tflib  # noqa: F401  Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

from metrics import metric_base

ATTRIBUTE_NAMES = [
    "male", "smiling", "attractive", "wavy-hair", "young", "5-o-clock-shadow", "arched-eyebrows",
    "bags-under-eyes", "bald", "bangs", "big-lips", "big-nose", "black-hair", "blond-hair", "blurry", "brown-hair",
    "bushy-eyebrows", "chubby", "double-chin", "eyeglasses", "goatee", "gray-hair", "heavy-makeup",
    "high-cheekbones", "mouth-slightly-open", "mustache", "narrow-eyes", "no-beard", "oval-face", "pale-skin",
    "pointy-nose", "receding-hairline", "rosy-cheeks", "sideburns", "straight-hair", "wearing-earrings",
    "wearing-hat", "wearing-lipstick", "wearing-necklace", "wearing-necktie",
]


def classifier_file_name(attrib_idx):
    """'celebahq-classifier-00-male.pkl', ..."""
    return "celebahq-classifier-%02d-%s.pkl" % (attrib_idx, ATTRIBUTE_NAMES[attrib_idx])


def conditional_entropy(joint):
    """H(Y | X) in bits of a joint distribution p[x, y] (rows: X, columns: Y)."""
    joint = np.asarray(joint, dtype=np.float64)
    p_x = joint.sum(axis=1, keepdims=True)
    p_y_given_x = joint / np.maximum(p_x, 1e-8)
    entropy_per_x = -np.sum(p_y_given_x * np.log2(np.maximum(p_y_given_x, 1e-8)), axis=1)
    return float(np.sum(entropy_per_x * p_x[:, 0]))


def label_entropy(svm_labels, classifier_labels):
    """H(classifier label | SVM label) in bits, from the empirical joint distribution of two 0/1 label arrays."""
    svm_labels = np.asarray(svm_labels)
    classifier_labels = np.asarray(classifier_labels)
    joint = [[np.mean(np.logical_and(svm_labels == row, classifier_labels == col)) for col in (0, 1)] for row in (0, 1)]
    return conditional_entropy(joint)


def most_confident(predictions, num_keep):
    """Indices of the `num_keep` samples whose classifier probabilities [N, 2] have the largest maximum."""
    confidence = np.max(predictions, axis=1)
    return np.argsort(-confidence, kind="stable")[:num_keep]


def separability_entropy(inputs, predictions, num_keep):
    """Fit a linear SVM on the `num_keep` most confident samples (inputs [N, D], classifier probabilities
    [N, 2]) and return H(classifier label | SVM label) in bits on those samples."""
    import sklearn.svm  # pylint: disable=import-outside-toplevel  (only this metric needs scikit-learn)
    keep = most_confident(predictions, num_keep)
    targets = np.argmax(predictions[keep], axis=1)
    svm_inputs = inputs[keep]
    try:
        svm = sklearn.svm.LinearSVC()
        svm.fit(svm_inputs, targets)
        svm_outputs = svm.predict(svm_inputs)
    except ValueError:
        svm_outputs = targets  # A single class: the SVM cannot be fitted, and predicting it is trivial.
    return label_entropy(svm_outputs, targets)


class LS(metric_base.MetricBase):
    """Linear separability of Z and W (results `_z`, `_w`), over `num_samples` images and the attributes
    `attrib_indices`, keeping the `num_keep` most confident samples per attribute.

    feature_net_urls: {attribute index: path or URL} of classifier pickles instead of the official ones (see
    also $STYLEGAN2_METRICS_DIR in `metric_base.feature_net_url`).
    """

    def __init__(self, num_samples, num_keep, attrib_indices, minibatch_per_gpu, feature_net_urls=None, **kwargs):
        super().__init__(**kwargs)
        self.num_samples = num_samples
        self.num_keep = num_keep
        self.attrib_indices = list(attrib_indices)
        self.minibatch_per_gpu = minibatch_per_gpu
        self.feature_net_urls = dict(feature_net_urls or {})

    def feature_nets(self):
        """The attribute classifiers, in the order of `attrib_indices`."""
        return [("the CelebA-HQ '%s' classifier" % ATTRIBUTE_NAMES[attrib_idx],
                 metric_base.feature_net_url(classifier_file_name(attrib_idx), self.feature_net_urls.get(attrib_idx)))
                for attrib_idx in self.attrib_indices]

    def _tower(self, Gs, Gs_kwargs, classifiers, num_gpus):
        """One minibatch on the current device: {'latents': z [N, Z], 'dlatents': w of the last layer [N, C],
        attribute index: classifier probabilities [N, 2]}."""
        generator = metric_base.clone_for_device(Gs, num_gpus)
        count = self.minibatch_per_gpu
        z = tf.random_normal([count] + generator.input_shape[1:])
        labels = self._get_random_labels_tf(count)
        w = generator.components.mapping.get_output_for(z, labels, **Gs_kwargs)
        images = tf.cast(generator.get_output_for(z, labels, **Gs_kwargs), tf.float32)
        images = metric_base.downsample_for_feature_net(images)
        outputs = dict(latents=z, dlatents=w[:, -1])
        for attrib_idx, classifier in classifiers.items():
            logits = metric_base.clone_for_device(classifier, num_gpus).get_output_for(images, None)
            outputs[attrib_idx] = tf.nn.softmax(tf.concat([logits, -logits], axis=1))
        return outputs

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        classifiers = {}
        for attrib_idx, (_what, url) in zip(self.attrib_indices, self.feature_nets()):
            classifiers[attrib_idx] = metric_base.load_feature_net(url)
        towers = metric_base.on_each_gpu(num_gpus, lambda: self._tower(Gs, Gs_kwargs, classifiers, num_gpus))
        results = metric_base.run_towers(towers, self.num_samples, num_gpus * self.minibatch_per_gpu,
                                         "%s samples" % self.name)

        entropies = collections.defaultdict(list)
        for attrib_idx in self.attrib_indices:
            for space in ("latents", "dlatents"):
                entropies[space].append(separability_entropy(results[space], results[attrib_idx], self.num_keep))
        self._report_result(2 ** np.sum(entropies["latents"]), suffix="_z")
        self._report_result(2 ** np.sum(entropies["dlatents"]), suffix="_w")
