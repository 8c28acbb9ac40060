"""Multi-resolution TFRecord datasets: the reader used for training, and helpers to read records.

A dataset is a directory with one `<name>-rNN.tfrecords` file per level of detail (NN = log2 of that
level's resolution, from the full resolution down to 4x4) and an optional `<name>-rxx.labels` file
(`np.save` of float32 [num_images, label_size]). Every record is a `tf.train.Example` with the
features `shape` (int64 [C, H, W]) and `data` (bytes, raw uint8 in CHW order). `dataset_tool.py`
writes them.
"""

import glob
import os

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf

import dnnlib


class DatasetError(Exception):
    """A dataset directory that cannot be read as asked (the message names the file and the problem)."""


# ----------------------------------------------------------------------------------------------------
# Records.


def parse_tfrecord_np(record):
    """Serialized `tf.train.Example` -> uint8 array [C, H, W]."""
    example = tf.train.Example.FromString(record)
    shape = list(example.features.feature["shape"].int64_list.value)
    data = example.features.feature["data"].bytes_list.value[0]
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def parse_tfrecord_tf(record):
    """Serialized `tf.train.Example` (string tensor) -> uint8 tensor [C, H, W] of unknown static shape."""
    features = tf.io.parse_single_example(record, features={
        "shape": tf.io.FixedLenFeature([3], tf.int64),
        "data": tf.io.FixedLenFeature([], tf.string)})
    data = tf.io.decode_raw(features["data"], tf.uint8)
    return tf.reshape(data, features["shape"])


def iterate_tfrecord_file(tfr_file):
    """Yield the serialized records of one .tfrecords file, in file order."""
    # tf_record_iterator needs no session and exists in TF 1.15 and 2.x; in 2.x it logs a deprecation
    # warning on its first call, which would only confuse users of dataset_tool.
    with tflib.tf_warnings_quiet():
        return tf.io.tf_record_iterator(tfr_file)


def read_first_shape(tfr_file):
    """Shape [C, H, W] of the first record of a .tfrecords file."""
    for record in iterate_tfrecord_file(tfr_file):
        return tuple(parse_tfrecord_np(record).shape)
    raise DatasetError('"%s" holds no records' % tfr_file)


def count_records(tfr_file):
    """Number of records in a .tfrecords file (reads the whole file)."""
    return sum(1 for _ in iterate_tfrecord_file(tfr_file))


def list_tfrecord_files(tfrecord_dir):
    """Sorted paths of the .tfrecords files of a dataset directory; errors if there are none."""
    if not os.path.isdir(tfrecord_dir):
        raise DatasetError('dataset directory "%s" does not exist' % tfrecord_dir)
    tfr_files = sorted(glob.glob(os.path.join(tfrecord_dir, "*.tfrecords")))
    if not tfr_files:
        raise DatasetError('dataset directory "%s" contains no .tfrecords files' % tfrecord_dir)
    return tfr_files


def find_label_file(tfrecord_dir, label_file=None):
    """The label file to use: the given path (absolute, or relative to the dataset), else the first *.labels."""
    if label_file is None:
        guesses = sorted(glob.glob(os.path.join(tfrecord_dir, "*.labels")))
        return guesses[0] if guesses else None
    if not os.path.isfile(label_file) and os.path.isfile(os.path.join(tfrecord_dir, label_file)):
        return os.path.join(tfrecord_dir, label_file)
    if not os.path.isfile(label_file):
        raise DatasetError('label file "%s" not found' % label_file)
    return label_file


