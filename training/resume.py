"""Exact resume: what a network pickle does not hold, saved beside it and read back.

A snapshot `network-snapshot-<kimg>.pkl` holds G, D and Gs. Continuing a run exactly also needs the
optimizer and loss-scaling variables, `pl_mean`, the counters of the loop, the elapsed time, NumPy's
random state, how far the run had read its data stream and, with ADA, the augmentation probability p
and its r_t accumulators. `TrainingState` holds all of that while the
loop runs and writes it to `training-state-<kimg>.pkl`.

Random TF ops are the other half. A stateful op such as `tf.random_normal` keeps its position inside
the session, which cannot be saved. While the training graph is built, `StepSeededRandomOps` replaces
`tf.random_normal` and `tf.random_uniform` with stateless ops whose seed is (op number, step), and the
loop feeds the step, counted in `TrainingState.random_step`. A resumed run thus draws the numbers the
uninterrupted run would have drawn.
"""

import contextlib
import glob
import os
import pickle
import re

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

STATE_VERSION = 1


# ------------------------------------------------------------------------------------------------------
# Step-seeded random ops.

class StepSeededRandomOps:
    """Stand-ins for `tf.random_normal` / `tf.random_uniform`, installed by `active()`.

    Op k (counted from 1 in the order the graph creates them) draws from the stateless generator seeded
    by (base_seed * 100003 + k, step), where step is the value fed to the placeholder `step_in`.
    """

    def __init__(self, base_seed):
        self.base_seed = int(base_seed)
        self.num_ops = 0
        with tf.name_scope("Inputs"), tf.device("/cpu:0"):
            self.step_in = tf.placeholder(tf.int64, name="random_step_in", shape=[])

    def _seed_of_new_op(self):
        self.num_ops += 1
        op_key = tf.constant(self.base_seed * 100003 + self.num_ops, tf.int64)
        return tf.stack([op_key, self.step_in])

    def random_normal(self, shape, mean=0.0, stddev=1.0, dtype=tf.float32, seed=None, name=None):
        del seed  # The seed is ours to choose.
        return tf.random.stateless_normal(shape, self._seed_of_new_op(), mean=mean, stddev=stddev, dtype=dtype,
                                          name=name)

    def random_uniform(self, shape, minval=0, maxval=None, dtype=tf.float32, seed=None, name=None):
        del seed
        dtype = tf.as_dtype(dtype)
        if maxval is None and dtype.is_integer:
            raise ValueError("random_uniform: integer dtypes need maxval")
        upper = 1.0 if maxval is None else maxval
        return tf.random.stateless_uniform(shape, self._seed_of_new_op(), minval=minval, maxval=upper, dtype=dtype,
                                           name=name)

    def start_tower(self, tower_index):
        """Number the ops created from now on from tower_index * 2^20 + 1.

        Tower i then draws the same numbers as tower i of a one-process run or as tower 0 of worker i
        of a multi-worker run. Tower 0 keeps counting where the ops before it left off.
        """
        if tower_index > 0:
            self.num_ops = int(tower_index) << 20

    @contextlib.contextmanager
    def active(self):
        originals = tf.random_normal, tf.random_uniform
        tf.random_normal = self.random_normal
        tf.random_uniform = self.random_uniform
        try:
            yield self
        finally:
            tf.random_normal, tf.random_uniform = originals


# ------------------------------------------------------------------------------------------------------
# Where state files live.

_SNAPSHOT_NAME = re.compile(r"^network-snapshot-(\d+)\.pkl$")
FINAL_NAME = "network-final.pkl"


def state_file_for_snapshot(pkl_path):
    """`.../network-snapshot-001234.pkl` -> `.../training-state-001234.pkl`, `.../network-final.pkl` ->
    `.../training-state-final.pkl`; None for other names."""
    folder, name = os.path.split(pkl_path)
    if name == FINAL_NAME:
        return os.path.join(folder, "training-state-final.pkl")
    found = _SNAPSHOT_NAME.match(name)
    return None if found is None else os.path.join(folder, "training-state-%s.pkl" % found.group(1))


