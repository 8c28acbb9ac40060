"""The StyleGAN2 training loop (SPEC §6): one tower per GPU, lazy regularization, progressive growing,
snapshots, metrics, TensorBoard events, and true resume.

True resume: beside every `network-snapshot-<kimg>.pkl` the loop writes `training-state-<kimg>.pkl`
with what the pickle lacks (optimizer and loss-scaling state, `pl_mean`, counters, elapsed time, the
NumPy random state and the position in the data stream). Random TF ops of the training graph are
stateless ops seeded by (op, step), so a run resumed from a state file continues exactly as the
uninterrupted run would have.
"""

import contextlib
import glob
import os
import pickle
import re
import time

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf
from dnnlib.tflib.autosummary import autosummary

from training import dataset
from training import misc

STATE_VERSION = 1


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the message names the kimg and the last good snapshot."""


# ------------------------------------------------------------------------------------------------------
# Data pipeline helpers.

def process_reals(x, labels, lod, mirror_augment, drange_data, drange_net):
    """uint8 images [N, C, H, W] -> float32 in `drange_net`, randomly mirrored, faded between levels.

    The image of level floor(lod) is blended with its 2x2 box-downsampled copy by frac(lod), then
    upscaled (nearest) by 2^floor(lod) to the full resolution, as the networks expect.
    """
    with tf.name_scope("DynamicRange"):
        x = tf.cast(x, tf.float32)
        x = misc.adjust_dynamic_range(x, drange_data, drange_net)
    if mirror_augment:
        with tf.name_scope("MirrorAugment"):
            mask = tf.random_uniform([tf.shape(x)[0]], 0.0, 1.0) < 0.5
            x = tf.where(mask, x, tf.reverse(x, axis=[3]))
    with tf.name_scope("FadeLOD"):
        s = tf.shape(x)
        y = tf.reshape(x, [-1, s[1], s[2] // 2, 2, s[3] // 2, 2])
        y = tf.reduce_mean(y, axis=[3, 5], keepdims=True)
        y = tf.tile(y, [1, 1, 1, 2, 1, 2])
        y = tf.reshape(y, [-1, s[1], s[2], s[3]])
        x = tflib.lerp(x, y, lod - tf.floor(lod))
    with tf.name_scope("UpscaleLOD"):
        s = tf.shape(x)
        factor = tf.cast(2 ** tf.floor(lod), tf.int32)
        x = tf.reshape(x, [-1, s[1], s[2], 1, s[3], 1])
        x = tf.tile(x, [1, 1, 1, factor, 1, factor])
        x = tf.reshape(x, [-1, s[1], s[2] * factor, s[3] * factor])
    return x, labels


def training_schedule(cur_nimg, training_set, lod_initial_resolution=None, lod_training_kimg=600,
                      lod_transition_kimg=600, minibatch_size_base=32, minibatch_size_dict={}, minibatch_gpu_base=4,
                      minibatch_gpu_dict={}, G_lrate_base=0.002, G_lrate_dict={}, D_lrate_base=0.002, D_lrate_dict={},
                      lrate_rampup_kimg=0, tick_kimg_base=4,
                      tick_kimg_dict={8: 28, 16: 24, 32: 20, 64: 16, 128: 12, 256: 8, 512: 6, 1024: 4}):
    """Training parameters at `cur_nimg` images: EasyDict(kimg, lod, resolution, minibatch_size,
    minibatch_gpu, G_lrate, D_lrate, tick_kimg). Dicts are keyed by the current resolution.

    Progressive growing (lod_initial_resolution set): each level trains lod_training_kimg, then fades
    into the next over lod_transition_kimg; lod = log2(R) - log2(init) - phase - fade, at least 0.
    """
    s = dnnlib.EasyDict()
    s.kimg = cur_nimg / 1000.0

    # Level of detail and resolution.
    phase_dur = lod_training_kimg + lod_transition_kimg
    phase_idx = int(np.floor(s.kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = s.kimg - phase_idx * phase_dur
    if lod_initial_resolution is None:
        s.lod = 0.0
    else:
        s.lod = training_set.resolution_log2
        s.lod -= np.floor(np.log2(lod_initial_resolution))
        s.lod -= phase_idx
        if lod_transition_kimg > 0:
            s.lod -= max(phase_kimg - lod_training_kimg, 0.0) / lod_transition_kimg
        s.lod = max(s.lod, 0.0)
    s.resolution = 2 ** (training_set.resolution_log2 - int(np.floor(s.lod)))

    # Minibatch size, learning rates, tick length.
    s.minibatch_size = minibatch_size_dict.get(s.resolution, minibatch_size_base)
    s.minibatch_gpu = minibatch_gpu_dict.get(s.resolution, minibatch_gpu_base)
    s.G_lrate = G_lrate_dict.get(s.resolution, G_lrate_base)
    s.D_lrate = D_lrate_dict.get(s.resolution, D_lrate_base)
    if lrate_rampup_kimg > 0:
        rampup = min(s.kimg / lrate_rampup_kimg, 1.0)
        s.G_lrate *= rampup
        s.D_lrate *= rampup
    s.tick_kimg = tick_kimg_dict.get(s.resolution, tick_kimg_base)
    return s


# ------------------------------------------------------------------------------------------------------
# Step-seeded random ops (what makes resume exact).

class StepSeededRandomOps:
    """While `active()`, `tf.random_normal` / `tf.random_uniform` build stateless random ops seeded by
    (base_seed + op number, step), where `step_in` is a placeholder fed with a counter on every run.

    Stateful TF random ops keep their position inside the session and cannot be saved; these draw
    the same numbers for the same step in any process, so a resumed run continues the random streams.
    """

    def __init__(self, base_seed):
        self.base_seed = int(base_seed)
        self.num_ops = 0
        with tf.name_scope("Inputs"), tf.device("/cpu:0"):
            self.step_in = tf.placeholder(tf.int64, name="random_step_in", shape=[])

    def _next_seed(self):
        self.num_ops += 1
        return tf.stack([tf.constant(self.base_seed * 100003 + self.num_ops, tf.int64), self.step_in])

    def random_normal(self, shape, mean=0.0, stddev=1.0, dtype=tf.float32, seed=None, name=None):
        del seed
        return tf.random.stateless_normal(shape, self._next_seed(), mean=mean, stddev=stddev, dtype=dtype, name=name)

    def random_uniform(self, shape, minval=0, maxval=None, dtype=tf.float32, seed=None, name=None):
        del seed
        dtype = tf.as_dtype(dtype)
        if maxval is None:
            if dtype.is_integer:
                raise ValueError("random_uniform: integer dtypes need maxval")
            maxval = 1.0
        return tf.random.stateless_uniform(shape, self._next_seed(), minval=minval, maxval=maxval, dtype=dtype,
                                           name=name)

    def start_tower(self, tower_index):
        """Number the ops that follow from tower_index * 2^20 + 1 on.

        Called before each tower's data and losses (after its shadow networks): tower i then draws the
        same numbers whether it is tower i of one process or tower 0 of worker i of a multi-worker run.
        (Tower 0 keeps the numbers it had before towers were numbered.)
        """
        if tower_index > 0:
            self.num_ops = int(tower_index) << 20

    @contextlib.contextmanager
    def active(self):
        saved = (tf.random_normal, tf.random_uniform)
        tf.random_normal, tf.random_uniform = self.random_normal, self.random_uniform
        try:
            yield
        finally:
            tf.random_normal, tf.random_uniform = saved


# ------------------------------------------------------------------------------------------------------
# Devices and sessions.

def _have_gpus():
    try:
        return len(tf.config.experimental.list_physical_devices("GPU")) > 0
    except AttributeError:
        return tf.test.is_gpu_available()


def tower_device(index, use_gpus):
    """Device of tower `index`: '/gpu:i', or '/cpu:i' (logical CPU devices) on machines without GPUs."""
    return ("/gpu:%d" if use_gpus else "/cpu:%d") % index


def _ensure_cpu_devices(tf_config, num_devices):
    """Without GPUs, towers live on logical CPU devices /cpu:0..n-1: make the default session have them.

    (All towers on one device would make the cross-device all-reduce wait forever.)
    """
    session = tf.get_default_session()
    num_cpus = len([d for d in session.list_devices() if d.device_type == "CPU"])
    if num_cpus >= num_devices:
        return
    config = tf.ConfigProto(device_count={"CPU": num_devices}, allow_soft_placement=True)
    config.graph_options.place_pruned_graph = True
    for key, value in (tf_config or {}).items():
        fields = key.split(".")
        if fields[0] in ("rnd", "env"):
            continue
        obj = config
        for field in fields[:-1]:
            obj = getattr(obj, field)
        setattr(obj, fields[-1], value)
    new_session = tf.Session(config=config)
    # Become the default session for good, as init_tf's session is.
    new_session._default_session = new_session.as_default()  # pylint: disable=protected-access
    new_session._default_session.enforce_nesting = False  # pylint: disable=protected-access
    new_session._default_session.__enter__()  # pylint: disable=protected-access


def parse_worker_hosts(worker_hosts):
    """'host:port,host:port' or a list of them -> list of 'host:port'; a ValueError names a bad entry."""
    if isinstance(worker_hosts, str):
        worker_hosts = worker_hosts.split(",")
    hosts = [host.strip() for host in worker_hosts]
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError("worker hosts: %r is not host:port" % host)
    if len(set(hosts)) != len(hosts):
        raise ValueError("worker hosts: %s lists a host:port twice" % ",".join(hosts))
    return hosts


def _start_worker_session(tf_config, worker_hosts, worker_index, num_cpu_devices):
    """Start this process's tf.distribute.Server of the cluster `worker_hosts` and make a session on it the
    default session for good. Returns the server.

    Worker 0 leads the collective groups; `device_filters` keep each worker's graph on its own task, so
    workers talk only through the collective ops (the gradient all-reduce).
    """
    cluster = tf.train.ClusterSpec({"worker": list(worker_hosts)})
    config = tflib.create_config_proto(tf_config)
    if num_cpu_devices > 1:
        config.device_count["CPU"] = num_cpu_devices
    config.experimental.collective_group_leader = "/job:worker/replica:0/task:0"
    config.device_filters.append("/job:worker/task:%d" % worker_index)
    server = tf.distribute.Server(cluster, job_name="worker", task_index=worker_index, config=config, start=True)
    old_session = tf.get_default_session()
    session = tflib.create_session(force_as_default=True, target=server.target, config_proto=config)
    session._stylegan2_server = server  # pylint: disable=protected-access
    if old_session is not None:
        old_session.close()
    return server


def _broadcast_from_chief(networks, num_workers, is_chief, device):
    """Give the variables of `networks` on every worker the values of worker 0 (a sum of worker 0's values
    and zeros from the others, which is exact)."""
    ops = []
    with tf.name_scope("BroadcastFromChief"), tf.device(device):
        for net in networks:
            variables = list(net.vars.values())
            shapes = [tflib.shape_to_list(var.shape) for var in variables]
            flat = tf.concat([tf.reshape(tf.cast(var, tf.float32), [-1]) for var in variables], axis=0)
            if not is_chief:
                flat = tf.zeros_like(flat)
            flat = tflib.optimizer.all_sum([flat], num_workers)[0]
            pieces = tf.split(flat, [int(np.prod(shape)) for shape in shapes], axis=0)
            ops += [tf.assign(var, tf.cast(tf.reshape(piece, shape), var.dtype.base_dtype))
                    for var, piece, shape in zip(variables, pieces, shapes)]
    tflib.run(ops)


def _peak_gpu_mem_gb():
    try:
        if _have_gpus():
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30
    except (AttributeError, ValueError, RuntimeError):
        pass
    return 0.0


# ------------------------------------------------------------------------------------------------------
# Training state beside each snapshot.

def state_file_for_snapshot(pkl_path):
    """`.../network-snapshot-001234.pkl` -> `.../training-state-001234.pkl`."""
    directory, name = os.path.split(pkl_path)
    match = re.match(r"^network-snapshot-(\d+)\.pkl$", name)
    if match is None:
        return None
    return os.path.join(directory, "training-state-%s.pkl" % match.group(1))


def find_latest_snapshot(run_dir):
    """The `network-snapshot-*.pkl` of `run_dir` with the highest kimg that has a state file, else the
    highest one without; None when there is none."""
    pkls = glob.glob(os.path.join(run_dir, "network-snapshot-*.pkl"))
    pkls = sorted(pkls, key=lambda p: int(re.findall(r"(\d+)\.pkl$", p)[0]))
    with_state = [p for p in pkls if os.path.isfile(state_file_for_snapshot(p))]
    if with_state:
        return with_state[-1]
    return pkls[-1] if pkls else None


def _state_vars(networks):
    """Global variables that are not network weights (G, D, Gs and the tower copies), autosummary
    accumulators or dataset constants: optimizer slots and beta powers, loss scales, gradient
    accumulators, pl_mean, data buffers."""
    net_vars = set()
    for net in networks:
        net_vars.update(id(var) for var in net.vars.values())
    return [var for var in tf.global_variables()
            if id(var) not in net_vars and not var.name.startswith(("Autosummary/", "Dataset/"))]


def _load_state(path):
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except FileNotFoundError:
        raise FileNotFoundError("%s: no such training state file" % path) from None
    except Exception as e:  # A truncated or foreign file.
        raise ValueError("%s: not a readable training state file (%s)" % (path, e)) from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError("%s: not a training state file of version %d" % (path, STATE_VERSION))
    return state


def _save_state(path, state):
    misc.write_file_atomically(path, pickle.dumps(state, protocol=4))


# ------------------------------------------------------------------------------------------------------
# The loop.

def training_loop(
        G_args={},                      # Options for the generator network.
        D_args={},                      # Options for the discriminator network.
        G_opt_args={},                  # Options for the generator optimizer.
        D_opt_args={},                  # Options for the discriminator optimizer.
        G_loss_args={},                 # Options for the generator loss.
        D_loss_args={},                 # Options for the discriminator loss.
        dataset_args={},                # Options for dataset.load_dataset().
        sched_args={},                  # Options for training_schedule().
        grid_args={},                   # Options for misc.setup_snapshot_image_grid().
        metric_arg_list=[],             # Options for MetricGroup.
        tf_config={},                   # Options for tflib.init_tf().
        data_dir=None,                  # Directory to load datasets from.
        G_smoothing_kimg=10.0,          # Half-life of the running average of generator weights.
        minibatch_repeats=4,            # Number of minibatches to run before adjusting training parameters.
        lazy_regularization=True,       # Perform regularization as a separate training step?
        G_reg_interval=4,               # How often to perform regularization for G? Ignored if lazy_regularization=False.
        D_reg_interval=16,              # How often to perform regularization for D? Ignored if lazy_regularization=False.
        reset_opt_for_new_lod=True,     # Reset optimizer internal state (e.g. Adam moments) when new layers are introduced?
        total_kimg=25000,               # Total length of the training, measured in thousands of real images.
        mirror_augment=False,           # Enable mirror augment?
        drange_net=[-1, 1],             # Dynamic range used when feeding image data to the networks.
        image_snapshot_ticks=50,        # How often to save image snapshots? None = only save 'reals.png' and 'fakes-init.png'.
        network_snapshot_ticks=50,      # How often to save network snapshots? None = only save 'network-final.pkl'.
        save_tf_graph=False,            # Include full TensorFlow computation graph in the tfevents file?
        save_weight_histograms=False,   # Include weight histograms in the tfevents file?
        resume_pkl=None,                # Network pickle to resume training from, None = train from scratch.
        resume_kimg=0.0,                # Assumed training progress at the beginning (schedule, kimg count).
        resume_time=0.0,                # Assumed wallclock time at the beginning (reporting).
        resume_with_new_nets=False,     # Construct new networks and copy the pickle's variables into them?
        resume_state=None,              # Training state file ('auto': the one beside resume_pkl, if any).
        resume_allow_code_execution=None,  # May resume_pkl run the code it embeds? None: only official downloads.
        num_gpus=None,                  # Number of towers; default: dnnlib.submit_config.num_gpus, else 1.
        worker_hosts=None,              # Multi-worker training: ['host:port', ...] of all workers, or None.
        worker_index=0,                 # Multi-worker training: this process's index in worker_hosts.
        submit_config=None):            # Set by dnnlib.submit_run.
    """Train G and D, writing snapshots, images, metrics and TensorBoard events into the run dir.

    With `worker_hosts`, this process is worker `worker_index` of a data-parallel cluster: every worker
    runs num_gpus towers on its own shard of the data, gradients are summed over all workers' towers, and
    worker 0 alone writes into the run dir.
    """
    if num_gpus is None:
        num_gpus = submit_config.num_gpus if submit_config is not None else 1
    if num_gpus < 1:
        raise ValueError("training_loop: num_gpus must be >= 1, got %r" % (num_gpus,))
    worker_hosts = parse_worker_hosts(worker_hosts) if worker_hosts else None
    num_workers = len(worker_hosts) if worker_hosts else 1
    if not 0 <= worker_index < num_workers:
        raise ValueError("training_loop: worker_index %r is not in [0, %d)" % (worker_index, num_workers))
    is_chief = (worker_index == 0)  # Writes snapshots, images, logs and metrics.
    num_towers = num_gpus * num_workers

    run_context = dnnlib.RunContext(submit_config if submit_config is not None else dnnlib.submit_config)
    try:
        # Initialize dnnlib and TensorFlow.
        tflib.init_tf(tf_config)
        use_gpus = _have_gpus()
        if num_workers > 1:
            print("Worker %d of %s: starting the server..." % (worker_index, ",".join(worker_hosts)))
            _start_worker_session(tf_config, worker_hosts, worker_index, num_gpus if not use_gpus else 1)
            dataset_args = dict(dataset_args, num_shards=num_workers, shard_index=worker_index)
        elif not use_gpus and num_gpus > 1:
            _ensure_cpu_devices(tf_config, num_gpus)

        # Training state of an earlier run (read first: it holds the random seed the graph is built with).
        state = None
        if resume_state == "auto" and resume_pkl is not None:
            candidate = state_file_for_snapshot(resume_pkl) if not dnnlib.util.is_url(resume_pkl) else None
            resume_state = candidate if candidate is not None and os.path.isfile(candidate) else None
        if resume_state is not None:
            state = _load_state(resume_state)
            resume_kimg = state["cur_nimg"] / 1000.0
            resume_time = state["total_time"]
            print("Resuming the training state from %s (kimg %.1f, tick %d)" % (resume_state, resume_kimg,
                                                                               state["cur_tick"]))

        # Load training set.
        training_set = dataset.load_dataset(data_dir=dnnlib.convert_path(data_dir) if data_dir else None,
                                            verbose=True, **dataset_args)
        grid_size, grid_reals, grid_labels = misc.setup_snapshot_image_grid(training_set, **grid_args)
        if is_chief:
            misc.save_image_grid(grid_reals, dnnlib.make_run_dir_path("reals.png"),
                                 drange=training_set.dynamic_range, grid_size=grid_size)

        # Construct or load networks.
        with tf.device(tower_device(0, use_gpus)):
            if resume_pkl is None or resume_with_new_nets:
                print("Constructing networks...")
                G = tflib.Network("G", num_channels=training_set.shape[0], resolution=training_set.shape[1],
                                  label_size=training_set.label_size, **G_args)
                D = tflib.Network("D", num_channels=training_set.shape[0], resolution=training_set.shape[1],
                                  label_size=training_set.label_size, **D_args)
                Gs = G.clone("Gs")
            if resume_pkl is not None:
                print("Loading networks from \"%s\"..." % resume_pkl)
                rG, rD, rGs = misc.load_pkl(resume_pkl, allow_code_execution=resume_allow_code_execution)
                if resume_with_new_nets:
                    G.copy_vars_from(rG)
                    D.copy_vars_from(rD)
                    Gs.copy_vars_from(rGs)
                else:
                    G, D, Gs = rG, rD, rGs
            if num_workers > 1:
                _broadcast_from_chief([G, D, Gs], num_workers, is_chief, tower_device(0, use_gpus))

        # Print layers and generate initial image snapshot.
        G.print_layers()
        D.print_layers()
        sched = training_schedule(cur_nimg=total_kimg * 1000, training_set=training_set, **sched_args)
        grid_latents = np.random.randn(np.prod(grid_size), *G.input_shape[1:])
        if is_chief:
            grid_fakes = Gs.run(grid_latents, grid_labels, is_validation=True, minibatch_size=sched.minibatch_gpu)
            if state is None:
                misc.save_image_grid(grid_fakes, dnnlib.make_run_dir_path("fakes_init.png"), drange=drange_net,
                                     grid_size=grid_size)

        # The seed of the training graph's random ops: from NumPy's seeded RNG, or the earlier run's.
        random_ops = StepSeededRandomOps(state["random_base_seed"] if state is not None else np.random.randint(1 << 30))

        # Setup training inputs.
        print("Building TensorFlow graph...")
        with tf.name_scope("Inputs"), tf.device("/cpu:0"):
            lod_in = tf.placeholder(tf.float32, name="lod_in", shape=[])
            G_lrate_in = tf.placeholder(tf.float32, name="G_lrate_in", shape=[])
            D_lrate_in = tf.placeholder(tf.float32, name="D_lrate_in", shape=[])
            minibatch_size_in = tf.placeholder(tf.int32, name="minibatch_size_in", shape=[])
            minibatch_gpu_in = tf.placeholder(tf.int32, name="minibatch_gpu_in", shape=[])
            minibatch_multiplier = minibatch_size_in // (minibatch_gpu_in * num_towers)
            Gs_beta = 0.5 ** tf.div(tf.cast(minibatch_size_in, tf.float32), G_smoothing_kimg * 1000.0) \
                if G_smoothing_kimg > 0.0 else 0.0

        # Setup optimizers.
        G_opt_args = dict(G_opt_args)
        D_opt_args = dict(D_opt_args)
        for args, reg_interval, lrate_in in [(G_opt_args, G_reg_interval, G_lrate_in), (D_opt_args, D_reg_interval, D_lrate_in)]:
            args["minibatch_multiplier"] = minibatch_multiplier
            args["learning_rate"] = lrate_in
            if num_workers > 1:
                args["num_workers"] = num_workers
            if lazy_regularization:
                # The regularizer runs every reg_interval minibatches: scale lr and Adam betas so that
                # the (interval + 1) updates behave like interval plain ones.
                mb_ratio = reg_interval / (reg_interval + 1)
                args["learning_rate"] *= mb_ratio
                if "beta1" in args:
                    args["beta1"] **= mb_ratio
                if "beta2" in args:
                    args["beta2"] **= mb_ratio
        G_opt = tflib.Optimizer(name="TrainG", **G_opt_args)
        D_opt = tflib.Optimizer(name="TrainD", **D_opt_args)
        G_reg_opt = tflib.Optimizer(name="RegG", share=G_opt, **G_opt_args)
        D_reg_opt = tflib.Optimizer(name="RegD", share=D_opt, **D_opt_args)

        # Build training graph for each tower.
        max_minibatch_gpu = max([sched_args.get("minibatch_gpu_base", 4)] + list(sched_args.get("minibatch_gpu_dict", {}).values()))
        data_fetch_ops = []
        shadow_nets = []
        G_losses, D_losses = [], []
        previous_fetch = []
        with random_ops.active():
            for gpu in range(num_gpus):
                with tf.name_scope("GPU%d" % gpu), tf.device(tower_device(gpu, use_gpus)):

                    # Create GPU-specific shadow copies of G and D.
                    G_gpu = G if gpu == 0 else G.clone(G.name + "_shadow")
                    D_gpu = D if gpu == 0 else D.clone(D.name + "_shadow")
                    if gpu > 0:
                        shadow_nets += [G_gpu, D_gpu]
                    random_ops.start_tower(worker_index * num_gpus + gpu)

                    # Fetch training data via temporary variables. Towers read the stream one after the
                    # other, so which images each tower gets does not depend on thread timing.
                    with tf.name_scope("DataFetch"):
                        reals_var = tf.Variable(name="reals", trainable=False,
                                                initial_value=tf.zeros([max_minibatch_gpu] + training_set.shape))
                        labels_var = tf.Variable(name="labels", trainable=False,
                                                 initial_value=tf.zeros([max_minibatch_gpu, training_set.label_size]))
                        with tf.device("/cpu:0"), tf.control_dependencies(previous_fetch):
                            reals_write, labels_write = training_set.get_minibatch_tf()
                        reals_write, labels_write = process_reals(reals_write, labels_write, lod_in, mirror_augment,
                                                                  training_set.dynamic_range, drange_net)
                        reals_write = tf.concat([reals_write, reals_var[minibatch_gpu_in:]], axis=0)
                        labels_write = tf.concat([labels_write, labels_var[minibatch_gpu_in:]], axis=0)
                        fetch_ops = [tf.assign(reals_var, reals_write), tf.assign(labels_var, labels_write)]
                        data_fetch_ops += fetch_ops
                        previous_fetch = fetch_ops
                        reals_read = reals_var[:minibatch_gpu_in]
                        labels_read = labels_var[:minibatch_gpu_in]

                    # Evaluate loss functions.
                    lod_assign_ops = []
                    if "lod" in G_gpu.vars:
                        lod_assign_ops += [tf.assign(G_gpu.vars["lod"], lod_in)]
                    if "lod" in D_gpu.vars:
                        lod_assign_ops += [tf.assign(D_gpu.vars["lod"], lod_in)]
                    with tf.control_dependencies(lod_assign_ops):
                        with tf.name_scope("G_loss"):
                            G_loss, G_reg = dnnlib.util.call_func_by_name(
                                G=G_gpu, D=D_gpu, opt=G_opt, training_set=training_set,
                                minibatch_size=minibatch_gpu_in, **G_loss_args)
                        with tf.name_scope("D_loss"):
                            D_loss, D_reg = dnnlib.util.call_func_by_name(
                                G=G_gpu, D=D_gpu, opt=D_opt, training_set=training_set,
                                minibatch_size=minibatch_gpu_in, reals=reals_read, labels=labels_read, **D_loss_args)

                    # Register gradients.
                    if not lazy_regularization:
                        if G_reg is not None:
                            G_loss += G_reg
                        if D_reg is not None:
                            D_loss += D_reg
                    else:
                        if G_reg is not None:
                            G_reg_opt.register_gradients(tf.reduce_mean(G_reg * G_reg_interval), G_gpu.trainables)
                        if D_reg is not None:
                            D_reg_opt.register_gradients(tf.reduce_mean(D_reg * D_reg_interval), D_gpu.trainables)
                    G_opt.register_gradients(tf.reduce_mean(G_loss), G_gpu.trainables)
                    D_opt.register_gradients(tf.reduce_mean(D_loss), D_gpu.trainables)
                    G_losses.append(tf.reduce_mean(tf.cast(G_loss, tf.float32)))
                    D_losses.append(tf.reduce_mean(tf.cast(D_loss, tf.float32)))

        # Setup training ops.
        data_fetch_op = tf.group(*data_fetch_ops)
        G_train_op = G_opt.apply_updates()
        D_train_op = D_opt.apply_updates()
        G_reg_op = G_reg_opt.apply_updates(allow_no_op=True)
        D_reg_op = D_reg_opt.apply_updates(allow_no_op=True)
        Gs_update_op = Gs.setup_as_moving_average_of(G, beta=Gs_beta)
        with tf.device("/cpu:0"):
            G_loss_value = tf.add_n(G_losses) / len(G_losses)
            D_loss_value = tf.add_n(D_losses) / len(D_losses)
            if num_workers > 1:
                # The mean over all workers, so that every worker sees the same NaN and stops with the others.
                with tf.name_scope("LossAcrossWorkers"):
                    with tf.control_dependencies([G_train_op]):
                        G_loss_value = tflib.optimizer.all_sum([tf.identity(G_loss_value)], num_workers)[0] / num_workers
                    with tf.control_dependencies([D_train_op]):
                        D_loss_value = tflib.optimizer.all_sum([tf.identity(D_loss_value)], num_workers)[0] / num_workers
                    stop_in = tf.placeholder(tf.float32, name="stop_in", shape=[])
                    stop_sum = tflib.optimizer.all_sum([tf.identity(stop_in)], num_workers)[0]

        tick_summaries = _TickSummaries(["Progress/tick", "Progress/kimg", "Progress/lod", "Progress/minibatch",
                                         "Timing/total_sec", "Timing/sec_per_tick", "Timing/sec_per_kimg",
                                         "Timing/maintenance_sec", "Resources/peak_gpu_mem_gb",
                                         "Timing/total_hours", "Timing/total_days"])

        # Finalize graph.
        tflib.init_uninitialized_vars()
        state_vars = _state_vars([G, D, Gs] + shadow_nets)
        if state is not None:
            _restore_state_vars(state, state_vars, resume_state)

        print("Initializing logs...")
        summary_log = None
        if is_chief:
            summary_log = tf.summary.FileWriter(dnnlib.make_run_dir_path())
            if save_tf_graph:
                summary_log.add_graph(tf.get_default_graph())
        if save_weight_histograms:
            G.setup_weight_histograms()
            D.setup_weight_histograms()
        metric_group = None
        if metric_arg_list and is_chief:
            from metrics import metric_base  # pylint: disable=import-outside-toplevel
            metric_group = metric_base.MetricGroup(metric_arg_list)

        # Counters: fresh, or those of the earlier run.
        print("Training for %g kimg..." % total_kimg)
        cur_nimg = int(resume_kimg * 1000)
        cur_tick = -1
        tick_start_nimg = cur_nimg
        prev_lod = -1.0
        running_mb_counter = 0
        random_step = 0
        data_config = None
        num_fetches = 0  # minibatches drawn per tower since the data stream was last (re)configured
        last_snapshot = resume_pkl
        if state is not None:
            cur_tick = state["cur_tick"]
            tick_start_nimg = state["tick_start_nimg"]
            prev_lod = state["prev_lod"]
            running_mb_counter = state["running_mb_counter"]
            random_step = state["random_step"]
            np.random.set_state(state["numpy_random_state"])
        tick_start_time = time.time()
        run_start_time = tick_start_time
        maintenance_time = 0.0

        def run(ops, feed_dict):
            nonlocal random_step
            random_step += 1
            feed_dict = dict(feed_dict)
            feed_dict[random_ops.step_in] = random_step
            return tflib.run(ops, feed_dict)

        def check_finite(name, value):
            if not np.isfinite(value):
                message = ("training: the %s loss became %s at kimg %.3f; stopping. The last good snapshot is %s"
                           % (name, value, cur_nimg / 1000.0, last_snapshot if last_snapshot else "(none written yet)"))
                print(message, flush=True)
                raise TrainingDivergedError(message)

        while cur_nimg < total_kimg * 1000:
            stop = run_context.should_stop()
            if num_workers > 1:  # Worker 0's abort.txt stops every worker.
                stop = tflib.run(stop_sum, {stop_in: float(stop)}) > 0
            if stop:
                print("abort.txt found: stopping at kimg %.1f" % (cur_nimg / 1000.0))
                break

            # Choose training parameters and configure training ops.
            sched = training_schedule(cur_nimg=cur_nimg, training_set=training_set, **sched_args)
            if sched.minibatch_size % (sched.minibatch_gpu * num_towers) != 0:
                raise ValueError("training_loop: minibatch size %d is not a multiple of minibatch_gpu %d x %d towers"
                                 % (sched.minibatch_size, sched.minibatch_gpu, num_towers))
            if sched.minibatch_gpu > max_minibatch_gpu:
                raise ValueError("training_loop: minibatch_gpu %d exceeds the largest one of sched_args (%d)"
                                 % (sched.minibatch_gpu, max_minibatch_gpu))
            training_set.configure(sched.minibatch_gpu, sched.lod)
            # The dataset restarts its stream (same shuffle seed) whenever the minibatch size or level
            # changes; a resumed run skips the minibatches the earlier run drew since then. (Exact unless
            # the snapshot grid's size equals minibatch_gpu: then the first configure does not restart.)
            if (sched.minibatch_gpu, int(np.floor(sched.lod))) != data_config:
                data_config = (sched.minibatch_gpu, int(np.floor(sched.lod)))
                num_fetches = 0
                if state is not None and tuple(state["data_config"]) == data_config:
                    _skip_minibatches(training_set, state["num_fetches"] * num_gpus)
                    num_fetches = state["num_fetches"]
                state = None
            if reset_opt_for_new_lod:
                if np.floor(sched.lod) != np.floor(prev_lod) or np.ceil(sched.lod) != np.ceil(prev_lod):
                    G_opt.reset_optimizer_state()
                    D_opt.reset_optimizer_state()
            prev_lod = sched.lod

            # Run training ops.
            feed_dict = {lod_in: sched.lod, G_lrate_in: sched.G_lrate, D_lrate_in: sched.D_lrate,
                         minibatch_size_in: sched.minibatch_size, minibatch_gpu_in: sched.minibatch_gpu}
            for _repeat in range(minibatch_repeats):
                rounds = range(0, sched.minibatch_size, sched.minibatch_gpu * num_towers)
                run_G_reg = (lazy_regularization and running_mb_counter % G_reg_interval == 0)
                run_D_reg = (lazy_regularization and running_mb_counter % D_reg_interval == 0)
                cur_nimg += sched.minibatch_size
                running_mb_counter += 1

                # Fast path without gradient accumulation.
                if len(rounds) == 1:
                    _, G_loss_now, _ = run([G_train_op, G_loss_value, data_fetch_op], feed_dict)
                    num_fetches += 1
                    check_finite("G", G_loss_now)
                    if run_G_reg:
                        run(G_reg_op, feed_dict)
                    # Gs copies G's dlatent_avg, which the D step also updates: run them apart so the
                    # order is fixed (in one run it is a race, and resume would not be exact).
                    _, D_loss_now = run([D_train_op, D_loss_value], feed_dict)
                    run(Gs_update_op, feed_dict)
                    check_finite("D", D_loss_now)
                    if run_D_reg:
                        run(D_reg_op, feed_dict)

                # Slow path with gradient accumulation.
                else:
                    for _round in rounds:
                        _, G_loss_now = run([G_train_op, G_loss_value], feed_dict)
                        check_finite("G", G_loss_now)
                    if run_G_reg:
                        for _round in rounds:
                            run(G_reg_op, feed_dict)
                    run(Gs_update_op, feed_dict)
                    for _round in rounds:
                        run(data_fetch_op, feed_dict)
                        num_fetches += 1
                        _, D_loss_now = run([D_train_op, D_loss_value], feed_dict)
                        check_finite("D", D_loss_now)
                    if run_D_reg:
                        for _round in rounds:
                            run(D_reg_op, feed_dict)

            # Perform maintenance tasks once per tick.
            done = (cur_nimg >= total_kimg * 1000)
            if cur_tick < 0 or cur_nimg >= tick_start_nimg + sched.tick_kimg * 1000 or done:
                cur_tick += 1
                tick_kimg = (cur_nimg - tick_start_nimg) / 1000.0
                tick_start_nimg = cur_nimg
                tick_end_time = time.time()
                tick_time = tick_end_time - tick_start_time
                total_time = tick_end_time - run_start_time + resume_time

                # Report progress.
                tick_values = dict([
                    ("Progress/tick", cur_tick), ("Progress/kimg", cur_nimg / 1000.0), ("Progress/lod", sched.lod),
                    ("Progress/minibatch", sched.minibatch_size), ("Timing/total_sec", total_time),
                    ("Timing/sec_per_tick", tick_time), ("Timing/sec_per_kimg", tick_time / max(tick_kimg, 1e-8)),
                    ("Timing/maintenance_sec", maintenance_time), ("Resources/peak_gpu_mem_gb", _peak_gpu_mem_gb()),
                    ("Timing/total_hours", total_time / (60.0 * 60.0)),
                    ("Timing/total_days", total_time / (24.0 * 60.0 * 60.0))])
                if is_chief:
                    tick_summaries.add(tick_values)
                print("tick %-5d kimg %-8.1f lod %-5.2f minibatch %-4d time %-12s sec/tick %-7.1f sec/kimg %-7.2f "
                      "maintenance %-6.1f gpumem %.1f" % (
                          cur_tick, cur_nimg / 1000.0, sched.lod, sched.minibatch_size,
                          dnnlib.util.format_time(total_time), tick_time, tick_values["Timing/sec_per_kimg"],
                          maintenance_time, tick_values["Resources/peak_gpu_mem_gb"]), flush=True)

                # Save snapshots.
                if not is_chief:
                    pass  # Other workers write nothing into the run dir.
                elif image_snapshot_ticks is not None and (cur_tick % image_snapshot_ticks == 0 or done):
                    grid_fakes = Gs.run(grid_latents, grid_labels, is_validation=True, minibatch_size=sched.minibatch_gpu)
                    misc.save_image_grid(grid_fakes, dnnlib.make_run_dir_path("fakes%06d.png" % (cur_nimg // 1000)),
                                         drange=drange_net, grid_size=grid_size)
                if is_chief and network_snapshot_ticks is not None and (cur_tick % network_snapshot_ticks == 0 or done):
                    pkl = dnnlib.make_run_dir_path("network-snapshot-%06d.pkl" % (cur_nimg // 1000))
                    state_values = tflib.run(state_vars)
                    misc.save_pkl((G, D, Gs), pkl)
                    _save_state(state_file_for_snapshot(pkl), dict(
                        version=STATE_VERSION, cur_nimg=cur_nimg, cur_tick=cur_tick, tick_start_nimg=tick_start_nimg,
                        prev_lod=prev_lod, running_mb_counter=running_mb_counter, random_step=random_step,
                        random_base_seed=random_ops.base_seed, numpy_random_state=np.random.get_state(),
                        data_config=data_config, num_fetches=num_fetches, total_time=total_time,
                        vars={var.name: value for var, value in zip(state_vars, state_values)}))
                    last_snapshot = pkl
                    if metric_group is not None:
                        metric_group.run(pkl, run_dir=dnnlib.make_run_dir_path(),
                                    data_dir=dnnlib.convert_path(data_dir) if data_dir else None,
                                    num_gpus=num_gpus, tf_config=tf_config)

                # Update summaries and RunContext.
                if metric_group is not None:
                    metric_group.update_autosummaries()
                if is_chief:
                    tflib.autosummary.save_summaries(summary_log, cur_nimg)
                    summary_log.flush()
                run_context.update("%.2f" % sched.lod, cur_epoch=cur_nimg // 1000, max_epoch=total_kimg)
                tick_start_time = time.time()
                maintenance_time = tick_start_time - tick_end_time

        # Save final snapshot.
        if is_chief:
            misc.save_pkl((G, D, Gs), dnnlib.make_run_dir_path("network-final.pkl"))
            summary_log.close()

        # All done.
        training_set.close()
    finally:
        run_context.close()


class _TickSummaries:
    """The per-tick autosummaries, fed through one placeholder and added by one run.

    (Python values given to `autosummary` one by one each cost a new session signature the first time,
    about a second each in a large training graph.)
    """

    def __init__(self, names):
        self.names = list(names)
        with tf.name_scope("TickSummaries"), tf.device("/cpu:0"):
            self.values_in = tf.placeholder(tf.float64, [len(self.names)], name="values_in")
            self.update_op = tf.group(*[autosummary(name, self.values_in[i]) for i, name in enumerate(self.names)])

    def add(self, values):
        tflib.run(self.update_op, {self.values_in: [float(values[name]) for name in self.names]})


def _restore_state_vars(state, state_vars, path):
    values = state["vars"]
    names = {var.name for var in state_vars}
    missing = sorted(names - set(values))
    unknown = sorted(set(values) - names)
    if missing or unknown:
        raise ValueError("%s: the training state does not fit this graph (missing %s, unknown %s); was the run "
                         "configured differently (num_gpus, losses, lazy regularization)?"
                         % (path, missing[:5], unknown[:5]))
    tflib.set_vars({var: values[var.name] for var in state_vars})


def _skip_minibatches(training_set, count):
    """Draw and drop `count` minibatches, to continue the data stream where the earlier run left it."""
    if count <= 0:
        return
    with tf.name_scope("Dataset"):
        next_minibatch = training_set.get_minibatch_tf()
    for _ in range(count):
        tflib.run(next_minibatch)
