"""Project images into the latent space of a StyleGAN2 generator (the paper's Section 5 projector).

The projector searches for a dlatent w (one vector shared by all layers, or with `w_plus` one per layer)
and the generator's noise maps such that the generated image is close to a target image under a
perceptual distance (LPIPS by default):

    loss = sum(LPIPS(G(w + n, noise), target)) + 1e5 * sum over noise maps and scales of their
           squared autocorrelation at a one-pixel shift (keeps the noise maps from encoding the image)

w starts at the average dlatent; Gaussian noise n of decreasing strength is added to w during the first
75% of the steps; Adam's learning rate ramps up over the first 5% of the steps and down (cosine) over the
last 25%; after each step every noise map is renormalised to zero mean and unit variance.

    proj = Projector()
    proj.set_network(Gs)
    result = proj.run(target_images)  # [1, C, H, W] in [-1, 1] -> EasyDict(dlatents, noises, images)
"""

import numpy as np

import dnnlib
import dnnlib.tflib as tflib  # Before TensorFlow: it sets TensorFlow's oneDNN option (NCHW on CPU).
import tensorflow.compat.v1 as tf
from metrics import metric_base
from training import misc

# The official LPIPS network (VGG16 features with learned linear heads, Zhang et al. 2018) as a Network
# pickle that embeds its own build code.
LPIPS_FILE = "vgg16_zhang_perceptual.pkl"
LPIPS_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/" + LPIPS_FILE
LPIPS_RESOLUTION = metric_base.FEATURE_NET_RESOLUTION  # Larger images are box-filtered down to this size.

_distance_net_cache = {}  # (path or URL, graph) -> Network


# ------------------------------------------------------------------------------------------------------
# Schedules (t = step / num_steps in [0, 1]).

def learning_rate_at(t, initial_learning_rate=0.1, lr_rampdown_length=0.25, lr_rampup_length=0.05):
    """Linear ramp-up over the first `lr_rampup_length`, cosine ramp-down over the last `lr_rampdown_length`."""
    ramp_up = min(1.0, t / lr_rampup_length)
    steps_left = min(1.0, (1.0 - t) / lr_rampdown_length)  # 1 until the ramp-down starts, then falls to 0.
    ramp_down = 0.5 - 0.5 * np.cos(np.pi * steps_left)
    return initial_learning_rate * (ramp_down * ramp_up)


def noise_strength_at(t, w_std, initial_noise_factor=0.05, noise_ramp_length=0.75):
    """Std of the Gaussian noise added to w: quadratic decay to zero at t = `noise_ramp_length`."""
    return w_std * initial_noise_factor * max(0.0, 1.0 - t / noise_ramp_length) ** 2


# ------------------------------------------------------------------------------------------------------
# Distance networks.

def default_lpips_location():
    """$STYLEGAN2_METRICS_DIR/vgg16_zhang_perceptual.pkl if that variable is set (as for the metrics), else
    the official URL."""
    return metric_base.feature_net_url(LPIPS_FILE)


def load_distance_net(path_or_url):
    """Load a distance-network pickle (the official LPIPS one by default) into the current graph, once.

    The official LPIPS pickle is built by the code it embeds, so it is loaded with code execution allowed:
    only point this at files you trust. Raises misc.NetworkPickleError with a one-line message.
    """
    key = (path_or_url, tf.get_default_graph())
    if key in _distance_net_cache:
        return _distance_net_cache[key]
    try:
        net = misc.load_pkl(path_or_url, allow_code_execution=True)
    except misc.NetworkPickleError as e:
        if dnnlib.util.is_url(path_or_url):  # http(s): the download failed.
            raise misc.NetworkPickleError(
                "%s; the projector needs this LPIPS network: download it where you can and pass its local "
                "path with --lpips-pkl=PATH (Projector(distance_net=PATH)) or set $STYLEGAN2_METRICS_DIR to "
                "its folder" % e) from None
        raise
    if not isinstance(net, tflib.Network):
        raise misc.NetworkPickleError("%s: expected a pickled distance network (one Network), got %s"
                                      % (path_or_url, type(net).__name__))
    if net.num_inputs != 2:
        raise misc.NetworkPickleError("%s: a distance network takes two image batches, this one takes %d inputs"
                                      % (path_or_url, net.num_inputs))
    _distance_net_cache[key] = net
    return net


