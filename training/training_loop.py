"""StyleGAN2 training, in the paper's order: the schedule, one tower per GPU, the training phases (G,
G regularization, D, D regularization, each with its interval), the moving average Gs, and per tick the
report, image and network snapshots, metrics and TensorBoard events.

Progressive growing (configs a-d) fades in one level of detail after the other; lazy regularization
runs the regularizers as phases of their own every few minibatches. Exact resume lives in
`training/resume.py`, multi-worker training in `training/distributed.py`.
"""

import time

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf
from dnnlib.tflib.autosummary import autosummary

from training import adaptive_augment
from training import dataset
from training import distributed
from training import misc
from training import resume
from training.distributed import tower_device


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the message names the kimg and the last good snapshot."""


# ------------------------------------------------------------------------------------------------------
# Real images as the networks see them.

def _upscale_nearest(x, factor):
    """[N, C, H, W] -> [N, C, H * factor, W * factor], each pixel repeated factor x factor times."""
    n, c, h, w = [tf.shape(x)[axis] for axis in range(4)]
    blocks = tf.tile(x[:, :, :, tf.newaxis, :, tf.newaxis], [1, 1, 1, factor, 1, factor])
    return tf.reshape(blocks, [n, c, h * factor, w * factor])


def process_reals(x, labels, lod, mirror_augment, drange_data, drange_net):
    """uint8 images [N, C, H, W] -> float32 in `drange_net`, randomly mirrored, faded between levels.

    The data of level floor(lod) is blended with its 2x2 box-downsampled copy by frac(lod), then
    repeated 2^floor(lod) times along both axes to the full resolution, which the networks expect.
    """
    with tf.name_scope("DynamicRange"):
        x = misc.adjust_dynamic_range(tf.cast(x, tf.float32), drange_data, drange_net)
    if mirror_augment:
        with tf.name_scope("MirrorAugment"):
            keep = tf.random_uniform([tf.shape(x)[0]], 0.0, 1.0) < 0.5
            x = tf.where(keep, x, tf.reverse(x, axis=[3]))
    with tf.name_scope("FadeLOD"):
        n, c, h, w = [tf.shape(x)[axis] for axis in range(4)]
        coarse = tf.reduce_mean(tf.reshape(x, [n, c, h // 2, 2, w // 2, 2]), axis=[3, 5])
        x = tflib.lerp(x, _upscale_nearest(coarse, 2), lod - tf.floor(lod))
    with tf.name_scope("UpscaleLOD"):
        x = _upscale_nearest(x, tf.cast(2 ** tf.floor(lod), tf.int32))
    return x, labels


# ------------------------------------------------------------------------------------------------------
# The schedule.

def _level_of_detail(kimg, resolution_log2, initial_resolution, training_kimg, transition_kimg):
    """0 = full resolution. Growing starts at `initial_resolution`; each level trains `training_kimg`,
    then the next one fades in over `transition_kimg`."""
    if initial_resolution is None:
        return 0.0
    level_kimg = training_kimg + transition_kimg
    levels_done = int(np.floor(kimg / level_kimg)) if level_kimg > 0 else 0
    into_level = kimg - levels_done * level_kimg
    fading = max(into_level - training_kimg, 0.0) / transition_kimg if transition_kimg > 0 else 0.0
    return max(resolution_log2 - np.floor(np.log2(initial_resolution)) - levels_done - fading, 0.0)


def training_schedule(cur_nimg, training_set, lod_initial_resolution=None, lod_training_kimg=600,
                      lod_transition_kimg=600, minibatch_size_base=32, minibatch_size_dict={}, minibatch_gpu_base=4,
                      minibatch_gpu_dict={}, G_lrate_base=0.002, G_lrate_dict={}, D_lrate_base=0.002, D_lrate_dict={},
                      lrate_rampup_kimg=0, tick_kimg_base=4,
                      tick_kimg_dict={8: 28, 16: 24, 32: 20, 64: 16, 128: 12, 256: 8, 512: 6, 1024: 4}):
    """What to train with after `cur_nimg` images: EasyDict(kimg, lod, resolution, minibatch_size,
    minibatch_gpu, G_lrate, D_lrate, tick_kimg). The dicts give values per resolution (the current
    one: data resolution / 2^floor(lod)); the `_base` values hold for resolutions they do not list."""
    kimg = cur_nimg / 1000.0
    lod = _level_of_detail(kimg, training_set.resolution_log2, lod_initial_resolution, lod_training_kimg,
                           lod_transition_kimg)
    res = 2 ** (training_set.resolution_log2 - int(np.floor(lod)))
    rampup = min(kimg / lrate_rampup_kimg, 1.0) if lrate_rampup_kimg > 0 else 1.0
    return dnnlib.EasyDict(
        kimg=kimg, lod=lod, resolution=res, tick_kimg=tick_kimg_dict.get(res, tick_kimg_base),
        minibatch_size=minibatch_size_dict.get(res, minibatch_size_base),
        minibatch_gpu=minibatch_gpu_dict.get(res, minibatch_gpu_base),
        G_lrate=G_lrate_dict.get(res, G_lrate_base) * rampup, D_lrate=D_lrate_dict.get(res, D_lrate_base) * rampup)


def _check_split(sched, num_towers, max_minibatch_gpu):
    if sched.minibatch_size % (sched.minibatch_gpu * num_towers) != 0:
        raise ValueError("training_loop: minibatch size %d is not a multiple of minibatch_gpu %d x %d towers"
                         % (sched.minibatch_size, sched.minibatch_gpu, num_towers))
    if sched.minibatch_gpu > max_minibatch_gpu:
        raise ValueError("training_loop: minibatch_gpu %d exceeds the largest one of sched_args (%d)"
                         % (sched.minibatch_gpu, max_minibatch_gpu))


# ------------------------------------------------------------------------------------------------------
# The training graph: towers and phases.

class Phase:
    """One kind of optimizer step, run every `interval` minibatches (never when `interval` is None).

    `loss` is the value checked for NaN after each step (or None). `fetch_reals`: each step trains on
    a minibatch of reals of its own (D). `prefetch_reals`: the phase never reads the reals, so its last
    step fetches the first minibatch of the D phase in the same session.run (G).
    """

    def __init__(self, name, step_op, loss=None, interval=1, fetch_reals=False, prefetch_reals=False):
        self.name, self.step_op, self.loss, self.interval = name, step_op, loss, interval
        self.fetch_reals, self.prefetch_reals = fetch_reals, prefetch_reals

    def due(self, minibatch_index):
        return self.interval is not None and minibatch_index % self.interval == 0


class _TrainingGraph:
    """Placeholders, optimizers and towers, then the phases and the Gs update built from them."""

    def __init__(self, args, training_set, workers, num_gpus, use_gpus, aug=None):
        self.args, self.training_set, self.workers = args, training_set, workers
        self.num_gpus, self.use_gpus, self.aug = num_gpus, use_gpus, aug
        with tf.name_scope("Inputs"), tf.device("/cpu:0"):
            self.lod_in = tf.placeholder(tf.float32, name="lod_in", shape=[])
            self.G_lrate_in = tf.placeholder(tf.float32, name="G_lrate_in", shape=[])
            self.D_lrate_in = tf.placeholder(tf.float32, name="D_lrate_in", shape=[])
            self.minibatch_size_in = tf.placeholder(tf.int32, name="minibatch_size_in", shape=[])
            self.minibatch_gpu_in = tf.placeholder(tf.int32, name="minibatch_gpu_in", shape=[])
            num_towers = num_gpus * workers.count
            multiplier = self.minibatch_size_in // (self.minibatch_gpu_in * num_towers)
            self.Gs_beta = 0.0
            self.Gs_nimg_in = None
            if args.G_smoothing_rampup is not None:
                # ADA's ramp-up: the half-life grows with the images shown, up to G_smoothing_kimg.
                self.Gs_nimg_in = tf.placeholder(tf.float32, name="Gs_nimg_in", shape=[])
                half_lives = tf.cast(self.minibatch_size_in, tf.float32) / tf.maximum(self.Gs_nimg_in, 1e-8)
                self.Gs_beta = 0.5 ** half_lives
            elif args.G_smoothing_kimg > 0.0:
                half_lives = tf.cast(self.minibatch_size_in, tf.float32) / (args.G_smoothing_kimg * 1000.0)
                self.Gs_beta = 0.5 ** half_lives
        opt_args = {}
        for net, lrate_in, interval in [("G", self.G_lrate_in, args.G_reg_interval),
                                        ("D", self.D_lrate_in, args.D_reg_interval)]:
            kwargs = dict(args[net + "_opt_args"], minibatch_multiplier=multiplier, learning_rate=lrate_in)
            if use_gpus and args[net + "_args"].get("num_fp16_res", 0) > 0:
                kwargs.setdefault("use_loss_scaling", True)  # float16 gradients would underflow unscaled.
            if args.lazy_regularization:
                # The regularizer adds one step every `interval` minibatches; these settings make the
                # interval + 1 steps move like `interval` plain ones.
                shrink = interval / (interval + 1)
                kwargs["learning_rate"] = kwargs["learning_rate"] * shrink
                kwargs.update({beta: kwargs[beta] ** shrink for beta in ("beta1", "beta2") if beta in kwargs})
            opt_args[net] = workers.optimizer_args(kwargs)
        self.opt = {name: tflib.Optimizer(name=name, **opt_args[name[-1]]) for name in ["TrainG", "TrainD"]}
        for name in ["RegG", "RegD"]:
            self.opt[name] = tflib.Optimizer(name=name, share=self.opt["Train" + name[-1]], **opt_args[name[-1]])
        sched = args.sched_args
        per_gpu = [sched.get("minibatch_gpu_base", 4)] + list(sched.get("minibatch_gpu_dict", {}).values())
        self.max_minibatch_gpu = max(per_gpu)  # The size of the tower data buffers.
        self.fetch_ops, self.shadow_nets, self.losses = [], [], {"G": [], "D": []}
        self.registered = set()  # The optimizers given gradients.

    def feed(self, sched):
        return {self.lod_in: sched.lod, self.G_lrate_in: sched.G_lrate, self.D_lrate_in: sched.D_lrate,
                self.minibatch_size_in: sched.minibatch_size, self.minibatch_gpu_in: sched.minibatch_gpu}

    def feed_minibatch(self, feed, nimg_before):
        """`feed` plus what changes every minibatch: the EMA half-life in images while it ramps up."""
        if self.Gs_nimg_in is None:
            return feed
        feed = dict(feed)
        feed[self.Gs_nimg_in] = min(self.args.G_smoothing_kimg * 1000.0, nimg_before * self.args.G_smoothing_rampup)
        return feed

    def _fetch_reals(self):
        """Ops that refill this tower's buffers of reals and labels from the data stream, after the
        previous tower's (a fixed order, so which tower gets which images never depends on timing)."""
        args, data = self.args, self.training_set
        with tf.name_scope("DataFetch"):
            reals_var = tf.Variable(name="reals", trainable=False,
                                    initial_value=tf.zeros([self.max_minibatch_gpu] + data.shape))
            labels_var = tf.Variable(name="labels", trainable=False,
                                     initial_value=tf.zeros([self.max_minibatch_gpu, data.label_size]))
            with tf.device("/cpu:0"), tf.control_dependencies(self.fetch_ops[-2:]):
                images, labels = data.get_minibatch_tf()
            images, labels = process_reals(images, labels, self.lod_in, args.mirror_augment, data.dynamic_range,
                                           args.drange_net)
            mb = self.minibatch_gpu_in
            self.fetch_ops += [tf.assign(reals_var, tf.concat([images, reals_var[mb:]], axis=0)),
                               tf.assign(labels_var, tf.concat([labels, labels_var[mb:]], axis=0))]
            return reals_var[:mb], labels_var[:mb]

    def add_tower(self, gpu, G, D, random_ops):
        """Tower `gpu`: its copies of G and D (G and D themselves on tower 0), data and losses."""
        args = self.args
        with tf.name_scope("GPU%d" % gpu), tf.device(tower_device(gpu, self.use_gpus)):
            if gpu > 0:
                G, D = G.clone(G.name + "_shadow"), D.clone(D.name + "_shadow")
                self.shadow_nets += [G, D]
            random_ops.start_tower(self.workers.first_tower(self.num_gpus) + gpu)
            reals, labels = self._fetch_reals()
            lod_assigns = [tf.assign(net.vars["lod"], self.lod_in) for net in (G, D) if "lod" in net.vars]
            common = dict(G=G, D=D, training_set=self.training_set, minibatch_size=self.minibatch_gpu_in)
            if self.aug is not None:
                common["aug"] = self.aug
            with tf.control_dependencies(lod_assigns):
                with tf.name_scope("G_loss"):
                    G_loss, G_reg = dnnlib.util.call_func_by_name(opt=self.opt["TrainG"], **common, **args.G_loss_args)
                with tf.name_scope("D_loss"):
                    D_loss, D_reg = dnnlib.util.call_func_by_name(opt=self.opt["TrainD"], reals=reals, labels=labels,
                                                                  **common, **args.D_loss_args)
            per_net = [("G", G, G_loss, G_reg, args.G_reg_interval), ("D", D, D_loss, D_reg, args.D_reg_interval)]
            for key, net, loss, reg, interval in per_net:
                if reg is not None and args.lazy_regularization:
                    self.opt["Reg" + key].register_gradients(tf.reduce_mean(reg * interval), net.trainables)
                    self.registered.add("Reg" + key)
            for key, net, loss, reg, interval in per_net:
                if reg is not None and not args.lazy_regularization:
                    loss += reg
                self.opt["Train" + key].register_gradients(tf.reduce_mean(loss), net.trainables)
                self.losses[key].append(tf.reduce_mean(tf.cast(loss, tf.float32)))

    def phases(self):
        """The training phases in the order one minibatch runs them."""
        lazy = self.args.lazy_regularization
        step_ops = dict(G=self.opt["TrainG"].apply_updates(), G_reg=self.opt["RegG"].apply_updates(allow_no_op=True))
        # The D steps count D's signs on the augmented reals toward r_t (R1 passes too), and update D only
        # after the count: it reads the scores of the D that the step started from.
        stat_ops = self.aug.stat_ops if self.aug is not None else []
        with tf.control_dependencies(stat_ops):
            step_ops["D"] = self.opt["TrainD"].apply_updates()
        with tf.control_dependencies(stat_ops if "RegD" in self.registered else []):
            step_ops["D_reg"] = self.opt["RegD"].apply_updates(allow_no_op=True)
        self.data_fetch_op = tf.group(*self.fetch_ops)
        with tf.device("/cpu:0"):
            losses = {net: self.workers.mean_after(tf.add_n(self.losses[net]) / len(self.losses[net]), step_ops[net])
                      for net in ["G", "D"]}
        self.workers.build_stop_vote()
        return [Phase("G", step_ops["G"], losses["G"], prefetch_reals=True),
                Phase("G_reg", step_ops["G_reg"], interval=self.args.G_reg_interval if lazy else None),
                Phase("D", step_ops["D"], losses["D"], fetch_reals=True),
                Phase("D_reg", step_ops["D_reg"], interval=self.args.D_reg_interval if lazy else None)]


