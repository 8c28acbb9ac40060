"""training/dataset.py: TFRecordDataset reads every level (ours and the official tool's datasets), labels,
shuffling/repeat, random labels, load_dataset, and clear errors for broken dataset directories."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dataset_tool
from training import dataset


def write_dataset(tfrecord_dir, images, labels=None):
    """Write images uint8 [N, C, H, W] (and labels) with the exporter, in the given order."""
    with dataset_tool.TFRecordExporter(str(tfrecord_dir), len(images), print_progress=False) as tfr:
        for img in images:
            tfr.add_image(img)
        if labels is not None:
            tfr.add_labels(labels)
    return str(tfrecord_dir)


def write_records(path, images):
    """Write raw records (any shapes) into one .tfrecords file."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for img in images:
            writer.write(dataset_tool._serialize_image(np.asarray(img, np.uint8)))


def box_down(images):
    """[N, C, H, W] uint8 -> the next level: 2x2 mean in float64, rounded (exact for one step)."""
    n, c, h, w = images.shape
    return np.rint(images.astype(np.float64).reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))).astype(np.uint8)


def read_all(dset, num, lod):
    """All records of a non-repeating dataset at `lod`, as one batch; the next call must be out of range."""
    images, labels = dset.get_minibatch_np(num, lod=lod)
    with pytest.raises(tf.errors.OutOfRangeError):
        dset.get_minibatch_np(num, lod=lod)
    return images, labels


@pytest.fixture
def images16():
    return np.random.RandomState(7).randint(0, 256, size=(6, 3, 16, 16)).astype(np.uint8)


@pytest.mark.parametrize("name", ["rgb32", "gray32", "cifar10", "mnist"])
def test_reads_official_datasets_at_every_lod(sess, reference, name):
    ref = os.path.join(reference, "pieces", "dataset")
    decoded = np.load(os.path.join(ref, "decoded.npz"))
    dset = dataset.TFRecordDataset(os.path.join(ref, "outputs", name), max_label_size="full", repeat=False,
                                   shuffle_mb=0)
    channels = 1 if name in ("gray32", "mnist") else 3
    assert dset.resolution == 32 and dset.resolution_log2 == 5 and dset.shape == [channels, 32, 32]
    assert dset.dtype == "uint8" and dset.dynamic_range == [0, 255]
    has_labels = name in ("cifar10", "mnist")
    assert dset.label_size == (10 if has_labels else 0) and dset.label_dtype == "float32"
    num = decoded[name + "/order"].shape[0]
    for lod in range(4):
        images, labels = read_all(dset, num, lod)
        assert images.dtype == np.uint8
        np.testing.assert_array_equal(images, decoded["%s/r%02d" % (name, 5 - lod)])
        if has_labels:
            np.testing.assert_array_equal(labels, decoded[name + "/labels"])
        else:
            assert labels.shape == (num, 0)


def test_minibatches_in_file_order_with_labels(sess, tmp_path, images16):
    labels = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    path = write_dataset(tmp_path / "ds", images16, labels)
    dset = dataset.TFRecordDataset(path, max_label_size="full", repeat=False, shuffle_mb=0, prefetch_mb=1)
    assert dset.label_size == 4
    got_images, got_labels = dset.get_minibatch_np(4)
    np.testing.assert_array_equal(got_images, images16[:4])
    np.testing.assert_array_equal(got_labels, labels[:4])
    got_images, got_labels = dset.get_minibatch_np(4)  # the rest: a short last batch
    np.testing.assert_array_equal(got_images, images16[4:])
    np.testing.assert_array_equal(got_labels, labels[4:])
    with pytest.raises(ValueError, match="lod 3"):
        dset.configure(2, lod=3)
    with pytest.raises(ValueError, match="minibatch_size"):
        dset.configure(0, lod=0)
    dset.configure(2, lod=1.7)  # fractional lods use the level floor(lod)
    assert dset.get_minibatch_np(2, lod=1.7)[0].shape == (2, 3, 8, 8)


def test_levels_are_box_averages_of_unrounded_levels(sess, tmp_path, images16):
    path = write_dataset(tmp_path / "ds", images16)
    dset = dataset.TFRecordDataset(path, repeat=False, shuffle_mb=0)
    level = images16.astype(np.float64)
    for lod in range(3):
        got, labels = read_all(dset, 6, lod)
        np.testing.assert_array_equal(got, np.rint(level).astype(np.uint8))
        assert labels.shape == (6, 0)
        n, c, h, w = level.shape
        level = level.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def test_shuffle_repeat_and_max_images(sess, tmp_path, images16):
    labels = np.arange(6, dtype=np.float32)[:, None] * np.ones([1, 3], np.float32)
    path = write_dataset(tmp_path / "ds", images16, labels)
    dset = dataset.TFRecordDataset(path, max_label_size="full", shuffle_mb=1, prefetch_mb=1)  # repeat=True
    images, got_labels = dset.get_minibatch_np(18)  # three epochs
    for epoch in range(3):
        ids = got_labels[6 * epoch:6 * epoch + 6, 0].astype(int)
        assert sorted(ids) == list(range(6))  # each epoch holds every image once, labels still paired
        np.testing.assert_array_equal(images[6 * epoch:6 * epoch + 6], images16[ids])
    orders = [tuple(got_labels[6 * e:6 * e + 6, 0].astype(int)) for e in range(3)]
    assert any(order != tuple(range(6)) for order in orders)  # shuffled

    dset = dataset.TFRecordDataset(path, max_label_size=2, max_images=4, repeat=False, shuffle_mb=0)
    assert dset.label_size == 2
    images, got_labels = read_all(dset, 10, 0)
    np.testing.assert_array_equal(images, images16[:4])
    np.testing.assert_array_equal(got_labels, labels[:4, :2])