# ------------------------------------------------------------------------------------------------------
# Noise maps.

def noise_regularization(noise_map):
    """Sum over scales of the squared autocorrelation of a [1, 1, H, W] map at one-pixel shifts (x and y).

    Scales: the map, then repeated 2x2 average pooling while the size is above 8 (the last term at 8x8).
    """
    total = 0.0
    size = int(noise_map.shape[2])
    while True:
        total += tf.reduce_mean(noise_map * tf.roll(noise_map, shift=1, axis=3)) ** 2
        total += tf.reduce_mean(noise_map * tf.roll(noise_map, shift=1, axis=2)) ** 2
        if size <= 8:
            return total
        noise_map = tf.reduce_mean(tf.reshape(noise_map, [1, 1, size // 2, 2, size // 2, 2]), axis=[3, 5])
        size //= 2


def noise_map_ops(noise_vars):
    """(op drawing every map from N(0, 1), op rescaling every map to zero mean and unit variance)."""
    redraws, rescales = [], []
    for var in noise_vars:
        redraws.append(tf.assign(var, tf.random_normal(tf.shape(var), dtype=tf.float32)))
        centered = var - tf.reduce_mean(var)
        rescales.append(tf.assign(var, centered / tf.reduce_mean(centered ** 2) ** 0.5))
    return tf.group(*redraws), tf.group(*rescales)


def synthesis_noise_vars(synthesis):
    """The variables noise0, noise1, ... of a synthesis network, in that order, up to the first missing."""
    found = []
    for index in range(len(synthesis.vars) + 1):
        var = synthesis.vars.get("noise%d" % index)
        if var is None:
            return found
        found.append(var)
    return found


# ------------------------------------------------------------------------------------------------------

class Projector:
    """Latent projection of target images; see the module docstring.

    Every setting in `SETTINGS` is an attribute that can be changed before `set_network` (or given to the
    constructor); the defaults are the paper's. Besides the schedule lengths and factors:
        verbose:      print progress.
        clone_net:    work on a copy of Gs (its noise variables are overwritten otherwise).
        w_plus:       optimise one w per layer ([1, num_layers, C]) instead of one shared w ([1, 1, C]).
        distance_net: None (the official LPIPS pickle, see `default_lpips_location`), a path or URL of a
                      distance-network pickle, or a Network taking two image batches [N, C, H, W] in
                      [0, 255] and returning distances [N].
    """

    SETTINGS = dict(
        num_steps=1000,
        dlatent_avg_samples=10000,
        initial_learning_rate=0.1,
        initial_noise_factor=0.05,
        lr_rampdown_length=0.25,
        lr_rampup_length=0.05,
        noise_ramp_length=0.75,
        regularize_noise_weight=1e5,
        verbose=False,
        clone_net=True,
        w_plus=False,
        distance_net=None,
    )

    def __init__(self, **settings):
        unknown = [name for name in settings if name not in self.SETTINGS]
        if unknown:
            raise TypeError("Projector has no attribute %r" % unknown[0])
        for name, default in self.SETTINGS.items():
            setattr(self, name, settings.get(name, default))
        self._Gs = None
        self._minibatch_size = None
        self._graph = None  # The projection graph's variables, placeholders and ops (see `_build_graph`).
        self._dlatent_avg = None  # [1, 1, C]: the mean of W, where w starts.
        self._dlatent_std = None  # The overall std of W, which scales the noise added to w.
        self._cur_step = None
        self.history = []  # One EasyDict(step, learning_rate, noise_strength, distance, loss) per step.

    def _info(self, *args):
        if self.verbose:
            print("Projector:", *args)

    def set_network(self, Gs, minibatch_size=1):
        """Build the projection graph for generator `Gs` (a G_main Network with mapping and synthesis)."""
        if minibatch_size != 1:
            raise ValueError("Projector supports minibatch_size=1 only, got %d" % minibatch_size)
        self._Gs = Gs
        self._minibatch_size = minibatch_size
        if Gs is None:
            return
        distance_net = self._load_distance_net()  # First: a missing LPIPS file fails before any work.
        if self.clone_net:
            self._Gs = self._Gs.clone()
        self._info("Finding W midpoint and stddev using %d samples..." % self.dlatent_avg_samples)
        self._dlatent_avg, self._dlatent_std = self._w_statistics()
        self._info("std = %g" % self._dlatent_std)
        self._graph = self._build_graph(distance_net)
        tflib.init_uninitialized_vars()  # Ours, Adam's and the optimizer's autosummary accumulators.
        self._graph.opt.reset_optimizer_state()

    def _load_distance_net(self):
        if isinstance(self.distance_net, tflib.Network):
            return self.distance_net
        return load_distance_net(self.distance_net or default_lpips_location())

    def _w_statistics(self):
        """(mean [1, 1, C], overall std) of layer 0 of the mapping output over `dlatent_avg_samples` latents
        from RandomState(123)."""
        count = self.dlatent_avg_samples
        latents = np.random.RandomState(123).randn(count, *self._Gs.input_shape[1:])
        num_classes = self._Gs.input_shapes[1][1]
        labels = None
        if num_classes > 0:
            # Every class alike. Only these statistics need labels: the projection itself is in W, which the
            # synthesis network turns into an image without one.
            labels = np.eye(num_classes, dtype=np.float32)[np.arange(count) % num_classes]
        w = self._Gs.components.mapping.run(latents, labels)[:, :1, :].astype(np.float32)  # [N, 1, C]
        w_avg = np.mean(w, axis=0, keepdims=True)
        return w_avg, float(np.sqrt(np.sum((w - w_avg) ** 2) / count))

    def _build_graph(self, distance_net):
        """The variables (w, target), placeholders (noise_in, lrate_in) and ops of the optimisation."""
        synthesis = self._Gs.components.synthesis
        num_layers = synthesis.input_shape[1]
        g = dnnlib.EasyDict(distance_net=distance_net)

        self._info("Setting up noise inputs...")
        g.noise_vars = synthesis_noise_vars(synthesis)
        g.noise_init_op, g.noise_normalize_op = noise_map_ops(g.noise_vars)

        self._info("Building image output graph...")
        num_ws = num_layers if self.w_plus else 1
        g.dlatents_var = tf.Variable(tf.zeros([self._minibatch_size, num_ws, self._dlatent_avg.shape[2]]),
                                     name="dlatents_var")
        g.noise_in = tf.placeholder(tf.float32, [], name="noise_in")
        w_noise = g.noise_in * tf.random_normal(shape=g.dlatents_var.shape)
        g.dlatents = tf.tile(g.dlatents_var + w_noise, [1, num_layers // num_ws, 1])
        g.images = tf.cast(synthesis.get_output_for(g.dlatents, randomize_noise=False), tf.float32)

        self._info("Building loss graph...")
        g.resolution = LPIPS_RESOLUTION
        compared = metric_base.downsample_for_feature_net((g.images + 1) * (255 / 2), g.resolution)
        g.target_images_var = tf.Variable(tf.zeros(compared.shape), name="target_images_var")
        g.dist = distance_net.get_output_for(compared, g.target_images_var)
        g.loss = tf.reduce_sum(g.dist)

        self._info("Building noise regularization graph...")
        if g.noise_vars:
            g.loss += self.regularize_noise_weight * tf.add_n([noise_regularization(var) for var in g.noise_vars])

        self._info("Setting up optimizer...")
        g.lrate_in = tf.placeholder(tf.float32, [], name="lrate_in")
        g.opt = tflib.Optimizer(learning_rate=g.lrate_in, beta1=0.9, beta2=0.999, epsilon=1e-8)
        g.opt.register_gradients(g.loss, [g.dlatents_var] + g.noise_vars)
        g.opt_step = g.opt.apply_updates()
        return g

    def run(self, target_images):
        """Project target images [1, C, H, W] in [-1, 1]; returns EasyDict(dlatents, noises, images)."""
        self.start(target_images)
        for _ in range(self.num_steps):
            self.step()
        return dnnlib.EasyDict(dlatents=self.get_dlatents(), noises=self.get_noises(), images=self.get_images())

    def start(self, target_images):
        """Set the target [1, C, H, W] in [-1, 1]; reset w to the W average, the noise maps, Adam and the step."""
        assert self._Gs is not None, "Projector: call set_network() first"
        target_images = np.asarray(target_images, dtype=np.float32)
        expected = [self._minibatch_size] + self._Gs.output_shape[1:]
        if list(target_images.shape) != expected:
            raise ValueError("Projector: target images must be %s (NCHW in [-1, 1]), got %s"
                             % (expected, list(target_images.shape)))
        g = self._graph
        self._info("Preparing target images...")
        target = metric_base.downsample_for_feature_net((target_images + 1) * (255 / 2), g.resolution)

        self._info("Initializing optimization state...")
        w_start = np.tile(self._dlatent_avg, [self._minibatch_size, int(g.dlatents_var.shape[1]), 1])
        tflib.set_vars({g.target_images_var: target, g.dlatents_var: w_start})
        tflib.run(g.noise_init_op)
        g.opt.reset_optimizer_state()
        self.history = []
        self._cur_step = 0

    def step(self):
        """One Adam step with the scheduled learning rate and w noise, then renormalise the noise maps."""
        assert self._cur_step is not None, "Projector: call start() first"
        if self._cur_step >= self.num_steps:
            return
        if self._cur_step == 0:
            self._info("Running...")
        g = self._graph
        t = self._cur_step / self.num_steps
        record = dnnlib.EasyDict(
            step=self._cur_step + 1,
            learning_rate=learning_rate_at(t, self.initial_learning_rate, self.lr_rampdown_length,
                                           self.lr_rampup_length),
            noise_strength=noise_strength_at(t, self._dlatent_std, self.initial_noise_factor,
                                             self.noise_ramp_length))
        fetched = tflib.run(dict(update=g.opt_step, dist=g.dist, loss=g.loss),
                            {g.noise_in: record.noise_strength, g.lrate_in: record.learning_rate})
        tflib.run(g.noise_normalize_op)
        record.distance = float(np.sum(fetched["dist"]))
        record.loss = float(fetched["loss"])
        self.history.append(record)
        self._cur_step = record.step
        if self.verbose and (record.step == self.num_steps or record.step % 10 == 0):
            print("%-8d%-12g%-12g" % (record.step, np.sum(fetched["dist"]), fetched["loss"]))
        if record.step == self.num_steps:
            self._info("Done.")

    def get_cur_step(self):
        """Steps taken since `start` (None before it)."""
        return self._cur_step

    def _run_without_w_noise(self, fetches):
        return tflib.run(fetches, {self._graph.noise_in: 0})

    def get_dlatents(self):
        """The projected dlatents [1, num_layers, C] (without the w noise)."""
        return self._run_without_w_noise(self._graph.dlatents)

    def get_noises(self):
        """The noise maps, a list of [1, 1, H, W] arrays (noise0, noise1, ...)."""
        return tflib.run(self._graph.noise_vars)

    def get_images(self):
        """The current images [1, C, H, W] in [-1, 1] (without the w noise)."""
        return self._run_without_w_noise(self._graph.images)
