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
from training import misc

# The official LPIPS network (VGG16 features with learned linear heads, Zhang et al. 2018) as a Network
# pickle that embeds its own build code.
LPIPS_FILE = "vgg16_zhang_perceptual.pkl"
LPIPS_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/" + LPIPS_FILE
LPIPS_RESOLUTION = 256  # Larger images are box-downsampled to this size before the distance.

_distance_net_cache = {}  # (path or URL, graph) -> Network


# ------------------------------------------------------------------------------------------------------
# Schedules (t = step / num_steps in [0, 1]).

def learning_rate_at(t, initial_learning_rate=0.1, lr_rampdown_length=0.25, lr_rampup_length=0.05):
    """Linear ramp-up over the first `lr_rampup_length`, cosine ramp-down over the last `lr_rampdown_length`."""
    lr_ramp = min(1.0, (1.0 - t) / lr_rampdown_length)
    lr_ramp = 0.5 - 0.5 * np.cos(lr_ramp * np.pi)
    lr_ramp = lr_ramp * min(1.0, t / lr_rampup_length)
    return initial_learning_rate * lr_ramp


def noise_strength_at(t, w_std, initial_noise_factor=0.05, noise_ramp_length=0.75):
    """Std of the Gaussian noise added to w: quadratic decay to zero at t = `noise_ramp_length`."""
    return w_std * initial_noise_factor * max(0.0, 1.0 - t / noise_ramp_length) ** 2


# ------------------------------------------------------------------------------------------------------
# Distance networks.

def default_lpips_location():
    """$STYLEGAN2_METRICS_DIR/vgg16_zhang_perceptual.pkl if that variable is set (as for the metrics), else
    the official URL."""
    from metrics import metric_base  # pylint: disable=import-outside-toplevel
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


