"""run_projector.py as the README shows it: the tiny reference network pickle, a stand-in LPIPS pickle
(--lpips-pkl), the files of each command, progress, and one-line errors for bad inputs."""

import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.util
import dnnlib.tflib as tflib
import pretrained_networks
import projector
import run_projector
from training import misc
from conftest import REPO_DIR, reference_dir
from reference_nets import build_reference_networks
from test_projector import build_reference_Gs, save_standin_distance_pkl

# Projections end to end (long), not TF-version specific: on TF 1.x (CI's second run) these are deselected.
pytestmark = pytest.mark.slow_on_tf1

NOISE_SHAPES = {"noise0": (1, 1, 4, 4), "noise1": (1, 1, 8, 8), "noise2": (1, 1, 8, 8), "noise3": (1, 1, 16, 16),
                "noise4": (1, 1, 16, 16)}

# Stands in for ffmpeg: keeps the raw frames it is sent, and its arguments, in the output file (as .npz).
FAKE_FFMPEG = '''#!%s
import sys
import numpy as np
args = sys.argv[1:]
width, height = [int(v) for v in args[args.index("-s") + 1].split("x")]
channels = 1 if args[args.index("-pix_fmt") + 1] == "gray" else 3
frames = np.frombuffer(sys.stdin.buffer.read(), np.uint8).reshape(-1, height, width, channels)
with open(args[-1], "wb") as f:
    np.savez(f, frames=frames, args=np.array(args))
'''


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Paths of the tiny reference (G, D, Gs) pickle and of the stand-in distance pickle."""
    if not os.path.isdir(reference_dir()):
        pytest.skip("reference numbers not found at %s" % reference_dir())
    root = tmp_path_factory.mktemp("nets")
    tiny_pkl = str(root / "tiny.pkl")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        misc.save_pkl(build_reference_networks(reference_dir(), "tiny-Gskip-Dresnet"), tiny_pkl)
    lpips_pkl = save_standin_distance_pkl(root, root / "standin_lpips.pkl")
    return tiny_pkl, lpips_pkl


def _run_projector_cli(args, path_prefix=None):
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("STYLEGAN2_METRICS_DIR", None)
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, os.path.join(REPO_DIR, "run_projector.py")] + list(args), cwd=REPO_DIR,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def _read_png(path):
    return np.asarray(PIL.Image.open(str(path)))


def _assert_close_uint8(actual, expected, max_diff=1):
    diff = np.abs(actual.astype(np.int32) - expected.astype(np.int32))
    assert diff.max() <= max_diff, diff.max()


def _fake_ffmpeg_dir(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = bin_dir / "ffmpeg"
    path.write_text(FAKE_FFMPEG % sys.executable)
    path.chmod(0o755)
    return str(bin_dir)


def _synthesize(dlatents, noises):
    """The tiny reference Gs's synthesis of saved dlatents and noise maps, as uint8 [H, W, C]."""
    with tf.Graph().as_default(), tflib.create_session().as_default():
        synthesis = build_reference_Gs().components.synthesis
        tflib.set_vars({synthesis.vars[name]: noises[name] for name in NOISE_SHAPES})
        return synthesis.run(dlatents, randomize_noise=False,
                             output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))[0]