def kimg_in_snapshot_name(pkl_path):
    """The kimg a `network-snapshot-<kimg>.pkl` name gives (rounded down); None for other names."""
    found = _SNAPSHOT_NAME.match(os.path.basename(pkl_path))
    return None if found is None else int(found.group(1))


def find_latest_snapshot(run_dir):
    """Where a run dir continues best: the newest pickle with a state file beside it (`network-final.pkl`,
    written when the run ended or was stopped, is newer than every snapshot); without any such, the newest
    snapshot (its name gives its kimg), else `network-final.pkl`; None when the run dir holds none of them."""
    snapshots = [path for path in glob.glob(os.path.join(run_dir, "network-snapshot-*.pkl"))
                 if kimg_in_snapshot_name(path) is not None]
    snapshots.sort(key=kimg_in_snapshot_name)
    final = os.path.join(run_dir, FINAL_NAME)
    finals = [final] if os.path.isfile(final) else []
    resumable = [path for path in snapshots + finals if os.path.isfile(state_file_for_snapshot(path))]
    for candidates in (resumable, snapshots, finals):
        if candidates:
            return candidates[-1]
    return None


def skip_minibatches(training_set, count):
    """Draw `count` minibatches from the data stream and throw them away."""
    if count > 0:
        with tf.name_scope("Dataset"):
            next_minibatch = training_set.get_minibatch_tf()
        for _ in range(count):
            tflib.run(next_minibatch)


def state_variables(networks):
    """The global variables a network pickle lacks: optimizer slots and powers, loss scales, gradient
    accumulators, `pl_mean`, the tower data buffers. Not saved: the weights of `networks` (G, D, Gs and
    the tower copies), autosummary accumulators and dataset constants."""
    weights = {id(var) for net in networks for var in net.vars.values()}
    return [var for var in tf.global_variables()
            if id(var) not in weights and not var.name.startswith(("Autosummary/", "Dataset/"))]


# ------------------------------------------------------------------------------------------------------
# The state itself.

