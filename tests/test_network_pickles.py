"""Loading network pickles: safe mode, clear one-line errors, official names, atomic saving."""

import inspect
import io
import os
import pickle

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import pretrained_networks
from dnnlib.tflib import network_pickle
from dnnlib.tflib.network import Network
from training import misc
from training import training_loop

import tiny_nets


class _MakeDir:
    """Unpickling this calls os.mkdir(path): stands for any code a malicious pickle could run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _tiny_pickle(tmp_path, name="tiny.pkl"):
    G = Network("G", func_name=tiny_nets.outer_net, num_in=4)
    D = Network("D", func_name=tiny_nets.dense_net)
    path = str(tmp_path / name)
    misc.save_pkl((G, D, G.clone("Gs")), path)
    return path, G


def test_safe_mode_refuses_foreign_globals_without_running_them(sess, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_MakeDir(str(marker))))
    with pytest.raises(misc.NetworkPickleError) as info:
        misc.load_pkl(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "refused in safe mode" in message and ".mkdir" in message
    assert not marker.exists()


def test_safe_mode_refuses_unknown_build_functions_until_allowed(sess, tmp_path):
    path, G = _tiny_pickle(tmp_path)
    with pytest.raises(misc.NetworkPickleError, match=r"refused in safe mode: network 'Tiny_inner' is built by 'dense_net'.*--allow-code-execution"):
        misc.load_pkl(path)
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, D2, Gs2 = misc.load_pkl(path, allow_code_execution=True)
        assert (G2.name, D2.name, Gs2.name) == ("G", "D", "Gs")
        assert G2.components.inner._build_func.__module__.startswith("_tflib_network_import_")


def test_official_download_server_is_trusted(sess, tmp_path, monkeypatch):
    path, _ = _tiny_pickle(tmp_path)
    url = pretrained_networks.gdrive_urls["gdrive:networks/stylegan2-ffhq-config-f.pkl"]
    assert misc.is_trusted_source(url)
    assert not misc.is_trusted_source("https://example.com/stylegan2/networks/stylegan2-ffhq-config-f.pkl")
    assert not misc.is_trusted_source(path)
    monkeypatch.setattr(network_pickle, "open_file_or_url", lambda f: open(path, "rb") if f == url else None)
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G, _D, _Gs = misc.load_pkl(url)  # Not refused: it comes from the official server.
        assert G.name == "G"


@pytest.mark.parametrize("problem", ["missing", "directory", "not_a_pickle", "truncated", "empty"])
def test_bad_files_give_one_line_errors_naming_the_file(sess, tmp_path, problem):
    good_path, _ = _tiny_pickle(tmp_path)
    path = tmp_path / ("bad-" + problem + ".pkl")
    if problem == "directory":
        path.mkdir()
    elif problem == "not_a_pickle":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    elif problem == "truncated":
        data = open(good_path, "rb").read()
        path.write_bytes(data[: len(data) // 2])
    elif problem == "empty":
        path.write_bytes(b"")
    with pytest.raises(misc.NetworkPickleError) as info:
        misc.load_pkl(str(path), allow_code_execution=True)
    message = str(info.value)
    assert message.startswith(str(path) + ": ") and "\n" not in message
    expected = {"missing": "no such file", "directory": "is a directory", "not_a_pickle": "not a valid pickle",
                "truncated": "truncated pickle", "empty": "truncated pickle"}[problem]
    assert expected in message


def test_save_pkl_is_atomic_and_uses_numpy1_names(sess, tmp_path):
    path, G = _tiny_pickle(tmp_path)
    assert sorted(os.listdir(str(tmp_path))) == ["tiny.pkl"]  # No temp files left behind.
    data = open(path, "rb").read()
    assert b"numpy._core" not in data and b"numpy.core.multiarray" in data
    referenced = set()

    class RecordingUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            referenced.add(module + "." + name)
            return super().find_class(module, name)

    expected_weight = G.get_var("Tiny_inner/Dense0/weight")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, _D2, _Gs2 = RecordingUnpickler(io.BytesIO(data)).load()
        np.testing.assert_array_equal(G2.get_var("Tiny_inner/Dense0/weight"), expected_weight)
        np.testing.assert_array_equal(G2.get_var("Tiny_inner/calls"), 0.0)
    assert referenced == {"dnnlib.tflib.network.Network", "numpy.core.multiarray._reconstruct",
                          "numpy.core.multiarray.scalar", "numpy.ndarray", "numpy.dtype"}

    # A failed write leaves the previous file intact.
    before = open(path, "rb").read()
    with pytest.raises(pickle.PicklingError):
        misc.save_pkl(lambda: None, path)
    assert open(path, "rb").read() == before and sorted(os.listdir(str(tmp_path))) == ["tiny.pkl"]


def test_pretrained_names_and_cache(sess, tmp_path, monkeypatch):
    urls = pretrained_networks.gdrive_urls
    assert len(urls) == 12 + 3 + 18
    assert urls["gdrive:networks/stylegan2-car-config-a.pkl"] == "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/stylegan2-car-config-a.pkl"
    assert urls["gdrive:networks/table2/stylegan2-ffhq-config-e-Gskip-Dresnet.pkl"] == \
        "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/table2/stylegan2-ffhq-config-e-Gskip-Dresnet.pkl"
    assert pretrained_networks.get_path_or_url("my.pkl") == "my.pkl"
    with pytest.raises(misc.NetworkPickleError, match="gdrive:networks/nope.pkl: unknown official network"):
        pretrained_networks.get_path_or_url("gdrive:networks/nope.pkl")

    path, _ = _tiny_pickle(tmp_path)
    monkeypatch.setattr(pretrained_networks, "_cached_networks", {})
    url = "file://" + path
    first = pretrained_networks.load_networks(url, allow_code_execution=True)
    assert pretrained_networks.load_networks(url) is first  # Cached per path/URL.
    assert pretrained_networks.load_Gs(url).name == "Gs"


def test_atomic_write_leaves_one_file_with_the_usual_permissions(tmp_path):
    old_umask = os.umask(0o022)
    try:
        misc.write_file_atomically(str(tmp_path / "sub" / "a.pkl"), b"abc")
    finally:
        os.umask(old_umask)
    assert os.listdir(str(tmp_path / "sub")) == ["a.pkl"]
    assert (tmp_path / "sub" / "a.pkl").read_bytes() == b"abc"
    assert os.stat(str(tmp_path / "sub" / "a.pkl")).st_mode & 0o777 == 0o644


def test_loading_policy_is_explicit_per_load(sess, tmp_path):
    """Each load decides for itself: a refused safe-mode load leaves later plain unpickling unaffected."""
    path, G = _tiny_pickle(tmp_path)
    data = open(path, "rb").read()
    expected_weight = G.get_var("Tiny_inner/Dense0/weight")
    with pytest.raises(network_pickle.UnsafePickleError, match="built by 'dense_net'"):
        network_pickle.load_network_pickle(io.BytesIO(data))
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, _D2, _Gs2 = pickle.loads(data)  # Plain pickle, as the official code: the embedded code runs.
        assert type(G2) is Network and type(G2.components.inner) is Network
        G3, _D3, _Gs3 = network_pickle.load_network_pickle(io.BytesIO(data), allow_code_execution=True)
        assert type(G3) is Network and G3.name == "G"
        np.testing.assert_array_equal(G3.get_var("Tiny_inner/Dense0/weight"), expected_weight)
    # The names of training.misc are the same objects.
    assert misc.NetworkPickleError is network_pickle.NetworkPickleError
    assert misc.write_file_atomically is dnnlib.util.write_file_atomically


class _CallsNetwork:
    """Unpickling this calls Network(...) directly, which would import any module named as func_name."""

    def __reduce__(self):
        return (Network, ("x", "tiny_nets.dense_net"))


def test_safe_mode_refuses_pickles_that_call_the_network_constructor(sess):
    data = pickle.dumps(_CallsNetwork())
    with pytest.raises(network_pickle.UnsafePickleError, match="calls Network"):
        network_pickle.load_network_pickle(io.BytesIO(data))


def test_run_training_allow_code_execution_reaches_the_resume_load(sess, tmp_path, monkeypatch, capsys):
    import dataset_tool  # pylint: disable=import-outside-toplevel
    import run_training  # pylint: disable=import-outside-toplevel
    with dataset_tool.TFRecordExporter(str(tmp_path / "data" / "tiny"), 1, print_progress=False) as tfr:
        tfr.add_image(np.zeros([3, 4, 4], np.uint8))
    resume, _ = _tiny_pickle(tmp_path, "snapshot.pkl")
    seen = []
    monkeypatch.setattr(dnnlib, "submit_run", lambda **kwargs: seen.append(kwargs))
    base = ["--data-dir", str(tmp_path / "data"), "--dataset", "tiny", "--result-dir", str(tmp_path / "results"),
            "--metrics", "none", "--resume", resume]
    assert run_training.main(base) == 2  # Checked before the run: safe mode refuses the embedded build code.
    assert "refused in safe mode" in capsys.readouterr().err and not seen
    assert run_training.main(base + ["--allow-code-execution"]) == 0
    assert [kwargs["resume_allow_code_execution"] for kwargs in seen] == [True]
    assert "resume_allow_code_execution" in inspect.signature(training_loop.training_loop).parameters


def test_stylegan2_ada_names_urls_and_transfer_sources(sess, tmp_path, monkeypatch):
    root = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada/pretrained/"
    assert sorted(pretrained_networks.ada_urls) == sorted(["metfaces", "brecahad", "afhqcat", "afhqdog", "afhqwild",
                                                           "cifar10", "ffhq"])
    assert pretrained_networks.get_path_or_url("ada:metfaces") == root + "metfaces.pkl"
    assert pretrained_networks.get_path_or_url(root + "cifar10.pkl") == root + "cifar10.pkl"
    assert all(misc.is_trusted_source(url) for url in pretrained_networks.ada_urls.values())
    with pytest.raises(misc.NetworkPickleError, match="ada:nope: unknown StyleGAN2-ADA network; known names: ada:metfaces"):
        pretrained_networks.get_path_or_url("ada:nope")
    sources = pretrained_networks.transfer_learning_sources
    assert sources == {name: root + "transfer-learning-source-nets/" + file_name for name, file_name in [
        ("ffhq256", "ffhq-res256-mirror-paper256-noaug.pkl"), ("ffhq512", "ffhq-res512-mirror-stylegan2-noaug.pkl"),
        ("ffhq1024", "ffhq-res1024-mirror-stylegan2-noaug.pkl"),
        ("celebahq256", "celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl"),
        ("lsundog256", "lsundog-res256-paper256-kimg100000-noaug.pkl")]}
    # ada: names load through the download cache like any URL (here served from a local file).
    path, _ = _tiny_pickle(tmp_path)
    monkeypatch.setattr(pretrained_networks, "_cached_networks", {})
    monkeypatch.setattr(network_pickle, "open_file_or_url", lambda f: open(path, "rb") if f == root + "afhqcat.pkl" else None)
    assert pretrained_networks.load_Gs("ada:afhqcat").name == "Gs"  # Trusted: its embedded code may run.


def test_only_ada_networks_pickle_as_version_5(sess):
    G = Network("G", func_name="training.networks_stylegan2.G_main", resolution=8, latent_size=4, dlatent_size=4,
                fmap_base=8, fmap_max=4, mapping_layers=1, mapping_fmaps=4)
    state = G.__getstate__()
    assert state["version"] == 4 and "input_shapes" not in state
    tiny = Network("T", func_name=tiny_nets.dense_net)
    assert tiny.__getstate__()["version"] == 4
    ada = Network("G", func_name="training.networks.G_mapping", latent_size=4, dlatent_size=4, mapping_layers=1)
    state = ada.__getstate__()
    assert state["version"] == 5 and list(state)[-4:] == ["input_shapes", "output_shapes", "input_names", "output_names"]
    assert (state["input_shapes"], state["output_shapes"]) == ([[None, 4], [None, 0]], [[None, 4]])
    assert (state["input_names"], state["output_names"]) == (["latents_in", "labels_in"], ["dlatents_out"])
