"""Create StyleGAN2 datasets (multi-resolution TFRecords) from common formats, and look inside them.

A dataset is a directory with one `<name>-rNN.tfrecords` per level of detail (NN = log2 of the
resolution, down to 4x4) and, for labelled data, `<name>-rxx.labels`. The files are the same, byte for
byte, as those of the official tool for the same inputs, so datasets made by either tool can be used
with both. Run `python dataset_tool.py --help` for the commands, `python dataset_tool.py CMD --help`
for their options.

Output is written into a hidden `.<name>.partial-<pid>-*` folder next to the target and renamed into place
only when complete; on any error it is deleted, so a dataset folder that exists is always complete. One
that a killed process left behind is removed by the next command that writes the same target.
"""

import gzip
import importlib
import io
import os
import pickle
import re
import shutil
import sys
import tempfile

import numpy as np
import PIL.Image
from tqdm import tqdm

from dnnlib import cli


class _ImportedWhenUsed(object):
    """A module imported at the first use of one of its attributes: TensorFlow (and training.dataset, which
    imports it) load only for a command that needs them, not for --help or a usage error."""

    def __init__(self, module_name):
        self._module_name = module_name
        self._module = None

    def __getattr__(self, name):
        if self._module is None:
            importlib.import_module("dnnlib.tflib")  # First: it sets TensorFlow's options and quiets its start-up.
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, name)


tf = _ImportedWhenUsed("tensorflow.compat.v1")
dataset = _ImportedWhenUsed("training.dataset")


def _dataset_error(message):
    """A training.dataset.DatasetError: bad input or output, which the CLI prints as one line (exit status 1)."""
    return dataset.DatasetError(message)


def __getattr__(name):
    """`dataset_tool.DatasetError` is training.dataset.DatasetError (imported when asked for)."""
    if name == "DatasetError":
        return dataset.DatasetError
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _import_optional(module_name, pip_name, purpose):
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise _dataset_error("%s needs the Python package %s, which is not installed: pip install %s"
                           % (purpose, module_name, pip_name))


_RESAMPLING = getattr(PIL.Image, "Resampling", PIL.Image)  # Pillow >= 9.1 moved the filter constants
RESIZE_FILTERS = {
    "lanczos": _RESAMPLING.LANCZOS,    # what the official tool calls ANTIALIAS (removed in Pillow 10)
    "bicubic": _RESAMPLING.BICUBIC,
    "bilinear": _RESAMPLING.BILINEAR,
    "box": _RESAMPLING.BOX,
    "nearest": _RESAMPLING.NEAREST,
}

# ----------------------------------------------------------------------------------------------------
# Writing.


def _serialize_image(img):
    """uint8 [C, H, W] -> serialized tf.train.Example with features 'shape' and 'data'."""
    feature = {
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=img.shape)),
        "data": tf.train.Feature(bytes_list=tf.train.BytesList(value=[img.tobytes()])),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # Deterministic serialization sorts the map keys ('data' before 'shape'): the official tool's bytes.
    return example.SerializeToString(deterministic=True)


def _check_output_dir(tfrecord_dir):
    if os.path.exists(tfrecord_dir) and not os.path.isdir(tfrecord_dir):
        raise _dataset_error('output "%s" exists and is not a directory' % tfrecord_dir)
    if os.path.isdir(tfrecord_dir) and os.listdir(tfrecord_dir):
        raise _dataset_error('output directory "%s" already exists and is not empty; remove it or choose '
                           'another name' % tfrecord_dir)


def _process_is_running(pid):
    """Whether process `pid` exists on this machine (True where that cannot be told)."""
    if os.name == "nt":
        return True  # os.kill would terminate it there.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process.
        return True
    return True


def remove_stale_partial_dirs(parent_dir, name):
    """Delete the `.<name>.partial-<pid>-*` folders in `parent_dir` whose process is gone (killed while
    writing), saying so; name the others (a run still writing, or a folder without a pid)."""
    pattern = re.compile(r"^\.%s\.partial-(?:(\d+)-)?" % re.escape(name))
    for entry in sorted(os.listdir(parent_dir)):
        match = pattern.match(entry)
        path = os.path.join(parent_dir, entry)
        if match is None or not os.path.isdir(path):
            continue
        pid = int(match.group(1)) if match.group(1) else None
        if pid is not None and not _process_is_running(pid):
            shutil.rmtree(path, ignore_errors=True)
            print('Removed "%s": partial output of an earlier run that was interrupted (process %d is gone)'
                  % (path, pid))
        else:
            owner = "process %d, still running" % pid if pid is not None else "a run of unknown process"
            print('Note: "%s" is partial output of another run (%s); delete it if nothing is writing "%s"'
                  % (path, owner, name))