class TrainingState:
    """The loop's progress, and the file beside each snapshot that lets a later run continue it.

    Counters: `cur_nimg` (images shown), `cur_tick`, `tick_start_nimg`, `prev_lod`, `running_mb_counter`
    (minibatches, for the regularization intervals), `random_step` (see `StepSeededRandomOps`),
    `data_config` and `num_fetches` (the stream's (minibatch_gpu, level) and minibatches read per tower
    since it last restarted). `augment`: `AdaptiveAugment.get_state()` (p, ...) or None. `resumed_from`
    names the state file read, if any.
    """

    def __init__(self, cur_nimg=0, random_base_seed=None):
        self.cur_nimg = int(cur_nimg)
        self.cur_tick = -1
        self.tick_start_nimg = self.cur_nimg
        self.prev_lod = -1.0
        self.running_mb_counter = 0
        self.random_step = 0
        self.random_base_seed = random_base_seed
        self.data_config = None
        self.num_fetches = 0
        self.total_time = 0.0
        self.augment = None
        self.resumed_from = None
        self._saved_vars = None
        self._saved_numpy_state = None
        self._saved_stream = None

    @classmethod
    def start(cls, resume_pkl=None, resume_state=None, resume_kimg=0.0, resume_time=0.0):
        """A fresh state at `resume_kimg`, or the one read from `resume_state` ('auto': the file beside
        `resume_pkl`, when there is one)."""
        if resume_state == "auto":
            beside = None
            if resume_pkl is not None and not dnnlib.util.is_url(resume_pkl):
                beside = state_file_for_snapshot(resume_pkl)
            resume_state = beside if beside is not None and os.path.isfile(beside) else None
            if resume_state is None and resume_pkl is not None:
                print("warning: %s has no training state file%s: resuming its networks with a fresh optimizer "
                      "state, data position and random streams, at kimg %g"
                      % (resume_pkl, " beside it (%s)" % os.path.basename(beside) if beside else "", resume_kimg),
                      flush=True)
        if resume_state is not None:
            return cls.load(resume_state)
        state = cls(cur_nimg=int(resume_kimg * 1000))
        state.total_time = resume_time
        return state

    def random_ops(self):
        """The step-seeded random ops of the training graph. A fresh run draws their base seed from
        NumPy's seeded generator here; a resumed one takes the earlier run's."""
        if self.random_base_seed is None:
            self.random_base_seed = np.random.randint(1 << 30)
        return StepSeededRandomOps(self.random_base_seed)

    @classmethod
    def load(cls, path):
        try:
            with open(path, "rb") as f:
                saved = pickle.load(f)
        except FileNotFoundError:
            raise FileNotFoundError("%s: no such training state file" % path) from None
        except Exception as e:  # pylint: disable=broad-except
            raise ValueError("%s: not a readable training state file (%s)" % (path, e)) from None
        if not isinstance(saved, dict) or saved.get("version") != STATE_VERSION:
            raise ValueError("%s: not a training state file of version %d" % (path, STATE_VERSION))
        state = cls(cur_nimg=saved["cur_nimg"], random_base_seed=saved["random_base_seed"])
        for key in ("cur_tick", "tick_start_nimg", "prev_lod", "running_mb_counter", "random_step", "total_time"):
            setattr(state, key, saved[key])
        state.augment = saved.get("augment")  # Absent in the files of runs without augmentation.
        state.resumed_from = path
        state._saved_vars = saved["vars"]
        state._saved_numpy_state = saved["numpy_random_state"]
        state._saved_stream = (tuple(saved["data_config"]), saved["num_fetches"])
        return state

    def save(self, path, variables):
        """Write the counters, NumPy's random state and the values of `variables` to `path`."""
        values = tflib.run(variables)
        contents = dict(version=STATE_VERSION, numpy_random_state=np.random.get_state(),
                        vars={var.name: value for var, value in zip(variables, values)})
        for key in ("cur_nimg", "cur_tick", "tick_start_nimg", "prev_lod", "running_mb_counter", "random_step",
                    "random_base_seed", "data_config", "num_fetches", "total_time", "augment"):
            contents[key] = getattr(self, key)
        dnnlib.util.write_file_atomically(path, pickle.dumps(contents, protocol=4))

    def restore(self, variables):
        """Give `variables` their saved values and NumPy's generator its saved state (nothing to do for a
        fresh state). Called once the graph is complete, just before the first minibatch."""
        if self._saved_vars is None:
            return
        names = {var.name for var in variables}
        missing, unknown = sorted(names - set(self._saved_vars)), sorted(set(self._saved_vars) - names)
        if missing or unknown:
            raise ValueError("%s: the training state does not fit this graph (missing %s, unknown %s); was the run "
                             "configured differently (num_gpus, losses, lazy regularization)?"
                             % (self.resumed_from, missing[:5], unknown[:5]))
        tflib.set_vars({var: self._saved_vars[var.name] for var in variables})
        np.random.set_state(self._saved_numpy_state)
        self._saved_vars = self._saved_numpy_state = None

    def configure_data(self, training_set, minibatch_gpu, lod, num_gpus):
        """Set the data stream's minibatch size and level of detail.

        The dataset restarts its stream (with the same shuffle seed) whenever either changes. When the
        first restart of a resumed run lands where the earlier run was, the minibatches that run had
        read since are skipped. (Exact unless the snapshot grid's size equals minibatch_gpu: then the
        first configure does not restart the stream.)
        """
        training_set.configure(minibatch_gpu, lod)
        config = (minibatch_gpu, int(np.floor(lod)))
        if config == self.data_config:
            return
        self.data_config, self.num_fetches = config, 0
        if self._saved_stream is not None and self._saved_stream[0] == config:
            self.num_fetches = self._saved_stream[1]
            skip_minibatches(training_set, self.num_fetches * num_gpus)
        self._saved_stream = None

    def lod_changed(self, lod):
        """Did the level of detail move to another pair of levels since the last call?"""
        old = self.prev_lod
        self.prev_lod = lod
        return np.floor(lod) != np.floor(old) or np.ceil(lod) != np.ceil(old)

    def run(self, ops, feed_dict, random_ops):
        """One `session.run` of training ops: a new step for the step-seeded random ops."""
        self.random_step += 1
        feed = dict(feed_dict)
        feed[random_ops.step_in] = self.random_step
        return tflib.run(ops, feed)