def _networks(args, training_set, device):
    """G, D and Gs: new ones, the ones of `resume_pkl`, or new ones holding the pickle's values."""
    with tf.device(device):
        if args.resume_pkl is not None and not args.resume_with_new_nets:
            print("Loading networks from \"%s\"..." % args.resume_pkl)
            return misc.load_pkl(args.resume_pkl, allow_code_execution=args.resume_allow_code_execution)
        print("Constructing networks...")
        shape = dict(num_channels=training_set.shape[0], resolution=training_set.shape[1],
                     label_size=training_set.label_size)
        nets = [tflib.Network("G", **shape, **args.G_args), tflib.Network("D", **shape, **args.D_args)]
        nets.append(nets[0].clone("Gs"))
        if args.resume_pkl is not None:
            print("Loading networks from \"%s\"..." % args.resume_pkl)
            sources = misc.load_pkl(args.resume_pkl, allow_code_execution=args.resume_allow_code_execution)
            _check_transfer_shapes(nets[0], sources[0], args.resume_pkl)
            for net, source in zip(nets, sources):
                net.copy_vars_from(source)
        return tuple(nets)


def _check_transfer_shapes(G, source, source_name):
    """New networks take a pickle's values by name only when they make images of the same shape."""
    if list(source.output_shape[1:]) != list(G.output_shape[1:]):
        raise ValueError("training_loop: %s makes images of %s (channels, height, width), the dataset has %s: "
                         "transfer learning needs the same resolution and channels"
                         % (source_name, "x".join(map(str, source.output_shape[1:])),
                            "x".join(map(str, G.output_shape[1:]))))