def downsample_to(images, resolution):
    """Box-downsample [N, C, H, W] images (NumPy or TF) by the integer factor H // resolution, if above 1."""
    _, channels, height, width = [int(d) for d in images.shape]
    factor = height // resolution
    if factor <= 1:
        return images
    shape = [-1, channels, height // factor, factor, width // factor, factor]
    if isinstance(images, np.ndarray):
        return images.reshape(shape).mean(axis=(3, 5))
    return tf.reduce_mean(tf.reshape(images, shape), axis=[3, 5])


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


# ------------------------------------------------------------------------------------------------------

class Projector:
    """Latent projection of target images; see the module docstring.

    Every attribute can be changed before `set_network` (or given to the constructor):
        num_steps, dlatent_avg_samples, initial_learning_rate, initial_noise_factor, lr_rampdown_length,
        lr_rampup_length, noise_ramp_length, regularize_noise_weight, verbose, clone_net: as the official.
        w_plus:       optimise one w per layer ([1, num_layers, C]) instead of one shared w ([1, 1, C]).
        distance_net: None (the official LPIPS pickle, see `default_lpips_location`), a path or URL of a
                      distance-network pickle, or a Network taking two image batches [N, C, H, W] in
                      [0, 255] and returning distances [N].
    """

    def __init__(self, **kwargs):
        self.num_steps = 1000
        self.dlatent_avg_samples = 10000
        self.initial_learning_rate = 0.1
        self.initial_noise_factor = 0.05
        self.lr_rampdown_length = 0.25
        self.lr_rampup_length = 0.05
        self.noise_ramp_length = 0.75
        self.regularize_noise_weight = 1e5
        self.verbose = False
        self.clone_net = True
        self.w_plus = False
        self.distance_net = None
        for name, value in kwargs.items():
            if not hasattr(self, name):
                raise TypeError("Projector has no attribute %r" % name)
            setattr(self, name, value)

        self._Gs = None
        self._minibatch_size = None
        self._dlatent_avg = None
        self._dlatent_std = None
        self._noise_vars = None
        self._noise_init_op = None
        self._noise_normalize_op = None
        self._dlatents_var = None
        self._noise_in = None
        self._dlatents_expr = None
        self._images_expr = None
        self._target_images_var = None
        self._distance = None
        self._dist = None
        self._loss = None
        self._lpips_resolution = None
        self._lrate_in = None
        self._opt = None
        self._opt_step = None
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
        self._distance = self._load_distance_net()  # First: a missing LPIPS file fails before any work.
        if self.clone_net:
            self._Gs = self._Gs.clone()
        mapping = self._Gs.components.mapping
        synthesis = self._Gs.components.synthesis
        num_layers = synthesis.input_shape[1]

        # Statistics of W (layer 0 of the mapping output): mean [1, 1, C] and one overall std.
        self._info("Finding W midpoint and stddev using %d samples..." % self.dlatent_avg_samples)
        latents = np.random.RandomState(123).randn(self.dlatent_avg_samples, *self._Gs.input_shape[1:])
        labels = None
        label_size = self._Gs.input_shapes[1][1]
        if label_size > 0:
            # Conditional networks: the statistics cover every class alike. The projection itself is
            # in W, which the synthesis network turns into an image without a label.
            labels = np.eye(label_size, dtype=np.float32)[np.arange(self.dlatent_avg_samples) % label_size]
        dlatents = mapping.run(latents, labels)[:, :1, :].astype(np.float32)  # [N, 1, C]
        self._dlatent_avg = np.mean(dlatents, axis=0, keepdims=True)  # [1, 1, C]
        self._dlatent_std = float(np.sqrt(np.sum((dlatents - self._dlatent_avg) ** 2) / self.dlatent_avg_samples))
        self._info("std = %g" % self._dlatent_std)

        # The noise inputs noise0, noise1, ... of the synthesis network are optimised too.
        self._info("Setting up noise inputs...")
        self._noise_vars = []
        while "noise%d" % len(self._noise_vars) in synthesis.vars:
            self._noise_vars.append(synthesis.vars["noise%d" % len(self._noise_vars)])
        init_ops = []
        normalize_ops = []
        for var in self._noise_vars:
            init_ops.append(tf.assign(var, tf.random_normal(tf.shape(var), dtype=tf.float32)))
            mean = tf.reduce_mean(var)
            std = tf.reduce_mean((var - mean) ** 2) ** 0.5
            normalize_ops.append(tf.assign(var, (var - mean) / std))
        self._noise_init_op = tf.group(*init_ops)
        self._noise_normalize_op = tf.group(*normalize_ops)

        # Images of the (perturbed) dlatents, with the stored noise maps.
        self._info("Building image output graph...")
        num_ws = num_layers if self.w_plus else 1
        self._dlatents_var = tf.Variable(tf.zeros([minibatch_size, num_ws, self._dlatent_avg.shape[2]]),
                                         name="dlatents_var")
        self._noise_in = tf.placeholder(tf.float32, [], name="noise_in")
        dlatents_noise = tf.random_normal(shape=self._dlatents_var.shape) * self._noise_in
        self._dlatents_expr = tf.tile(self._dlatents_var + dlatents_noise, [1, num_layers // num_ws, 1])
        self._images_expr = tf.cast(synthesis.get_output_for(self._dlatents_expr, randomize_noise=False), tf.float32)

        # The distance on [0, 255] images of at most 256x256 pixels.
        proc_images_expr = (self._images_expr + 1) * (255 / 2)
        proc_images_expr = downsample_to(proc_images_expr, LPIPS_RESOLUTION)
        self._lpips_resolution = LPIPS_RESOLUTION

        self._info("Building loss graph...")
        self._target_images_var = tf.Variable(tf.zeros(proc_images_expr.shape), name="target_images_var")
        self._dist = self._distance.get_output_for(proc_images_expr, self._target_images_var)
        self._loss = tf.reduce_sum(self._dist)

        self._info("Building noise regularization graph...")
        reg_loss = tf.add_n([noise_regularization(var) for var in self._noise_vars]) if self._noise_vars else 0.0
        self._loss += reg_loss * self.regularize_noise_weight

        self._info("Setting up optimizer...")
        self._lrate_in = tf.placeholder(tf.float32, [], name="lrate_in")
        self._opt = tflib.Optimizer(learning_rate=self._lrate_in, beta1=0.9, beta2=0.999, epsilon=1e-8)
        self._opt.register_gradients(self._loss, [self._dlatents_var] + self._noise_vars)
        self._opt_step = self._opt.apply_updates()
        tflib.init_uninitialized_vars()  # Ours, Adam's and the optimizer's autosummary accumulators.
        self._opt.reset_optimizer_state()

    def _load_distance_net(self):
        if isinstance(self.distance_net, tflib.Network):
            return self.distance_net
        return load_distance_net(self.distance_net or default_lpips_location())

    def run(self, target_images):
        """Project target images [1, C, H, W] in [-1, 1]; returns EasyDict(dlatents, noises, images)."""
        self.start(target_images)
        while self._cur_step < self.num_steps:
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
        self._info("Preparing target images...")
        target_images = downsample_to((target_images + 1) * (255 / 2), self._lpips_resolution)

        self._info("Initializing optimization state...")
        num_ws = int(self._dlatents_var.shape[1])
        tflib.set_vars({self._target_images_var: target_images,
                        self._dlatents_var: np.tile(self._dlatent_avg, [self._minibatch_size, num_ws, 1])})
        tflib.run(self._noise_init_op)
        self._opt.reset_optimizer_state()
        self._cur_step = 0
        self.history = []

    def step(self):
        """One Adam step with the scheduled learning rate and w noise, then renormalise the noise maps."""
        assert self._cur_step is not None, "Projector: call start() first"
        if self._cur_step >= self.num_steps:
            return
        if self._cur_step == 0:
            self._info("Running...")

        t = self._cur_step / self.num_steps
        noise_strength = noise_strength_at(t, self._dlatent_std, self.initial_noise_factor, self.noise_ramp_length)
        learning_rate = learning_rate_at(t, self.initial_learning_rate, self.lr_rampdown_length, self.lr_rampup_length)

        feed_dict = {self._noise_in: noise_strength, self._lrate_in: learning_rate}
        _, dist_value, loss_value = tflib.run([self._opt_step, self._dist, self._loss], feed_dict)
        tflib.run(self._noise_normalize_op)

        self._cur_step += 1
        self.history.append(dnnlib.EasyDict(step=self._cur_step, learning_rate=learning_rate,
                                            noise_strength=noise_strength, distance=float(np.sum(dist_value)),
                                            loss=float(loss_value)))
        if self.verbose and (self._cur_step == self.num_steps or self._cur_step % 10 == 0):
            print("%-8d%-12g%-12g" % (self._cur_step, np.sum(dist_value), loss_value))
        if self._cur_step == self.num_steps:
            self._info("Done.")

    def get_cur_step(self):
        return self._cur_step

    def get_dlatents(self):
        """The projected dlatents [1, num_layers, C] (without the w noise)."""
        return tflib.run(self._dlatents_expr, {self._noise_in: 0})

    def get_noises(self):
        """The noise maps, a list of [1, 1, H, W] arrays (noise0, noise1, ...)."""
        return tflib.run(self._noise_vars)

    def get_images(self):
        """The current images [1, C, H, W] in [-1, 1] (without the w noise)."""
        return tflib.run(self._images_expr, {self._noise_in: 0})
