"""run_generator.py as a user runs it: images, the official seeding protocol, style mixing, errors."""

import glob
import os
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib.network import Network
from training import misc
from conftest import REPO_DIR
from reference_nets import build_reference_networks


def _write_reference_pickle(reference, name, path):
    with tf.Graph().as_default(), tflib.create_session().as_default():
        misc.save_pkl(build_reference_networks(reference, name), str(path))
    return str(path)


@pytest.fixture(scope="module")
def tiny_pkl(tmp_path_factory):
    from conftest import reference_dir
    if not os.path.isdir(reference_dir()):
        pytest.skip("reference numbers not found")
    return _write_reference_pickle(reference_dir(), "tiny-Gskip-Dresnet", tmp_path_factory.mktemp("net") / "tiny.pkl")


def _run_generator(*args, cwd=REPO_DIR):
    env = dict(os.environ, PYTHONPATH=REPO_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(REPO_DIR, "run_generator.py")] + list(args), cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def _read_png(path):
    return np.asarray(PIL.Image.open(path))


def _assert_images_match(actual, expected):
    """Equal, or off by one in a handful of pixels where rounding sits on .5 (reference README)."""
    diff = np.abs(actual.astype(np.int32) - expected.astype(np.int32))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= max(3, diff.size // 1000), (diff.max(), np.count_nonzero(diff))


def test_generate_images_follows_the_official_seeding_protocol(reference, tiny_pkl, tmp_path):
    result = _run_generator("generate-images", "--network=" + tiny_pkl, "--seeds=0-3", "--truncation-psi=0.5",
                            "--result-dir=" + str(tmp_path), "--grid")
    assert result.returncode == 0, result.stderr[-3000:]
    run_dirs = glob.glob(str(tmp_path / "00000-generate-images"))
    assert len(run_dirs) == 1
    files = sorted(os.listdir(run_dirs[0]))
    assert [f for f in files if f.endswith(".png")] == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0003.png"]
    assert "_finished.txt" in files and "log.txt" in files
    expected = np.load(os.path.join(reference, "tiny-Gskip-Dresnet", "gen_psi0.5_uint8.npy"))  # [8, H, W, C]
    images = [_read_png(os.path.join(run_dirs[0], "seed%04d.png" % seed)) for seed in range(4)]
    for seed in range(4):
        _assert_images_match(images[seed], expected[seed])
    grid = _read_png(os.path.join(run_dirs[0], "grid.png"))
    assert grid.shape == (32, 32, 3)
    np.testing.assert_array_equal(grid[16:, :16], images[2])
    assert "Generating" in result.stderr  # tqdm progress bar.


def _generate_in_process(pkl, out_dir, monkeypatch, seeds, **kwargs):
    """run_generator.generate_images in this process, in a fresh graph; returns {seed: image}."""
    import pretrained_networks
    import run_generator
    monkeypatch.setattr(pretrained_networks, "_cached_networks", {})
    os.makedirs(str(out_dir), exist_ok=True)
    monkeypatch.chdir(str(out_dir))  # Outside a run, images go to the current directory.
    with tf.Graph().as_default(), tflib.create_session().as_default():
        run_generator.generate_images(pkl, seeds, **kwargs)
    return {seed: _read_png(str(out_dir / ("seed%04d.png" % seed))).astype(np.int32) for seed in seeds}


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_noise_modes(tiny_pkl, tmp_path, monkeypatch):
    outputs = {}
    for mode in ["seed", "const", "none", "random"]:
        outputs[mode] = _generate_in_process(tiny_pkl, tmp_path / mode, monkeypatch, [5], truncation_psi=0.5, noise_mode=mode)[5]
    # Same latent, different noise: the images differ.
    for a, b in [("seed", "const"), ("seed", "none"), ("const", "none"), ("seed", "random")]:
        assert np.abs(outputs[a] - outputs[b]).max() > 0, (a, b)
    # const: the stored noise maps, so a second run gives the same image.
    again = _generate_in_process(tiny_pkl, tmp_path / "again", monkeypatch, [5], truncation_psi=0.5, noise_mode="const")[5]
    np.testing.assert_array_equal(again, outputs["const"])


def test_style_mixing_matches_the_official_pngs(reference, tiny_pkl, tmp_path):
    result = _run_generator("style-mixing-example", "--network=" + tiny_pkl, "--row-seeds=1,2", "--col-seeds=3,4",
                            "--col-styles=0-1", "--truncation-psi=0.5", "--result-dir=" + str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "00000-style-mixing-example"
    expected = np.load(os.path.join(reference, "pieces", "generator", "style_mixing.npz"))
    names = sorted(key[len("png/"):] for key in expected.files if key.startswith("png/"))
    assert sorted(f[:-4] for f in os.listdir(str(run_dir)) if f.endswith(".png")) == names
    for name in names:
        _assert_images_match(_read_png(str(run_dir / (name + ".png"))), expected["png/" + name])


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_conditional_network_without_a_class_draws_every_class_in_turn(reference, tmp_path, monkeypatch):
    pkl = _write_reference_pickle(reference, "tiny-cond4", tmp_path / "cond.pkl")
    result = _run_generator("generate-images", "--network=" + pkl, "--seeds=0-6", "--truncation-psi=1",
                            "--grid", "--result-dir=" + str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no --class was given: seed s is drawn in class s mod 4" in result.stdout
    run_dir = tmp_path / "out" / "00000-generate-images"
    expected = np.load(os.path.join(reference, "tiny-cond4", "gen_psi1_uint8.npy"))  # Seed i has class i % 4.
    images = [_read_png(str(run_dir / ("seed%04d.png" % seed))) for seed in range(7)]
    for seed in range(7):
        _assert_images_match(images[seed], expected[seed])
    # The grid: a row per class, the seeds of that class left to right, the missing cell (class 3) black.
    grid = _read_png(str(run_dir / "grid.png"))
    assert grid.shape == (4 * 16, 2 * 16, 3)
    for seed in range(7):
        row, col = seed % 4, seed // 4
        np.testing.assert_array_equal(grid[row * 16:(row + 1) * 16, col * 16:(col + 1) * 16], images[seed])
    assert grid[3 * 16:, 16:].max() == 0
    # --class still draws every seed in that one class.
    in_class_0 = _generate_in_process(pkl, tmp_path / "class0", monkeypatch, [0, 3], truncation_psi=1.0,
                                      class_idx=0)
    _assert_images_match(in_class_0[0], expected[0])
    assert np.abs(in_class_0[3] - images[3]).max() > 0


class _Exploit:
    def __reduce__(self):
        return (os.getcwd, ())


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
@pytest.mark.parametrize("problem", ["missing", "not_a_pickle", "truncated", "foreign_global"])
def test_bad_networks_give_one_line_errors(tiny_pkl, tmp_path, problem):
    path = tmp_path / "bad.pkl"
    if problem == "not_a_pickle":
        path.write_text("this is not a pickle\n")
    elif problem == "truncated":
        data = open(tiny_pkl, "rb").read()
        path.write_bytes(data[: len(data) * 2 // 3])
    elif problem == "foreign_global":
        path.write_bytes(pickle.dumps(_Exploit()))
    network = str(path)
    result = _run_generator("generate-images", "--network=" + network, "--seeds=0", "--result-dir=" + str(tmp_path / "out"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert network in lines[0]
    expected = {"missing": "no such file", "not_a_pickle": "not a valid pickle", "truncated": "truncated pickle",
                "foreign_global": "refused in safe mode"}[problem]
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()  # No run dir for a failed start.


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_pickle_with_tf1_style_official_source_loads_without_executing_it(reference, tmp_path, monkeypatch):
    """A pickle in the official layout whose embedded source is TF1-style is built by our code (safe mode)."""
    original_getstate = Network.__getstate__

    def tf1_style_state(net):
        state = original_getstate(net)
        src = state["build_module_src"].replace("import tensorflow.compat.v1 as tf", "import tensorflow as tf")
        assert "import tensorflow as tf" in src
        state["build_module_src"] = src + "\nraise RuntimeError('the embedded source must not run')\n"
        return state

    with tf.Graph().as_default(), tflib.create_session().as_default():
        networks = build_reference_networks(reference, "tiny-Gskip-Dresnet")
        monkeypatch.setattr(Network, "__getstate__", tf1_style_state)
        data = pickle.dumps(networks, protocol=4)
        monkeypatch.undo()
    path = tmp_path / "official-layout.pkl"
    path.write_bytes(data)

    z = np.load(os.path.join(reference, "tiny-Gskip-Dresnet", "z.npy"))
    expected = np.load(os.path.join(reference, "tiny-Gskip-Dresnet", "pklnoise_psi0.7.npy"))
    with tf.Graph().as_default(), tflib.create_session().as_default():
        _G, _D, Gs = misc.load_pkl(str(path))  # Safe mode: refuses to execute anything.
        assert Gs.components.synthesis._build_func.__module__ == "training.networks_stylegan2"
        images = Gs.run(z, None, randomize_noise=False, truncation_psi=0.7)
    np.testing.assert_allclose(images, expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------------
# Errors: one line, non-zero exit status, no run dir.

@pytest.mark.parametrize("args, message", [
    (["generate-images", "--seeds=4294967296"], "argument --seeds: seeds must be in 0..4294967295, got 4294967296"),
    (["generate-images", "--seeds=0-3", "--truncation-psi=nan"], "argument --truncation-psi: expected a finite number"),
    (["generate-images", "--seeds=0", "--truncation-psi=-inf"], "argument --truncation-psi: expected a finite number"),
    (["generate-images", "--seeds=0", "--truncation-psi=x"], "argument --truncation-psi: expected a number"),
    (["style-mixing-example", "--row-seeds=1", "--col-seeds=5000000000"], "argument --col-seeds: seeds must be"),
    (["style-mixing-example", "--row-seeds=1", "--col-seeds=2", "--truncation-psi=inf"], "expected a finite number"),
])
def test_usage_errors_are_one_line_and_leave_no_run_dir(tmp_path, args, message):
    result = _run_generator(*(args + ["--result-dir=" + str(tmp_path / "out")]))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr  # One line.
    assert result.stderr.startswith("run_generator.py %s: error: " % args[0]) and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture
def fresh_network_cache(monkeypatch):
    import pretrained_networks
    monkeypatch.setattr(pretrained_networks, "_cached_networks", {})


@pytest.mark.parametrize("args, message", [
    (["generate-images", "--seeds=0", "--class=10"], "--class must be in [0, 10) for this network, got 10"),
    (["style-mixing-example", "--row-seeds=1", "--col-seeds=2"],
     "the network is conditional (10 classes): choose one with --class"),
    (["style-mixing-example", "--row-seeds=1", "--col-seeds=2", "--class=-1"], "--class must be in [0, 10)"),
    (["style-mixing-example", "--row-seeds=1", "--col-seeds=2", "--class=1", "--col-styles=3-40"],
     "--col-styles must be layer indices in [0, 8), got [8, 9,"),
])
def test_options_checked_against_the_network_before_the_run_dir(tmp_path, capsys, fresh_network_cache, args,
                                                                 message):
    import run_generator
    assert run_generator.main(args + ["--result-dir=" + str(tmp_path / "out")]) == 1
    err_lines = capsys.readouterr().err.splitlines()
    assert len([line for line in err_lines if "error:" in line]) == 1
    assert err_lines[-1].endswith(": error: " + message) or message in err_lines[-1], err_lines
    assert not (tmp_path / "out").exists()


class _StopAfterThree(Exception):
    pass


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_a_huge_seed_range_is_stored_as_its_expression(tmp_path, capsys, monkeypatch, fresh_network_cache):
    import run_generator
    from training import misc
    saved = []

    def save_three(image, path):
        saved.append(os.path.basename(path))
        if len(saved) == 3:
            raise _StopAfterThree("enough")

    monkeypatch.setattr(misc, "save_image", save_three)
    with pytest.raises(_StopAfterThree):
        run_generator.main(["generate-images", "--seeds=0-99999999", "--class=1",
                            "--result-dir=" + str(tmp_path)])
    assert saved == ["seed0000.png", "seed0001.png", "seed0002.png"]
    run_dir = tmp_path / "00000-generate-images"
    assert os.path.getsize(str(run_dir / "submit_config.pkl")) < 20000
    with open(str(run_dir / "submit_config.pkl"), "rb") as f:
        seeds = pickle.load(f).run_func_kwargs["seeds"]
    assert seeds.text == "0-99999999" and len(seeds) == 100000000 and seeds[12345678] == 12345678
    assert "NumRange('0-99999999')" in (run_dir / "submit_config.txt").read_text()
    # The progress bar knows the total from the start.
    assert "0/100000000" in capsys.readouterr().err
    assert (run_dir / "_failed.txt").read_text() == "_StopAfterThree: enough\n"
    assert not (run_dir / "_finished.txt").exists()


@pytest.mark.slow_on_tf1  # CLI behaviour, not TF-version specific: TF 2.x only in CI
def test_generate_images_with_an_ada_pickle(reference, tmp_path, monkeypatch):
    """A StyleGAN2-ADA pickle (version 5, written by us from ada-uncond32) through generate-images: the
    official seeding protocol (z, then every noise map, from RandomState(seed)) on the ADA generator."""
    from reference_nets import build_ada_reference_networks
    path = str(tmp_path / "ada.pkl")
    expected = {}
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G, D, Gs = build_ada_reference_networks(reference, "ada-uncond32")
        misc.save_pkl((G, D, Gs), path)
        noise_vars = [var for name, var in Gs.components.synthesis.vars.items() if name.startswith("noise")]
        for seed in [3, 4]:
            rnd = np.random.RandomState(seed)
            z = rnd.randn(1, 64)
            tflib.set_vars({var: rnd.randn(*var.shape.as_list()) for var in noise_vars})
            expected[seed] = Gs.run(z, None, truncation_psi=0.7, randomize_noise=False,
                                    output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))[0]
    with open(path, "rb") as f:
        assert _StateOnly(f).load()[0]["version"] == 5
    images = _generate_in_process(path, tmp_path / "out", monkeypatch, [3, 4], truncation_psi=0.7)
    for seed in [3, 4]:
        assert images[seed].shape == (32, 32, 3)
        np.testing.assert_array_equal(images[seed], expected[seed])


class _StateOnly(pickle.Unpickler):
    """Reads a network pickle into plain state dicts (Network replaced by a dict), to look at the format."""

    def find_class(self, module, name):
        if (module, name) == ("dnnlib.tflib.network", "Network"):
            return _StateDict
        return super().find_class(module, name)


class _StateDict(dict):
    def __setstate__(self, state):
        self.update(state)