# ------------------------------------------------------------------------------------------------------
# The loop.

def training_loop(
        G_args={},                      # Generator: func_name and network options.
        D_args={},                      # Discriminator: func_name and network options.
        G_opt_args={},                  # tflib.Optimizer options of G (Adam betas, epsilon, ...).
        D_opt_args={},                  # tflib.Optimizer options of D.
        G_loss_args={},                 # G loss: func_name and its options.
        D_loss_args={},                 # D loss: func_name and its options.
        dataset_args={},                # dataset.load_dataset() options.
        sched_args={},                  # training_schedule() options.
        grid_args={},                   # misc.setup_snapshot_image_grid() options.
        metric_arg_list=[],             # Metrics run after every network snapshot.
        tf_config={},                   # tflib.init_tf() options.
        data_dir=None,                  # Root folder of the datasets.
        G_smoothing_kimg=10.0,          # Half-life of Gs, the moving average of G, in kimg.
        G_smoothing_rampup=None,        # ADA: half-life at most this times the images shown so far (None: off).
        augment_args=None,              # ADA: AdaptiveAugment options (augmentation before D); None: none.
        minibatch_repeats=4,            # Minibatches between two looks at the schedule.
        lazy_regularization=True,       # Regularize in phases of their own, every few minibatches?
        G_reg_interval=4,               # Minibatches per G regularization phase (lazy regularization).
        D_reg_interval=16,              # Minibatches per D regularization phase (lazy regularization).
        reset_opt_for_new_lod=True,     # Clear the Adam moments when a new level of detail fades in?
        total_kimg=25000,               # Length of the run, in thousands of real images shown to D.
        mirror_augment=False,           # Flip half of the reals horizontally?
        drange_net=[-1, 1],             # Value range of images inside the networks.
        image_snapshot_ticks=50,        # Ticks between fakes*.png (None: only reals.png and fakes_init.png).
        network_snapshot_ticks=50,      # Ticks between network snapshots (None: only network-final.pkl).
        save_tf_graph=False,            # Put the graph into the TensorBoard events?
        save_weight_histograms=False,   # Put weight histograms into the TensorBoard events?
        resume_pkl=None,                # Network pickle to start from; None: new networks.
        resume_kimg=0.0,                # Progress the run starts at (schedule and kimg count).
        resume_time=0.0,                # Seconds of training before this run (reports).
        resume_with_new_nets=False,     # New networks that take the values of resume_pkl's?
        resume_state=None,              # Training state file to continue exactly ('auto': beside resume_pkl).
        resume_allow_code_execution=None,  # May resume_pkl run the code it embeds? None: only official downloads.
        num_gpus=None,                  # Towers; default: dnnlib.submit_config.num_gpus, else 1.
        worker_hosts=None,              # Multi-worker training: ['host:port', ...] of all workers, or None.
        worker_index=0,                 # Multi-worker training: this process's index in worker_hosts.
        submit_config=None):            # Set by dnnlib.submit_run.
    """Train G and D, writing snapshots, images, metrics and TensorBoard events into the run dir.

    With `worker_hosts`, this process is worker `worker_index` of a data-parallel cluster: every worker
    runs num_gpus towers on its own shard of the data, gradients are summed over all workers' towers, and
    worker 0 alone writes into the run dir.
    """
    args = dnnlib.EasyDict(locals())
    if num_gpus is None:
        num_gpus = submit_config.num_gpus if submit_config is not None else 1
    if num_gpus < 1:
        raise ValueError("training_loop: num_gpus must be >= 1, got %r" % (num_gpus,))
    workers = distributed.Workers(worker_hosts, worker_index)
    num_towers = num_gpus * workers.count
    run_context = dnnlib.RunContext(submit_config if submit_config is not None else dnnlib.submit_config)
    try:
        tflib.init_tf(tf_config)
        use_gpus = tflib.tfutil.has_gpu()
        workers.start(tf_config, num_gpus, use_gpus)

        # Read before the graph is built: a resumed run's random ops take the earlier run's seed.
        state = resume.TrainingState.start(resume_pkl, resume_state, resume_kimg, resume_time)
        if state.resumed_from is not None:
            print("Resuming the training state from %s (kimg %.1f, tick %d)"
                  % (state.resumed_from, state.cur_nimg / 1000.0, state.cur_tick))
        training_set = dataset.load_dataset(data_dir=dnnlib.convert_path(data_dir) if data_dir else None,
                                            verbose=True, **workers.dataset_args(dataset_args))
        aug = None
        if augment_args is not None:
            aug = adaptive_augment.AdaptiveAugment(**augment_args)
            aug.get_strength_var()
        reporter = _Reporter(args, training_set, workers.is_chief, run_context, num_gpus, aug)
        G, D, Gs = _networks(args, training_set, tower_device(0, use_gpus))
        workers.broadcast_from_chief([G, D, Gs], tower_device(0, use_gpus))
        G.print_layers()
        D.print_layers()
        reporter.draw_initial_fakes(Gs, write=state.resumed_from is None)
        random_ops = state.random_ops()

        print("Building TensorFlow graph...")
        graph = _TrainingGraph(args, training_set, workers, num_gpus, use_gpus, aug)
        with random_ops.active():
            for gpu in range(num_gpus):
                graph.add_tower(gpu, G, D, random_ops)
        phases = graph.phases()
        Gs_update_op = Gs.setup_as_moving_average_of(G, beta=graph.Gs_beta)
        reporter.build_summaries()
        tflib.init_uninitialized_vars()
        state_vars = resume.state_variables([G, D, Gs] + graph.shadow_nets)
        state.restore(state_vars)
        if aug is not None:
            aug.set_state(state.augment)
        reporter.open_logs(G, D, last_snapshot=resume_pkl, earlier_seconds=state.total_time)

        print("Training for %g kimg..." % total_kimg)
        while state.cur_nimg < total_kimg * 1000:
            if workers.should_stop(run_context.should_stop()):
                print("abort.txt found: stopping at kimg %.1f" % (state.cur_nimg / 1000.0))
                break
            sched = training_schedule(cur_nimg=state.cur_nimg, training_set=training_set, **sched_args)
            _check_split(sched, num_towers, graph.max_minibatch_gpu)
            state.configure_data(training_set, sched.minibatch_gpu, sched.lod, num_gpus)
            if state.lod_changed(sched.lod) and reset_opt_for_new_lod:
                graph.opt["TrainG"].reset_optimizer_state()
                graph.opt["TrainD"].reset_optimizer_state()
            feed = graph.feed(sched)
            rounds = sched.minibatch_size // (sched.minibatch_gpu * num_towers)
            for _ in range(minibatch_repeats):
                minibatch_feed = graph.feed_minibatch(feed, state.cur_nimg)
                state.cur_nimg += sched.minibatch_size
                _train_minibatch(phases, graph.data_fetch_op, Gs_update_op, rounds,
                                 lambda ops: state.run(ops, minibatch_feed, random_ops), state, reporter.check_finite)
            if aug is not None:
                aug.tune(sched.minibatch_size * minibatch_repeats)
                state.augment = aug.get_state()
            done = state.cur_nimg >= total_kimg * 1000
            if state.cur_tick < 0 or state.cur_nimg >= state.tick_start_nimg + sched.tick_kimg * 1000 or done:
                reporter.tick(state, sched, done, (G, D, Gs), state_vars)
        reporter.finish((G, D, Gs), state, state_vars)
        training_set.close()
    finally:
        run_context.close()