class TFRecordExporter:
    """Writes images uint8 [C, H, W] as one .tfrecords file per level of detail, plus optional labels.

    Level l+1 is the 2x2 box average of level l, computed in float32 from the unrounded level l and
    stored rounded (np.rint) and clipped to uint8. Everything goes to a temporary folder next to
    `tfrecord_dir`; `close()` (or leaving a `with` block normally) moves it into place, `abort()` (or an
    exception inside the `with` block) deletes it.
    """

    def __init__(self, tfrecord_dir, expected_images, print_progress=True, progress_interval=10):
        self.tfrecord_dir = os.path.normpath(tfrecord_dir)
        self.expected_images = expected_images
        self.print_progress = print_progress
        self.progress_interval = progress_interval  # kept for the official signature; tqdm paces itself
        self.closed = False
        self.cur_images = 0
        self.order = None  # The shuffled order, once chosen.
        self.shape = None  # [C, H, W] of the first image.
        self.tfr_writers = []  # One per level, opened at the first image.
        self.resolution_log2 = None

        _check_output_dir(self.tfrecord_dir)
        self.name = os.path.basename(os.path.abspath(self.tfrecord_dir))
        parent_dir = os.path.dirname(os.path.abspath(self.tfrecord_dir))
        os.makedirs(parent_dir, exist_ok=True)
        remove_stale_partial_dirs(parent_dir, self.name)
        self.tmp_dir = tempfile.mkdtemp(prefix=".%s.partial-%d-" % (self.name, os.getpid()), dir=parent_dir)
        self.tfr_prefix = os.path.join(self.tmp_dir, self.name)
        if self.print_progress:
            print('Creating dataset "%s"' % self.tfrecord_dir)
        self.progress = tqdm(total=expected_images, unit="img", disable=not print_progress,
                             mininterval=0.5, leave=False)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def choose_shuffled_order(self):
        """A permutation of range(expected_images) from RandomState(123), as the official tool uses."""
        self.order = np.random.RandomState(123).permutation(self.expected_images)
        return self.order

    def _open_writers(self, shape):
        if len(shape) != 3 or shape[0] not in (1, 3):
            raise _dataset_error("images must be [C, H, W] with 1 or 3 channels, got shape %s" % list(shape))
        if shape[1] != shape[2]:
            raise _dataset_error("images must be square, got %dx%d" % (shape[2], shape[1]))
        resolution_log2 = int(np.round(np.log2(shape[1])))
        if shape[1] != 2 ** resolution_log2 or shape[1] < 4:
            raise _dataset_error("image resolution must be a power of two >= 4, got %d" % shape[1])
        self.shape = tuple(shape)
        self.resolution_log2 = resolution_log2
        for lod in range(resolution_log2 - 1):
            path = self.tfr_prefix + "-r%02d.tfrecords" % (resolution_log2 - lod)
            self.tfr_writers.append(tf.io.TFRecordWriter(path))

    def add_image(self, img):
        """Add one image, uint8 [C, H, W]; every image must have the first one's shape."""
        img = np.asarray(img)
        if img.dtype != np.uint8:
            raise _dataset_error("images must be uint8, got %s" % img.dtype)
        if self.shape is None:
            self._open_writers(img.shape)
        if tuple(img.shape) != self.shape:
            raise _dataset_error("image %d has shape %s, the first image %s" % (self.cur_images, list(img.shape),
                                                                              list(self.shape)))
        level = img
        for lod, writer in enumerate(self.tfr_writers):
            if lod > 0:
                level = level.astype(np.float32)
                level = (level[:, 0::2, 0::2] + level[:, 0::2, 1::2] + level[:, 1::2, 0::2] + level[:, 1::2, 1::2]) * 0.25
            quantized = np.rint(level).clip(0, 255).astype(np.uint8)
            writer.write(_serialize_image(quantized))
        self.cur_images += 1
        self.progress.update(1)

    def add_labels(self, labels):
        """Save labels [num_images, label_size] (as float32); one row per image added, in the same order."""
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape[0] != self.cur_images:
            raise _dataset_error("labels must be [%d, label_size] (one row per image added), got shape %s"
                               % (self.cur_images, list(labels.shape)))
        with open(self.tfr_prefix + "-rxx.labels", "wb") as f:
            np.save(f, labels.astype(np.float32))

    def add_text_file(self, suffix, text):
        """Write `<name><suffix>` next to the records (for example the class names)."""
        with open(self.tfr_prefix + suffix, "w") as f:
            f.write(text)

    def _close_writers(self):
        for writer in self.tfr_writers:
            writer.close()
        self.tfr_writers = []
        self.progress.close()

    def abort(self):
        """Delete everything written so far."""
        if self.closed:
            return
        self.closed = True
        try:
            self._close_writers()
        finally:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def close(self):
        """Finish the files and move the dataset into place."""
        if self.closed:
            return
        if self.cur_images == 0:
            self.abort()
            raise _dataset_error('no images were written; "%s" was not created' % self.tfrecord_dir)
        self._close_writers()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp_dir, 0o777 & ~umask)  # mkdtemp made it private
        if os.path.isdir(self.tfrecord_dir):
            os.rmdir(self.tfrecord_dir)  # checked to be empty in __init__
        os.rename(self.tmp_dir, self.tfrecord_dir)
        self.closed = True
        if self.print_progress:
            print("Added %d images." % self.cur_images)


