"""The augmentation probability p of StyleGAN2-ADA and the controller that tunes it.

p (`AdaptiveAugment.strength`, a Python float) is what counts; the graph reads it from the non-trainable
float32 variable `Augment/strength`, rewritten whenever p changes. `apply` puts the augmentation
pipeline in front of D. With the `'rt'` heuristic, the D losses report D's scores of the augmented reals;
each tower adds [count, sum of signs] to an accumulator variable of its own whenever a D step (loss or
R1 pass) evaluates them, and `tune` turns the sums into

    r_t = E[sign(D(augmented reals))]  and  p <- max(0, p + sign(r_t - target) * nimg / (tune_kimg * 1000)),

then zeroes the accumulators. r_t near 1 means D tells the reals apart with certainty: it overfits, and
stronger augmentation makes its job harder.
"""

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

HEURISTICS = (None, "rt")


class AdaptiveAugment:
    """p, the pipeline that reads it, and the r_t statistic that moves it.

    apply_func: the augmentation function, a dotted name or a function `(images, labels, strength=...,
        **apply_args) -> (images, labels)`; None: no augmentation (p stays 0).
    initial_strength: p at the start (a resumed run takes its saved p instead, see `set_state`).
    tune_heuristic: 'rt' (adaptive p) or None (p fixed).
    tune_target: the r_t that p aims at (0.6 in the paper).
    tune_kimg: p moves by at most 1 per this many thousand images.
    """

    def __init__(self, apply_func=None, apply_args={}, initial_strength=0.0, tune_heuristic=None, tune_target=0.6,
                 tune_kimg=500):
        if tune_heuristic not in HEURISTICS:
            raise ValueError("AdaptiveAugment: tune_heuristic must be one of %s, got %r" % (HEURISTICS, tune_heuristic))
        if tune_kimg <= 0:
            raise ValueError("AdaptiveAugment: tune_kimg must be > 0, got %r" % (tune_kimg,))
        self.apply_func = apply_func
        self.apply_args = dict(apply_args)
        self.strength = float(initial_strength)
        self.tune_heuristic = tune_heuristic
        self.tune_target = float(tune_target)
        self.tune_kimg = float(tune_kimg)
        self.last_rt = 0.0  # r_t of the latest `tune` (0 before the first one).
        self._strength_var = None
        self._accumulators = []  # One [count, sum of signs] variable per tower.
        self.stat_ops = []  # The ops that add to them; the D steps run them.
        self._reset = None

    @property
    def pipeline_active(self):
        """Does `apply` augment? Not without a pipeline, nor with p fixed at 0."""
        return self.apply_func is not None and (self.strength > 0 or self.tune_heuristic is not None)

    def get_strength_var(self):
        """The float32 scalar variable `Augment/strength` that holds p in the graph (made on first use)."""
        if self._strength_var is None:
            with tf.control_dependencies(None), tflib.tfutil.absolute_name_scope("Augment"):
                self._strength_var = tf.Variable(np.float32(self.strength), trainable=False, name="strength")
        return self._strength_var

    def apply(self, images, labels):
        """(images, labels) as D should see them: augmented with probability p, or unchanged when the
        pipeline is not active. images [N, C, H, W] float32 in [-1, 1]."""
        if not self.pipeline_active:
            return images, labels
        func = self.apply_func
        if isinstance(func, str):
            func = dnnlib.util.get_obj_by_name(func)
        with tf.name_scope("Augment"):
            return func(images, labels, strength=self.get_strength_var(), **self.apply_args)

    def report_real_scores(self, scores):
        """Count the signs of D's scores of augmented reals ([N, 1]) toward r_t, one accumulator per call
        (one call per tower). Returns the op that adds them; it is also kept in `stat_ops`."""
        index = len(self._accumulators)
        with tf.control_dependencies(None), tflib.tfutil.absolute_name_scope("Augment"):
            accumulator = tf.Variable(tf.zeros([2]), trainable=False, name="rt_accumulator%d" % index)
        with tf.name_scope("ReportSigns"):
            signs = tf.sign(tf.cast(scores, tf.float32))
            moments = tf.stack([tf.cast(tf.size(signs), tf.float32), tf.reduce_sum(signs)])
            op = tf.assign_add(accumulator, moments, use_locking=True)
        self._accumulators.append(accumulator)
        self.stat_ops.append(op)
        return op

    def set_strength(self, strength):
        """Set p (and the variable, when it changed)."""
        strength = float(strength)
        if strength != self.strength and self._strength_var is not None:
            tflib.set_vars({self._strength_var: np.float32(strength)})
        self.strength = strength

    def _take_accumulated(self):
        """(count, sum of signs) over all towers since the last call; the accumulators are zeroed."""
        if not self._accumulators:
            return 0.0, 0.0
        if self._reset is None:
            with tflib.tfutil.absolute_name_scope("Augment/Tune"):
                self._reset = tf.group(*[tf.assign(acc, tf.zeros([2])) for acc in self._accumulators])
        # Two runs: a read and a reset in one run could see the reset (a read may alias the variable).
        total = np.sum(tflib.run(self._accumulators), axis=0, dtype=np.float64)
        tflib.run(self._reset)
        return float(total[0]), float(total[1])

    def tune(self, nimg_delta):
        """After `nimg_delta` more real images: r_t of what was accumulated, and with the 'rt' heuristic the
        step of p toward the target. Returns r_t (0 when nothing was accumulated)."""
        count, total = self._take_accumulated()
        self.last_rt = total / count if count > 0 else 0.0
        if self.tune_heuristic == "rt":
            step = np.sign(self.last_rt - self.tune_target) * nimg_delta / (self.tune_kimg * 1000.0)
            self.set_strength(max(self.strength + step, 0.0))
        return self.last_rt

    def get_state(self):
        """What a training state file keeps: p, the last r_t and tune_kimg."""
        return dict(strength=self.strength, last_rt=self.last_rt, tune_kimg=self.tune_kimg)

    def set_state(self, saved):
        """Continue from `get_state()`'s dict (None: keep the fresh values)."""
        if saved is None:
            return
        self.tune_kimg = float(saved["tune_kimg"])
        self.last_rt = float(saved["last_rt"])
        self.set_strength(saved["strength"])
