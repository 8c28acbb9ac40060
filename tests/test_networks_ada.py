"""training/networks.py (StyleGAN2-ADA): the official ada-uncond32 network reproduced from its variables in
both layouts, ADA pickles (version 5) written and read back, float16 blocks, label conditioning, Freeze-D,
parameter counts of ADA's configurations, and the `padding` of the resampling wrappers."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import network_pickle
from dnnlib.tflib.network import Network
from dnnlib.tflib.ops import upfirdn_2d
from training import networks

from conftest import reference_dir
from reference_nets import assign_vars, build_ada_reference_networks, load_meta

REF_NAME = "ada-uncond32"
STATE_KEYS = ["version", "name", "static_kwargs", "components", "build_module_src", "build_func_name", "variables",
              "input_shapes", "output_shapes", "input_names", "output_names"]


def _ref_path(*names):
    return os.path.join(reference_dir(), REF_NAME, *names)


def _skip_without_reference():
    if not os.path.isdir(_ref_path()):
        pytest.skip("reference numbers not found at %s" % _ref_path())


def _skip_nchw_without_onednn(data_format):
    if data_format == "NCHW" and not networks.grouped_conv_supported():
        pytest.skip("NCHW convolutions need a GPU or oneDNN")


def _set_reference_noise(Gs):
    noise = np.load(_ref_path("noise.npz"))
    synthesis = Gs.components.synthesis
    count = len([name for name in synthesis.vars if name.startswith("noise")])
    tflib.set_vars({synthesis.vars["noise%d" % i]: noise["G_synthesis_1__noise%d_0" % i] for i in range(count)})


def _check_reference_outputs(Gs, D, psis):
    """Gs and D against the official arrays: floats to 2e-5, uint8 exact or off by one at .5 roundings."""
    z = np.load(_ref_path("z.npy"))
    _set_reference_noise(Gs)
    for psi in psis:
        images = Gs.run(z, None, truncation_psi=psi, randomize_noise=False)
        np.testing.assert_allclose(images, np.load(_ref_path("gen_psi%s.npy" % psi)), rtol=0, atol=2e-5)
    as_uint8 = dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True)
    got = Gs.run(z, None, truncation_psi=0.7, randomize_noise=False, output_transform=as_uint8)
    diff = np.abs(got.astype(np.int32) - np.load(_ref_path("gen_psi0.7_uint8.npy")))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 3, (diff.max(), np.count_nonzero(diff))
    scores = D.run(np.load(_ref_path("D_images.npy")), None, minibatch_size=8)
    np.testing.assert_allclose(scores, np.load(_ref_path("D_scores.npy")), rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def ada_nets():
    """(G, D, Gs) of ada-uncond32 with the official static kwargs (so the default layout: NHWC on a CPU), in a
    graph and session of their own (made once per module)."""
    _skip_without_reference()
    graph = tf.Graph()
    with graph.as_default():
        session = tflib.create_session(force_as_default=False)
        with session.as_default():
            nets = build_ada_reference_networks(reference_dir(), REF_NAME)
    yield graph, session, nets
    session.close()


def test_reproduces_the_official_network_default_layout(ada_nets):
    graph, session, (_G, D, Gs) = ada_nets
    with graph.as_default(), session.as_default():
        _check_reference_outputs(Gs, D, psis=[1, 0.7, 0.5])


def test_reproduces_the_official_network_nchw(sess):
    _skip_without_reference()
    _skip_nchw_without_onednn("NCHW")
    meta = load_meta(reference_dir(), REF_NAME)
    Gs = Network("Gs", func_name="training.networks.G_main", **dict(meta["G_kwargs"], data_format="NCHW"))
    D = Network("D", func_name="training.networks.D_main", **dict(meta["D_kwargs"], data_format="NCHW"))
    assign_vars(Gs, _ref_path("vars_Gs.npz"))
    assign_vars(D, _ref_path("vars_D.npz"))
    _check_reference_outputs(Gs, D, psis=[0.7])


def _structure_of(state):
    """A pickled state as pickle_structure.json describes it (variables as [name, shape, dtype])."""
    out = {}
    for key, value in state.items():
        if key == "components":
            value = {name: _structure_of(net.__getstate__()) for name, net in value.items()}
        elif key == "variables":
            value = [[name, list(array.shape), array.dtype.name] for name, array in value]
        elif key == "build_module_src":
            continue
        out[key] = value
    return out


def test_state_matches_the_official_pickle_structure(ada_nets):
    graph, session, (G, D, Gs) = ada_nets
    with open(_ref_path("pickle_structure.json")) as f:
        official = json.load(f)
    with graph.as_default(), session.as_default():
        for name, net in [("G", G), ("D", D), ("Gs", Gs)]:
            state = net.__getstate__()
            assert list(state) == STATE_KEYS
            for comp in net.components.values():
                assert list(comp.__getstate__()) == STATE_KEYS
            expected = {key: value for key, value in official[name].items() if key != "build_module_src"}
            for comp in expected["components"].values():
                del comp["build_module_src"]
            assert json.loads(json.dumps(_structure_of(state))) == expected, name
            assert list(state["static_kwargs"]) == list(official[name]["static_kwargs"])


@pytest.mark.slow_on_tf1  # Pickle format logic, the same on either TensorFlow.
def test_written_pickle_reloads_in_safe_mode_with_identical_outputs(ada_nets, tmp_path):
    graph, session, (G, D, Gs) = ada_nets
    path = str(tmp_path / "ada.pkl")
    z = np.random.RandomState(5).randn(3, 64)
    images = np.random.RandomState(6).uniform(-1, 1, [4, 3, 32, 32])
    with graph.as_default(), session.as_default():
        network_pickle.save((G, D, Gs), path)
        want = [Gs.run(z, None, truncation_psi=0.7, randomize_noise=False), D.run(images, None)]
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, D2, Gs2 = network_pickle.load(path)  # Safe mode: built by our module, no embedded code runs.
        assert Gs2._build_func.__module__ == "training.networks" and D2._build_func.__name__ == "D_main"
        assert Gs2.components.synthesis.static_kwargs == Gs.components.synthesis.static_kwargs
        np.testing.assert_array_equal(Gs2.run(z, None, truncation_psi=0.7, randomize_noise=False), want[0])
        np.testing.assert_array_equal(D2.run(images, None), want[1])
        assert G2.__getstate__()["version"] == 5


def _tiny_kwargs(**overrides):
    kwargs = dict(resolution=16, num_channels=3, latent_size=8, dlatent_size=8, fmap_base=64, fmap_max=8,
                  mapping_layers=1, data_format="NHWC")
    kwargs.update(overrides)
    return kwargs


def test_fp16_blocks_fall_back_to_float32_on_cpu_or_run_in_float16(sess, monkeypatch, capsys):
    """Without a GPU, num_fp16_res=1 gives exactly the float32 numbers (and one notice per process); forced
    with $STYLEGAN2_FP16_ON_CPU=1, the 8x8 blocks convolve in float16 and stay close to them."""
    if networks._gpu_visible():
        pytest.skip("a GPU is visible: float16 runs as float16")
    monkeypatch.delenv(networks.FP16_ON_CPU_ENV, raising=False)
    monkeypatch.setattr(networks, "_fp16_fallback_noticed", [])
    w = np.random.RandomState(1).randn(2, 4, 8).astype(np.float32)
    images = np.random.RandomState(2).uniform(-1, 1, [4, 3, 8, 8]).astype(np.float32)

    def build(name, **kwargs):
        kwargs = _tiny_kwargs(resolution=8, randomize_noise=False, conv_clamp=256, **kwargs)
        return Network("S" + name, func_name=networks.G_synthesis, **kwargs), Network("D" + name, func_name=networks.D_main, **kwargs)

    nets32 = build("32")
    fallback = build("fb", num_fp16_res=1)
    fallback[0].copy_vars_from(nets32[0])
    fallback[1].copy_vars_from(nets32[1])
    want = nets32[0].run(w), nets32[1].run(images, None)
    np.testing.assert_array_equal(fallback[0].run(w), want[0])
    np.testing.assert_array_equal(fallback[1].run(images, None), want[1])
    notices = [line for line in capsys.readouterr().out.splitlines() if "float16 layers" in line]
    assert len(notices) == 1 and "compute in float32" in notices[0]

    monkeypatch.setenv(networks.FP16_ON_CPU_ENV, "1")
    nets16 = build("16", num_fp16_res=1)
    nets16[0].copy_vars_from(nets32[0])
    nets16[1].copy_vars_from(nets32[1])
    half_ops = [op.name for op in tf.get_default_graph().get_operations()
                if op.type == "Conv2D" and op.get_attr("T") == tf.float16]
    assert any(name.startswith("S16/8x8/") for name in half_ops) and any(name.startswith("D16/8x8/") for name in half_ops)
    assert not any(name.startswith(("S16/4x4/", "D16/4x4/", "S32/", "D32/", "Sfb/", "Dfb/")) for name in half_ops)
    try:
        got = nets16[0].run(w), nets16[1].run(images, None)
    except tf.errors.OpError as e:  # Some CPU builds lack float16 kernels.
        pytest.skip("float16 kernels missing on this CPU: %s" % str(e).splitlines()[0])
    assert got[0].dtype == np.float32
    for g, expected in zip(got, want):
        np.testing.assert_allclose(g, expected, rtol=0, atol=2e-2 * max(np.abs(expected).max(), 1))
        assert np.abs(g - expected).max() > 0  # Really computed in float16.


@pytest.mark.slow_on_tf1  # Variable shapes and label plumbing, the same on either TensorFlow.
def test_conditional_networks_embed_labels(sess):
    kwargs = _tiny_kwargs(label_size=5, mapping_layers=2, resolution=8)
    G = Network("G", func_name="training.networks.G_main", **kwargs)
    D = Network("D", func_name="training.networks.D_main", **dict(kwargs, mapping_layers=1))
    shapes = {name: var.shape.as_list() for name, var in G.vars.items()}
    assert shapes["G_mapping/LabelEmbed/weight"] == [5, 8] and shapes["G_mapping/LabelEmbed/bias"] == [8]
    assert shapes["G_mapping/Dense0/weight"] == [16, 8]
    d_shapes = {name: var.shape.as_list() for name, var in D.vars.items()}
    nf0 = 8  # nf(0) = fmap_base 64, clipped to fmap_max 8.
    assert d_shapes["LabelEmbed/weight"] == [5, nf0] and d_shapes["LabelEmbed/bias"] == [nf0]
    assert d_shapes["Mapping0/weight"] == [nf0, nf0] and d_shapes["Output/weight"] == [nf0, nf0]
    assert d_shapes["Output/bias"] == [nf0] and "Mapping1/weight" not in d_shapes
    for net in [G, D]:
        tflib.set_vars({var: np.random.RandomState(3).randn(*var.shape.as_list()) * 0.3
                        for name, var in net.vars.items() if name.endswith("bias")})
    z = np.random.RandomState(4).randn(2, 8)
    labels = np.eye(5)[[0, 0]], np.eye(5)[[0, 3]]
    images = [G.run(z, lab, truncation_psi=1, randomize_noise=False) for lab in labels]
    assert images[0].shape == (2, 3, 8, 8) and np.isfinite(images[0]).all()
    np.testing.assert_array_equal(images[0][0], images[1][0])
    assert np.abs(images[0][1] - images[1][1]).max() > 1e-3
    scores = [D.run(images[0], lab) for lab in labels]
    assert scores[0].shape == (2, 1)
    assert scores[0][0] == scores[1][0] and abs(scores[0][1] - scores[1][1]) > 1e-4


def test_conditional_projection_score(sess):
    """No mapping layers and a zero Output weight: the score is Output/bias projected onto the embedding,
    labels @ LabelEmbed/weight / sqrt(L) + bias normalised to unit root mean square, over sqrt(nf(0))."""
    D = Network("D", func_name="training.networks.D_main", **_tiny_kwargs(label_size=3, mapping_layers=0))
    rnd = np.random.RandomState(7)
    values = {name: rnd.randn(*var.shape.as_list()) for name, var in D.vars.items()}
    values["Output/weight"][:] = 0
    tflib.set_vars({D.vars[name]: value for name, value in values.items()})
    labels = np.array([[1, 0, 0], [0, 0, 1], [0.5, -2, 1]])
    scores = D.run(rnd.uniform(-1, 1, [3, 3, 16, 16]), labels)
    embedding = labels @ values["LabelEmbed/weight"] / np.sqrt(3) + values["LabelEmbed/bias"]
    embedding /= np.sqrt(np.mean(embedding ** 2, axis=1, keepdims=True) + 1e-8)
    expected = embedding @ values["Output/bias"][:, np.newaxis] / np.sqrt(8)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("architecture, frozen", [
    ("resnet", ["32x32/FromRGB", "32x32/Conv0", "32x32/Conv1_down", "32x32/Skip"]),
    ("skip", ["32x32/FromRGB", "32x32/Conv0", "32x32/Conv1_down", "16x16/FromRGB"]),
])
def test_freeze_layers(sess, architecture, frozen):
    D = Network("D", func_name=networks.D_main, **_tiny_kwargs(resolution=32, label_size=2, architecture=architecture,
                                                                freeze_layers=4))
    layers = {name.rsplit("/", 1)[0] for name in D.vars}
    assert set(frozen) <= layers
    not_trainable = {name.rsplit("/", 1)[0] for name in D.vars if name not in D.trainables}
    assert not_trainable == set(frozen)
    assert "LabelEmbed/weight" in D.trainables and "Output/weight" in D.trainables


def test_comparison_methods_are_refused(sess):
    images, labels = tf.zeros([2, 3, 8, 8]), tf.zeros([2, 0])
    for option in [dict(use_pagan=True), dict(use_spectral_norm=True), dict(adaptive_dropout=1), dict(score_max=5)]:
        with pytest.raises(ValueError, match="not supported by this project"):
            networks.D_main(images, labels, resolution=8, fmap_base=16, **option)


def _trainable_count(build):
    with tf.Graph().as_default():
        build()
        return sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())


@pytest.mark.slow_on_tf1  # Graph construction only; the same Python on either TensorFlow.
@pytest.mark.parametrize("config", ["auto64", "cifar"])
def test_parameter_counts_of_ada_configs(config):
    """SPEC-ADA 4.4: trainable totals of G (mapping + synthesis) and D, built without a session."""
    res, labels, arch, expected_g, expected_d = {
        "auto64": (64, 0, "resnet", 22243608, 23407361),
        "cifar": (32, 10, "orig", 20215315, 20988416)}[config]
    common = dict(resolution=res, num_channels=3, label_size=labels, fmap_base=8192, fmap_max=512, data_format="NHWC")

    def build_g():
        with tf.variable_scope("G_synthesis"):
            networks.G_synthesis(tf.placeholder(tf.float32, [None, 2 * int(np.log2(res)) - 2, 512]), **common)
        with tf.variable_scope("G_mapping"):
            networks.G_mapping(tf.placeholder(tf.float32), tf.placeholder(tf.float32), mapping_layers=2, **common)

    def build_d():
        networks.D_main(tf.placeholder(tf.float32), tf.placeholder(tf.float32), architecture=arch, **common)
    assert (_trainable_count(build_g), _trainable_count(build_d)) == (expected_g, expected_d)


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
def test_resampling_padding_adds_border_pixels(sess, data_format):
    _skip_nchw_without_onednn(data_format)
    rnd = np.random.RandomState(0)
    x_nchw = rnd.randn(2, 3, 8, 8).astype(np.float32)
    x = tf.constant(x_nchw if data_format == "NCHW" else x_nchw.transpose(0, 2, 3, 1))
    w = tf.constant(rnd.randn(3, 3, 3, 4).astype(np.float32))
    k = [1, 3, 3, 1]
    calls = {
        "filter_2d": lambda q: upfirdn_2d.filter_2d(x, k, padding=q, data_format=data_format, impl="ref"),
        "upsample_2d": lambda q: upfirdn_2d.upsample_2d(x, k, padding=q, data_format=data_format, impl="ref"),
        "downsample_2d": lambda q: upfirdn_2d.downsample_2d(x, k, padding=q, data_format=data_format, impl="ref"),
        "upsample_conv_2d": lambda q: upfirdn_2d.upsample_conv_2d(x, w, k, padding=q, data_format=data_format,
                                                                  impl="ref"),
        "conv_downsample_2d": lambda q: upfirdn_2d.conv_downsample_2d(x, w, k, padding=q, data_format=data_format,
                                                                      impl="ref"),
    }
    spatial = slice(1, 3) if data_format == "NHWC" else slice(2, 4)
    for name, call in calls.items():
        plain, padded = tf.get_default_session().run([call(0), call(2)])
        assert [s + 4 for s in plain.shape[spatial]] == list(padded.shape[spatial]), name
        inner = padded[:, 2:-2, 2:-2] if data_format == "NHWC" else padded[:, :, 2:-2, 2:-2]
        np.testing.assert_allclose(inner, plain, rtol=0, atol=1e-5, err_msg=name)
        border = padded[:, :2] if data_format == "NHWC" else padded[:, :, :2]
        assert np.abs(border).max() > 1e-3, name  # The extra pixels see the image through the filter.


def test_embedded_source_runs_standalone_and_pickles_again_as_version_5(sess, tmp_path, monkeypatch):
    """What the official ADA code does with our pickles: build from the module text the pickle carries."""
    kwargs = _tiny_kwargs(resolution=8, label_size=2, conv_clamp=4, num_fp16_res=1)
    G = Network("G", func_name="training.networks.G_main", **kwargs)
    D = Network("D", func_name="training.networks.D_main", **kwargs)
    path = str(tmp_path / "tiny_ada.pkl")
    network_pickle.save((G, D), path)
    z, labels = np.random.RandomState(9).randn(2, 8), np.eye(2)
    want = G.run(z, labels, truncation_psi=0.5), D.run(np.ones([2, 3, 8, 8]), labels)
    monkeypatch.setattr(network_pickle, "KNOWN_BUILD_MODULES", ())
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2, D2 = network_pickle.load(path, allow_code_execution=True)
        assert G2._build_func.__module__.startswith("_tflib_network_import_")
        np.testing.assert_array_equal(G2.run(z, labels, truncation_psi=0.5), want[0])
        np.testing.assert_array_equal(D2.run(np.ones([2, 3, 8, 8]), labels), want[1])
        assert G2.__getstate__()["version"] == 5 and D2.__getstate__()["input_names"] == ["images_in", "labels_in"]