def read_levels(tfrecord_dir, resolution=None):
    """The levels of detail of a dataset directory: EasyDict(files, shapes [C, H, W] of their first records,
    lods (0 = `resolution`, 1 = half of it, ...; negative for levels above it), resolution, channels).

    resolution: the full resolution to use (default: the largest level found).
    """
    files = list_tfrecord_files(tfrecord_dir)
    shapes = [read_first_shape(path) for path in files]
    for path, shape in zip(files, shapes):
        if len(shape) != 3 or shape[1] != shape[2]:
            raise DatasetError('"%s" holds images of shape %s; expected square [C, H, W]' % (path, list(shape)))
    largest = max(shapes, key=np.prod)
    for path, shape in zip(files, shapes):
        if shape[0] != largest[0]:
            raise DatasetError('"%s" has %d channels; the other levels have %d' % (path, shape[0], largest[0]))
    full = int(resolution) if resolution is not None else int(largest[1])
    full_log2 = int(np.log2(full))
    if full != 2 ** full_log2 or full < 4:
        raise DatasetError("resolution %d of %s is not a power of two >= 4" % (full, tfrecord_dir))
    lods = []
    for path, shape in zip(files, shapes):
        lod = full_log2 - int(np.log2(shape[1]))
        if shape[1] * 2 ** lod != full:
            raise DatasetError('"%s" has resolution %d, which is no level of detail of %d' % (path, shape[1], full))
        lods.append(lod)
    missing = [full // 2 ** lod for lod in range(full_log2 - 1) if lod not in lods]
    if missing:
        raise DatasetError("dataset %s lacks the levels of resolution %s (one .tfrecords file per level "
                           "from %d down to 4 is needed)" % (tfrecord_dir, missing, full))
    return dnnlib.EasyDict(files=files, shapes=shapes, lods=lods, resolution=full, channels=int(largest[0]))


def level_records(path, labels, item_bytes, max_images, repeat, shuffle_mb, prefetch_mb, buffer_mb, num_threads,
                  num_shards, shard_index):
    """The tf.data pipeline of one level: (image uint8 [C, H, W], label) pairs, not yet batched.

    labels: a tf.data.Dataset of label rows, paired with the records in order (before sharding and
    shuffling, so that an image keeps its label). The options are those of `TFRecordDataset`.
    """
    records = tf.data.TFRecordDataset(path, compression_type="", buffer_size=buffer_mb << 20)
    if max_images is not None:
        records = records.take(max_images)
    pairs = tf.data.Dataset.zip((records.map(parse_tfrecord_tf, num_parallel_calls=num_threads), labels))
    if num_shards > 1:
        pairs = pairs.shard(num_shards, shard_index)
    if shuffle_mb > 0:
        pairs = pairs.shuffle(_items_in_mb(shuffle_mb, item_bytes))
    if repeat:
        pairs = pairs.repeat()
    if prefetch_mb > 0:
        pairs = pairs.prefetch(_items_in_mb(prefetch_mb, item_bytes))
    return pairs


# ----------------------------------------------------------------------------------------------------
# The training reader.


class TFRecordDataset:
    """Streams minibatches of uint8 images [N, C, H, W] (and labels [N, label_size]) at any level of detail.

    `configure(minibatch_size, lod)` picks the minibatch size and the level (lod 0 = full resolution,
    lod 1 = half, ...); `get_minibatch_tf()` is the graph expression of the next minibatch, and
    `get_minibatch_np()` runs it. Needs a default session (`dnnlib.tflib.init_tf()`).
    """

    def __init__(self, tfrecord_dir, resolution=None, label_file=None, max_label_size=0, max_images=None,
                 repeat=True, shuffle_mb=4096, prefetch_mb=2048, buffer_mb=256, num_threads=2, num_shards=1,
                 shard_index=0):
        """
        tfrecord_dir:   dataset directory.
        resolution:     full resolution to use (default: the largest level found).
        label_file:     label file (default: the first *.labels in the directory).
        max_label_size: 0 = no labels, 'full' = all columns, N = the first N columns.
        max_images:     use only the first N records (and label rows).
        repeat:         loop over the data forever.
        shuffle_mb:     shuffle buffer in MiB (0 = keep file order).
        prefetch_mb:    prefetch buffer in MiB (0 = none).
        buffer_mb:      read buffer of each file in MiB.
        num_threads:    parallel record parsers.
        num_shards, shard_index: read only records shard_index, shard_index + num_shards, ... of every
                        file (multi-worker training: each worker reads its own disjoint part).
        """
        if not (isinstance(num_shards, (int, np.integer)) and num_shards >= 1 and 0 <= shard_index < num_shards):
            raise DatasetError("shard_index %r must be in [0, num_shards %r)" % (shard_index, num_shards))
        self.tfrecord_dir = tfrecord_dir
        self.dtype = "uint8"
        self.dynamic_range = [0, 255]
        levels = read_levels(tfrecord_dir, resolution)
        self.resolution = levels.resolution
        self.resolution_log2 = int(np.log2(levels.resolution))
        self.shape = [levels.channels, levels.resolution, levels.resolution]  # At full resolution.
        self._np_labels = self._label_array(label_file, max_label_size, max_images, levels)
        self.label_size = int(self._np_labels.shape[1])
        self.label_dtype = self._np_labels.dtype.name
        self._configured = None  # (minibatch size, lod) the iterator was last initialised for.
        self._next_minibatch = None  # The get_next op of get_minibatch_np.
        read_options = dict(max_images=max_images, repeat=repeat, shuffle_mb=shuffle_mb, prefetch_mb=prefetch_mb,
                            buffer_mb=buffer_mb, num_threads=num_threads, num_shards=num_shards,
                            shard_index=shard_index)
        with tf.name_scope("Dataset"), tf.device("/cpu:0"):
            self._build_pipelines(levels, read_options)

    def _label_array(self, label_file, max_label_size, max_images, levels):
        """Sets `label_file`; the labels [rows, label_size] to use, with zero columns when there are none."""
        if not (max_label_size == "full" or (isinstance(max_label_size, (int, np.integer)) and max_label_size >= 0)):
            raise DatasetError("max_label_size must be 'full' or an int >= 0, got %r" % (max_label_size,))
        self.label_file = None
        if label_file is None or max_label_size != 0:
            self.label_file = find_label_file(self.tfrecord_dir, label_file)
        if self.label_file is None or max_label_size == 0:
            # 2^30 rows, so that pairing the records with label rows never runs out of rows.
            return np.zeros([1 << 30, 0], dtype=np.float32)
        labels = self._load_labels(self.label_file, levels.files, levels.lods, max_images)
        num_rows, num_columns = labels.shape
        if max_label_size != "full":
            num_columns = min(num_columns, max_label_size)
        if max_images is not None:
            num_rows = min(num_rows, max_images)
        return labels[:num_rows, :num_columns]

    def _build_pipelines(self, levels, read_options):
        """One tf.data pipeline per level (lod >= 0), all feeding one reinitializable iterator."""
        self._tf_minibatch_in = tf.placeholder(tf.int64, name="minibatch_in", shape=[])
        self._tf_labels_var = None
        if self.label_size > 0:
            self._tf_labels_var = tflib.create_var_with_large_initial_value(self._np_labels, name="labels_var")
            labels = tf.data.Dataset.from_tensor_slices(self._tf_labels_var)
        else:
            # Endless zero-width labels: slicing the [2^30, 0] array instead would cost about a second at
            # every iterator initialisation in TF 2.x.
            labels = tf.data.Dataset.from_tensors(tf.zeros([0], tf.float32)).repeat()
        self._tf_datasets = {}  # lod -> tf.data.Dataset
        for path, shape, lod in zip(levels.files, levels.shapes, levels.lods):
            if lod >= 0:  # Levels above the requested resolution are not read.
                item_bytes = int(np.prod(shape)) * np.dtype(self.dtype).itemsize
                records = level_records(path, labels, item_bytes, **read_options)
                self._tf_datasets[lod] = records.batch(self._tf_minibatch_in)
        first = self._tf_datasets[0]
        self._tf_iterator = tf.data.Iterator.from_structure(tf.data.get_output_types(first),
                                                            tf.data.get_output_shapes(first))
        self._tf_init_ops = {}  # lod -> iterator initializer
        with tflib.tf_warnings_quiet():  # TF 2.x's make_initializer reads the iterator's deprecated properties.
            for lod, dset in self._tf_datasets.items():
                self._tf_init_ops[lod] = self._tf_iterator.make_initializer(dset)

    @staticmethod
    def _load_labels(label_file, tfr_files, tfr_lods, max_images):
        try:
            labels = np.load(label_file)
        except Exception as e:
            raise DatasetError('cannot read label file "%s": %s' % (label_file, e))
        if labels.ndim != 2:
            raise DatasetError('label file "%s" holds an array of shape %s; expected [num_images, label_size]'
                               % (label_file, list(labels.shape)))
        # Count the records of the smallest level (cheapest to read); every row needs an image and vice versa.
        smallest_file = tfr_files[int(np.argmax(tfr_lods))]
        num_images = count_records(smallest_file)
        if labels.shape[0] != num_images:
            raise DatasetError('label file "%s" has %d rows but the dataset has %d images'
                               % (label_file, labels.shape[0], num_images))
        return labels

    @staticmethod
    def parse_tfrecord_tf(record):
        """See the module-level `parse_tfrecord_tf`."""
        return parse_tfrecord_tf(record)

    @staticmethod
    def parse_tfrecord_np(record):
        """See the module-level `parse_tfrecord_np`."""
        return parse_tfrecord_np(record)

    def close(self):
        pass

    def configure(self, minibatch_size, lod=0):
        """Use minibatches of `minibatch_size` at level of detail floor(`lod`) from now on."""
        lod = int(np.floor(lod))
        if minibatch_size < 1:
            raise ValueError("minibatch_size must be >= 1, got %r" % (minibatch_size,))
        if lod not in self._tf_datasets:
            raise ValueError("lod %d is not available; this dataset has lods %s" % (lod, sorted(self._tf_datasets)))
        if self._configured != (minibatch_size, lod):
            self._tf_init_ops[lod].run({self._tf_minibatch_in: minibatch_size})
            self._configured = (minibatch_size, lod)

    def get_minibatch_np(self, minibatch_size, lod=0):
        """The next minibatch as NumPy arrays (images, labels); raises tf.errors.OutOfRangeError at the end."""
        self.configure(minibatch_size, lod)
        if self._next_minibatch is None:  # One get_next op, made on first use.
            with tf.name_scope("Dataset"):
                self._next_minibatch = self._tf_iterator.get_next()
        return tflib.run(self._next_minibatch)

    def get_minibatch_tf(self):
        """Graph expressions (images uint8 [N, C, H, W], labels [N, label_size]) of the next minibatch."""
        return self._tf_iterator.get_next()

    def get_random_labels_tf(self, minibatch_size):
        """Graph expression of `minibatch_size` labels drawn uniformly from the dataset's rows."""
        with tf.name_scope("Dataset"):
            if self.label_size == 0:
                return tf.zeros([minibatch_size, 0], self.label_dtype)
            with tf.device("/cpu:0"):
                rows = tf.random_uniform([minibatch_size], 0, self._np_labels.shape[0], dtype=tf.int32)
                return tf.gather(self._tf_labels_var, rows)

    def get_random_labels_np(self, minibatch_size):
        """`minibatch_size` labels drawn uniformly (NumPy's global RNG) from the dataset's rows."""
        if self.label_size == 0:
            return np.zeros([minibatch_size, 0], self.label_dtype)
        rows = np.random.randint(self._np_labels.shape[0], size=[minibatch_size])
        return self._np_labels[rows]


def check_dataset(tfrecord_dir, resolution=None, label_file=None, max_label_size=0, **_reader_options):
    """What `TFRecordDataset` would read from `tfrecord_dir`, checked without building a pipeline or
    needing a session: EasyDict(resolution, channels, label_size, label_file). Raises DatasetError where
    the reader would; the reader's other options (`_reader_options`) do not matter here."""
    levels = read_levels(tfrecord_dir, resolution)
    found_labels = find_label_file(tfrecord_dir, label_file)
    label_size = 0
    if found_labels is not None and max_label_size != 0:
        read_labels = TFRecordDataset._load_labels  # pylint: disable=protected-access
        labels = read_labels(found_labels, levels.files, levels.lods, None)
        label_size = labels.shape[1] if max_label_size == "full" else min(labels.shape[1], int(max_label_size))
    return dnnlib.EasyDict(resolution=levels.resolution, channels=levels.channels, label_size=int(label_size),
                           label_file=found_labels)


def _items_in_mb(mb, bytes_per_item):
    """How many items of `bytes_per_item` bytes fit in `mb` MiB, rounded up."""
    return ((int(mb) << 20) - 1) // bytes_per_item + 1


# ----------------------------------------------------------------------------------------------------


def load_dataset(class_name=None, data_dir=None, verbose=False, **kwargs):
    """Create a dataset object; with `tfrecord_dir=` the class defaults to TFRecordDataset and the
    directory is taken relative to `data_dir`."""
    kwargs = dict(kwargs)
    if "tfrecord_dir" in kwargs:
        if class_name is None:
            class_name = __name__ + ".TFRecordDataset"
        if data_dir is not None:
            kwargs["tfrecord_dir"] = os.path.join(data_dir, kwargs["tfrecord_dir"])
    if class_name is None:
        raise ValueError("load_dataset() needs class_name or tfrecord_dir")
    if verbose:
        print("Streaming data using %s..." % class_name)
    dataset = dnnlib.util.get_obj_by_name(class_name)(**kwargs)
    if verbose:
        print("Dataset shape =", np.int32(dataset.shape).tolist())
        print("Dynamic range =", dataset.dynamic_range)
        print("Label size    =", dataset.label_size)
    return dataset
