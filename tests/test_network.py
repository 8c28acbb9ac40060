"""Network: building, running, cloning, averaging and the official pickle format."""

import io
import pickle
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import network as network_module
from dnnlib.tflib import network_pickle
from dnnlib.tflib.network import Network

import tiny_nets

OFFICIAL_STATE_KEYS = ["version", "name", "static_kwargs", "components", "build_module_src", "build_func_name", "variables"]


def _numpy_dense_net(net, x, labels, scale=1.0):
    """The dense_net forward pass in NumPy from the network's variable values."""
    v = {name: net.get_var(name) for name in net.vars}
    h = x @ v["Dense0/weight"] + v["Dense0/bias"]
    h = np.where(h >= 0, h, 0.2 * h)
    return (h @ v["Output/weight"] + v["Output/bias"] + labels @ v["LabelProj/weight"]) * scale


def _inputs(n=6, seed=0):
    rnd = np.random.RandomState(seed)
    return rnd.randn(n, 4).astype(np.float32), np.eye(2, dtype=np.float32)[rnd.randint(0, 2, n)]


def test_build_names_shapes_and_variables(sess):
    net = Network("D", func_name="tiny_nets.dense_net", num_out=3)
    assert net.scope == "D"
    assert net.input_names == ["x_in", "labels_in"]
    assert net.input_shapes == [[None, 4], [None, 2]]
    assert net.output_shape == [None, 3] and net.output_names == ["scores_out"]
    assert list(net.own_vars) == ["Dense0/weight", "Dense0/bias", "Output/weight", "Output/bias", "LabelProj/weight", "calls"]
    assert list(net.trainables) == list(net.own_vars)[:-1]
    assert net.var_global_to_local["D/Dense0/weight"] == "Dense0/weight"
    assert net.get_var_local_name(net.vars["Output/bias"]) == "Output/bias"
    # A second network of the same name gets a unique scope of its own.
    net2 = Network("D", func_name=tiny_nets.dense_net)
    assert net2.scope == "D_1"
    assert not set(net2.vars.values()) & set(net.vars.values())


def test_run_matches_numpy_with_minibatches_gpus_and_transforms(sess):
    net = Network("D", func_name=tiny_nets.dense_net)
    x, labels = _inputs(8)
    expected = _numpy_dense_net(net, x, labels)
    np.testing.assert_allclose(net.run(x, labels), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.run(x, labels, minibatch_size=3), expected, rtol=1e-5, atol=1e-6)
    # Two "GPUs": soft placement puts both halves on the CPU; the split and concat must be exact.
    np.testing.assert_allclose(net.run(x, labels, num_gpus=2, assume_frozen=True), expected, rtol=1e-5, atol=1e-6)
    # Dynamic kwargs reach the build function; None inputs are zeros.
    np.testing.assert_allclose(net.run(x, labels, scale=2.0), 2 * expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.run(x, None), _numpy_dense_net(net, x, 0 * labels), rtol=1e-5, atol=1e-6)
    # Transforms are top-level functions with kwargs.
    out = net.run(x, labels, output_transform=dict(func=tflib.convert_images_to_uint8, drange=[-10, 10]))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.clip(np.floor(expected * 255 / 20 + 128), 0, 255).astype(np.uint8))
    out = net.run(x, labels, input_transform=dict(func=tiny_nets.scale_inputs, factor=0.0))
    np.testing.assert_allclose(out, _numpy_dense_net(net, 0 * x, 0 * labels), rtol=1e-5, atol=1e-6)
    # Legacy kwargs still work (as an output transform).
    np.testing.assert_allclose(net.run(x, labels, out_mul=3.0, out_add=1.0), expected * 3 + 1, rtol=1e-5, atol=1e-5)
    # The run graph is cached per set of arguments.
    num_ops = len(tf.get_default_graph().get_operations())
    net.run(x, labels, minibatch_size=5)
    assert len(tf.get_default_graph().get_operations()) == num_ops


def test_run_towers_go_to_the_cpu_without_a_gpu(sess):
    """Without a GPU, run()'s towers (and the variables of frozen clones) are placed on the CPU rather than
    on /gpu:N, which soft placement would move there with a page of colocation warnings."""
    if tflib.tfutil.has_gpu():
        pytest.skip("a GPU is visible: the towers go to /gpu:N")
    net = Network("D", func_name=tiny_nets.dense_net)
    x, labels = _inputs(4)
    ops_before = set(tf.get_default_graph().get_operations())
    net.run(x, labels, num_gpus=2, assume_frozen=True)
    new_ops = [op for op in tf.get_default_graph().get_operations() if op not in ops_before]
    clone_vars = [op for op in new_ops if op.type in ("VariableV2", "VarHandleOp")]
    assert len(clone_vars) == 2 * len(net.vars)  # One frozen clone per tower.
    assert {op.device for op in clone_vars} == {"/device:CPU:0"}


