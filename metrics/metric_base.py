"""The common machinery of all metrics: loading the network pickle into a fresh graph, real images,
the real-statistics cache, feature-network pickles, progress bars and the result lines.

A metric subclasses `MetricBase` and implements `_evaluate(Gs, Gs_kwargs, num_gpus)`, calling
`_report_result(value, suffix)` for each number it produces. `MetricGroup` runs a list of metrics, as the
training loop does at every network snapshot.
"""

import collections
import hashlib
import io
import os
import sys
import time

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

import dnnlib
from dnnlib.tflib import autosummary
from training import dataset as dataset_module
from training import misc

# Where the official feature-network pickles live. A user with local copies points the metrics at them
# with $STYLEGAN2_METRICS_DIR (a folder or a URL prefix holding files of the same names) or with the
# metric argument `feature_net_url=`.
OFFICIAL_NETWORKS_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/"
METRICS_DIR_ENV = "STYLEGAN2_METRICS_DIR"
FEATURE_NET_RESOLUTION = 256  # The largest images the LPIPS network and the attribute classifiers are given.

# Feature networks of this project, shipped in networks/ (no download), by the name metrics take as
# `feature_net=`: (what, default path, the static kwargs that make the classifier output its feature layer).
_REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_FEATURE_NETS = {
    "fmnist": ("the Fashion-MNIST classifier", os.path.join(_REPO_DIR, "networks", "fmnist-classifier.pkl"),
               dict(return_features=True)),
}


class MetricError(Exception):
    """A metric cannot run as asked (the message names the file or argument and the problem in one line)."""


# ------------------------------------------------------------------------------------------------------
# Feature networks.

def feature_net_url(file_name, override=None):
    """Where to load the feature network `file_name` (e.g. 'inception_v3_features.pkl') from.

    In order: `override` (a path or URL given to the metric), `$STYLEGAN2_METRICS_DIR/<file_name>` (a local
    folder or a URL prefix such as file:///data/metrics/), else the official download URL.
    """
    if override:
        return override
    metrics_dir = os.environ.get(METRICS_DIR_ENV)
    if metrics_dir:
        if dnnlib.util.is_url(metrics_dir, allow_file_urls=True):
            return metrics_dir.rstrip("/") + "/" + file_name
        return os.path.join(metrics_dir, file_name)
    return OFFICIAL_NETWORKS_URL + file_name


def load_feature_net(url, allow_code_execution=True):
    """Load a feature-network pickle (a single Network) in the current graph.

    The official feature networks (Inception, VGG16, LPIPS, the CelebA-HQ classifiers) are built by the
    module source embedded in their pickles, which this project does not implement, so the source is
    executed: only load feature networks you trust. This project's own (LOCAL_FEATURE_NETS) load with
    allow_code_execution=False. http(s) downloads are cached in $STYLEGAN2_CACHE_DIR or .stylegan2-cache.
    """
    net = misc.load_pkl(url, allow_code_execution=allow_code_execution)
    if not isinstance(net, tflib.Network):
        raise MetricError("%s: expected a pickled feature network (one Network), got %s" % (url, type(net).__name__))
    return net


def feature_net_identity(url):
    """A short string that changes when the feature network changes: the URL, plus content md5 for local files."""
    local_path = None
    if not dnnlib.util.is_url(url, allow_file_urls=False):
        try:
            local_path = dnnlib.util.open_url(url, return_filename=True)
        except (OSError, ValueError):
            local_path = None
    if local_path is not None and os.path.isfile(local_path):
        return "%s md5=%s" % (url, dnnlib.util.file_md5(local_path))
    return url