def _train_minibatch(phases, data_fetch_op, Gs_update_op, rounds, run, state, check_finite):
    """One minibatch: each phase that is due, `rounds` steps each (gradient accumulation over rounds),
    then the Gs moving average."""
    minibatch_index = state.running_mb_counter
    state.running_mb_counter += 1
    reals_ready = False  # A fetched minibatch of reals that no D step has trained on yet.
    for phase in phases:
        if not phase.due(minibatch_index):
            continue
        for step in range(rounds):
            fetches = [phase.step_op] if phase.loss is None else [phase.step_op, phase.loss]
            if phase.fetch_reals:
                if not reals_ready:
                    run(data_fetch_op)
                    state.num_fetches += 1
                reals_ready = False
            elif phase.prefetch_reals and step == rounds - 1:
                fetches.append(data_fetch_op)
                state.num_fetches += 1
                reals_ready = True
            values = run(fetches)
            if phase.loss is not None:
                check_finite(phase.name, values[1], state.cur_nimg)
    # G's dlatent_avg, which Gs copies, moves in the D phase too: updating Gs in the same session.run
    # would race with it, and a resumed run would not repeat the result.
    run(Gs_update_op)


# ------------------------------------------------------------------------------------------------------
# Ticks: reports, snapshots, metrics.