def test_labels_default_off_and_random_labels(sess, tmp_path, images16):
    labels = np.eye(6, dtype=np.float32)[[5, 5, 2, 2, 5, 2]]
    path = write_dataset(tmp_path / "ds", images16, labels)
    dset = dataset.TFRecordDataset(path)  # max_label_size=0: unconditional, as run_training uses it
    assert dset.label_size == 0
    assert dset.get_random_labels_np(3).shape == (3, 0)
    assert sess.run(dset.get_random_labels_tf(3)).shape == (3, 0)

    dset = dataset.TFRecordDataset(path, max_label_size="full", repeat=False)
    np.random.seed(0)
    random_np = dset.get_random_labels_np(200)
    random_tf = sess.run(dset.get_random_labels_tf(200))
    for random_labels in (random_np, random_tf):
        assert random_labels.shape == (200, 6)
        columns = np.argmax(random_labels, axis=1)
        assert set(columns) == {2, 5}  # only rows that exist, both drawn
        assert 60 < np.sum(columns == 5) < 140


def test_minibatch_tf_and_load_dataset(sess, tmp_path, images16, capsys):
    write_dataset(tmp_path / "ds", images16)
    dset = dataset.load_dataset(data_dir=str(tmp_path), tfrecord_dir="ds", verbose=True, repeat=False,
                                shuffle_mb=0)
    assert isinstance(dset, dataset.TFRecordDataset)
    out = capsys.readouterr().out
    assert "Dataset shape = [3, 16, 16]" in out and "Label size    = 0" in out
    images_tf, labels_tf = dset.get_minibatch_tf()
    dset.configure(3, lod=2)
    first = sess.run(images_tf)
    assert first.shape == (3, 3, 4, 4)
    dset.configure(3, lod=0)  # switching reinitializes at the start of the new level
    np.testing.assert_array_equal(sess.run(images_tf), images16[:3])
    with pytest.raises(ValueError):
        dataset.load_dataset()


def test_resolution_argument_uses_lower_levels(sess, tmp_path, images16):
    path = write_dataset(tmp_path / "ds", images16)
    dset = dataset.TFRecordDataset(path, resolution=8, repeat=False, shuffle_mb=0)
    assert dset.shape == [3, 8, 8] and dset.resolution_log2 == 3
    images, _ = read_all(dset, 6, 0)
    np.testing.assert_array_equal(images, box_down(images16))


# ----------------------------------------------------------------------------------------------------
# Errors.


def test_missing_directory_and_no_files(sess, tmp_path):
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        dataset.TFRecordDataset(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(dataset.DatasetError, match="no .tfrecords files"):
        dataset.TFRecordDataset(str(tmp_path / "empty"))


def test_missing_level(sess, tmp_path, images16):
    path = write_dataset(tmp_path / "ds", images16)
    os.remove(os.path.join(path, "ds-r03.tfrecords"))
    with pytest.raises(dataset.DatasetError, match=r"lacks the levels of resolution \[8\]"):
        dataset.TFRecordDataset(path)


def test_non_square_and_mismatched_shapes(sess, tmp_path):
    (tmp_path / "a").mkdir()
    write_records(tmp_path / "a" / "a-r03.tfrecords", [np.zeros([3, 8, 16])])
    with pytest.raises(dataset.DatasetError, match=r"a-r03.tfrecords.*\[3, 8, 16\].*square"):
        dataset.TFRecordDataset(str(tmp_path / "a"))

    (tmp_path / "b").mkdir()
    write_records(tmp_path / "b" / "b-r03.tfrecords", [np.zeros([3, 8, 8])])
    write_records(tmp_path / "b" / "b-r02.tfrecords", [np.zeros([1, 4, 4])])
    with pytest.raises(dataset.DatasetError, match="b-r02.tfrecords.* 1 channels"):
        dataset.TFRecordDataset(str(tmp_path / "b"))

    (tmp_path / "c").mkdir()
    write_records(tmp_path / "c" / "c-r04.tfrecords", [np.zeros([3, 16, 16])])
    write_records(tmp_path / "c" / "c-r03.tfrecords", [np.zeros([3, 8, 8])])
    write_records(tmp_path / "c" / "c-rxx.tfrecords", [np.zeros([3, 6, 6])])
    with pytest.raises(dataset.DatasetError, match="resolution 6, which is no level of detail of 16"):
        dataset.TFRecordDataset(str(tmp_path / "c"))

    (tmp_path / "d").mkdir()
    write_records(tmp_path / "d" / "d-r02.tfrecords", [])
    with pytest.raises(dataset.DatasetError, match="holds no records"):
        dataset.TFRecordDataset(str(tmp_path / "d"))


def test_label_file_with_wrong_number_of_rows(sess, tmp_path, images16):
    path = write_dataset(tmp_path / "ds", images16, np.zeros([6, 3], np.float32))
    np.save(os.path.join(path, "ds-rxx.labels"), np.zeros([5, 3], np.float32))
    os.rename(os.path.join(path, "ds-rxx.labels.npy"), os.path.join(path, "ds-rxx.labels"))
    dataset.TFRecordDataset(path)  # labels are not read unless asked for
    with pytest.raises(dataset.DatasetError, match="ds-rxx.labels.* 5 rows but the dataset has 6 images"):
        dataset.TFRecordDataset(path, max_label_size="full")
    np.save(os.path.join(path, "other.npy"), np.zeros([6], np.float32))
    with pytest.raises(dataset.DatasetError, match=r"other.npy.*\[6\]"):
        dataset.TFRecordDataset(path, label_file="other.npy", max_label_size="full")
    with pytest.raises(dataset.DatasetError, match="missing.labels.*not found"):
        dataset.TFRecordDataset(path, label_file="missing.labels", max_label_size="full")