def _one_hot(labels, num_classes, source):
    labels = np.asarray(labels).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise _dataset_error("%s: labels must be in 0..%d, got %d..%d" % (source, num_classes - 1, labels.min(),
                                                                        labels.max()))
    onehot = np.zeros([labels.size, num_classes], dtype=np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot


def _export_shuffled(tfrecord_dir, images, onehot=None):
    """Write images [N, C, H, W] (and labels [N, L]) in the RandomState(123) shuffled order."""
    with TFRecordExporter(tfrecord_dir, images.shape[0]) as tfr:
        order = tfr.choose_shuffled_order()
        for idx in order:
            tfr.add_image(images[idx])
        if onehot is not None:
            tfr.add_labels(onehot[order])


# ----------------------------------------------------------------------------------------------------
# Reading (display, extract, compare).


def _top_level_file(tfrecord_dir):
    """The .tfrecords file of the highest resolution."""
    tfr_files = dataset.list_tfrecord_files(tfrecord_dir)
    return max(tfr_files, key=lambda path: dataset.read_first_shape(path)[1])


def _iterate_images(tfrecord_dir):
    """Yield the full-resolution images uint8 [C, H, W] in file order."""
    for record in dataset.iterate_tfrecord_file(_top_level_file(tfrecord_dir)):
        yield dataset.parse_tfrecord_np(record)


def _load_labels(tfrecord_dir):
    label_file = dataset.find_label_file(tfrecord_dir)
    return None if label_file is None else np.load(label_file)


def _to_pil(img):
    """uint8 [C, H, W] -> PIL image ('L' or 'RGB')."""
    if img.shape[0] == 1:
        return PIL.Image.fromarray(img[0], "L")
    return PIL.Image.fromarray(img.transpose(1, 2, 0), "RGB")


def _image_grid(images):
    """uint8 [N, C, H, W] -> one uint8 [C, gh * H, gw * W] image, row by row, about square."""
    num, channels, height, width = images.shape
    grid_w = int(np.ceil(np.sqrt(num)))
    grid_h = (num + grid_w - 1) // grid_w
    grid = np.zeros([channels, grid_h * height, grid_w * width], dtype=np.uint8)
    for idx in range(num):
        y, x = divmod(idx, grid_w)
        grid[:, y * height:(y + 1) * height, x * width:(x + 1) * width] = images[idx]
    return grid


def _has_screen():
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def display(tfrecord_dir, output=None, max_images=64):
    """Show the images with OpenCV (space/enter: next, esc: quit) or, without a screen or OpenCV, or with
    `output`, write the first `max_images` as one grid PNG."""
    labels = _load_labels(tfrecord_dir)
    cv2 = None
    if output is None and _has_screen():
        try:
            import cv2  # noqa: F811
        except ImportError:
            print("OpenCV (pip install opencv-python) is not installed: writing a grid image instead.")
    if cv2 is None:
        if output is None:
            output = os.path.basename(os.path.normpath(tfrecord_dir)) + "-grid.png"
        images = []
        for img in _iterate_images(tfrecord_dir):
            images.append(img)
            if len(images) == max_images:
                break
        _to_pil(_image_grid(np.stack(images))).save(output)
        print('Wrote %d images to "%s"' % (len(images), output))
        return output

    print("Press SPACE or ENTER to advance, ESC to exit")
    cv2.namedWindow("dataset_tool")
    idx = 0
    for idx, img in enumerate(_iterate_images(tfrecord_dir)):
        label = labels[idx].tolist() if labels is not None and idx < len(labels) else []
        print("idx = %-8d label = %s" % (idx, label))
        bgr = img.transpose(1, 2, 0)[:, :, ::-1] if img.shape[0] == 3 else img[0]
        cv2.imshow("dataset_tool", np.ascontiguousarray(bgr))
        if cv2.waitKey() == 27:
            break
    print("Displayed %d images." % (idx + 1))
    return None


def extract(tfrecord_dir, output_dir):
    """Write the full-resolution images as `img%08d.png` in file order."""
    print('Extracting images to "%s"' % output_dir)
    os.makedirs(output_dir, exist_ok=True)
    count = 0
    for img in tqdm(_iterate_images(tfrecord_dir), unit="img", leave=False):
        _to_pil(img).save(os.path.join(output_dir, "img%08d.png" % count))
        count += 1
    print("Extracted %d images." % count)
    return count


def compare(tfrecord_dir_a, tfrecord_dir_b, ignore_labels=0):
    """Compare two datasets record by record at full resolution (and their labels unless `ignore_labels`).

    Returns a dict with the counts that it prints."""
    labels_a = _load_labels(tfrecord_dir_a)
    labels_b = _load_labels(tfrecord_dir_b)
    images_a = _iterate_images(tfrecord_dir_a)
    images_b = _iterate_images(tfrecord_dir_b)
    print('Comparing "%s" and "%s"' % (tfrecord_dir_a, tfrecord_dir_b))
    num_a = num_b = identical_images = identical_labels = 0
    while True:
        img_a = next(images_a, None)
        img_b = next(images_b, None)
        num_a += img_a is not None
        num_b += img_b is not None
        if img_a is None or img_b is None:
            break
        idx = num_a - 1
        if img_a.shape == img_b.shape and np.array_equal(img_a, img_b):
            identical_images += 1
        else:
            print("Image %d is different" % idx)
        label_a = labels_a[idx] if labels_a is not None and idx < len(labels_a) else np.zeros([0], np.float32)
        label_b = labels_b[idx] if labels_b is not None and idx < len(labels_b) else np.zeros([0], np.float32)
        if label_a.shape == label_b.shape and np.array_equal(label_a, label_b):
            identical_labels += 1
        elif not ignore_labels:
            print("Label %d is different" % idx)
    for img in images_a:
        num_a += 1
    for img in images_b:
        num_b += 1
    num = min(num_a, num_b)
    if num_a != num_b:
        print("Datasets contain different number of images: %d and %d" % (num_a, num_b))
    print("Identical images: %d / %d" % (identical_images, num))
    if not ignore_labels:
        print("Identical labels: %d / %d" % (identical_labels, num))
    return dict(num_images_a=num_a, num_images_b=num_b, identical_images=identical_images,
                identical_labels=identical_labels)


# ----------------------------------------------------------------------------------------------------
# MNIST, CIFAR, SVHN.


def _read_idx(mnist_dir, name, magic):
    """Read `name` (.gz or uncompressed) in the MNIST idx format: big-endian magic, dims, then uint8 data."""
    path = os.path.join(mnist_dir, name + ".gz")
    opener = gzip.open
    if not os.path.isfile(path) and os.path.isfile(os.path.join(mnist_dir, name)):
        path, opener = os.path.join(mnist_dir, name), open
    if not os.path.isfile(path):
        raise _dataset_error('MNIST file "%s" not found' % path)
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise _dataset_error('cannot read "%s": %s' % (path, e))
    num_dims = magic - 2048
    header = np.frombuffer(data[:4 + 4 * num_dims], dtype=">u4") if len(data) >= 4 + 4 * num_dims else []
    if len(header) != 1 + num_dims or header[0] != magic:
        raise _dataset_error('"%s" is not an MNIST idx file (expected magic number %d)' % (path, magic))
    shape = [int(dim) for dim in header[1:]]
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * num_dims)
    if values.size != np.prod(shape):
        raise _dataset_error('"%s" holds %d values; its header says %s' % (path, values.size, shape))
    return values.reshape(shape)


MNIST_SPLITS = {"train": "train", "test": "t10k"}  # --split -> the prefix of its idx files.


def _load_mnist_images(mnist_dir, split="train"):
    """MNIST images of `split` ('train' or 'test') zero-padded to [N, 32, 32] uint8."""
    images = _read_idx(mnist_dir, MNIST_SPLITS[split] + "-images-idx3-ubyte", 2051)
    if images.shape[1:] != (28, 28):
        raise _dataset_error("MNIST images must be 28x28, got %s" % list(images.shape[1:]))
    return np.pad(images, [(0, 0), (2, 2), (2, 2)], mode="constant")


def load_mnist(mnist_dir, split="train"):
    """(images uint8 [N, 1, 32, 32] zero-padded, labels uint8 [N]) of an MNIST-format folder (MNIST,
    Fashion-MNIST), in file order. split: 'train' (train-*-ubyte[.gz]) or 'test' (t10k-*-ubyte[.gz])."""
    images = _load_mnist_images(mnist_dir, split)[:, np.newaxis]
    labels = _read_idx(mnist_dir, MNIST_SPLITS[split] + "-labels-idx1-ubyte", 2049)
    if labels.shape[0] != images.shape[0]:
        raise _dataset_error("MNIST: %d images but %d labels" % (images.shape[0], labels.shape[0]))
    return images, labels


