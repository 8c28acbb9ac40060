"""Perceptual Path Length (PPL): the LPIPS distance between images generated at two latents epsilon apart
along an interpolation path, divided by epsilon^2, averaged after dropping the outer 1% on each side."""

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

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
    length = tf.sqrt(tf.reduce_sum(tf.square(v), axis=-1, keepdims=True))
    return v / length


def slerp(a, b, t):
    """Spherical interpolation between the directions of a and b [N, D] at t [N, 1]; unit vectors out."""
    a = normalize(a)
    b = normalize(b)
    cos_angle = tf.reduce_sum(a * b, axis=-1, keepdims=True)
    angle = t * tf.math.acos(cos_angle)
    ortho = normalize(b - cos_angle * a)  # Unit vector orthogonal to a in the plane of a and b.
    return normalize(a * tf.math.cos(angle) + ortho * tf.math.sin(angle))


def interleave(first, second):
    """Two batches [N, ...] -> one [2N, ...] ordered first[0], second[0], first[1], second[1], ..."""
    pairs = tf.stack([first, second], axis=1)
    return tf.reshape(pairs, [-1] + first.shape.as_list()[1:])


class PPL(metric_base.MetricBase):
    """PPL in Z (slerp) or W (lerp) space, with t ~ U(0, 1) ('full') or t = 0 ('end').

    crop: measure only the face region of the image (rows 3/8..7/8, columns 2/8..6/8).
    Gs_overrides: static kwargs for the Gs clone used here (float32 networks for the measurement).
    """

    FEATURE_NET = ("the LPIPS distance network", FEATURE_NET_FILE)

    def __init__(self, num_samples, epsilon, space, sampling, crop, minibatch_per_gpu, Gs_overrides=None,
                 feature_net_url=None, **kwargs):
        if space not in ("z", "w"):
            raise ValueError("PPL space must be 'z' or 'w', got %r" % (space,))
        if sampling not in ("full", "end"):
            raise ValueError("PPL sampling must be 'full' or 'end', got %r" % (sampling,))
        super().__init__(**kwargs)
        self.space, self.sampling, self.crop = space, sampling, crop
        self.num_samples, self.minibatch_per_gpu = num_samples, minibatch_per_gpu
        self.epsilon = epsilon
        self.Gs_overrides = dict(Gs_overrides or {})
        self.feature_net_url = feature_net_url

    def _path_points(self, Gs_clone, Gs_kwargs):
        """dlatents [2N, L, C] (N = minibatch_per_gpu): rows 2i and 2i + 1 lie at t_i and t_i + epsilon on
        the path between two random latents (slerp in Z, lerp in W)."""
        num_paths = self.minibatch_per_gpu
        mapping = Gs_clone.components.mapping
        ends = tf.random_normal([num_paths * 2] + Gs_clone.input_shape[1:])  # Path i runs from row 2i to 2i + 1.
        t = tf.random_uniform([num_paths], 0.0, 1.0 if self.sampling == "full" else 0.0)[:, np.newaxis]
        labels = tf.reshape(tf.tile(self._get_random_labels_tf(num_paths), [1, 2]), [num_paths * 2, -1])
        if self.space == "z":
            near = slerp(ends[0::2], ends[1::2], t)
            far = slerp(ends[0::2], ends[1::2], t + self.epsilon)
            return mapping.get_output_for(interleave(near, far), labels, **Gs_kwargs)
        w_ends = tf.cast(mapping.get_output_for(ends, labels, **Gs_kwargs), tf.float32)
        t = t[:, :, np.newaxis]
        near = tflib.lerp(w_ends[0::2], w_ends[1::2], t)
        far = tflib.lerp(w_ends[0::2], w_ends[1::2], t + self.epsilon)
        return interleave(near, far)

    def _distance_expr(self, Gs_clone, distance_measure, Gs_kwargs):
        """Scaled LPIPS distances [minibatch_per_gpu] of one minibatch of interpolation pairs."""
        synthesis = Gs_clone.components.synthesis
        dlatents = self._path_points(Gs_clone, Gs_kwargs)
        # Running the noise variables' initializers first draws new noise for every minibatch; both images of
        # a pair are made in the same run, so they share it.
        noise_inits = [var.initializer for name, var in synthesis.vars.items() if name.startswith("noise")]
        with tf.control_dependencies(noise_inits):
            images = tf.cast(synthesis.get_output_for(dlatents, randomize_noise=False, **Gs_kwargs), tf.float32)
        if self.crop:
            eighth = images.shape.as_list()[2] // 8
            images = images[:, :, eighth * 3:eighth * 7, eighth * 2:eighth * 6]
        images = metric_base.downsample_for_feature_net(images)
        images = (images + 1) * (255 / 2)  # The LPIPS network takes [0, 255].
        distances = distance_measure.get_output_for(images[0::2], images[1::2])
        return distances * (1 / self.epsilon ** 2)

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        lpips = metric_base.load_feature_net(self.feature_nets()[0][1])

        def tower():
            # Always a clone, also on one GPU: the overrides change how the generator is built.
            generator = Gs.clone(**self.Gs_overrides)
            lpips_here = metric_base.clone_for_device(lpips, num_gpus)
            return dict(distances=self._distance_expr(generator, lpips_here, Gs_kwargs))

        towers = metric_base.on_each_gpu(num_gpus, tower)
        samples = metric_base.run_towers(towers, self.num_samples, num_gpus * self.minibatch_per_gpu,
                                         "%s samples" % self.name)
        self._report_result(float(path_length(samples["distances"])))