def test_get_output_for_zeros_for_missing_inputs_and_shape_propagation(sess):
    net = Network("D", func_name=tiny_nets.dense_net)
    x_in = tf.placeholder(tf.float32)
    out = net.get_output_for(x_in, None)
    assert x_in.shape.as_list() == [None, 4]
    x, labels = _inputs(5)
    np.testing.assert_allclose(sess.run(out, {x_in: x}), _numpy_dense_net(net, x, 0 * labels), rtol=1e-5, atol=1e-6)
    outs = net.get_output_for(x_in, None, return_as_list=True)
    assert isinstance(outs, list) and len(outs) == 1


def test_components_vars_clone_copy_and_moving_average(sess):
    G = Network("G", func_name=tiny_nets.outer_net, num_in=4)
    assert list(G.components) == ["inner"] and G.components.inner.name == "Tiny_inner"
    assert list(G.own_vars) == ["offset"]
    assert "Tiny_inner/Dense0/weight" in G.vars and "Tiny_inner/calls" in G.vars
    assert "Tiny_inner/calls" not in G.trainables and "offset" not in G.trainables
    x, _ = _inputs(4)
    out, doubled = G.run(x)
    np.testing.assert_allclose(doubled, 2 * out, rtol=1e-6)

    Gs = G.clone("Gs")
    assert Gs.scope == "Gs" and Gs.components.inner.scope != G.components.inner.scope
    np.testing.assert_allclose(Gs.run(x)[0], out, rtol=1e-6)

    # Moving average: trainables lerp with beta, non-trainables are copied (beta_nontrainable=0).
    for name in G.trainables:
        G.set_var(name, G.get_var(name) + 1.0)
    G.set_var("offset", np.array([1.0, 2.0, 3.0], np.float32))
    before = {name: Gs.get_var(name) for name in Gs.vars}
    sess.run(Gs.setup_as_moving_average_of(G, beta=0.75))
    for name in G.trainables:
        np.testing.assert_allclose(Gs.get_var(name), G.get_var(name) + (before[name] - G.get_var(name)) * 0.75, rtol=1e-6)
    np.testing.assert_array_equal(Gs.get_var("offset"), [1.0, 2.0, 3.0])

    # copy_trainables_from leaves non-trainables alone; copy_vars_from copies everything.
    Gs.set_var("offset", np.zeros(3, np.float32))
    Gs.copy_trainables_from(G)
    np.testing.assert_array_equal(Gs.get_var("offset"), np.zeros(3))
    np.testing.assert_array_equal(Gs.get_var("Tiny_inner/Output/bias"), G.get_var("Tiny_inner/Output/bias"))
    Gs.copy_vars_from(G)
    np.testing.assert_array_equal(Gs.get_var("offset"), G.get_var("offset"))
    np.testing.assert_allclose(Gs.run(x)[0], G.run(x)[0], rtol=1e-6)

    # reset_own_vars re-initialises only the own variables.
    weight = G.get_var("Tiny_inner/Dense0/weight")
    G.reset_own_vars()
    np.testing.assert_array_equal(G.get_var("offset"), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(G.get_var("Tiny_inner/Dense0/weight"), weight)


def test_convert_copies_matching_vars(sess):
    net = Network("D", func_name=tiny_nets.dense_net, hidden=5)
    wider = net.convert("tiny_nets.dense_net", new_name="D2", scale=2.0)
    assert wider.name == "D2" and wider.static_kwargs.scale == 2.0
    x, labels = _inputs(3)
    np.testing.assert_allclose(wider.run(x, labels), 2 * net.run(x, labels), rtol=1e-5, atol=1e-6)


def test_pickle_round_trip_has_official_state(sess):
    G = Network("G", func_name=tiny_nets.outer_net, num_in=4, hidden=6)
    x, _ = _inputs(5)
    expected = G.run(x)

    state = G.__getstate__()
    assert list(state) == OFFICIAL_STATE_KEYS
    assert state["version"] == 4 and state["name"] == "G" and state["build_func_name"] == "outer_net"
    assert type(state["static_kwargs"]) is dict and state["static_kwargs"] == {"num_in": 4, "hidden": 6}
    assert type(state["components"]) is dict and list(state["components"]) == ["inner"]
    assert state["build_module_src"] == open(tiny_nets.__file__).read()
    assert [name for name, _ in state["variables"]] == ["offset"]
    inner_state = state["components"]["inner"].__getstate__()
    assert inner_state["build_func_name"] == "dense_net" and inner_state["name"] == "Tiny_inner"
    assert inner_state["static_kwargs"] == {"num_in": 4, "hidden": 6}
    assert isinstance(inner_state["variables"][-1][1], np.floating)  # Shape-[] values are NumPy scalars.

    data = pickle.dumps(G, protocol=4)
    referenced = set()

    class RecordingUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            referenced.add(module.replace("numpy._core", "numpy.core") + "." + name)
            return super().find_class(module, name)

    with tf.Graph().as_default(), tflib.create_session().as_default():
        G2 = RecordingUnpickler(io.BytesIO(data)).load()
        # The only classes the pickle references: Network and NumPy's array reconstruction.
        assert referenced == {"dnnlib.tflib.network.Network", "numpy.core.multiarray._reconstruct",
                              "numpy.core.multiarray.scalar", "numpy.ndarray", "numpy.dtype"}
        assert G2.name == "G" and list(G2.vars) == list(G.vars)
        assert G2._build_module_src == state["build_module_src"]
        assert G2.components.inner._build_func.__module__.startswith("_tflib_network_import_")
        for out, exp in zip(G2.run(x), expected):
            np.testing.assert_array_equal(out, exp)
        # A network loaded from a pickle pickles again to the same state.
        state2 = G2.__getstate__()
        assert list(state2) == OFFICIAL_STATE_KEYS and state2["build_module_src"] == state["build_module_src"]
        # And it can be cloned: the components' build functions live in the imported module.
        Gs = G2.clone("Gs")
        np.testing.assert_array_equal(Gs.run(x)[0], expected[0])
        assert pickle.loads(pickle.dumps(Gs)).name == "Gs"


TF1_STYLE_SOURCE = '''
import numpy as np
import tensorflow as tf
import dnnlib
import dnnlib.tflib as tflib

def legacy_net(images_in, labels_in, gain=1.0, **_kwargs):
    images_in.set_shape([None, 3])
    labels_in.set_shape([None, 0])
    w = tf.get_variable("weight", shape=[3, 2], initializer=tf.initializers.random_normal(0, 1))
    x = tf.matmul(images_in, w) * tflib.lerp(0.0, gain, 1.0)
    return tf.identity(tf.nn.leaky_relu(x, alpha=0.2), name="scores_out")
'''


def test_pickle_with_tf1_style_embedded_source_loads_and_runs(sess, monkeypatch):
    weight = np.arange(6, dtype=np.float32).reshape(3, 2) - 2.5
    state = dict(version=4, name="D", static_kwargs=dict(gain=2.0), components=dict(),
                 build_module_src=TF1_STYLE_SOURCE, build_func_name="legacy_net", variables=[("weight", weight)])
    carrier = Network("D", func_name=tiny_nets.dense_net)
    monkeypatch.setattr(Network, "__getstate__", lambda self: state)
    data = pickle.dumps(carrier, protocol=4)
    monkeypatch.undo()

    with tf.Graph().as_default(), tflib.create_session().as_default():
        D = pickle.loads(data)
        assert "import tensorflow as tf" in D._build_module_src  # Kept as written.
        x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]], np.float32)
        h = x @ weight * 2.0
        np.testing.assert_allclose(D.run(x, None), np.where(h >= 0, h, 0.2 * h), rtol=1e-6)


