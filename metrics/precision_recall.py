"""Improved precision and recall (Kynkäänniemi et al. 2019) on VGG16 features: each sample's k-NN ball
(radius = squared distance to its k-th nearest neighbour in its own set) approximates the set's manifold;
precision = fraction of generated samples inside some real ball, recall = fraction of real samples inside
some generated ball. Distances are squared Euclidean, computed in float16 as the official code does."""

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

from metrics import metric_base

FEATURE_NET_FILE = "vgg16.pkl"


# ------------------------------------------------------------------------------------------------------
# Pairwise distances.

def pairwise_sq_distances_np(u, v):
    """[N, D], [M, D] -> float16 [N, M] squared distances max(|u|^2 - 2 u.v + |v|^2, 0), a NumPy model of the
    float16 TensorFlow computation (inputs rounded to float16, each op's result rounded to float16)."""
    u = np.asarray(u, np.float16).astype(np.float32)
    v = np.asarray(v, np.float16).astype(np.float32)
    norm_u = np.sum(np.square(u).astype(np.float16), axis=1, dtype=np.float32).astype(np.float16)
    norm_v = np.sum(np.square(v).astype(np.float16), axis=1, dtype=np.float32).astype(np.float16)
    dots = (u @ v.T).astype(np.float16)
    d = (norm_u[:, None] - 2 * dots).astype(np.float16)
    d = (d.astype(np.float32) + norm_v[None, :]).astype(np.float16)
    return np.maximum(d, np.float16(0))


class DistanceBlock:
    """Squared distances in float16 with TensorFlow in the default session, the columns split over `num_gpus`."""

    def __init__(self, num_features, num_gpus=1):
        self.num_gpus = num_gpus
        with tf.name_scope("DistanceBlock"):
            self._rows_in = tf.placeholder(tf.float16, shape=[None, num_features])
            self._cols_in = []
            blocks = []
            for gpu_idx in range(num_gpus):
                with tf.device("/gpu:%d" % gpu_idx):
                    cols = tf.placeholder(tf.float16, shape=[None, num_features])
                    self._cols_in.append(cols)
                    norm_rows = tf.reshape(tf.reduce_sum(tf.square(self._rows_in), axis=1), [-1, 1])
                    norm_cols = tf.reshape(tf.reduce_sum(tf.square(cols), axis=1), [1, -1])
                    dots = tf.matmul(self._rows_in, cols, transpose_b=True)
                    blocks.append(tf.maximum(norm_rows - 2 * dots + norm_cols, 0.0))
            self._distances = tf.concat(blocks, axis=1)

    def __call__(self, rows, cols):
        """[N, D], [M, D] -> float16 [N, M]."""
        feed = {self._rows_in: rows}
        for placeholder, part in zip(self._cols_in, np.array_split(cols, self.num_gpus, axis=0)):
            feed[placeholder] = part
        return tflib.run(self._distances, feed)


# ------------------------------------------------------------------------------------------------------
# k-NN manifolds.

def _distance_rows(distance_fn, rows, cols, col_batch_size):
    """float16 [len(rows), len(cols)] distances, computed in column blocks of `col_batch_size`."""
    blocks = [distance_fn(rows, cols[begin:begin + col_batch_size]) for begin in range(0, cols.shape[0], col_batch_size)]
    return np.concatenate(blocks, axis=1).astype(np.float16)


def knn_radii(features, nhood_size, distance_fn=pairwise_sq_distances_np, row_batch_size=10000, col_batch_size=10000):
    """float16 [N]: each sample's squared distance to its `nhood_size`-th nearest neighbour in `features`.

    The sample itself (distance 0) is neighbour 0, so nhood_size=3 is the 3rd nearest *other* sample.
    """
    radii = np.zeros([features.shape[0]], dtype=np.float16)
    for begin in range(0, features.shape[0], row_batch_size):
        distances = _distance_rows(distance_fn, features[begin:begin + row_batch_size], features, col_batch_size)
        radii[begin:begin + row_batch_size] = np.partition(distances, nhood_size, axis=1)[:, nhood_size]
    return radii