def create_mnist(tfrecord_dir, mnist_dir, split="train", max_images=None):
    """MNIST (or Fashion-MNIST) `split`: [N, 1, 32, 32] (28x28 zero-padded), one-hot labels, shuffled.
    max_images: keep only the split's first N images in file order (a small-data subset)."""
    if max_images is not None and max_images < 1:
        raise _dataset_error("--max-images must be at least 1, got %d" % max_images)
    print('Loading MNIST (%s split) from "%s"' % (split, mnist_dir))
    images, labels = load_mnist(mnist_dir, split)
    images, labels = images[:max_images], labels[:max_images]
    _export_shuffled(tfrecord_dir, images, _one_hot(labels, 10, "MNIST"))


def create_mnistrgb(tfrecord_dir, mnist_dir, num_images=1000000, random_seed=123):
    """Stacked MNIST: each image's R, G, B are three random MNIST digits (RandomState(random_seed))."""
    print('Loading MNIST from "%s"' % mnist_dir)
    images = _load_mnist_images(mnist_dir)
    rnd = np.random.RandomState(random_seed)
    with TFRecordExporter(tfrecord_dir, num_images) as tfr:
        for _ in range(num_images):
            tfr.add_image(images[rnd.randint(images.shape[0], size=3)])


def _load_pickle(path):
    if not os.path.isfile(path):
        raise _dataset_error('file "%s" not found' % path)
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")  # the CIFAR/SVHN pickles were written by Python 2
    except Exception as e:
        raise _dataset_error('cannot read "%s" as a Python pickle: %s' % (path, e))


def _load_cifar_batch(path, label_key):
    data = _load_pickle(path)
    if not isinstance(data, dict) or "data" not in data or label_key not in data:
        raise _dataset_error('"%s" is not a CIFAR python batch (needs keys "data" and "%s")' % (path, label_key))
    images = np.asarray(data["data"], dtype=np.uint8)
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        raise _dataset_error('"%s": "data" must be [N, 3072], got %s' % (path, list(images.shape)))
    labels = np.asarray(data[label_key])
    if labels.shape != (images.shape[0],):
        raise _dataset_error('"%s": %d images but %d labels' % (path, images.shape[0], labels.size))
    return images.reshape(-1, 3, 32, 32), labels


def create_cifar10(tfrecord_dir, cifar10_dir):
    """CIFAR-10 training set (data_batch_1..5 of the python version): [N, 3, 32, 32], one-hot labels."""
    print('Loading CIFAR-10 from "%s"' % cifar10_dir)
    batches = [_load_cifar_batch(os.path.join(cifar10_dir, "data_batch_%d" % i), "labels") for i in range(1, 6)]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    _export_shuffled(tfrecord_dir, images, _one_hot(labels, 10, "CIFAR-10"))


def create_cifar100(tfrecord_dir, cifar100_dir):
    """CIFAR-100 training set (file 'train' of the python version), fine labels one-hot."""
    print('Loading CIFAR-100 from "%s"' % cifar100_dir)
    images, labels = _load_cifar_batch(os.path.join(cifar100_dir, "train"), "fine_labels")
    _export_shuffled(tfrecord_dir, images, _one_hot(labels, 100, "CIFAR-100"))


def _load_svhn(svhn_dir):
    """SVHN training images [N, 3, 32, 32] and labels 0..9 from train_1..3.pkl (the official tool's
    input), or else from train_32x32.mat (the format SVHN is distributed in; label 10 is digit 0)."""
    if os.path.isfile(os.path.join(svhn_dir, "train_1.pkl")):
        images, labels = [], []
        for batch in range(1, 4):
            path = os.path.join(svhn_dir, "train_%d.pkl" % batch)
            data = _load_pickle(path)
            batch_images, batch_labels = np.asarray(data[0], dtype=np.uint8), np.asarray(data[1])
            if batch_images.ndim != 4 or batch_images.shape[1:] != (3, 32, 32):
                raise _dataset_error('"%s": images must be [N, 3, 32, 32], got %s' % (path, list(batch_images.shape)))
            images.append(batch_images)
            labels.append(batch_labels.reshape(-1))
        return np.concatenate(images), np.concatenate(labels)

    path = os.path.join(svhn_dir, "train_32x32.mat")
    if not os.path.isfile(path):
        raise _dataset_error('no SVHN data in "%s": expected train_1.pkl..train_3.pkl or train_32x32.mat' % svhn_dir)
    import scipy.io
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:
        raise _dataset_error('cannot read "%s": %s' % (path, e))
    if "X" not in mat or "y" not in mat or mat["X"].shape[:3] != (32, 32, 3):
        raise _dataset_error('"%s" must hold X [32, 32, 3, N] and y [N, 1]' % path)
    images = np.asarray(mat["X"], dtype=np.uint8).transpose(3, 2, 0, 1)  # [H, W, C, N] -> [N, C, H, W]
    labels = mat["y"].reshape(-1).astype(np.int64) % 10
    return images, labels


def create_svhn(tfrecord_dir, svhn_dir):
    """SVHN training set: [N, 3, 32, 32], one-hot labels, shuffled."""
    print('Loading SVHN from "%s"' % svhn_dir)
    images, labels = _load_svhn(svhn_dir)
    if labels.shape[0] != images.shape[0]:
        raise _dataset_error("SVHN: %d images but %d labels" % (images.shape[0], labels.shape[0]))
    _export_shuffled(tfrecord_dir, images, _one_hot(labels, 10, "SVHN"))


def create_digits(tfrecord_dir, resolution=32, resize_filter="bicubic"):
    """scikit-learn's digits (1,797 real 8x8 scans, values 0..16): [N, 1, R, R], one-hot labels, shuffled.

    The set ships inside scikit-learn, so this needs no download; the default network was trained on it.
    """
    datasets = _import_optional("sklearn.datasets", "scikit-learn", "create_digits")
    if resolution != 2 ** int(np.round(np.log2(resolution))) or resolution < 8:
        raise _dataset_error("--resolution must be a power of two >= 8, got %d" % resolution)
    if resize_filter not in RESIZE_FILTERS:
        raise _dataset_error("--resize-filter must be one of %s, got %s" % (", ".join(RESIZE_FILTERS), resize_filter))
    digits = datasets.load_digits()
    print("Loading %d scikit-learn digits, 8x8 scaled to %dx%d" % (len(digits.images), resolution, resolution))
    images = []
    for image in digits.images:
        pixels = PIL.Image.fromarray(np.rint(image * (255.0 / 16.0)).astype(np.uint8))
        pixels = pixels.resize((resolution, resolution), RESIZE_FILTERS[resize_filter])
        images.append(np.asarray(pixels)[np.newaxis])
    _export_shuffled(tfrecord_dir, np.stack(images), _one_hot(digits.target, 10, "digits"))