def feature_net_problem(url, skip_hint="use --metrics=none"):
    """None if the feature network at `url` can be had now, else why not and what to do, as the end of a
    sentence that starts "metric X needs <the network> (<url>)". A local file must exist; an http(s) URL must
    be in the download cache or answer a probe (`dnnlib.util.probe_url`: errors that will not pass fail at
    once). skip_hint: how the user does without the metric."""
    if not dnnlib.util.is_url(url, allow_file_urls=False):
        try:
            path = dnnlib.util.open_url(url, return_filename=True)
        except ValueError as e:
            return "which cannot be read (%s); %s" % (e, skip_hint)
        return None if os.path.isfile(path) else "which does not exist; %s or put the file there" % skip_hint
    cache_dir = dnnlib.util.default_cache_dir()
    if dnnlib.util.find_in_cache(url, cache_dir) is not None:
        return None
    reason = dnnlib.util.probe_url(url)
    if reason is None:
        return None
    file_name = os.path.basename(url.split("?")[0]) or "network.pkl"
    return ("which is not in the cache (%s) and cannot be downloaded (%s); %s, put a copy in the cache as %s, "
            "or set STYLEGAN2_CACHE_DIR to a cache that has it (or %s to a folder of the feature networks)"
            % (cache_dir, reason, skip_hint, os.path.join(cache_dir, dnnlib.util.cache_file_prefix(url) + file_name),
               METRICS_DIR_ENV))


def check_feature_nets(metrics, skip_hint="use --metrics=none"):
    """Raise MetricError (one line) unless every feature network the metrics need can be had now (see
    `feature_net_problem`), so that a long run does not find out at its first snapshot.

    metrics: names from `metric_defaults` or dicts of metric arguments (func_name=..., name=...).
    skip_hint: how the user does without the metric, for the message.
    """
    from metrics.metric_defaults import metric_defaults  # pylint: disable=import-outside-toplevel
    problems = {}  # url -> problem; several metrics share the Inception network.
    for entry in metrics:
        metric = dnnlib.util.call_func_by_name(**(metric_defaults[entry] if isinstance(entry, str) else entry))
        for what, url in metric.feature_nets():
            if url not in problems:
                problems[url] = feature_net_problem(url, skip_hint)
            if problems[url] is not None:
                raise MetricError("metric %s needs %s (%s), %s" % (metric.name, what, url, problems[url]))


def failure_reason(error, max_length=300):
    """The reason a metric failed, as one line of at most `max_length` characters."""
    if isinstance(error, (MetricError, misc.NetworkPickleError, dnnlib.util.DownloadError)):
        text = " ".join(str(error).split())  # These name the file and the problem already.
    else:
        text = dnnlib.util.error_line(error)
    return text if len(text) <= max_length else text[:max_length - 3] + "..."