class _Reporter:
    """Everything the run writes: images, snapshots and state files, metrics, tick lines, events.

    Only the chief worker writes files; every worker prints its tick lines.
    """

    def __init__(self, args, training_set, is_chief, run_context, num_gpus, aug=None):
        self.args, self.training_set, self.is_chief = args, training_set, is_chief
        self.run_context, self.num_gpus, self.aug = run_context, num_gpus, aug
        self.grid_size, grid_reals, self.grid_labels = misc.setup_snapshot_image_grid(training_set, **args.grid_args)
        if is_chief:
            misc.save_image_grid(grid_reals, dnnlib.make_run_dir_path("reals.png"),
                                 drange=training_set.dynamic_range, grid_size=self.grid_size)
        self.grid_latents = None
        self.summary_log = self.metric_group = self.tick_summaries = None

    def _save_fakes(self, Gs, name, minibatch_size, write=True):
        fakes = Gs.run(self.grid_latents, self.grid_labels, is_validation=True, minibatch_size=minibatch_size)
        if write:
            misc.save_image_grid(fakes, dnnlib.make_run_dir_path(name), drange=self.args.drange_net,
                                 grid_size=self.grid_size)

    def draw_initial_fakes(self, Gs, write):
        """Draw the grid's latents, kept for every later fakes*.png, and write fakes_init.png."""
        last_sched = training_schedule(self.args.total_kimg * 1000, self.training_set, **self.args.sched_args)
        self.grid_latents = np.random.randn(int(np.prod(self.grid_size)), *Gs.input_shape[1:])
        if self.is_chief:
            self._save_fakes(Gs, "fakes_init.png", last_sched.minibatch_gpu, write=write)

    def build_summaries(self):
        self.tick_summaries = _TickSummaries(_TICK_VALUES + (_AUGMENT_VALUES if self.aug is not None else []))

    def open_logs(self, G, D, last_snapshot, earlier_seconds):
        print("Initializing logs...")
        if self.is_chief:
            self.summary_log = tf.summary.FileWriter(dnnlib.make_run_dir_path())
            if self.args.save_tf_graph:
                self.summary_log.add_graph(tf.get_default_graph())
        if self.args.save_weight_histograms:
            G.setup_weight_histograms()
            D.setup_weight_histograms()
        if self.args.metric_arg_list and self.is_chief:
            from metrics import metric_base  # pylint: disable=import-outside-toplevel
            self.metric_group = metric_base.MetricGroup(self.args.metric_arg_list)
        self.last_snapshot = last_snapshot
        self.earlier_seconds = earlier_seconds
        self.run_start = self.tick_start = time.time()
        self.maintenance_time = 0.0

    def check_finite(self, name, value, cur_nimg):
        if not np.isfinite(value):
            message = ("training: the %s loss became %s at kimg %.3f; stopping. The last good snapshot is %s"
                       % (name, value, cur_nimg / 1000.0, self.last_snapshot or "(none written yet)"))
            print(message, flush=True)
            raise TrainingDivergedError(message)

    def tick(self, state, sched, done, nets, state_vars):
        tick_end = time.time()
        tick_seconds = tick_end - self.tick_start
        tick_kimg = (state.cur_nimg - state.tick_start_nimg) / 1000.0
        state.cur_tick += 1
        state.tick_start_nimg = state.cur_nimg
        state.total_time = tick_end - self.run_start + self.earlier_seconds
        self._report(state, sched, tick_seconds, tick_kimg)
        if self.is_chief:
            self._snapshots(state, sched, done, nets, state_vars)
            if self.metric_group is not None:
                self.metric_group.update_autosummaries()
            tflib.autosummary.save_summaries(self.summary_log, state.cur_nimg)
            self.summary_log.flush()
        self.run_context.update("%.2f" % sched.lod, cur_epoch=state.cur_nimg // 1000, max_epoch=self.args.total_kimg)
        self.tick_start = time.time()
        self.maintenance_time = self.tick_start - tick_end

    def _report(self, state, sched, tick_seconds, tick_kimg):
        total = state.total_time
        values = dict(zip(_TICK_VALUES, [
            state.cur_tick, state.cur_nimg / 1000.0, sched.lod, sched.minibatch_size, total, tick_seconds,
            tick_seconds / max(tick_kimg, 1e-8), self.maintenance_time, tflib.tfutil.peak_gpu_mem_gb(), total / 3600.0,
            total / 86400.0]))
        augment = ""
        if self.aug is not None:
            values.update(zip(_AUGMENT_VALUES, [self.aug.strength, self.aug.last_rt]))
            augment = " augment %.3f rt %.3f" % (self.aug.strength, self.aug.last_rt)
        if self.is_chief:
            self.tick_summaries.add(values)
        print("tick %-5d kimg %-8.1f lod %-5.2f minibatch %-4d time %-12s sec/tick %-7.1f sec/kimg %-7.2f "
              "maintenance %-6.1f gpumem %.1f%s" % (
                  state.cur_tick, state.cur_nimg / 1000.0, sched.lod, sched.minibatch_size,
                  dnnlib.util.format_time(total), tick_seconds, values["Timing/sec_per_kimg"],
                  self.maintenance_time, values["Resources/peak_gpu_mem_gb"], augment), flush=True)

    def _snapshots(self, state, sched, done, nets, state_vars):
        def due(every):
            return every is not None and (state.cur_tick % every == 0 or done)
        kimg = state.cur_nimg // 1000
        if due(self.args.image_snapshot_ticks):
            self._save_fakes(nets[2], "fakes%06d.png" % kimg, sched.minibatch_gpu)
        if not due(self.args.network_snapshot_ticks):
            return
        pkl = dnnlib.make_run_dir_path("network-snapshot-%06d.pkl" % kimg)
        misc.save_pkl(nets, pkl)
        state.save(resume.state_file_for_snapshot(pkl), state_vars)
        self.last_snapshot = pkl
        if self.metric_group is not None:
            self._run_metrics(pkl, kimg, done)

    def _run_metrics(self, pkl, kimg, done):
        """Evaluate the metrics on snapshot `pkl`; one that fails (an unreachable feature network, ...) is
        reported in one line and tried again at the next snapshot, and training goes on."""
        data_dir = self.args.data_dir
        failures = self.metric_group.run_each(pkl, run_dir=dnnlib.make_run_dir_path(),
                                              data_dir=dnnlib.convert_path(data_dir) if data_dir else None,
                                              num_gpus=self.num_gpus, tf_config=self.args.tf_config)
        then = "run_metrics.py can evaluate the snapshot later" if done else ("training continues, retried at "
                                                                               "the next snapshot")
        for name, reason in failures:
            print("metric %s failed at kimg %d: %s; %s" % (name, kimg, reason, then), flush=True)

    def finish(self, nets, state, state_vars):
        """network-final.pkl and its state file: after abort.txt, a resume continues from where the run stopped."""
        if self.is_chief:
            state.total_time = time.time() - self.run_start + self.earlier_seconds
            pkl = dnnlib.make_run_dir_path(resume.FINAL_NAME)
            misc.save_pkl(nets, pkl)
            state.save(resume.state_file_for_snapshot(pkl), state_vars)
            self.summary_log.close()


_TICK_VALUES = ["Progress/tick", "Progress/kimg", "Progress/lod", "Progress/minibatch", "Timing/total_sec",
                "Timing/sec_per_tick", "Timing/sec_per_kimg", "Timing/maintenance_sec", "Resources/peak_gpu_mem_gb",
                "Timing/total_hours", "Timing/total_days"]
_AUGMENT_VALUES = ["Progress/augment", "Progress/rt"]  # p and the r_t of its latest adjustment.


class _TickSummaries:
    """The per-tick autosummaries, fed through one placeholder and added by one session.run.

    Handing Python numbers to `autosummary` one at a time would cost each of them a new session
    signature on its first tick, about a second apiece in a large training graph.
    """

    def __init__(self, names):
        self.names = list(names)
        with tf.name_scope("TickSummaries"), tf.device("/cpu:0"):
            self.values_in = tf.placeholder(tf.float64, [len(self.names)], name="values_in")
            self.update_op = tf.group(*[autosummary(name, self.values_in[i]) for i, name in enumerate(self.names)])

    def add(self, values):
        tflib.run(self.update_op, {self.values_in: [float(values[name]) for name in self.names]})
