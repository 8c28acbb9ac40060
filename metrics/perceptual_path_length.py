"""Perceptual Path Length (PPL): the LPIPS distance between images generated at two latents epsilon apart
along an interpolation path, divided by epsilon^2, averaged after dropping the outer 1% on each side."""

import numpy as np
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from metrics import metric_base

FEATURE_NET_FILE = "vgg16_zhang_perceptual.pkl"


def percentile(values, q, method):
    """np.percentile with `method=` (NumPy >= 1.22) or the older `interpolation=` (same meaning)."""
    try:
        return np.percentile(values, q, method=method)
    except TypeError:
        return np.percentile(values, q, interpolation=method)


def filter_distances(distances):
    """Keep the distances d with lo <= d <= hi (in their order), lo/hi the 1st ('lower') and 99th ('higher')
    percentiles: drops the rare huge jumps and near-zero outliers."""
    distances = np.asarray(distances)
    lo = percentile(distances, 1, method="lower")
    hi = percentile(distances, 99, method="higher")
    return distances[np.logical_and(lo <= distances, distances <= hi)]


def path_length(distances):
    """The PPL of per-sample scaled distances [N]: mean of `filter_distances` (in their dtype)."""
    return np.mean(filter_distances(distances))


def normalize(v):
    """Scale the vectors along the last axis to unit length."""
    return v / tf.sqrt(tf.reduce_sum(tf.square(v), axis=-1, keepdims=True))


def slerp(a, b, t):
    """Spherical interpolation between the directions of a and b [N, D] at t [N, 1]; unit vectors out."""
    a = normalize(a)
    b = normalize(b)
    cos_angle = tf.reduce_sum(a * b, axis=-1, keepdims=True)
    angle = t * tf.math.acos(cos_angle)
    ortho = normalize(b - cos_angle * a)  # Unit vector orthogonal to a in the plane of a and b.
    return normalize(a * tf.math.cos(angle) + ortho * tf.math.sin(angle))


class PPL(metric_base.MetricBase):
    """PPL in Z (slerp) or W (lerp) space, with t ~ U(0, 1) ('full') or t = 0 ('end').

    crop: measure only the face region of the image (rows 3/8..7/8, columns 2/8..6/8).
    Gs_overrides: static kwargs for the Gs clone used here (float32 networks for the measurement).
    """

    def __init__(self, num_samples, epsilon, space, sampling, crop, minibatch_per_gpu, Gs_overrides=None,
                 feature_net_url=None, **kwargs):
        if space not in ("z", "w"):
            raise ValueError("PPL space must be 'z' or 'w', got %r" % (space,))
        if sampling not in ("full", "end"):
            raise ValueError("PPL sampling must be 'full' or 'end', got %r" % (sampling,))
        super().__init__(**kwargs)
        self.num_samples = num_samples
        self.epsilon = epsilon
        self.space = space
        self.sampling = sampling
        self.crop = crop
        self.minibatch_per_gpu = minibatch_per_gpu
        self.Gs_overrides = dict(Gs_overrides or {})
        self.feature_net_url = feature_net_url

    def _distance_expr(self, Gs_clone, distance_measure, Gs_kwargs):
        """Scaled LPIPS distances [minibatch_per_gpu] of one minibatch of interpolation pairs."""
        mb = self.minibatch_per_gpu
        noise_vars = [var for name, var in Gs_clone.components.synthesis.vars.items() if name.startswith("noise")]

        # Pairs of random latents (rows 0::2 and 1::2) and interpolation positions.
        lat_t01 = tf.random_normal([mb * 2] + Gs_clone.input_shape[1:])
        lerp_t = tf.random_uniform([mb], 0.0, 1.0 if self.sampling == "full" else 0.0)
        labels = tf.reshape(tf.tile(self._get_random_labels_tf(mb), [1, 2]), [mb * 2, -1])

        if self.space == "w":
            dlat_t01 = tf.cast(Gs_clone.components.mapping.get_output_for(lat_t01, labels, **Gs_kwargs), tf.float32)
            dlat_t0, dlat_t1 = dlat_t01[0::2], dlat_t01[1::2]
            dlat_e0 = tflib.lerp(dlat_t0, dlat_t1, lerp_t[:, np.newaxis, np.newaxis])
            dlat_e1 = tflib.lerp(dlat_t0, dlat_t1, lerp_t[:, np.newaxis, np.newaxis] + self.epsilon)
            dlat_e01 = tf.reshape(tf.stack([dlat_e0, dlat_e1], axis=1), [-1] + dlat_t01.shape.as_list()[1:])
        else:
            lat_t0, lat_t1 = lat_t01[0::2], lat_t01[1::2]
            lat_e0 = slerp(lat_t0, lat_t1, lerp_t[:, np.newaxis])
            lat_e1 = slerp(lat_t0, lat_t1, lerp_t[:, np.newaxis] + self.epsilon)
            lat_e01 = tf.reshape(tf.stack([lat_e0, lat_e1], axis=1), [-1] + lat_t01.shape.as_list()[1:])
            dlat_e01 = Gs_clone.components.mapping.get_output_for(lat_e01, labels, **Gs_kwargs)

        # Fresh noise per minibatch (re-initialised noise variables), the same for both images of a pair.
        with tf.control_dependencies([var.initializer for var in noise_vars]):
            images = Gs_clone.components.synthesis.get_output_for(dlat_e01, randomize_noise=False, **Gs_kwargs)
            images = tf.cast(images, tf.float32)

        if self.crop:
            c = images.shape.as_list()[2] // 8
            images = images[:, :, c * 3:c * 7, c * 2:c * 6]

        # Box-downsample to 256x256 if larger: the perceptual network was made for 224x224 images.
        _, channels, height, width = images.shape.as_list()
        factor = height // 256
        if factor > 1:
            images = tf.reshape(images, [-1, channels, height // factor, factor, width // factor, factor])
            images = tf.reduce_mean(images, axis=[3, 5])

        images = (images + 1) * (255 / 2)  # [-1, 1] -> [0, 255], as the perceptual network expects.
        img_e0, img_e1 = images[0::2], images[1::2]
        return distance_measure.get_output_for(img_e0, img_e1) * (1 / self.epsilon ** 2)

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        url = metric_base.feature_net_url(FEATURE_NET_FILE, self.feature_net_url)
        distance_measure = metric_base.load_feature_net(url)
        minibatch_size = num_gpus * self.minibatch_per_gpu

        distance_expr = []
        for gpu_idx in range(num_gpus):
            with tf.device("/gpu:%d" % gpu_idx):
                Gs_clone = Gs.clone(**self.Gs_overrides)  # Always a clone: the overrides change how it is built.
                distance_expr.append(self._distance_expr(Gs_clone, metric_base.clone_for_device(distance_measure, num_gpus), Gs_kwargs))

        all_distances = []
        bar = metric_base.progress_bar(self.num_samples, "%s samples" % self.name)
        for begin in range(0, self.num_samples, minibatch_size):
            all_distances += tflib.run(distance_expr)
            bar.update(min(minibatch_size, self.num_samples - begin))
        bar.close()
        all_distances = np.concatenate(all_distances, axis=0)[:self.num_samples]
        self._report_result(float(path_length(all_distances)))