def test_import_handlers_rewrite_old_states(sess, monkeypatch):
    net = Network("D", func_name=tiny_nets.dense_net, hidden=5)
    data = pickle.dumps(net)
    seen = []

    def rename_handler(state):
        seen.append(state["name"])
        state = dict(state)
        state["name"] = "Renamed"
        return state

    monkeypatch.setattr(network_pickle, "_import_handlers", [])
    assert network_module.import_handler(rename_handler) is rename_handler
    with tf.Graph().as_default(), tflib.create_session().as_default():
        loaded = pickle.loads(data)
    assert seen == ["D"] and loaded.name == "Renamed"


def test_rejects_bad_names_versions_and_unshaped_networks(sess):
    with pytest.raises(ValueError, match="may contain only"):
        Network("bad name!", func_name=tiny_nets.dense_net)
    with pytest.raises(ValueError, match="input shapes not defined"):
        Network("U", func_name=tiny_nets.unshaped_net)
    state = Network("D", func_name=tiny_nets.dense_net).__getstate__()
    state["version"] = 7
    bad = object.__new__(Network)
    with pytest.raises(ValueError, match="unsupported Network pickle version 7"):
        bad.__setstate__(state)


def test_print_layers_counts_trainable_params(sess, capsys):
    G = Network("G", func_name=tiny_nets.outer_net, num_in=4, hidden=5)
    G.print_layers()
    text = capsys.readouterr().out
    expected_total = 4 * 5 + 5 + 5 * 3 + 3 + 2 * 3  # Dense0, Output, LabelProj; offset/calls untrainable.
    assert re.search(r"^Total\s+%d\s*$" % expected_total, text, re.MULTILINE)
    assert re.search(r"^Tiny_inner/Dense0\s+25\s+\(\?, 5\)\s+\(4, 5\)$", text, re.MULTILINE)
    assert re.search(r"^latents_in\s+-\s+\(\?, 4\)", text, re.MULTILINE)
    assert re.search(r"^doubled_out\s+-\s+\(\?, 3\)", text, re.MULTILINE)
    names = [name for name, _, _ in G.list_layers()]
    assert names.index("Tiny_inner/Dense0") < names.index("Tiny_inner/Output") < names.index("images_out")