def downsample_for_feature_net(images, max_resolution=FEATURE_NET_RESOLUTION):
    """Box-filter square images [N, C, H, W] (NumPy or TF) down by the integer factor H // max_resolution;
    unchanged when that factor is 1 or less. Used on the images given to the LPIPS network (PPL, the
    projector) and to the CelebA-HQ attribute classifiers (LS), which work on images of at most 256x256."""
    _, channels, height, width = [int(d) for d in images.shape]
    factor = height // max_resolution
    if factor < 2:
        return images
    blocks = [-1, channels, height // factor, factor, width // factor, factor]
    if isinstance(images, np.ndarray):
        return images.reshape(blocks).mean(axis=(3, 5))
    return tf.reduce_mean(tf.reshape(images, blocks), axis=[3, 5])


# ------------------------------------------------------------------------------------------------------
# Progress bars.

def progress_bar(total, desc):
    """A tqdm progress bar on the console's stderr, or a silent stand-in when tqdm is missing.

    The bar is drawn at once and again after the first minibatch (which may take long: it builds the
    graph), then at most every second on a terminal, every 10 s into a file. In a run dir it stays out of
    log.txt (see `dnnlib.util.console_stream`).
    """
    try:
        from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    except ImportError:
        return _NoProgress()
    stream = dnnlib.util.console_stream(sys.stderr)
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # No isatty(), or a closed stream.
        interactive = False
    return _Progress(tqdm(total=total, desc=desc, unit="img", leave=False, file=stream,
                          mininterval=1.0 if interactive else 10.0))


class _Progress:
    """A tqdm bar that shows its first update at once, however soon it comes."""

    def __init__(self, bar):
        self.bar = bar
        self.updated = False

    def update(self, n=1):
        self.bar.update(n)
        if not self.updated:
            self.updated = True
            self.bar.refresh()

    def close(self):
        self.bar.close()


class _NoProgress:
    def update(self, n=1):
        pass

    def close(self):
        pass


# ------------------------------------------------------------------------------------------------------
# Metrics.

def clone_for_device(net, num_gpus, **overrides):
    """A copy of `net` with its own variables on the current device, as each GPU's tower needs; with one
    GPU and no overrides the network itself (building a clone costs a second graph construction)."""
    if num_gpus == 1 and not overrides:
        return net
    return net.clone(**overrides)


def on_each_gpu(num_gpus, build_tower):
    """[build_tower() with /gpu:0 as the default device, ..., the same with /gpu:<num_gpus - 1>]."""
    towers = []
    for gpu_idx in range(num_gpus):
        with tf.device("/gpu:%d" % gpu_idx):
            towers.append(build_tower())
    return towers


def run_towers(towers, num_samples, minibatch_size, desc):
    """Run the towers (one dict {key: tensor [N, ...]} per GPU, N * num_towers = minibatch_size) until
    `num_samples` rows are in, with a progress bar; returns {key: array [num_samples, ...]}."""
    pieces = collections.defaultdict(list)
    bar = progress_bar(num_samples, desc)
    num_done = 0
    while num_done < num_samples:
        for tower_result in tflib.run(towers):
            for key, value in tower_result.items():
                pieces[key].append(value)
        num_new = min(minibatch_size, num_samples - num_done)
        bar.update(num_new)
        num_done += num_new
    bar.close()
    return {key: np.concatenate(values, axis=0)[:num_samples] for key, values in pieces.items()}


def run_on_gpus(net, images, num_gpus):
    """net.run(images) split over `num_gpus` (the batch padded to a multiple of num_gpus, the padding dropped)."""
    num_images = images.shape[0]
    padding = -num_images % num_gpus
    if padding:
        images = np.concatenate([images, np.repeat(images[-1:], padding, axis=0)], axis=0)
    return net.run(images, num_gpus=num_gpus, assume_frozen=True)[:num_images]


MAX_SHARED_FAKE_BYTES = 64 << 20  # The largest feature array of generated images a MetricGroup run keeps.


class MetricBase:
    """One metric, evaluated on network pickles by `run()`; subclasses implement `_evaluate()`."""

    def __init__(self, name, feature_net=None, class_balanced=False):
        """feature_net: None = the metric's official feature network (FEATURE_NET), or the name of one of
        LOCAL_FEATURE_NETS (e.g. 'fmnist'). class_balanced: a conditional generator's image i is of class
        i mod (number of classes), so that every class comes equally often (else random dataset labels)."""
        if feature_net is not None and feature_net not in LOCAL_FEATURE_NETS:
            raise MetricError("metric %s: unknown feature_net %r (known: %s)"
                              % (name, feature_net, ", ".join(sorted(LOCAL_FEATURE_NETS))))
        self.name = name
        self.feature_net = feature_net
        self.class_balanced = class_balanced
        self._label_size = 0  # Of the generator under evaluation.
        self._reset()  # The per-evaluation state, empty until `run`.

    def run(self, network_pkl, run_dir=None, data_dir=None, dataset_args=None, mirror_augment=None, num_gpus=1,
            tf_config=None, log_results=True, Gs_kwargs=dict(is_validation=True),  # pylint: disable=dangerous-default-value
            allow_code_execution=None, shared_fakes=None):
        """Evaluate the metric on the Gs of `network_pkl` (a `(G, D, Gs)` pickle) in a fresh graph and session.

        dataset_args and mirror_augment default to those of the training run in `run_dir`
        (`submit_config.pkl`). With `log_results` the result line is printed and appended to
        `<run_dir>/metric-<name>.txt`. allow_code_execution: see `training.misc.load_pkl` (the network
        pickle loads in safe mode unless it comes from the official server). shared_fakes: a dict that the
        metrics of one `MetricGroup` run share, so that the features of generated images are computed once for
        all the metrics that ask for the same ones (see `_compute_fake_features`).
        """
        self._reset(network_pkl=network_pkl, run_dir=run_dir, data_dir=data_dir, dataset_args=dataset_args,
                    mirror_augment=mirror_augment)
        self._shared_fakes = shared_fakes
        time_begin = time.time()
        # Mirroring and KID subsets draw from NumPy's global RNG: leave it as it was, so that a training run
        # that evaluates metrics continues exactly as one resumed from the same snapshot.
        numpy_random_state = np.random.get_state()
        with tf.Graph().as_default():
            session = tflib.create_session(tf_config)
            try:
                with session.as_default():
                    Gs = self._load_generator(network_pkl, allow_code_execution=allow_code_execution)
                    self._label_size = Gs.input_shapes[1][1] if Gs.num_inputs > 1 else 0
                    self._evaluate(Gs, Gs_kwargs=dict(Gs_kwargs), num_gpus=num_gpus)
            finally:
                session.close()
                np.random.set_state(numpy_random_state)
                self._dataset_obj = None  # It belongs to the graph that just ended.
        self._eval_time = time.time() - time_begin

        if log_results:
            result_str = self.get_result_str()
            print(result_str, flush=True)
            if run_dir is not None:
                os.makedirs(run_dir, exist_ok=True)
                with open(os.path.join(run_dir, "metric-%s.txt" % self.name), "at") as f:
                    f.write(result_str + "\n")

    def _reset(self, network_pkl=None, run_dir=None, data_dir=None, dataset_args=None, mirror_augment=None):
        if dataset_args is None or mirror_augment is None:
            config_file = os.path.join(run_dir, "submit_config.pkl") if run_dir is not None else None
            if config_file is not None and os.path.isfile(config_file):
                previous = misc.parse_config_for_previous_run(run_dir)
                if dataset_args is None:
                    dataset_args = dict(previous["dataset"])
                    dataset_args["shuffle_mb"] = 0  # Reals in file order: the same images every time.
                if mirror_augment is None:
                    mirror_augment = previous["train"].get("mirror_augment", False)
        self._network_pkl = network_pkl
        self._data_dir = data_dir
        self._dataset_args = dict(dataset_args) if dataset_args is not None else None
        self._mirror_augment = bool(mirror_augment)
        self._results = []
        self._eval_time = None
        self._dataset_obj = None
        self._shared_fakes = None

    @staticmethod
    def _load_generator(network_pkl, allow_code_execution=None):
        """The Gs of a `(G, D, Gs)` network pickle (a lone Network is taken as Gs)."""
        data = misc.load_pkl(network_pkl, allow_code_execution=allow_code_execution)
        if isinstance(data, tflib.Network):
            return data
        if isinstance(data, tuple) and len(data) == 3 and isinstance(data[2], tflib.Network):
            return data[2]
        raise MetricError("%s: expected a network pickle (G, D, Gs), got %s" % (network_pkl, type(data).__name__))

    def _evaluate(self, Gs, Gs_kwargs, num_gpus):
        raise NotImplementedError

    # Feature networks.

    FEATURE_NET = None  # (what, file name) of the one feature network a metric loads, e.g. Inception.

    def feature_nets(self):
        """[(what, path or URL)] of the feature networks `run` will load, e.g. [("the Inception network",
        "https://..."))]; `check_feature_nets` looks at them before a long run starts."""
        if self.feature_net is not None:
            what, path, _ = LOCAL_FEATURE_NETS[self.feature_net]
            return [(what, getattr(self, "feature_net_url", None) or path)]
        if self.FEATURE_NET is None:
            return []
        what, file_name = self.FEATURE_NET
        return [(what, feature_net_url(file_name, getattr(self, "feature_net_url", None)))]

    def _load_feature_net(self, output_features=True):
        """The metric's feature network (the first of `feature_nets()`) in the current graph.

        One of LOCAL_FEATURE_NETS loads in safe mode; with `output_features` it is a copy that outputs its
        feature layer, else the classifier itself (class logits).
        """
        url = self.feature_nets()[0][1]
        if self.feature_net is None:
            return load_feature_net(url)
        classifier = load_feature_net(url, allow_code_execution=False)
        feature_kwargs = LOCAL_FEATURE_NETS[self.feature_net][2]
        return classifier.clone(**feature_kwargs) if output_features else classifier

    def _check_feature_net_input(self, feature_net, image_shape, what):
        """MetricError unless images of shape [C, H, W] fit one of LOCAL_FEATURE_NETS as they are (the
        official networks take images of any size)."""
        expected = feature_net.input_shape[1:]
        if self.feature_net is not None and list(image_shape) != list(expected):
            raise MetricError("metric %s: %s takes images of shape %s (channels, height, width); %s are %s"
                              % (self.name, self.feature_nets()[0][0], expected, what, list(image_shape)))

    # Results.

    def _report_result(self, value, suffix="", fmt="%-10.4f"):
        self._results.append(dnnlib.EasyDict(value=value, suffix=suffix, fmt=fmt))

    def get_results(self):
        """{metric name + suffix: value} of the last run."""
        return {self.name + res.suffix: res.value for res in self._results}

    def get_result_str(self):
        """`<network name, 30 wide> time <t> <name><suffix> <value> ...` (the official result line)."""
        network_name = os.path.splitext(os.path.basename(str(self._network_pkl)))[0]
        if len(network_name) > 29:
            network_name = "..." + network_name[-26:]
        result_str = "%-30s" % network_name
        result_str += " time %-12s" % dnnlib.util.format_time(self._eval_time or 0)
        for res in self._results:
            result_str += " " + self.name + res.suffix + " " + res.fmt % res.value
        return result_str.rstrip()

    def update_autosummaries(self):
        for res in self._results:
            autosummary.autosummary("Metrics/" + self.name + res.suffix, res.value)

    # Datasets and real images.

    def _require_dataset(self):
        if not self._dataset_args:
            raise MetricError("metric %s needs a dataset: pass dataset_args (e.g. dict(tfrecord_dir=...)) or a "
                              "run_dir with submit_config.pkl" % self.name)

    def _get_dataset_obj(self):
        """The dataset, loaded once per evaluation in the evaluation's graph (for labels and shapes)."""
        if self._dataset_obj is None:
            self._require_dataset()
            overrides = {}
            if self._label_size > 0 and "max_label_size" not in self._dataset_args:
                overrides["max_label_size"] = "full"  # A conditional generator needs the dataset's labels.
            self._dataset_obj = self._load_dataset(**overrides)
            if self._dataset_obj.label_size != self._label_size:
                raise MetricError("metric %s: the network takes %d labels but dataset %s gives %d"
                                  % (self.name, self._label_size, self._dataset_dir(), self._dataset_obj.label_size))
        return self._dataset_obj

    def _load_dataset(self, **overrides):
        args = dict(self._dataset_args)
        args.update(overrides)
        try:
            return dataset_module.load_dataset(data_dir=self._data_dir, **args)
        except dataset_module.DatasetError as e:
            raise MetricError("metric %s: %s" % (self.name, e)) from None

    def _dataset_dir(self):
        tfrecord_dir = self._dataset_args.get("tfrecord_dir", "")
        return os.path.join(self._data_dir, tfrecord_dir) if self._data_dir is not None else tfrecord_dir

    def _iterate_reals(self, minibatch_size, num_reals, with_labels=False):
        """Yield uint8 minibatches [N, C, H, W] of real images (mirrored at random with mirror_augment), or
        with `with_labels` pairs (images, labels [N, label_size]) with every label column of the dataset.

        num_reals: an int = that many images (the dataset repeats if it is smaller), or 'all' = every image
        of the dataset once, in file order.
        """
        self._require_dataset()
        label_args = dict(max_label_size="full") if with_labels else {}
        if num_reals == "all":
            dataset_obj = self._load_dataset(repeat=False, shuffle_mb=0, **label_args)
        else:
            dataset_obj = self._load_dataset(**label_args)
        num_done = 0
        while num_reals == "all" or num_done < num_reals:
            try:
                # Always the same minibatch size: a new size would restart the dataset's iterator.
                images, labels = dataset_obj.get_minibatch_np(minibatch_size)
            except tf.errors.OutOfRangeError:
                break
            if num_reals != "all":
                images, labels = images[:num_reals - num_done], labels[:num_reals - num_done]
            if images.shape[0] == 0:
                break
            if self._mirror_augment:
                images = misc.apply_mirror_augment(images)
            num_done += images.shape[0]
            yield (images, labels) if with_labels else images
        dataset_obj.close()

    def _get_random_labels_tf(self, minibatch_size):
        """Labels [N, label_size] drawn from the dataset; an unconditional generator needs no dataset here."""
        if self._label_size == 0 and not self._dataset_args:
            return tf.zeros([minibatch_size, 0])
        return self._get_dataset_obj().get_random_labels_tf(minibatch_size)

    def _compute_real_features(self, feature_net, num_reals, max_reals, minibatch_size, num_gpus, desc):
        """Features [num, D] of the real images: `num_reals` (int or 'all'), at most `max_reals` (or None)."""
        bar = progress_bar(max_reals if num_reals == "all" else num_reals, desc)
        features = []
        num_done = 0
        for images in self._iterate_reals(minibatch_size, num_reals):
            if num_done == 0:
                self._check_feature_net_input(feature_net, images.shape[1:], "the dataset's images")
            if max_reals is not None:
                images = images[:max_reals - num_done]
            features.append(run_on_gpus(feature_net, images, num_gpus))
            num_done += images.shape[0]
            bar.update(images.shape[0])
            if max_reals is not None and num_done >= max_reals:
                break
        bar.close()
        if not features:
            raise MetricError("metric %s: dataset %s yielded no images" % (self.name, self._dataset_dir()))
        return np.concatenate(features, axis=0).astype(np.float32)

    # The real-statistics cache.

    def _get_cache_file_for_reals(self, **key_args):
        """`<cache dir>/<md5>-<metric>-<dataset>.npz`; the md5 covers everything that changes the statistics:
        metric name, mirroring, dataset args and directory (with its files' sizes and times), and `key_args`
        (numbers of images, feature network, ...)."""
        self._require_dataset()
        dataset_dir = self._dataset_dir()
        dataset_files = []
        if os.path.isdir(dataset_dir):
            for name in sorted(os.listdir(dataset_dir)):
                stat = os.stat(os.path.join(dataset_dir, name))
                dataset_files.append((name, stat.st_size, int(stat.st_mtime)))
        all_args = dict(metric_name=self.name, mirror_augment=self._mirror_augment,
                        dataset_dir=os.path.abspath(dataset_dir), dataset_files=dataset_files)
        all_args.update(("dataset_" + key, value) for key, value in self._dataset_args.items())
        all_args.update(key_args)
        md5 = hashlib.md5(repr(sorted(all_args.items())).encode("utf-8")).hexdigest()
        dataset_name = os.path.basename(os.path.normpath(dataset_dir)) or "dataset"
        return os.path.join(dnnlib.util.default_cache_dir(), "%s-%s-%s.npz" % (md5, self.name, dataset_name))

    def _cached_reals(self, compute_func, **key_args):
        """The dict of arrays `compute_func()` returns, read from the cache when it holds them."""
        cache_file = self._get_cache_file_for_reals(**key_args)
        if os.path.isfile(cache_file):
            with np.load(cache_file, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        arrays = compute_func()
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        dnnlib.util.write_file_atomically(cache_file, buffer.getvalue())
        return arrays

    # Fakes.

    def _compute_fake_features(self, Gs, Gs_kwargs, feature_net, num_images, minibatch_per_gpu, num_gpus, desc):
        """Features [num_images, D] of generated images: Gs output -> uint8 -> feature_net, on each GPU.
        With class_balanced, image i is of class i mod label_size. Reused from `shared_fakes` (see `run`) when
        an earlier metric of the group computed the same ones."""
        self._check_feature_net_input(feature_net, Gs.output_shape[1:], "the generated images")
        shared_key = repr((self._network_pkl, self.feature_nets(), feature_net.name,
                           sorted(feature_net.static_kwargs.items()), num_images, self.class_balanced,
                           sorted(Gs_kwargs.items()), self._dataset_args, num_gpus))
        if self._shared_fakes is not None and shared_key in self._shared_fakes:
            return self._shared_fakes[shared_key]
        first_index_in = tf.placeholder(tf.int32, [], name="first_fake_index")  # Of the minibatch.
        gpu_indices = iter(range(num_gpus))

        def features_of_fakes():
            first_index = first_index_in + next(gpu_indices) * minibatch_per_gpu
            images = self._generate_fakes_expr(clone_for_device(Gs, num_gpus), Gs_kwargs, minibatch_per_gpu,
                                               first_index)
            return clone_for_device(feature_net, num_gpus).get_output_for(tflib.convert_images_to_uint8(images))

        result_expr = on_each_gpu(num_gpus, features_of_fakes)
        features = np.empty([num_images] + feature_net.output_shape[1:], dtype=np.float32)
        minibatch_size = minibatch_per_gpu * num_gpus
        bar = progress_bar(num_images, desc)
        for begin in range(0, num_images, minibatch_size):
            end = min(begin + minibatch_size, num_images)
            features[begin:end] = np.concatenate(tflib.run(result_expr, {first_index_in: begin}), axis=0)[:end - begin]
            bar.update(end - begin)
        bar.close()
        # Small feature sets only (e.g. 10k x 128 of the fmnist classifier): 50k Inception or VGG features are
        # 0.4-0.8 GB each, too much to hold for the rest of a group run.
        if self._shared_fakes is not None and features.nbytes <= MAX_SHARED_FAKE_BYTES:
            self._shared_fakes[shared_key] = features
        return features

    def _generate_fakes_expr(self, Gs_clone, Gs_kwargs, minibatch_size, first_index=None):
        """Images [N, C, H, W] (Gs's float range) of random latents and labels drawn from the dataset, or
        with class_balanced the classes of images first_index ... first_index + N - 1 (an int32 tensor)."""
        latents = tf.random_normal([minibatch_size] + Gs_clone.input_shape[1:])
        if self.class_balanced and self._label_size > 0:
            classes = (first_index + tf.range(minibatch_size)) % self._label_size
            labels = tf.one_hot(classes, self._label_size)
        else:
            labels = self._get_random_labels_tf(minibatch_size)
        return Gs_clone.get_output_for(latents, labels, **Gs_kwargs)


class ClassBalancedMetric(MetricBase):
    """A metric of a conditional generator's `num_images` images, every class equally often, in the outputs of
    one of LOCAL_FEATURE_NETS (the class accuracy and within-class spread metrics)."""

    def __init__(self, num_images, minibatch_per_gpu, feature_net="fmnist", feature_net_url=None, **kwargs):
        kwargs["class_balanced"] = True
        super().__init__(feature_net=feature_net, **kwargs)
        self.num_images = num_images
        self.minibatch_per_gpu = minibatch_per_gpu
        self.feature_net_url = feature_net_url

    def _require_conditional(self):
        if self._label_size == 0:
            raise MetricError("metric %s needs a conditional network (one that takes class labels)" % self.name)


# ------------------------------------------------------------------------------------------------------

class MetricGroup:
    """Several metrics run one after another; built from a list of `dict(func_name=..., **kwargs)`."""

    def __init__(self, metric_kwarg_list):
        self.metrics = []
        for kwargs in metric_kwarg_list:
            self.metrics.append(dnnlib.util.call_func_by_name(**kwargs))

    def _call_each(self, method, *args, **kwargs):
        return [getattr(metric, method)(*args, **kwargs) for metric in self.metrics]

    def run(self, *args, **kwargs):
        """`run` every metric (they share the generated images' features where they can)."""
        kwargs.setdefault("shared_fakes", {})
        self._call_each("run", *args, **kwargs)

    def run_each(self, *args, **kwargs):
        """`run` every metric, going on past failures: [(metric name, `failure_reason`)] of those that failed
        (whatever went wrong: a training run must not end because a metric could not be evaluated)."""
        kwargs.setdefault("shared_fakes", {})
        failures = []
        for metric in self.metrics:
            try:
                metric.run(*args, **kwargs)
            except Exception as e:  # pylint: disable=broad-except
                failures.append((metric.name, failure_reason(e)))
        return failures

    def get_result_str(self):
        return " ".join(self._call_each("get_result_str"))

    def update_autosummaries(self):
        self._call_each("update_autosummaries")


class DummyMetric(MetricBase):
    """Reports 0.0: a stand-in to test the machinery around metrics."""

    def _evaluate(self, *unused_args, **unused_kwargs):
        self._report_result(0.0)