# ----------------------------------------------------------------------------------------------------
# LSUN (LMDB of encoded images) and CelebA.


def _decode_rgb(encoded):
    """Encoded image bytes (JPEG, WebP, PNG, ...) -> uint8 [H, W, 3]."""
    with PIL.Image.open(io.BytesIO(encoded)) as img:
        return np.asarray(img.convert("RGB"))


def _iterate_lmdb(lmdb_dir):
    """(number of entries, iterator over (key, value))."""
    lmdb = _import_optional("lmdb", "lmdb", "reading LSUN (LMDB)")
    if not os.path.exists(lmdb_dir):
        raise _dataset_error('LMDB "%s" not found' % lmdb_dir)
    try:
        env = lmdb.open(lmdb_dir, readonly=True, lock=False, subdir=os.path.isdir(lmdb_dir))
    except lmdb.Error as e:
        raise _dataset_error('cannot open LMDB "%s": %s' % (lmdb_dir, e))
    txn = env.begin(write=False)
    return txn.stat()["entries"], txn.cursor()


def _print_skipped(skipped, total):
    """Summary of skipped inputs: a list of (name, reason)."""
    if not skipped:
        return
    print("Skipped %d of %d inputs:" % (len(skipped), total))
    for name, reason in skipped[:20]:
        print("  %s: %s" % (name, reason))
    if len(skipped) > 20:
        print("  ... and %d more" % (len(skipped) - 20))


def _export_lmdb_images(tfrecord_dir, lmdb_dir, max_images, convert):
    """Write the images of an LSUN LMDB, in file order, as convert(RGB uint8 [H, W, 3]) returns them (uint8
    [C, H, W], or a string: the reason to skip the image); the skipped inputs are listed at the end."""
    print('Loading LSUN from "%s"' % lmdb_dir)
    total_images, cursor = _iterate_lmdb(lmdb_dir)
    limit = total_images if max_images is None else max_images
    skipped = []
    with TFRecordExporter(tfrecord_dir, limit) as tfr:
        for key, value in cursor:
            name = key.decode("ascii", "replace")
            try:
                img = _decode_rgb(value)
            except Exception as e:
                skipped.append((name, "cannot decode: %s" % e))
                continue
            converted = convert(img)
            if isinstance(converted, str):
                skipped.append((name, converted))
                continue
            tfr.add_image(converted)
            if tfr.cur_images == limit:
                break
    _print_skipped(skipped, tfr.cur_images + len(skipped))


def create_lsun(tfrecord_dir, lmdb_dir, resolution=256, max_images=None):
    """LSUN category (LMDB of JPEG/WebP): center square crop, Lanczos resize to `resolution`, file order.
    Images that cannot be decoded are skipped and listed at the end, as the official tool skips them."""
    def convert(img):
        img = _center_crop(PIL.Image.fromarray(img, "RGB"))
        img = img.resize((resolution, resolution), RESIZE_FILTERS["lanczos"])
        return np.asarray(img).transpose(2, 0, 1)

    _export_lmdb_images(tfrecord_dir, lmdb_dir, max_images, convert)


