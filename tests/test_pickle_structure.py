"""Our (G, D, Gs) pickles have the structure of the official ones (reference/*/pickle_structure.json)."""

import io
import json
import os
import pickle
import pickletools

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from training import misc
from reference_nets import build_reference_networks

REFERENCE_NETS = ["tiny-Gskip-Dresnet", "tiny-cond4", "tiny-gray"]


class _StateRecorder(pickle.Unpickler):
    """Unpickles without building anything: each Network becomes its raw state dict; records globals."""

    def __init__(self, file):
        super().__init__(file, encoding="latin1")
        self.globals = set()

    def find_class(self, module, name):
        self.globals.add(module + "." + name)
        if (module, name) == ("dnnlib.tflib.network", "Network"):
            return _RawNetwork
        return super().find_class(module, name)


class _RawNetwork:
    def __setstate__(self, state):
        self.state = state


def _check_network(raw, expected, path):
    state = raw.state
    assert sorted(state) == expected["keys"], path
    for key in ["version", "name", "build_func_name"]:
        assert state[key] == expected[key], (path, key)
    assert type(state["static_kwargs"]) is dict and state["static_kwargs"] == expected["static_kwargs"], path
    assert isinstance(state["build_module_src"], str) and "def " + state["build_func_name"] in state["build_module_src"]
    assert len(state["variables"]) == expected["num_variables"], path
    sample = [[name, list(np.shape(value)), np.asarray(value).dtype.name] for name, value in state["variables"][:len(expected["variables_sample"])]]
    assert sample == expected["variables_sample"], path
    assert sorted(state["components"]) == sorted(expected["components"]), path
    for key, comp in state["components"].items():
        _check_network(comp, expected["components"][key], path + "/" + key)


@pytest.mark.parametrize("name", REFERENCE_NETS)
def test_our_pickle_has_the_official_structure(reference, tmp_path, name):
    with open(os.path.join(reference, name, "pickle_structure.json")) as f:
        expected = json.load(f)
    path = str(tmp_path / "network.pkl")
    with tf.Graph().as_default(), tflib.create_session().as_default():
        misc.save_pkl(build_reference_networks(reference, name), path)
    data = open(path, "rb").read()

    protocols = [arg for opcode, arg, _ in pickletools.genops(data) if opcode.name == "PROTO"]
    assert protocols == [expected["protocol"]]
    recorder = _StateRecorder(io.BytesIO(data))
    networks = recorder.load()
    assert type(networks).__name__ == expected["top_level_type"] and len(networks) == expected["len"]
    assert recorder.globals == set(expected["globals"])
    for raw, key in zip(networks, ["G", "D", "Gs"]):
        _check_network(raw, expected[key], key)