def inside_manifold(eval_features, ref_features, ref_radii, distance_fn=pairwise_sq_distances_np, row_batch_size=10000,
                    col_batch_size=10000):
    """bool [N_eval]: whether each eval sample lies in some ball (distance <= radius) of the ref samples."""
    inside = np.zeros([eval_features.shape[0]], dtype=bool)
    for begin in range(0, eval_features.shape[0], row_batch_size):
        distances = _distance_rows(distance_fn, eval_features[begin:begin + row_batch_size], ref_features, col_batch_size)
        inside[begin:begin + row_batch_size] = np.any(distances <= ref_radii[np.newaxis, :], axis=1)
    return inside


def knn_precision_recall(ref_features, eval_features, nhood_size, distance_fn=pairwise_sq_distances_np,
                         row_batch_size=10000, col_batch_size=10000):
    """(precision, recall) of eval (generated) features against ref (real) features [N, D]."""
    ref_radii = knn_radii(ref_features, nhood_size, distance_fn, row_batch_size, col_batch_size)
    eval_radii = knn_radii(eval_features, nhood_size, distance_fn, row_batch_size, col_batch_size)
    precision = inside_manifold(eval_features, ref_features, ref_radii, distance_fn, row_batch_size, col_batch_size)
    recall = inside_manifold(ref_features, eval_features, eval_radii, distance_fn, row_batch_size, col_batch_size)
    return float(np.mean(precision)), float(np.mean(recall))


# ------------------------------------------------------------------------------------------------------

class PR(metric_base.MetricBase):
    """Precision and recall (k = nhood_size) of `num_images` generated images; results `_precision`, `_recall`.

    num_reals / max_reals as in FID (None = num_images reals; 'all' = the whole dataset); feature_net_url,
    feature_net and class_balanced too.
    """

    FEATURE_NET = ("the VGG16 network", FEATURE_NET_FILE)

    def __init__(self, num_images, nhood_size, minibatch_per_gpu, row_batch_size, col_batch_size, num_reals=None,
                 max_reals=None, feature_net_url=None, **kwargs):
        super().__init__(**kwargs)
        self.num_images, self.minibatch_per_gpu = num_images, minibatch_per_gpu
        self.nhood_size = nhood_size
        self.row_batch_size, self.col_batch_size = row_batch_size, col_batch_size
        self.num_reals = num_reals if num_reals is not None else num_images
        self.max_reals = max_reals
        self.feature_net_url = feature_net_url

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        url = self.feature_nets()[0][1]
        feature_net = self._load_feature_net()
        minibatch_size = self.minibatch_per_gpu * num_gpus

        def compute_real_features():
            return dict(features=self._compute_real_features(feature_net, self.num_reals, self.max_reals, minibatch_size,
                                                             num_gpus, desc="%s reals" % self.name))

        reals = self._cached_reals(compute_real_features, num_reals=self.num_reals, max_reals=self.max_reals,
                                   feature_net=metric_base.feature_net_identity(url))
        fake_features = self._compute_fake_features(Gs, Gs_kwargs, feature_net, self.num_images, self.minibatch_per_gpu,
                                                    num_gpus, desc="%s fakes" % self.name)
        distance_block = DistanceBlock(feature_net.output_shape[1], num_gpus)
        # The official code passes row_batch_size as the column batch size too (col_batch_size is unused);
        # the blocking does not change the result.
        precision, recall = knn_precision_recall(reals["features"], fake_features, self.nhood_size, distance_block,
                                                 row_batch_size=self.row_batch_size, col_batch_size=self.row_batch_size)
        self._report_result(precision, suffix="_precision")
        self._report_result(recall, suffix="_recall")
