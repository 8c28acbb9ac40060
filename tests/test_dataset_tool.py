"""dataset_tool.py: every create_* command on small inputs in the real source formats, extract/compare/display,
byte-identity with the official tool's outputs, and bad inputs (clear errors, reported skips, no partial output)."""

import gzip
import io
import os
import pickle
import struct
import subprocess
import sys
import time

import numpy as np
import PIL.features
import PIL.Image
import pytest

import dataset_tool
from training import dataset


# ----------------------------------------------------------------------------------------------------
# Helpers.


def run_tool(*args):
    """Run a command in-process; returns normally or raises SystemExit (status 1 for errors)."""
    dataset_tool.execute_cmdline(["dataset_tool.py"] + [str(a) for a in args])


def run_tool_error(capsys, *args):
    """Run a command that must fail; returns its error message."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_tool(*args)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "error:" in err
    return err


def read_levels(tfrecord_dir):
    """{resolution: uint8 [N, C, R, R]} of every .tfrecords file, records in file order."""
    levels = {}
    for path in dataset.list_tfrecord_files(str(tfrecord_dir)):
        images = np.stack([dataset.parse_tfrecord_np(r) for r in dataset.iterate_tfrecord_file(path)])
        levels[images.shape[-1]] = images
    return levels


def read_labels(tfrecord_dir):
    return np.load(os.path.join(str(tfrecord_dir), os.path.basename(str(tfrecord_dir)) + "-rxx.labels"))


def expected_levels(images):
    """The levels of detail by definition: 2x2 means in float64 of the unrounded level above, rounded."""
    levels = {}
    x = images.astype(np.float64)
    while True:
        levels[x.shape[-1]] = np.rint(x).clip(0, 255).astype(np.uint8)
        if x.shape[-1] == 4:
            return levels
        n, c, h, w = x.shape
        x = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def shuffled_order(n):
    order = np.arange(n)
    np.random.RandomState(123).shuffle(order)
    return order


def assert_dataset(tfrecord_dir, images_in_order, labels_in_order=None):
    """The dataset holds exactly these full-resolution images (and labels), and every level matches."""
    levels = read_levels(tfrecord_dir)
    expected = expected_levels(images_in_order)
    assert sorted(levels) == sorted(expected)
    for res in expected:
        np.testing.assert_array_equal(levels[res], expected[res], err_msg="resolution %d" % res)
    label_files = [f for f in os.listdir(str(tfrecord_dir)) if f.endswith(".labels")]
    if labels_in_order is None:
        assert label_files == []
    else:
        labels = read_labels(tfrecord_dir)
        assert labels.dtype == np.float32
        np.testing.assert_array_equal(labels, labels_in_order)


def one_hot(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]


def no_partial_output(parent):
    """No hidden partial folder left next to the target."""
    return [name for name in os.listdir(str(parent)) if ".partial-" in name] == []


def save_png(path, array):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    PIL.Image.fromarray(array).save(str(path))


def random_images(seed, shape):
    return np.random.RandomState(seed).randint(0, 256, size=shape).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------
# The official tool's outputs: ours are byte-identical, and extract/compare agree.


@pytest.mark.parametrize("name,command,source", [
    ("rgb32", "create_from_images", "rgb_png"),
    ("gray32", "create_from_images", "gray_png"),
    ("cifar10", "create_cifar10", "cifar-10-batches-py"),
    ("mnist", "create_mnist", "mnist"),
])
def test_byte_identical_to_official_tool(reference, tmp_path, name, command, source):
    ref = os.path.join(reference, "pieces", "dataset")
    run_tool(command, tmp_path / name, os.path.join(ref, "inputs", source))
    ref_files = sorted(os.listdir(os.path.join(ref, "outputs", name)))
    assert sorted(os.listdir(str(tmp_path / name))) == ref_files
    for file_name in ref_files:
        with open(os.path.join(ref, "outputs", name, file_name), "rb") as f:
            ref_bytes = f.read()
        with open(str(tmp_path / name / file_name), "rb") as f:
            assert f.read() == ref_bytes, file_name


@pytest.mark.parametrize("name", ["rgb32", "gray32", "cifar10", "mnist"])
def test_official_outputs_decode_as_documented(reference, name):
    ref = os.path.join(reference, "pieces", "dataset")
    decoded = np.load(os.path.join(ref, "decoded.npz"))
    levels = read_levels(os.path.join(ref, "outputs", name))
    for res, images in levels.items():
        np.testing.assert_array_equal(images, decoded["%s/r%02d" % (name, int(np.log2(res)))])
    # Our definition of the levels reproduces the official lower levels from its top level.
    expected = expected_levels(levels[32])
    for res in levels:
        np.testing.assert_array_equal(levels[res], expected[res])
    np.testing.assert_array_equal(decoded[name + "/order"], shuffled_order(len(levels[32])))


def test_extract_matches_official_extract(reference, tmp_path):
    ref = os.path.join(reference, "pieces", "dataset")
    for name in ["rgb32", "gray32"]:
        run_tool("extract", os.path.join(ref, "outputs", name), tmp_path / name)
        ref_names = sorted(os.listdir(os.path.join(ref, "extract", name)))
        assert sorted(os.listdir(str(tmp_path / name))) == ref_names
        for file_name in ref_names:
            ours = np.asarray(PIL.Image.open(str(tmp_path / name / file_name)))
            theirs = np.asarray(PIL.Image.open(os.path.join(ref, "extract", name, file_name)))
            np.testing.assert_array_equal(ours, theirs)


def test_compare_ours_with_official(reference, tmp_path, capsys):
    ref = os.path.join(reference, "pieces", "dataset")
    run_tool("create_cifar10", tmp_path / "cifar10", os.path.join(ref, "inputs", "cifar-10-batches-py"))
    result = dataset_tool.compare(str(tmp_path / "cifar10"), os.path.join(ref, "outputs", "cifar10"))
    assert result == dict(num_images_a=15, num_images_b=15, identical_images=15, identical_labels=15)
    result = dataset_tool.compare(os.path.join(ref, "outputs", "rgb32"), os.path.join(ref, "outputs", "cifar10"))
    assert result["num_images_a"] == 12 and result["num_images_b"] == 15
    assert result["identical_images"] == 0
    assert "different number of images" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------------
# MNIST, CIFAR, SVHN in their real formats.


def write_idx_gz(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(str(path), "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_dir(tmp_path):
    images = random_images(1, (10, 28, 28))
    labels = np.array([3, 0, 9, 1, 1, 7, 2, 5, 8, 4], dtype=np.uint8)
    folder = tmp_path / "mnist_src"
    folder.mkdir()
    write_idx_gz(folder / "train-images-idx3-ubyte.gz", images, 2051)
    write_idx_gz(folder / "train-labels-idx1-ubyte.gz", labels, 2049)
    return folder, images, labels


def test_create_mnist(tmp_path, mnist_dir):
    folder, images, labels = mnist_dir
    run_tool("create_mnist", tmp_path / "mnist", folder)
    padded = np.zeros([10, 1, 32, 32], np.uint8)
    padded[:, 0, 2:30, 2:30] = images
    order = shuffled_order(10)
    assert_dataset(tmp_path / "mnist", padded[order], one_hot(labels, 10)[order])


def test_create_mnist_max_images(tmp_path, mnist_dir):
    """--max-images=4 keeps the first 4 images of the files (with their labels), then shuffles those."""
    folder, images, labels = mnist_dir
    run_tool("create_mnist", tmp_path / "mnist", folder, "--max-images=4")
    padded = np.pad(images[:4], [(0, 0), (2, 2), (2, 2)])[:, np.newaxis]
    order = shuffled_order(4)
    assert_dataset(tmp_path / "mnist", padded[order], one_hot(labels[:4], 10)[order])


def test_create_mnist_test_split(tmp_path, mnist_dir):
    """--split=test reads the t10k-* files (and only them: the train-* files here hold other images)."""
    folder, images, labels = mnist_dir
    test_images, test_labels = images[::-1][:6], labels[::-1][:6]
    write_idx_gz(folder / "t10k-images-idx3-ubyte.gz", test_images, 2051)
    write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", test_labels, 2049)
    run_tool("create_mnist", tmp_path / "mnist", folder, "--split=test")
    padded = np.pad(test_images, [(0, 0), (2, 2), (2, 2)])[:, np.newaxis]
    order = shuffled_order(6)
    assert_dataset(tmp_path / "mnist", padded[order], one_hot(test_labels, 10)[order])


def test_create_mnistrgb(tmp_path, mnist_dir):
    folder, images, _ = mnist_dir
    run_tool("create_mnistrgb", tmp_path / "mnistrgb", folder, "--num_images", 6, "--random_seed", 5)
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2)])
    rnd = np.random.RandomState(5)
    expected = np.stack([padded[rnd.randint(10, size=3)] for _ in range(6)])
    assert_dataset(tmp_path / "mnistrgb", expected)


def test_create_mnist_bad_header(tmp_path, capsys, mnist_dir):
    folder, images, _ = mnist_dir
    write_idx_gz(folder / "train-images-idx3-ubyte.gz", images, 2049)  # the labels' magic number
    err = run_tool_error(capsys, "create_mnist", tmp_path / "mnist", folder)
    assert "train-images-idx3-ubyte.gz" in err and "magic" in err
    assert not os.path.exists(str(tmp_path / "mnist")) and no_partial_output(tmp_path)


def write_cifar_batch(path, images, labels, label_key):
    data = {"data": images.reshape(len(images), -1), label_key: [int(x) for x in labels],
            "batch_label": "test", "filenames": ["%d.png" % i for i in range(len(images))]}
    with open(str(path), "wb") as f:
        pickle.dump(data, f, protocol=2)


def test_create_cifar10(tmp_path):
    images = random_images(2, (10, 3, 32, 32))
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])[::-1]
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for batch in range(5):
        write_cifar_batch(folder / ("data_batch_%d" % (batch + 1)), images[2 * batch:2 * batch + 2],
                          labels[2 * batch:2 * batch + 2], "labels")
    run_tool("create_cifar10", tmp_path / "cifar10", folder)
    order = shuffled_order(10)
    assert_dataset(tmp_path / "cifar10", images[order], one_hot(labels, 10)[order])


def test_create_cifar100(tmp_path):
    images = random_images(3, (6, 3, 32, 32))
    labels = np.array([99, 0, 42, 42, 7, 63])
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    write_cifar_batch(folder / "train", images, labels, "fine_labels")
    run_tool("create_cifar100", tmp_path / "cifar100", folder)
    order = shuffled_order(6)
    assert_dataset(tmp_path / "cifar100", images[order], one_hot(labels, 100)[order])


def test_create_cifar10_missing_batch(tmp_path, capsys):
    folder = tmp_path / "cifar"
    folder.mkdir()
    write_cifar_batch(folder / "data_batch_1", random_images(0, (2, 3, 32, 32)), [0, 1], "labels")
    err = run_tool_error(capsys, "create_cifar10", tmp_path / "out", folder)
    assert "data_batch_2" in err and "not found" in err
    assert not os.path.exists(str(tmp_path / "out"))


def test_create_svhn_from_pickles(tmp_path):
    images = random_images(4, (9, 3, 32, 32))
    labels = np.array([1, 2, 3, 0, 9, 8, 7, 6, 5])
    folder = tmp_path / "svhn"
    folder.mkdir()
    for batch in range(3):
        with open(str(folder / ("train_%d.pkl" % (batch + 1))), "wb") as f:
            pickle.dump((images[3 * batch:3 * batch + 3], labels[3 * batch:3 * batch + 3]), f, protocol=2)
    run_tool("create_svhn", tmp_path / "out", folder)
    order = shuffled_order(9)
    assert_dataset(tmp_path / "out", images[order], one_hot(labels, 10)[order])


def test_create_svhn_from_mat(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    images = random_images(5, (7, 3, 32, 32))
    digits = np.array([10, 1, 2, 3, 10, 9, 5])  # SVHN stores digit 0 as label 10
    folder = tmp_path / "svhn"
    folder.mkdir()
    scipy_io.savemat(str(folder / "train_32x32.mat"), {"X": images.transpose(2, 3, 1, 0), "y": digits[:, None]})
    run_tool("create_svhn", tmp_path / "out", folder)
    order = shuffled_order(7)
    assert_dataset(tmp_path / "out", images[order], one_hot(digits % 10, 10)[order])


# ----------------------------------------------------------------------------------------------------
# LSUN (LMDB), CelebA, HDF5.


def encode(array, fmt, **kwargs):
    buf = io.BytesIO()
    PIL.Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write_lmdb(path, values):
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for key, value in values:
            txn.put(key, value)
    env.close()


def test_create_lsun_center_crop(tmp_path, capsys):
    wide = random_images(6, (32, 48, 3))      # 48 wide: the centre square is columns 8..40
    tall = random_images(7, (40, 32, 3))      # 40 tall: rows 4..36
    write_lmdb(tmp_path / "lmdb", [(b"a", encode(wide, "PNG")), (b"b", b"not an image"), (b"c", encode(tall, "PNG"))])
    run_tool("create_lsun", tmp_path / "lsun", tmp_path / "lmdb", "--resolution", 32)
    expected = np.stack([wide[:, 8:40], tall[4:36]]).transpose(0, 3, 1, 2)  # file order, not shuffled
    assert_dataset(tmp_path / "lsun", expected)
    out = capsys.readouterr().out
    assert "Skipped 1 of 3" in out and "b: cannot decode" in out


def test_create_lsun_jpeg_webp_resized(tmp_path):
    photo = np.asarray(PIL.Image.fromarray(random_images(8, (8, 12, 3))).resize((60, 40), PIL.Image.BILINEAR))
    values = [(b"0", encode(photo, "JPEG", quality=95))]
    if PIL.features.check("webp"):
        values.append((b"1", encode(photo, "WEBP", lossless=True)))
    write_lmdb(tmp_path / "lmdb", values)
    run_tool("create_lsun", tmp_path / "lsun", tmp_path / "lmdb", "--resolution", 16, "--max_images", 5)
    top = read_levels(tmp_path / "lsun")[16]
    assert top.shape == (len(values), 3, 16, 16)
    # Lanczos (the official ANTIALIAS) resize of the centre 40x40 square of the decoded image.
    for idx, (_, value) in enumerate(values):
        decoded = np.asarray(PIL.Image.open(io.BytesIO(value)).convert("RGB"))
        crop = PIL.Image.fromarray(decoded[:, 10:50])
        expected = np.asarray(crop.resize((16, 16), PIL.Image.LANCZOS)).transpose(2, 0, 1)
        np.testing.assert_array_equal(top[idx], expected)
    # The JPEG is close to the original (decoding works at all).
    assert np.abs(top[0].astype(int) - np.asarray(PIL.Image.fromarray(photo[:, 10:50]).resize(
        (16, 16), PIL.Image.LANCZOS)).transpose(2, 0, 1)).mean() < 8


def test_create_lsun_max_images(tmp_path):
    images = [random_images(10 + i, (8, 8, 3)) for i in range(4)]
    write_lmdb(tmp_path / "lmdb", [(b"%d" % i, encode(img, "PNG")) for i, img in enumerate(images)])
    run_tool("create_lsun", tmp_path / "lsun", tmp_path / "lmdb", "--resolution", 8, "--max_images", 2)
    assert_dataset(tmp_path / "lsun", np.stack(images[:2]).transpose(0, 3, 1, 2))


def test_create_lsun_wide_letterbox(tmp_path, capsys):
    wide = random_images(20, (20, 32, 3))    # 32x20
    small = random_images(21, (10, 12, 3))   # narrower than --width: skipped
    write_lmdb(tmp_path / "lmdb", [(b"a", encode(wide, "PNG")), (b"b", encode(small, "PNG"))])
    run_tool("create_lsun_wide", tmp_path / "out", tmp_path / "lmdb", "--width", 16, "--height", 8)
    # As the official tool: keep the middle round(16 * 20 / 32) = 10 source rows (5..15), resize that
    # to 16x8, and put it in rows 4..12 of a black 16x16 canvas.
    resized = np.asarray(PIL.Image.fromarray(wide[5:15]).resize((16, 8), PIL.Image.LANCZOS))
    expected = np.zeros([1, 3, 16, 16], np.uint8)
    expected[0, :, 4:12] = resized.transpose(2, 0, 1)
    assert_dataset(tmp_path / "out", expected)
    assert "b: too small" in capsys.readouterr().out


def test_optional_packages_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "lmdb", None)  # makes `import lmdb` raise ImportError
    monkeypatch.setitem(sys.modules, "h5py", None)
    err = run_tool_error(capsys, "create_lsun", tmp_path / "out", tmp_path)
    assert "lmdb" in err and "pip install lmdb" in err
    err = run_tool_error(capsys, "create_from_hdf5", tmp_path / "out", tmp_path / "x.h5")
    assert "pip install h5py" in err
    assert os.listdir(str(tmp_path)) == []


def test_create_celeba(tmp_path):
    faces = random_images(30, (3, 218, 178, 3))
    for i, face in enumerate(faces):
        save_png(tmp_path / "celeba" / "img_align_celeba_png" / ("%06d.png" % (i + 1)), face)
    run_tool("create_celeba", tmp_path / "out", tmp_path / "celeba", "--cx", 80, "--cy", 100)
    order = shuffled_order(3)
    expected = faces[order][:, 100 - 64:100 + 64, 80 - 64:80 + 64].transpose(0, 3, 1, 2)
    assert_dataset(tmp_path / "out", expected)


def test_create_celeba_wrong_size(tmp_path, capsys):
    save_png(tmp_path / "celeba" / "img_align_celeba_png" / "000001.png", random_images(0, (218, 178, 3)))
    save_png(tmp_path / "celeba" / "img_align_celeba_png" / "000002.png", random_images(0, (200, 178, 3)))
    err = run_tool_error(capsys, "create_celeba", tmp_path / "out", tmp_path / "celeba")
    assert "000002.png" in err and "178x218" in err
    assert not os.path.exists(str(tmp_path / "out")) and no_partial_output(tmp_path)


def test_create_from_hdf5(tmp_path):
    h5py = pytest.importorskip("h5py")
    images = random_images(40, (5, 3, 16, 16))
    labels = np.random.RandomState(41).rand(5, 4).astype(np.float32)
    with h5py.File(str(tmp_path / "faces.h5"), "w") as f:
        for res in [4, 8, 16]:
            f["data%dx%d" % (res, res)] = expected_levels(images)[res]
    np.save(str(tmp_path / "faces-labels.npy"), labels)
    run_tool("create_from_hdf5", tmp_path / "shuffled", tmp_path / "faces.h5")
    order = shuffled_order(5)
    assert_dataset(tmp_path / "shuffled", images[order], labels[order])
    run_tool("create_from_hdf5", tmp_path / "ordered", tmp_path / "faces.h5", "--shuffle", 0)
    assert_dataset(tmp_path / "ordered", images, labels)


# ----------------------------------------------------------------------------------------------------
# create_from_images: the official behaviour and the extras.


def make_image_folder(folder, images, pattern="img_%02d.png"):
    for i, img in enumerate(images):
        save_png(folder / (pattern % i), img)


def test_from_images_unshuffled_with_extract_compare_round_trip(tmp_path, capsys):
    images = random_images(50, (5, 16, 16, 3))
    make_image_folder(tmp_path / "src", images)
    run_tool("create_from_images", tmp_path / "a", tmp_path / "src", "--shuffle", 0)
    assert_dataset(tmp_path / "a", images.transpose(0, 3, 1, 2))
    run_tool("extract", tmp_path / "a", tmp_path / "png")
    assert sorted(os.listdir(str(tmp_path / "png"))) == ["img%08d.png" % i for i in range(5)]
    run_tool("create_from_images", tmp_path / "b", tmp_path / "png", "--shuffle", 0)
    capsys.readouterr()
    run_tool("compare", tmp_path / "a", tmp_path / "b")
    assert "Identical images: 5 / 5" in capsys.readouterr().out
    # A shuffled copy differs record by record, but holds the same images.
    run_tool("create_from_images", tmp_path / "c", tmp_path / "src")
    result = dataset_tool.compare(str(tmp_path / "a"), str(tmp_path / "c"), ignore_labels=1)
    fixed_points = int(np.sum(shuffled_order(5) == np.arange(5)))
    assert result["identical_images"] == fixed_points < 5


def test_from_images_resolution_and_filters(tmp_path):
    images = random_images(51, (3, 32, 32, 3))
    make_image_folder(tmp_path / "src", images)
    run_tool("create_from_images", tmp_path / "box", tmp_path / "src", "--shuffle", 0, "--resolution", 16,
             "--resize-filter", "box")
    top = read_levels(tmp_path / "box")[16].astype(int)
    # Halving with a box filter is the 2x2 mean (Pillow rounds in fixed point: within 1).
    box_mean = images.reshape(3, 16, 2, 16, 2, 3).mean(axis=(2, 4)).transpose(0, 3, 1, 2)
    assert np.abs(top - box_mean).max() <= 1
    run_tool("create_from_images", tmp_path / "nearest", tmp_path / "src", "--shuffle", 0, "--resolution", 16,
             "--resize_filter", "nearest")
    nearest = read_levels(tmp_path / "nearest")[16]
    assert np.abs(nearest.astype(int) - box_mean).mean() > 10  # a different filter was used
    assert set(np.unique(nearest)) <= set(np.unique(images))
    # Upscaling works too.
    run_tool("create_from_images", tmp_path / "up", tmp_path / "src", "--resolution", 64)
    assert read_levels(tmp_path / "up")[64].shape == (3, 3, 64, 64)


def test_from_images_center_crop_and_letterbox(tmp_path):
    wide = random_images(52, (2, 16, 32))  # grayscale 32x16
    make_image_folder(tmp_path / "src", wide)
    run_tool("create_from_images", tmp_path / "crop", tmp_path / "src", "--shuffle", 0, "--transform", "center-crop")
    assert_dataset(tmp_path / "crop", wide[:, np.newaxis, :, 8:24])
    run_tool("create_from_images", tmp_path / "box", tmp_path / "src", "--shuffle", 0, "--transform", "letterbox")
    expected = np.zeros([2, 1, 32, 32], np.uint8)
    expected[:, 0, 8:24] = wide
    assert_dataset(tmp_path / "box", expected)


def test_from_images_labels_from_subdirs(tmp_path):
    images = random_images(53, (5, 8, 8, 3))
    classes = ["cat", "dog", "zebra"]
    names = ["dog/a.png", "cat/x.png", "zebra/deep/q.png", "dog/b.png", "cat/y.png"]
    for name, img in zip(names, images):
        save_png(tmp_path / "src" / name, img)
    save_png(tmp_path / "src" / "loose.png", images[0])  # outside the class folders: ignored
    run_tool("create_from_images", tmp_path / "out", tmp_path / "src", "--labels-from-subdirs")
    # Source order: by class, then path: cat/x, cat/y, dog/a, dog/b, zebra/deep/q.
    source = [1, 4, 0, 3, 2]
    labels = [classes.index(names[i].split("/")[0]) for i in source]
    order = shuffled_order(5)
    assert_dataset(tmp_path / "out", images[source][order].transpose(0, 3, 1, 2), one_hot(labels, 3)[order])
    with open(str(tmp_path / "out" / "out-rxx.classes.txt")) as f:
        assert f.read().split() == classes


def test_from_images_corrupt_png(tmp_path, capsys):
    images = random_images(54, (4, 8, 8, 3))
    make_image_folder(tmp_path / "src", images)
    with open(str(tmp_path / "src" / "img_02.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n garbage")
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src")
    assert "img_02.png" in err and "cannot read" in err and "--skip-bad-files" in err
    assert not os.path.exists(str(tmp_path / "out")) and no_partial_output(tmp_path)

    run_tool("create_from_images", tmp_path / "out", tmp_path / "src", "--shuffle", 0, "--skip-bad-files")
    assert_dataset(tmp_path / "out", images[[0, 1, 3]].transpose(0, 3, 1, 2))
    out = capsys.readouterr().out
    assert "Skipped 1 of 4" in out and "img_02.png" in out


def test_from_images_truncated_png_removes_partial_output(tmp_path, capsys):
    images = random_images(55, (4, 16, 16, 3))
    make_image_folder(tmp_path / "src", images)
    with open(str(tmp_path / "src" / "img_01.png"), "rb") as f:
        data = f.read()
    with open(str(tmp_path / "src" / "img_01.png"), "wb") as f:
        f.write(data[:len(data) // 2])  # the header reads fine; decoding fails mid-way through writing
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src", "--shuffle", 0)
    assert "img_01.png" in err
    assert not os.path.exists(str(tmp_path / "out")) and no_partial_output(tmp_path)
    run_tool("create_from_images", tmp_path / "out", tmp_path / "src", "--shuffle", 0, "--skip-bad-files")
    assert_dataset(tmp_path / "out", images[[0, 2, 3]].transpose(0, 3, 1, 2))
    assert "img_01.png: cannot decode" in capsys.readouterr().out


def test_from_images_mixed_sizes_and_channels(tmp_path, capsys):
    save_png(tmp_path / "src" / "a.png", random_images(0, (16, 16, 3)))
    save_png(tmp_path / "src" / "b.png", random_images(1, (32, 32, 3)))
    save_png(tmp_path / "src" / "c.png", random_images(2, (16, 16)))
    save_png(tmp_path / "src" / "d.png", random_images(3, (16, 16, 4)))
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src")
    assert "3 of 4 input files" in err
    assert "b.png: wrong size: 32x32" in err
    assert "c.png: wrong channels" in err
    assert "d.png: unsupported image mode RGBA" in err
    assert not os.path.exists(str(tmp_path / "out")) and no_partial_output(tmp_path)
    # With --resolution the sizes may differ; the channels still must not.
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src", "--resolution", 16)
    assert "b.png" not in err and "c.png: wrong channels" in err


def test_from_images_non_power_of_two(tmp_path, capsys):
    images = random_images(56, (2, 12, 12, 3))
    make_image_folder(tmp_path / "src", images)
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src")
    assert "img_00.png" in err and "power of two" in err and "--resolution" in err
    run_tool("create_from_images", tmp_path / "out", tmp_path / "src", "--resolution", 8)
    assert read_levels(tmp_path / "out")[8].shape == (2, 3, 8, 8)
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out2", tmp_path / "src", "--resolution", 12)
    assert "--resolution must be a power of two" in err


def test_from_images_non_square_needs_transform(tmp_path, capsys):
    save_png(tmp_path / "src" / "a.png", random_images(0, (16, 32, 3)))
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "src", "--resolution", 16)
    assert "a.png: not square (32x16)" in err and "--transform" in err


def test_from_images_empty_folder_and_existing_output(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "empty")
    assert "no input images found" in err and "empty" in err
    assert not os.path.exists(str(tmp_path / "out")) and no_partial_output(tmp_path)

    make_image_folder(tmp_path / "src", random_images(0, (2, 8, 8, 3)))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("x")
    err = run_tool_error(capsys, "create_from_images", tmp_path / "taken", tmp_path / "src")
    assert "already exists and is not empty" in err
    assert os.listdir(str(tmp_path / "taken")) == ["keep.txt"]
    (tmp_path / "empty_target").mkdir()  # an existing empty folder is fine
    run_tool("create_from_images", tmp_path / "empty_target", tmp_path / "src")
    assert len(read_levels(tmp_path / "empty_target")[8]) == 2


def test_command_line_exit_status_and_message(tmp_path):
    (tmp_path / "empty").mkdir()
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dataset_tool.py")
    result = subprocess.run([sys.executable, tool, "create_from_images", str(tmp_path / "out"), str(tmp_path / "empty")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        'dataset_tool.py: error: no input images found in "%s"' % (tmp_path / "empty"))
    assert "Traceback" not in result.stderr
    assert os.listdir(str(tmp_path)) == ["empty"]


def test_exporter_error_inside_with_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with dataset_tool.TFRecordExporter(str(tmp_path / "out"), 3, print_progress=False) as tfr:
            tfr.add_image(random_images(0, (3, 8, 8)))
            assert len(os.listdir(tfr.tmp_dir)) == 2  # r03 and r02, being written
            raise RuntimeError("interrupted")
    assert os.listdir(str(tmp_path)) == []
    with pytest.raises(dataset.DatasetError, match="shape"):
        with dataset_tool.TFRecordExporter(str(tmp_path / "out"), 3, print_progress=False) as tfr:
            tfr.add_image(random_images(0, (3, 8, 8)))
            tfr.add_image(random_images(0, (3, 16, 16)))
    assert os.listdir(str(tmp_path)) == []


# ----------------------------------------------------------------------------------------------------
# display, and a real image set that ships in a package.


def test_display_without_screen_writes_grid(tmp_path, monkeypatch, capsys):
    images = random_images(57, (5, 8, 8, 3))
    make_image_folder(tmp_path / "src", images)
    run_tool("create_from_images", tmp_path / "ds", tmp_path / "src", "--shuffle", 0)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    run_tool("display", tmp_path / "ds")
    grid = np.asarray(PIL.Image.open(str(tmp_path / "ds-grid.png")))
    assert grid.shape == (16, 24, 3)  # 3 columns, 2 rows
    for i in range(5):
        y, x = divmod(i, 3)
        np.testing.assert_array_equal(grid[8 * y:8 * y + 8, 8 * x:8 * x + 8], images[i])
    assert np.all(grid[8:, 16:] == 0)
    run_tool("display", tmp_path / "ds", "--output", tmp_path / "two.png", "--max_images", 2)
    assert np.asarray(PIL.Image.open(str(tmp_path / "two.png"))).shape == (8, 16, 3)
    # A screen but no OpenCV: the grid again, with a note saying why.
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(sys.modules, "cv2", None)
    os.remove(str(tmp_path / "ds-grid.png"))
    capsys.readouterr()
    run_tool("display", tmp_path / "ds")
    assert "OpenCV" in capsys.readouterr().out
    assert os.path.isfile(str(tmp_path / "ds-grid.png"))


def test_sklearn_digits_with_labels(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()  # real 8x8 scans of handwritten digits, values 0..16
    num = 60
    images = np.rint(digits.images[:num] * (255.0 / 16.0)).astype(np.uint8)
    for i in range(num):
        save_png(tmp_path / "src" / str(digits.target[i]) / ("%04d.png" % i), images[i])
    run_tool("create_from_images", tmp_path / "digits", tmp_path / "src", "--labels-from-subdirs",
             "--resolution", 32, "--resize-filter", "nearest")
    # Source order: by class folder, then file name; records in the official shuffled order.
    source = sorted(range(num), key=lambda i: (str(digits.target[i]), "%04d.png" % i))
    order = shuffled_order(num)
    upscaled = images.repeat(4, axis=1).repeat(4, axis=2)  # nearest x4 = each pixel as a 4x4 block
    assert_dataset(tmp_path / "digits", upscaled[source][order][:, np.newaxis],
                   one_hot(digits.target[source][order], 10))
    assert read_levels(tmp_path / "digits")[8].shape == (num, 1, 8, 8)


def test_create_digits_is_the_whole_sklearn_set_upscaled(tmp_path, capsys):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    run_tool("create_digits", tmp_path / "digits", "--resolution", 16, "--resize-filter", "nearest")
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8).repeat(2, axis=1).repeat(2, axis=2)
    assert len(images) == 1797
    order = shuffled_order(len(images))
    assert_dataset(tmp_path / "digits", images[order][:, np.newaxis], one_hot(digits.target[order], 10))
    err = run_tool_error(capsys, "create_digits", tmp_path / "bad", "--resolution", 24)
    assert "--resolution must be a power of two >= 8, got 24" in err


def test_sklearn_sample_photo_crop_and_letterbox(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    photo = datasets.load_sample_image("china.jpg")  # a real 640x427 RGB photo
    assert photo.shape == (427, 640, 3)
    save_png(tmp_path / "src" / "china.png", photo)
    run_tool("create_from_images", tmp_path / "crop", tmp_path / "src", "--resolution", 64,
             "--transform", "center-crop")
    crop = read_levels(tmp_path / "crop")[64][0].transpose(1, 2, 0).astype(np.float64)
    # The centred 427x427 square (columns 106..533) shrunk 427/64 times: close to its block means.
    square = photo[:, 106:533].astype(np.float64)
    edges = np.linspace(0, 427, 65).astype(int)
    block_means = np.array([[square[edges[i]:edges[i + 1], edges[j]:edges[j + 1]].mean(axis=(0, 1))
                             for j in range(64)] for i in range(64)])
    assert np.abs(crop - block_means).mean() < 6

    run_tool("create_from_images", tmp_path / "box", tmp_path / "src", "--resolution", 64, "--transform", "letterbox")
    boxed = read_levels(tmp_path / "box")[64][0]
    # 640x427 scaled to 64x43 and centred: rows 10..53 hold the photo, the rest is black.
    assert np.all(boxed[:, :10] == 0) and np.all(boxed[:, 53:] == 0)
    assert np.all(boxed[:, 10:53].reshape(3, -1).max(axis=0) > 0)


# ----------------------------------------------------------------------------------------------------
# One-line errors, compare's exit status, partial output of killed runs.


def test_from_images_with_a_file_as_source_says_so(tmp_path, capsys):
    save_png(tmp_path / "one.png", random_images(1, (16, 16, 3)))
    err = run_tool_error(capsys, "create_from_images", tmp_path / "out", tmp_path / "one.png")
    assert err.strip() == ('dataset_tool.py: error: "%s" is a file: create_from_images reads a folder of images; '
                           'give the folder that holds it' % (tmp_path / "one.png"))
    assert not (tmp_path / "out").exists() and no_partial_output(tmp_path)


def test_compare_exits_nonzero_when_the_datasets_differ(tmp_path, capsys):
    images = random_images(51, (3, 8, 8, 3))
    make_image_folder(tmp_path / "src", images)
    run_tool("create_from_images", tmp_path / "a", tmp_path / "src", "--shuffle", 0)
    run_tool("create_from_images", tmp_path / "same", tmp_path / "src", "--shuffle", 0)
    make_image_folder(tmp_path / "src2", images[:2])
    run_tool("create_from_images", tmp_path / "fewer", tmp_path / "src2", "--shuffle", 0)
    images[1, 0, 0, 0] ^= 1
    make_image_folder(tmp_path / "src3", images)
    run_tool("create_from_images", tmp_path / "changed", tmp_path / "src3", "--shuffle", 0)
    capsys.readouterr()
    run_tool("compare", tmp_path / "a", tmp_path / "same")  # Identical: returns, exit status 0.
    assert "The datasets differ." not in capsys.readouterr().out
    for other in ("fewer", "changed"):
        with pytest.raises(SystemExit) as info:
            run_tool("compare", tmp_path / "a", tmp_path / other)
        assert info.value.code == 1
        assert capsys.readouterr().out.strip().endswith("The datasets differ.")


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_partial_output_is_removed_by_the_next_run(tmp_path, capsys):
    make_image_folder(tmp_path / "src", random_images(52, (2, 8, 8, 3)))
    dead = _dead_pid()
    stale = tmp_path / (".out.partial-%d-abc123" % dead)
    alive = tmp_path / (".out.partial-%d-def456" % os.getpid())
    old_style = tmp_path / ".out.partial-k2j4h5g6"
    other_target = tmp_path / (".other.partial-%d-xyz" % dead)
    for folder in (stale, alive, old_style, other_target):
        folder.mkdir()
        (folder / "out-r03.tfrecords").write_bytes(b"x" * 100)
    capsys.readouterr()
    run_tool("create_from_images", tmp_path / "out", tmp_path / "src")
    out = capsys.readouterr().out
    assert not stale.exists()
    assert 'Removed "%s": partial output of an earlier run that was interrupted (process %d is gone)' % (stale, dead) \
        in out
    assert alive.is_dir() and "process %d, still running" % os.getpid() in out
    assert old_style.is_dir() and 'Note: "%s" is partial output of another run' % old_style in out
    assert other_target.is_dir() and str(other_target) not in out
    assert len(read_levels(tmp_path / "out")[8]) == 2


@pytest.mark.slow_on_tf1  # Process handling, not TF-version specific: TF 2.x only in CI
def test_partial_output_of_a_killed_run_is_removed(tmp_path, mnist_dir):
    """kill -9 while create_mnistrgb writes (a million images: it is still writing), then a second run."""
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dataset_tool.py")
    process = subprocess.Popen([sys.executable, tool, "create_mnistrgb", str(tmp_path / "rgb"), str(mnist_dir[0])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial = []
        for _ in range(1200):  # Up to 120 s for TensorFlow to load.
            partial = [name for name in os.listdir(str(tmp_path)) if name.startswith(".rgb.partial-")]
            if partial and os.listdir(str(tmp_path / partial[0])):
                break
            assert process.poll() is None
            time.sleep(0.1)
        assert partial == [".rgb.partial-%d-" % process.pid + partial[0].split("-", 2)[2]]
    finally:
        process.kill()
        process.wait()
    assert os.path.isdir(str(tmp_path / partial[0]))  # kill -9 leaves it.
    result = subprocess.run([sys.executable, tool, "create_mnistrgb", str(tmp_path / "rgb"), str(mnist_dir[0]),
                             "--num_images=20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Removed \"%s\"" % (tmp_path / partial[0]) in result.stdout
    assert sorted(os.listdir(str(tmp_path))) == ["mnist_src", "rgb"]