def test_project_generated_images(nets, tmp_path):
    tiny_pkl, lpips_pkl = nets
    result = _run_projector_cli(["project-generated-images", "--network=" + tiny_pkl, "--lpips-pkl=" + lpips_pkl,
                                 "--seeds=1,2", "--num-steps=20", "--num-snapshots=2", "--save-video", "--class=3",
                                 "--result-dir=" + str(tmp_path / "out")], path_prefix=_fake_ffmpeg_dir(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    # The network is unconditional: --class changes nothing, and the run says so once.
    assert (result.stdout + result.stderr).count("Warning: --class=3 is ignored") == 1
    run_dir = tmp_path / "out" / "00000-project-generated-images"
    files = sorted(os.listdir(str(run_dir)))
    for seed in (1, 2):
        for suffix in ["target.png", "step0010.png", "step0020.png", "dlatents.npy", "noises.npz", "video.mp4"]:
            assert "seed%04d-%s" % (seed, suffix) in files
    assert len([f for f in files if f.startswith("seed")]) == 12
    assert "_finished.txt" in files and "log.txt" in files
    assert "Projecting seed0001" in result.stderr and "20/20" in result.stderr  # tqdm progress.

    # The targets are the official generate-images protocol's images (psi 1).
    expected = np.load(os.path.join(reference_dir(), "tiny-Gskip-Dresnet", "gen_psi1_uint8.npy"))
    for seed in (1, 2):
        _assert_close_uint8(_read_png(run_dir / ("seed%04d-target.png" % seed)), expected[seed])

    # The saved dlatents and noise maps make the final image.
    dlatents = np.load(str(run_dir / "seed0001-dlatents.npy"))
    assert dlatents.shape == (1, 6, 32) and dlatents.dtype == np.float32
    noises = np.load(str(run_dir / "seed0001-noises.npz"))
    assert {name: noises[name].shape for name in noises.files} == NOISE_SHAPES
    final = _read_png(run_dir / "seed0001-step0020.png")
    _assert_close_uint8(_synthesize(dlatents, noises), final)
    assert np.abs(final.astype(int) - _read_png(run_dir / "seed0001-step0010.png").astype(int)).max() > 0

    # The video: one frame per step, target | projection.
    video = np.load(str(run_dir / "seed0001-video.mp4"))
    assert video["frames"].shape == (20, 16, 32, 3)
    assert "libx264" in list(video["args"])
    for frame in video["frames"]:
        np.testing.assert_array_equal(frame[:, :16], _read_png(run_dir / "seed0001-target.png"))
    np.testing.assert_array_equal(video["frames"][9, :, 16:], _read_png(run_dir / "seed0001-step0010.png"))
    np.testing.assert_array_equal(video["frames"][19, :, 16:], final)


def _write_image_folder(folder):
    """A wide RGB image (red side bands around a 32x32 square of four colours), a grayscale JPEG, an RGBA
    PNG with transparent pixels, and a file that is not an image (ignored by its extension)."""
    folder.mkdir()
    wide = np.zeros([32, 48, 3], np.uint8)
    wide[:] = (255, 0, 0)
    quadrant_colours = [(0, 0, 255), (0, 255, 0), (255, 255, 0), (0, 255, 255)]
    for idx, colour in enumerate(quadrant_colours):
        y, x = (idx // 2) * 16, 8 + (idx % 2) * 16
        wide[y:y + 16, x:x + 16] = colour
    PIL.Image.fromarray(wide).save(str(folder / "wide.png"))
    PIL.Image.fromarray(np.full([20, 20], 77, np.uint8)).save(str(folder / "gray.jpg"), quality=100)
    rgba = np.zeros([16, 16, 4], np.uint8)
    rgba[:, :8] = (0, 0, 0, 255)  # Left half opaque black, right half transparent.
    PIL.Image.fromarray(rgba, "RGBA").save(str(folder / "alpha.png"))
    (folder / "notes.txt").write_text("not an image")
    return quadrant_colours


def test_project_image_files(nets, tmp_path):
    tiny_pkl, lpips_pkl = nets
    quadrant_colours = _write_image_folder(tmp_path / "images")
    result = _run_projector_cli(["project-image-files", "--network=" + tiny_pkl, "--lpips-pkl=" + lpips_pkl,
                                 "--images=" + str(tmp_path / "images"), "--num-steps=4", "--num-snapshots=1",
                                 "--w-plus", "--result-dir=" + str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "out" / "00000-project-image-files"
    files = sorted(f for f in os.listdir(str(run_dir)) if f.endswith((".png", ".npy", ".npz")))
    assert files == ["%s-%s" % (name, suffix) for name in ["alpha", "gray", "wide"]
                     for suffix in ["dlatents.npy", "noises.npz", "step0004.png", "target.png"]]

    # Center square, resized to 16x16: the four colours, none of the red side bands.
    wide = _read_png(run_dir / "wide-target.png").astype(int)
    assert wide.shape == (16, 16, 3)
    for idx, colour in enumerate(quadrant_colours):
        y, x = (idx // 2) * 8, (idx % 2) * 8
        assert np.abs(wide[y + 2:y + 6, x + 2:x + 6] - np.array(colour)).max() <= 3  # Lanczos rings a little.
    assert not np.any((wide[:, :, 0] > 200) & (wide[:, :, 1] < 60) & (wide[:, :, 2] < 60))  # No red.
    gray = _read_png(run_dir / "gray-target.png").astype(int)
    assert gray.shape == (16, 16, 3) and np.abs(gray - 77).max() <= 1  # Grayscale to RGB.
    alpha = _read_png(run_dir / "alpha-target.png").astype(int)
    assert alpha[:, :6].max() <= 2 and alpha[:, 10:].min() >= 253  # Transparent pixels become white.

    # --w-plus: one w per layer.
    dlatents = np.load(str(run_dir / "wide-dlatents.npy"))
    assert dlatents.shape == (1, 6, 32)
    assert np.abs(dlatents[0, 1:] - dlatents[0, :1]).max() > 1e-4


def test_load_image_file_for_a_grayscale_network(tmp_path):
    rgb = np.zeros([30, 20, 3], np.uint8)
    rgb[:, :, 1] = 255  # Green: luminance 150 (ITU-R 601-2, as PIL converts).
    PIL.Image.fromarray(rgb).save(str(tmp_path / "green.png"))
    target = run_projector.load_image_file(str(tmp_path / "green.png"), 8, 1)
    assert target.shape == (1, 1, 8, 8) and target.dtype == np.float32
    np.testing.assert_allclose(target, 150 / 127.5 - 1, atol=1e-6)
    assert run_projector.snapshot_steps(1000, 5) == {1000, 800, 600, 400, 200}
    assert run_projector.file_prefixes(["a/x.png", "b/x.jpg", "c/y.png"]) == ["x_png-", "x_jpg-", "y-"]


def _write_dataset(data_dir, images):
    import dataset_tool  # pylint: disable=import-outside-toplevel
    with dataset_tool.TFRecordExporter(os.path.join(str(data_dir), "tiny"), len(images), print_progress=False) as tfr:
        for image in images:
            tfr.add_image(image)


def _main_in_process(argv, monkeypatch):
    """run_projector.main in this process, in a fresh graph and session (as the CLI's own process would be)."""
    monkeypatch.setattr(pretrained_networks, "_cached_networks", {})
    with tf.Graph().as_default(), tflib.create_session().as_default():
        return run_projector.main(argv)


def test_project_real_images(nets, tmp_path, monkeypatch, capsys):
    tiny_pkl, lpips_pkl = nets
    images = np.random.RandomState(2).randint(0, 256, [2, 3, 16, 16]).astype(np.uint8)
    _write_dataset(tmp_path / "data", images)
    status = _main_in_process(["project-real-images", "--network=" + tiny_pkl, "--lpips-pkl=" + lpips_pkl,
                               "--data-dir=" + str(tmp_path / "data"), "--dataset=tiny", "--num-images=3",
                               "--num-steps=2", "--num-snapshots=1", "--result-dir=" + str(tmp_path / "out")],
                              monkeypatch)
    assert status == 0
    run_dir = tmp_path / "out" / "00000-project-real-images"
    files = sorted(f for f in os.listdir(str(run_dir)) if f.startswith("image"))
    assert files == ["image%04d-%s" % (idx, suffix) for idx in range(2)
                     for suffix in ["dlatents.npy", "noises.npz", "step0002.png", "target.png"]]
    for idx in range(2):  # In file order, unchanged.
        target = _read_png(run_dir / ("image%04d-target.png" % idx))
        np.testing.assert_array_equal(target, images[idx].transpose(1, 2, 0))
    assert "The dataset has only 2 images." in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["missing_image", "corrupt_image", "empty_folder", "bad_network", "bad_lpips",
                                     "no_ffmpeg", "missing_dataset", "dataset_resolution"])
def test_bad_inputs_give_one_line_errors(nets, tmp_path, monkeypatch, capsys, problem):
    tiny_pkl, lpips_pkl = nets
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    PIL.Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(str(tmp_path / "ok.png"))
    command = ["project-image-files", "--images=" + str(tmp_path / "ok.png")]
    network, lpips = tiny_pkl, lpips_pkl
    expected = None
    if problem == "missing_image":
        command[1] = "--images=" + str(tmp_path / "missing.png")
        expected = "missing.png: no such file or directory"
    elif problem == "corrupt_image":
        command[1] = "--images=" + str(tmp_path / "corrupt.png")
        expected = "corrupt.png: not a readable image"
    elif problem == "empty_folder":
        command[1] = "--images=" + str(tmp_path / "empty")
        expected = "no image files"
    elif problem == "bad_network":
        network = str(tmp_path / "corrupt.png")
        expected = "corrupt.png: not a valid pickle file"
    elif problem == "bad_lpips":
        lpips = str(tmp_path / "nowhere" / "vgg16_zhang_perceptual.pkl")
        expected = "vgg16_zhang_perceptual.pkl: no such file"
    elif problem == "no_ffmpeg":
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # Importing it fails.
        command.append("--save-video")
        expected = "--save-video needs ffmpeg"
    elif problem == "missing_dataset":
        command = ["project-real-images", "--data-dir=" + str(tmp_path), "--dataset=nothing"]
        expected = "nothing is not a directory"
    elif problem == "dataset_resolution":
        _write_dataset(tmp_path / "data", np.zeros([1, 3, 8, 8], np.uint8))
        command = ["project-real-images", "--data-dir=" + str(tmp_path / "data"), "--dataset=tiny"]
        expected = "images are [3, 8, 8], the network makes [3, 16, 16]"
    argv = command + ["--network=" + network, "--lpips-pkl=" + lpips, "--result-dir=" + str(tmp_path / "out")]
    capsys.readouterr()
    assert _main_in_process(argv, monkeypatch) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and expected in lines[0], err
    assert not (tmp_path / "out").exists()  # No run dir for a failed start.


@pytest.mark.parametrize("args, message", [
    (["project-generated-images", "--seeds=4294967296"], "argument --seeds: seeds must be in 0..4294967295"),
    (["project-generated-images", "--truncation-psi=nan"], "argument --truncation-psi: expected a finite number"),
    (["project-image-files", "--images=x.png", "--num-steps=0"], "argument --num-steps: expected a positive"),
])
def test_usage_errors_are_one_line_and_leave_no_run_dir(tmp_path, args, message):
    result = _run_projector_cli(args + ["--result-dir=" + str(tmp_path / "out")])
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_class_out_of_range_before_the_run_dir(tmp_path, monkeypatch, capsys):
    argv = ["project-generated-images", "--class=10", "--result-dir=" + str(tmp_path / "out")]  # Default network.
    assert _main_in_process(argv, monkeypatch) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].endswith("--class must be in [0, 10) for this network, got 10"), lines
    assert not (tmp_path / "out").exists()


def test_bad_network_from_the_command_line(nets, tmp_path):
    result = _run_projector_cli(["project-generated-images", "--network=" + str(tmp_path / "missing.pkl"),
                                 "--result-dir=" + str(tmp_path / "out")])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "missing.pkl: no such file" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_default_lpips_is_the_official_url(nets, tmp_path, monkeypatch, capsys):
    """Without --lpips-pkl the official LPIPS URL is used; where it cannot be downloaded, one line says how
    to point at a local copy (here a closed local port stands in for the unreachable server)."""
    with pytest.raises(SystemExit):
        run_projector.main(["project-image-files", "--help"])
    assert projector.LPIPS_URL in "".join(capsys.readouterr().out.split())  # Help lines wrap at hyphens.
    assert run_projector.LPIPS_URL == projector.LPIPS_URL  # --help's copy, which spares importing TensorFlow.

    url = "http://127.0.0.1:9/vgg16_zhang_perceptual.pkl"
    monkeypatch.setattr(projector, "default_lpips_location", lambda: url)
    monkeypatch.setattr(dnnlib.util, "_RETRY_FIRST_DELAY_S", 0.0)
    monkeypatch.setattr(dnnlib.util, "_RETRY_MAX_DELAY_S", 0.0)
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", str(tmp_path / "cache"))
    PIL.Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(str(tmp_path / "ok.png"))
    argv = ["project-image-files", "--network=" + nets[0], "--images=" + str(tmp_path / "ok.png"),
            "--result-dir=" + str(tmp_path / "out")]
    assert _main_in_process(argv, monkeypatch) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and url in lines[0] and "--lpips-pkl=PATH" in lines[0]
    assert not (tmp_path / "out").exists()


def test_ffmpeg_failure_is_one_line(tmp_path, monkeypatch):
    failing = tmp_path / "ffmpeg"
    failing.write_text("#!/bin/sh\necho \"Unknown encoder 'libx264'\" >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(run_projector, "find_ffmpeg", lambda: str(failing))
    video = run_projector.VideoWriter(str(tmp_path / "v.mp4"), 32, 16, 3)
    with pytest.raises(run_projector.ProjectorCommandError, match="v.mp4: ffmpeg (failed|stopped)"):
        for _ in range(1000):  # Enough bytes to fill the pipe once ffmpeg has gone.
            video.write(np.zeros([16, 32, 3], np.uint8))
        video.close()


def test_conditional_network_projects_generated_images_of_a_class(nets, tmp_path, monkeypatch, capsys):
    _tiny_pkl, lpips_pkl = nets
    cond_pkl = str(tmp_path / "cond.pkl")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        misc.save_pkl(build_reference_networks(reference_dir(), "tiny-cond4"), cond_pkl)
    command = ["project-generated-images", "--network=" + cond_pkl, "--lpips-pkl=" + lpips_pkl, "--seeds=2",
               "--num-steps=2", "--num-snapshots=1", "--result-dir=" + str(tmp_path / "out")]
    capsys.readouterr()
    assert _main_in_process(command, monkeypatch) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "cond.pkl: the network is conditional (4 classes): choose one with --class" in lines[0]
    assert not (tmp_path / "out").exists()

    assert _main_in_process(command + ["--class=2"], monkeypatch) == 0
    run_dir = tmp_path / "out" / "00000-project-generated-images"
    expected = np.load(os.path.join(reference_dir(), "tiny-cond4", "gen_psi1_uint8.npy"))  # Seed i has class i % 4.
    _assert_close_uint8(_read_png(run_dir / "seed0002-target.png"), expected[2])
    assert os.path.isfile(str(run_dir / "seed0002-dlatents.npy"))