def create_lsun_wide(tfrecord_dir, lmdb_dir, width=512, height=384, max_images=None):
    """LSUN with a wide aspect, letterboxed: the middle round(width * H / W) rows of each W x H image,
    Lanczos-resized to width x height, in the middle of a black width x width canvas. This is the
    official tool's crop (for sources wider than `width` it also narrows the image a little); images
    narrower than `width`, or too short, are skipped."""
    if width != 2 ** int(np.round(np.log2(width))) or width < 4:
        raise _dataset_error("--width must be a power of two, got %d" % width)
    if not 0 < height <= width:
        raise _dataset_error("--height must be in 1..width, got %d" % height)

    def convert(img):
        crop_height = int(np.round(width * img.shape[0] / img.shape[1]))
        if img.shape[1] < width or crop_height < height:
            return "too small (%dx%d)" % (img.shape[1], img.shape[0])
        img = img[(img.shape[0] - crop_height) // 2:(img.shape[0] + crop_height) // 2]
        img = PIL.Image.fromarray(img, "RGB").resize((width, height), RESIZE_FILTERS["lanczos"])
        canvas = np.zeros([3, width, width], dtype=np.uint8)
        canvas[:, (width - height) // 2:(width + height) // 2] = np.asarray(img).transpose(2, 0, 1)
        return canvas

    _export_lmdb_images(tfrecord_dir, lmdb_dir, max_images, convert)


def create_celeba(tfrecord_dir, celeba_dir, cx=89, cy=121):
    """CelebA aligned images (img_align_celeba_png/*.png, else img_align_celeba/*.jpg), 178x218: the
    128x128 crop centred at (cx, cy), shuffled."""
    print('Loading CelebA from "%s"' % celeba_dir)
    image_filenames = []
    for folder, ext in [("img_align_celeba_png", ".png"), ("img_align_celeba", ".jpg")]:
        folder = os.path.join(celeba_dir, folder)
        if os.path.isdir(folder):
            image_filenames = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(ext))
            break
    if not image_filenames:
        raise _dataset_error('no CelebA images in "%s": expected img_align_celeba_png/*.png' % celeba_dir)
    if len(image_filenames) != 202599:
        print("Note: found %d images; the full CelebA set has 202599." % len(image_filenames))
    if not (64 <= cx <= 178 - 64 and 64 <= cy <= 218 - 64):
        raise _dataset_error("--cx must be in 64..114 and --cy in 64..154 for a 128x128 crop, got %d, %d" % (cx, cy))

    with TFRecordExporter(tfrecord_dir, len(image_filenames)) as tfr:
        for idx in tfr.choose_shuffled_order():
            path = image_filenames[idx]
            img = _open_image_array(path)
            if img.shape != (218, 178, 3):
                raise _dataset_error('"%s" is %s; CelebA aligned images are 178x218 RGB' % (path, _describe(img)))
            tfr.add_image(img[cy - 64:cy + 64, cx - 64:cx + 64].transpose(2, 0, 1))


def _open_image_array(path):
    try:
        with PIL.Image.open(path) as img:
            return np.asarray(img)
    except Exception as e:
        raise _dataset_error('cannot read image "%s": %s' % (path, e))


def _describe(img):
    channels = "grayscale" if img.ndim == 2 else "%d channels" % img.shape[2]
    return "%dx%d %s" % (img.shape[1], img.shape[0], channels)


# ----------------------------------------------------------------------------------------------------
# A folder of images.


def _center_crop(img):
    """PIL image -> its centred square of side min(width, height)."""
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return img.crop((left, top, left + side, top + side))


def _letterbox(img, side, resample):
    """PIL image -> side x side: scaled so that its longer edge is `side`, centred on black."""
    width, height = img.size
    scale = side / max(width, height)
    new_size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    if new_size != img.size:
        img = img.resize(new_size, resample)
    canvas = PIL.Image.new(img.mode, (side, side), 0)
    canvas.paste(img, ((side - new_size[0]) // 2, (side - new_size[1]) // 2))
    return canvas


_IMAGE_MODES = {"L": 1, "1": 1, "RGB": 3, "P": 3, "CMYK": 3, "YCbCr": 3}


def _list_image_files(image_dir, labels_from_subdirs):
    """(files, labels, class_names, ignored): every non-hidden file, sorted by path; with subfolders as
    classes, the files anywhere below each class folder, label = index of the sorted class name."""
    if os.path.isfile(image_dir):
        raise _dataset_error('"%s" is a file: create_from_images reads a folder of images; give the folder that '
                             'holds it' % image_dir)
    if not os.path.isdir(image_dir):
        raise _dataset_error('image directory "%s" does not exist' % image_dir)
    entries = sorted(e for e in os.listdir(image_dir) if not e.startswith("."))
    top_files = [os.path.join(image_dir, e) for e in entries if os.path.isfile(os.path.join(image_dir, e))]
    if not labels_from_subdirs:
        return top_files, None, None, []

    class_names = [e for e in entries if os.path.isdir(os.path.join(image_dir, e))]
    if not class_names:
        raise _dataset_error('--labels-from-subdirs: "%s" has no sub-folders' % image_dir)
    files, labels = [], []
    for label, class_name in enumerate(class_names):
        class_files = []
        for root, dirs, names in os.walk(os.path.join(image_dir, class_name)):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            class_files += [os.path.join(root, n) for n in names if not n.startswith(".")]
        files += sorted(class_files)
        labels += [label] * len(class_files)
    return files, labels, class_names, top_files


class _ImageSpec:
    """What every image must become: channels and resolution (from the options or the first good image)."""

    def __init__(self, resolution, transform):
        self.resolution = resolution
        self.transform = transform
        self.channels = None      # 1 or 3, from the first good image
        self.side = None          # output size without `resolution`, from the first good image
        self.first_file = None


def _check_image_header(path, spec):
    """Open the image lazily (no pixel decoding) and return why it cannot be used, or None."""
    try:
        with PIL.Image.open(path) as img:
            mode, (width, height) = img.mode, img.size
    except Exception as e:
        return "cannot read as an image (%s)" % (str(e) or type(e).__name__)
    if mode not in _IMAGE_MODES:
        return "unsupported image mode %s (only RGB or grayscale; convert it first)" % mode
    channels = _IMAGE_MODES[mode]
    if spec.channels is not None and channels != spec.channels:
        return "wrong channels: %s, but the dataset is %s (from %s)" % (
            "grayscale" if channels == 1 else "RGB", "grayscale" if spec.channels == 1 else "RGB", spec.first_file)
    if width != height and spec.transform is None:
        return "not square (%dx%d); use --transform center-crop or letterbox" % (width, height)
    if spec.resolution is None:
        side = min(width, height) if spec.transform == "center-crop" else max(width, height)
        if side != 2 ** int(np.round(np.log2(side))) or side < 4:
            return "size %dx%d is not a power of two >= 4; use --resolution to resize" % (width, height)
        if spec.channels is not None and side != spec.side:
            return "wrong size: %dx%d, but the dataset is %dx%d (from %s); use --resolution to resize" % (
                width, height, spec.side, spec.side, spec.first_file)
        spec.side = side
    if spec.channels is None:
        spec.channels = channels
        spec.first_file = path
    return None


def _load_image_chw(path, spec, resample):
    """Decode, crop or letterbox, resize; uint8 [C, side, side]."""
    with PIL.Image.open(path) as img:
        img.load()
        mode = "L" if spec.channels == 1 else "RGB"
        if img.mode != mode:
            img = img.convert(mode)
        side = spec.resolution or spec.side
        if spec.transform == "letterbox":
            img = _letterbox(img, side, resample)
        elif spec.transform == "center-crop":
            img = _center_crop(img)
        if img.size != (side, side):
            img = img.resize((side, side), resample)
        array = np.asarray(img)
    return array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)


def create_from_images(tfrecord_dir, image_dir, shuffle=1, resolution=None, resize_filter="lanczos",
                       transform=None, labels_from_subdirs=False, skip_bad_files=False):
    """A folder of RGB or grayscale images (PNG, JPEG, ... any format Pillow reads).

    Without options the images must be square, of one power-of-two size and all RGB or all grayscale
    (the channels of the first image decide), as for the official tool. `resolution` resizes every
    image with `resize_filter`; `transform` ('center-crop' or 'letterbox') makes non-square images
    square. `labels_from_subdirs` takes one-hot labels from the names of the sub-folders (sorted).
    A file that cannot be used stops the command with an error naming it, unless `skip_bad_files`:
    then it is reported, skipped, and listed in a summary at the end.
    """
    if resolution is not None and (resolution != 2 ** int(np.round(np.log2(resolution))) or resolution < 4):
        raise _dataset_error("--resolution must be a power of two >= 4, got %d" % resolution)
    if resize_filter not in RESIZE_FILTERS:
        raise _dataset_error("--resize-filter must be one of %s, got %s" % (", ".join(RESIZE_FILTERS), resize_filter))
    if transform not in (None, "center-crop", "letterbox"):
        raise _dataset_error("--transform must be center-crop or letterbox, got %s" % transform)
    resample = RESIZE_FILTERS[resize_filter]

    print('Loading images from "%s"' % image_dir)
    files, labels, class_names, ignored = _list_image_files(image_dir, labels_from_subdirs)
    if ignored:
        print("Ignoring %d files outside the class sub-folders, e.g. %s" % (len(ignored), ignored[0]))
    if not files:
        raise _dataset_error('no input images found in "%s"' % image_dir)

    # Check every header first, so that a bad file stops the command before any long work.
    spec = _ImageSpec(resolution, transform)
    good, skipped = [], []
    for idx, path in enumerate(tqdm(files, unit="file", desc="Checking", leave=False)):
        problem = _check_image_header(path, spec)
        if problem is None:
            good.append(idx)
        else:
            skipped.append((path, problem))
    if skipped and not skip_bad_files:
        lines = ["  %s: %s" % item for item in skipped[:10]] + (["  ..."] if len(skipped) > 10 else [])
        raise _dataset_error("%d of %d input files cannot be used (pass --skip-bad-files to skip them):\n%s"
                           % (len(skipped), len(files), "\n".join(lines)))
    for path, problem in skipped:
        print('Skipping "%s": %s' % (path, problem))
    if not good:
        raise _dataset_error('none of the %d files in "%s" can be used' % (len(files), image_dir))

    written_labels = []
    with TFRecordExporter(tfrecord_dir, len(good)) as tfr:
        order = tfr.choose_shuffled_order() if shuffle else np.arange(len(good))
        for idx in order:
            path = files[good[idx]]
            try:
                img = _load_image_chw(path, spec, resample)
            except Exception as e:
                if not skip_bad_files:
                    raise _dataset_error('cannot read image "%s": %s' % (path, e))
                print('Skipping "%s": cannot decode (%s)' % (path, e))
                skipped.append((path, "cannot decode (%s)" % e))
                continue
            tfr.add_image(img)
            if labels is not None:
                written_labels.append(labels[good[idx]])
        if labels is not None:
            tfr.add_labels(_one_hot(written_labels, len(class_names), image_dir))
            tfr.add_text_file("-rxx.classes.txt", "".join(name + "\n" for name in class_names))
            print("Labels from %d sub-folders: %s" % (len(class_names), ", ".join(
                "%d=%s" % item for item in enumerate(class_names))))
    _print_skipped(skipped, len(files))


def create_from_hdf5(tfrecord_dir, hdf5_filename, shuffle=1):
    """The HDF5 format of Progressive GAN's h5tool: datasets data4x4 ... dataRxR of [N, C, H, W] uint8;
    the largest is used. Labels come from `<hdf5 name>-labels.npy` if it exists."""
    h5py = _import_optional("h5py", "h5py", "create_from_hdf5")
    if not os.path.isfile(hdf5_filename):
        raise _dataset_error('HDF5 file "%s" not found' % hdf5_filename)
    print('Loading HDF5 archive from "%s"' % hdf5_filename)
    try:
        hdf5_file = h5py.File(hdf5_filename, "r")
    except Exception as e:
        raise _dataset_error('cannot read "%s" as HDF5: %s' % (hdf5_filename, e))
    with hdf5_file:
        levels = [value for key, value in hdf5_file.items() if key.startswith("data") and len(value.shape) == 4]
        if not levels:
            raise _dataset_error('"%s" has no datasets named data<R>x<R> of [N, C, H, W]' % hdf5_filename)
        hdf5_data = max(levels, key=lambda level: level.shape[3])
        npy_filename = os.path.splitext(hdf5_filename)[0] + "-labels.npy"
        labels = np.load(npy_filename) if os.path.isfile(npy_filename) else None
        if labels is not None and labels.shape[0] != hdf5_data.shape[0]:
            raise _dataset_error('"%s" has %d rows, "%s" %d images' % (npy_filename, labels.shape[0], hdf5_filename,
                                                                    hdf5_data.shape[0]))
        with TFRecordExporter(tfrecord_dir, hdf5_data.shape[0]) as tfr:
            order = tfr.choose_shuffled_order() if shuffle else np.arange(hdf5_data.shape[0])
            for idx in order:
                tfr.add_image(hdf5_data[idx])
            if labels is not None:
                tfr.add_labels(labels[order])


# ----------------------------------------------------------------------------------------------------
# Command line.


def _make_parser():
    parser = cli.ArgumentParser(
        prog="dataset_tool.py",
        description="Create multi-resolution TFRecord datasets for StyleGAN2, and look inside them.",
        epilog="Type 'python dataset_tool.py <command> -h' for the options of a command.")
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    subparsers.required = True

    def add_command(name, help_text, example):
        return subparsers.add_parser(name, help=help_text, description=help_text, epilog="Example: " + example)

    _add_inspection_commands(add_command)
    _add_small_dataset_commands(add_command)
    _add_photo_dataset_commands(add_command)
    return parser


def _add_inspection_commands(add_command):
    """display, extract, compare."""
    p = add_command("display", "Show the images of a dataset (a grid PNG without a screen or OpenCV).",
                    "display datasets/mnist --output mnist.png")
    p.add_argument("tfrecord_dir", help="dataset directory")
    p.add_argument("--output", help="write the first images as a grid PNG here instead of opening a window")
    p.add_argument("--max_images", "--max-images", type=int, default=64, help="images in the grid (default: 64)")

    p = add_command("extract", "Write the images of a dataset as PNGs img00000000.png ...",
                    "extract datasets/mnist mnist-images")
    p.add_argument("tfrecord_dir", help="dataset directory")
    p.add_argument("output_dir", help="folder for the PNGs")

    p = add_command("compare", "Compare two datasets image by image.", "compare datasets/mydataset datasets/mnist")
    p.add_argument("tfrecord_dir_a", help="first dataset directory")
    p.add_argument("tfrecord_dir_b", help="second dataset directory")
    p.add_argument("--ignore_labels", "--ignore-labels", type=int, default=0, help="ignore labels (default: 0)")


def _add_small_dataset_commands(add_command):
    """The digit and small-image datasets: MNIST, stacked MNIST, CIFAR-10/100, SVHN, scikit-learn digits."""
    p = add_command("create_mnist", "Create a dataset of MNIST or Fashion-MNIST (train-*-idx*-ubyte.gz).",
                    "create_mnist datasets/fmnist-test /usr/share/datasets/fashion-mnist --split=test")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("mnist_dir", help="folder with the MNIST files")
    p.add_argument("--split", choices=sorted(MNIST_SPLITS), default="train",
                   help="train: the train-* files (60,000 images), test: the t10k-* files (10,000) (default: train)")
    p.add_argument("--max_images", "--max-images", type=int, default=None,
                   help="only the split's first N images, in file order (default: all)")

    p = add_command("create_mnistrgb", "Create a stacked-MNIST dataset of RGB images of three digits.",
                    "create_mnistrgb datasets/mnistrgb ~/downloads/mnist")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("mnist_dir", help="folder with the MNIST files")
    p.add_argument("--num_images", "--num-images", type=int, default=1000000, help="default: 1000000")
    p.add_argument("--random_seed", "--random-seed", type=int, default=123, help="default: 123")

    p = add_command("create_cifar10", "Create a dataset of CIFAR-10 (python version).",
                    "create_cifar10 datasets/cifar10 ~/downloads/cifar10")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("cifar10_dir", help="folder with data_batch_1 ... data_batch_5")

    p = add_command("create_cifar100", "Create a dataset of CIFAR-100 (python version).",
                    "create_cifar100 datasets/cifar100 ~/downloads/cifar100")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("cifar100_dir", help="folder with the file 'train'")

    p = add_command("create_svhn", "Create a dataset of SVHN (train_1..3.pkl or train_32x32.mat).",
                    "create_svhn datasets/svhn ~/downloads/svhn")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("svhn_dir", help="folder with the SVHN files")

    p = add_command("create_digits", "Create a dataset of scikit-learn's handwritten digits (no download).",
                    "create_digits datasets/digits --resolution=32")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("--resolution", type=int, default=32, help="output resolution (default: 32)")
    p.add_argument("--resize_filter", "--resize-filter", default="bicubic", choices=sorted(RESIZE_FILTERS),
                   help="filter for the 8x8 -> resolution upscale (default: bicubic)")


def _add_photo_dataset_commands(add_command):
    """LSUN, CelebA, folders of images, HDF5 archives."""
    p = add_command("create_lsun", "Create a dataset of one LSUN category (LMDB).",
                    "create_lsun datasets/lsun-car-100k ~/downloads/lsun/car_lmdb --resolution 256 --max_images 100000")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("lmdb_dir", help="LMDB folder")
    p.add_argument("--resolution", type=int, default=256, help="output resolution (default: 256)")
    p.add_argument("--max_images", "--max-images", type=int, default=None, help="at most this many images")

    p = add_command("create_lsun_wide", "Create a wide-aspect LSUN dataset, letterboxed into squares (LMDB).",
                    "create_lsun_wide datasets/lsun-car-512x384 ~/downloads/lsun/car_lmdb --width 512 --height 384")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("lmdb_dir", help="LMDB folder")
    p.add_argument("--width", type=int, default=512, help="output width (default: 512)")
    p.add_argument("--height", type=int, default=384, help="output height (default: 384)")
    p.add_argument("--max_images", "--max-images", type=int, default=None, help="at most this many images")

    p = add_command("create_celeba", "Create a dataset of CelebA (128x128 crops of the aligned images).",
                    "create_celeba datasets/celeba ~/downloads/celeba")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("celeba_dir", help="folder with img_align_celeba_png/")
    p.add_argument("--cx", type=int, default=89, help="crop center x (default: 89)")
    p.add_argument("--cy", type=int, default=121, help="crop center y (default: 121)")

    p = add_command("create_from_images", "Create a dataset from a folder of images.",
                    "create_from_images datasets/mydataset myimagedir --resolution 256 --transform center-crop")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("image_dir", help="folder of images")
    p.add_argument("--shuffle", type=int, default=1, help="shuffle the images (default: 1)")
    p.add_argument("--resolution", type=int, default=None,
                   help="resize every image to this power of two (default: keep the size)")
    p.add_argument("--resize-filter", "--resize_filter", dest="resize_filter", default="lanczos",
                   choices=sorted(RESIZE_FILTERS), help="filter for --resolution (default: lanczos)")
    p.add_argument("--transform", default=None, choices=["center-crop", "letterbox"],
                   help="make non-square images square (default: non-square images are errors)")
    p.add_argument("--labels-from-subdirs", "--labels_from_subdirs", dest="labels_from_subdirs",
                   action="store_true", help="one class per sub-folder; one-hot labels from the sorted folder names")
    p.add_argument("--skip-bad-files", "--skip_bad_files", dest="skip_bad_files", action="store_true",
                   help="skip and report unusable files (default: stop with an error naming the file)")

    p = add_command("create_from_hdf5", "Create a dataset from a Progressive GAN HDF5 archive.",
                    "create_from_hdf5 datasets/celebahq ~/downloads/celeba-hq-1024x1024.h5")
    p.add_argument("tfrecord_dir", help="new dataset directory")
    p.add_argument("hdf5_filename", help="HDF5 archive")
    p.add_argument("--shuffle", type=int, default=1, help="shuffle the images (default: 1)")


def _datasets_differ(result, ignore_labels):
    """Whether a `compare` result shows any difference (image count, an image, or a label)."""
    num = result["num_images_a"]
    return (result["num_images_b"] != num or result["identical_images"] != num
            or (not ignore_labels and result["identical_labels"] != num))


def execute_cmdline(argv):
    """Run one command; `argv` as sys.argv (program name first). Errors exit with status 1, and so does
    `compare` when the datasets differ."""
    args = vars(_make_parser().parse_args(argv[1:] if len(argv) > 1 else ["-h"]))
    command = args.pop("command")
    try:
        result = globals()[command](**args)
    except dataset.DatasetError as e:
        sys.exit(cli.report_error("dataset_tool.py", e))
    if command == "compare" and _datasets_differ(result, args["ignore_labels"]):
        print("The datasets differ.")
        sys.exit(1)


if __name__ == "__main__":
    execute_cmdline(sys.argv)
